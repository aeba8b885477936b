"""``tf.keras.saving``: whole models in Keras 3's ``.keras`` format, weights in Keras's HDF5
layout, and the (de)serialization of every Keras object by its config.

>>> import tensorflowish as tf
>>> tf.keras.saving.get_registered_name(tf.keras.layers.Dense)
'Dense'
"""

import sys

from tensorflowish.saving import model_config, onnx_export, saved_model, saving_lib, tf_checkpoint
from tensorflowish.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from tensorflowish.saving.saving_lib import (
    clone_model,
    load_model,
    load_weights,
    model_from_json,
    save_model,
    save_weights,
)
from tensorflowish.saving.serialization_lib import (
    deserialize_keras_object,
    enable_unsafe_deserialization,
    serialize_keras_object,
)

__all__ = [
    "CustomObjectScope", "clone_model", "custom_object_scope", "deserialize_keras_object",
    "enable_unsafe_deserialization", "get_custom_objects", "get_registered_name",
    "get_registered_object", "load_model", "load_weights", "model_from_json", "save_model",
    "save_weights", "serialize_keras_object",
]  # fmt: skip

# The layers and models below this package call it (Model.save, a functional model's config, a
# checkpoint's values waiting for a layer's build) without importing up: it is handed down here.
from tensorflowish.keras.layers import layer as _layer  # noqa: E402
from tensorflowish.keras.models import model as _model  # noqa: E402
from tensorflowish.keras.models import sequential as _sequential  # noqa: E402

_layer._saving = _model._saving = _sequential._saving = sys.modules[__name__]
