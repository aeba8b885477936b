"""Preprocessing layers: text and categorical (vocabularies are learnt with `adapt`), feature
normalisation and discretisation, image resizing and cropping, random image augmentation."""

from tensorflowish.keras.layers.preprocessing.category_encoding import CategoryEncoding
from tensorflowish.keras.layers.preprocessing.discretization import Discretization
from tensorflowish.keras.layers.preprocessing.hashing import Hashing
from tensorflowish.keras.layers.preprocessing.image_preprocessing import (
    CenterCrop,
    Rescaling,
    Resizing,
)
from tensorflowish.keras.layers.preprocessing.index_lookup import IntegerLookup, StringLookup
from tensorflowish.keras.layers.preprocessing.normalization import Normalization
from tensorflowish.keras.layers.preprocessing.random_image import (
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from tensorflowish.keras.layers.preprocessing.text_vectorization import TextVectorization

__all__ = [
    "CategoryEncoding", "CenterCrop", "Discretization", "Hashing", "IntegerLookup",
    "Normalization", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
    "RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing", "StringLookup",
    "TextVectorization",
]  # fmt: skip
