"""``tensorflowish.onnx``: export Keras models and traced functions to ONNX (needs
``pip install 'tensorflowish[onnx]'``). See :mod:`tensorflowish.saving.onnx_export` and
:mod:`tensorflowish.saving.onnx_function`."""

from tensorflowish.saving.onnx_export import export, supported_layers
from tensorflowish.saving.onnx_function import supported_ops

__all__ = ["export", "supported_layers", "supported_ops"]
