"""Text and categorical preprocessing layers (vocabularies are learnt with `adapt`)."""

from tensorflowish.keras.layers.preprocessing.category_encoding import CategoryEncoding
from tensorflowish.keras.layers.preprocessing.hashing import Hashing
from tensorflowish.keras.layers.preprocessing.index_lookup import IntegerLookup, StringLookup
from tensorflowish.keras.layers.preprocessing.text_vectorization import TextVectorization

__all__ = ["CategoryEncoding", "Hashing", "IntegerLookup", "StringLookup", "TextVectorization"]
