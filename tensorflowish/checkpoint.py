"""Weight files: safetensors with per-tensor checksums, written atomically.

``save_arrays`` writes named arrays (NumPy or CuPy; copied to the host) to a temporary file in
the target's folder, fsyncs it and renames it into place, so a crash never leaves half a file
behind. Each tensor's SHA-256 (over its name, dtype, shape and bytes) is stored in the
safetensors metadata; ``load_arrays`` checks them, so a damaged file fails with a clear error
instead of loading silently wrong values.

    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> save_arrays(path, {"dense/kernel": np.ones((2, 3), np.float32)})
    >>> load_arrays(path)["dense/kernel"].shape
    (2, 3)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["CheckpointError", "FORMAT", "load_arrays", "read_metadata", "save_arrays"]

FORMAT = "tensorflowish-weights/1"
_CHECKSUM_PREFIX = "sha256:"
_RESERVED = ("format", "tensors")


class CheckpointError(ValueError):
    """A weight file is damaged, incomplete, or not a tensorflowish weight file."""


def _to_host(array: Any) -> np.ndarray:
    if hasattr(array, "array") and not isinstance(array, np.ndarray):  # a Tensor / Variable
        array = array.array
    if not isinstance(array, np.ndarray):
        if hasattr(array, "get"):  # CuPy array: copy to the host
            array = array.get()
        else:
            array = np.asarray(array)
    # safetensors writes a non-contiguous array (e.g. a transpose) with wrong values and no
    # error, so every array is made C-contiguous first (ascontiguousarray would also turn a
    # scalar into shape (1,)).
    return _contiguous(array)


def _contiguous(array: np.ndarray) -> np.ndarray:
    return array if array.flags.c_contiguous else np.array(array, order="C")


def _digest(name: str, array: np.ndarray) -> str:
    hasher = hashlib.sha256()
    hasher.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
    hasher.update(memoryview(array).cast("B") if array.size else b"")
    return hasher.hexdigest()


def save_arrays(
    path: str | os.PathLike,
    arrays: Mapping[str, Any],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``arrays`` (name -> array) to ``path`` atomically, with a checksum per tensor.

    The file is a valid safetensors file readable by any safetensors library; ``metadata``
    (strings) is stored alongside. The previous file at ``path``, if any, stays intact until
    the new one is complete on disk.
    """
    from safetensors.numpy import save

    path = os.fspath(path)
    host = {}
    for name, array in arrays.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"Tensor names must be non-empty strings, got {name!r}.")
        host[name] = _to_host(array)
    header: dict[str, str] = {str(k): str(v) for k, v in (metadata or {}).items()}
    for key in header:
        if key in _RESERVED or key.startswith(_CHECKSUM_PREFIX):
            raise ValueError(f"Metadata key {key!r} is reserved by the weight file format.")
    header["format"] = FORMAT
    header["tensors"] = str(len(host))
    for name, array in host.items():
        header[_CHECKSUM_PREFIX + name] = _digest(name, array)
    payload = save(host, metadata=header)

    from tensorflowish.atomic import atomic_write

    atomic_write(path, payload)  # temp file + rename, with the user's umask


def _read(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"No weight file at {path}.") from None
    try:
        arrays = load(data)
        metadata = _parse_metadata(data)
    except (SafetensorError, ValueError, OSError) as error:
        raise CheckpointError(
            f"{path} is damaged or is not a safetensors weight file ({error}). Re-create it "
            "with save_weights, or restore it from a backup."
        ) from error
    return arrays, metadata


def _parse_metadata(data: bytes) -> dict[str, str]:
    import json
    import struct

    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    return dict(header.get("__metadata__") or {})


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata strings stored in a weight file, without the checksums."""
    _, metadata = _read(os.fspath(path))
    return {k: v for k, v in metadata.items() if not k.startswith(_CHECKSUM_PREFIX)}


def load_arrays(path: str | os.PathLike, verify: bool = True) -> dict[str, np.ndarray]:
    """Read the arrays of a weight file as NumPy arrays, checking every tensor's checksum.

    Raises ``CheckpointError`` naming the tensor when the file is truncated, garbled, or a
    byte has changed since it was written.
    """
    path = os.fspath(path)
    arrays, metadata = _read(path)
    if not verify:
        return arrays
    if metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a safetensors file but not a tensorflowish weight file (its metadata "
            f"has format={metadata.get('format')!r}, expected {FORMAT!r}), so it carries no "
            "checksums. Load it with verify=False if you trust it."
        )
    expected_count = metadata.get("tensors")
    if expected_count != str(len(arrays)):
        raise CheckpointError(
            f"{path} is damaged: its metadata lists {expected_count} tensors but the file "
            f"holds {len(arrays)}."
        )
    for name, array in arrays.items():
        stored = metadata.get(_CHECKSUM_PREFIX + name)
        if stored is None:
            raise CheckpointError(
                f"{path} is damaged: tensor {name!r} has no stored checksum (its name or the "
                "metadata was altered)."
            )
        if _digest(name, _contiguous(array)) != stored:
            raise CheckpointError(
                f"{path} is damaged: tensor {name!r} (shape {tuple(array.shape)}, "
                f"{array.dtype}) does not match its stored SHA-256 checksum. Re-create the file "
                "with save_weights, or restore it from a backup."
            )
    return arrays
