"""`tf.random.experimental`: the names TensorFlow keeps here as well."""

from __future__ import annotations

from .generator import Algorithm, Generator, get_global_generator, set_global_generator
from .stateless import fold_in as stateless_fold_in
from .stateless import split as stateless_split

__all__ = ["Algorithm", "Generator", "get_global_generator", "set_global_generator",
           "stateless_fold_in", "stateless_split"]
