"""``tensorflowish.onnx``: export Keras models to ONNX (needs ``pip install
'tensorflowish[onnx]'``). See :mod:`tensorflowish.saving.onnx_export`."""

from tensorflowish.saving.onnx_export import export, supported_layers

__all__ = ["export", "supported_layers"]
