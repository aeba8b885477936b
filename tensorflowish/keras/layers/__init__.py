"""Layers (``tf.keras.layers``): the Layer base class and the built-in layers.

A layer creates its weights on its first call, from the shape of its input, and is a
``tf.Module``: its variables and those of the layers it holds (as attributes, or in lists,
tuples and dicts) are found automatically, in the order they were assigned.

    >>> import tensorflowish as tf
    >>> layer = tf.keras.layers.Dense(3, activation="relu", name="hidden")
    >>> layer(tf.ones((2, 4))).shape.as_list()
    [2, 3]
    >>> [v.name for v in layer.weights]
    ['hidden/kernel:0', 'hidden/bias:0']
"""

from __future__ import annotations

from tensorflowish.keras.layers.activations import (
    ELU,
    Activation,
    LeakyReLU,
    PReLU,
    ReLU,
    Softmax,
)
from tensorflowish.keras.layers.attention import Attention, MultiHeadAttention
from tensorflowish.keras.layers.convolutional import (
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Convolution1D,
    Convolution2D,
    Convolution2DTranspose,
    DepthwiseConv2D,
    SeparableConv2D,
    SeparableConvolution2D,
)
from tensorflowish.keras.layers.core import Dense, Embedding, Identity, Lambda, Masking
from tensorflowish.keras.layers.input_layer import Input, InputLayer
from tensorflowish.keras.layers.keras_tensor import KerasInput, map_symbolic
from tensorflowish.keras.layers.layer import Layer
from tensorflowish.keras.layers.merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)
from tensorflowish.keras.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    UnitNormalization,
)
from tensorflowish.keras.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from tensorflowish.keras.layers.preprocessing import (
    CategoryEncoding,
    CenterCrop,
    Discretization,
    Hashing,
    IntegerLookup,
    Normalization,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
    Resizing,
    StringLookup,
    TextVectorization,
)
from tensorflowish.keras.layers.regularization import (
    ActivityRegularization,
    AlphaDropout,
    Dropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout2D,
)
from tensorflowish.keras.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    Flatten,
    Permute,
    RepeatVector,
    Reshape,
    UpSampling2D,
    ZeroPadding2D,
)
from tensorflowish.keras.layers.rnn import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    StackedRNNCells,
    TimeDistributed,
)

__all__ = [
    "Activation", "Add", "BatchNormalization", "Concatenate", "Dense", "Dropout", "Flatten",
    "Input", "InputLayer",
    "KerasInput", "Lambda", "Layer", "LayerNormalization", "ReLU", "Reshape", "Softmax",
    "Conv1D", "Conv2D", "Conv2DTranspose", "Convolution1D", "Convolution2D",
    "Convolution2DTranspose", "DepthwiseConv2D", "SeparableConv2D", "SeparableConvolution2D",
    "AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D",
    "GlobalMaxPool2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "MaxPool1D", "MaxPool2D",
    "MaxPooling1D", "MaxPooling2D", "Cropping2D", "UpSampling2D", "ZeroPadding2D",
    "SpatialDropout2D",
    # sequences
    "Attention", "Bidirectional", "Embedding", "GRU", "GRUCell", "LSTM", "LSTMCell", "Masking",
    "MultiHeadAttention", "RNN", "SimpleRNN", "CategoryEncoding", "Hashing", "IntegerLookup",
    "StringLookup", "TextVectorization", "SimpleRNNCell", "StackedRNNCells", "TimeDistributed",
    # everyday layers
    "ActivityRegularization", "AlphaDropout", "Average", "Cropping1D", "Dot", "ELU",
    "GaussianDropout", "GaussianNoise", "GroupNormalization", "Identity", "LeakyReLU", "Maximum",
    "Minimum", "Multiply", "PReLU", "Permute", "RepeatVector", "Subtract", "UnitNormalization",
    # preprocessing
    "CenterCrop", "Discretization", "Normalization", "RandomBrightness", "RandomContrast",
    "RandomCrop", "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling",
    "Resizing",
]  # fmt: skip


def get(identifier: object) -> Layer:
    """A layer instance from itself (kept for API symmetry with other ``get`` functions)."""
    if isinstance(identifier, Layer):
        return identifier
    raise TypeError(f"Expected a tf.keras.layers.Layer, got {type(identifier).__name__}.")
