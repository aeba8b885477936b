"""Read and write IDX files, the format MNIST and Fashion-MNIST are distributed in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
the dimensions as big-endian int32, then the data in big-endian order. Files may be gzipped.
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

__all__ = ["read_idx", "write_idx"]

_TYPE_CODES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES_BY_KIND = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a NumPy array in native byte order.

    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a-idx1-ubyte")
    >>> write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
    >>> read_idx(path)
    array([3, 1, 4], dtype=uint8)
    """
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise ValueError(
                f"{os.fspath(path)} looks gzip-compressed but cannot be decompressed ({error}); "
                "the file is damaged or incomplete: download it again."
            ) from error
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPE_CODES:
        raise ValueError(
            f"{os.fspath(path)} is not an IDX file: expected a magic number 00 00 <type> <ndim> "
            f"with type one of {sorted(hex(c) for c in _TYPE_CODES)}, got {data[:4].hex(' ')}."
        )
    dtype, ndim = _TYPE_CODES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{os.fspath(path)} is truncated: its IDX header is incomplete.")
    shape = struct.unpack(f">{ndim}i", data[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{os.fspath(path)} holds {len(data) - header} bytes of data but its header "
            f"announces shape {shape} of {dtype.name} ({expected} bytes): the file is damaged "
            "or truncated."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; gzip it when ``compress`` (default: path ends in .gz)."""
    array = np.asarray(array)
    kind = array.dtype.newbyteorder("=")
    if kind not in _CODES_BY_KIND:
        raise TypeError(
            f"IDX stores uint8, int8, int16, int32, float32 or float64, got {array.dtype}."
        )
    code = _CODES_BY_KIND[kind]
    body = np.ascontiguousarray(array, dtype=_TYPE_CODES[code]).tobytes()
    payload = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) + body
    if compress is None:
        compress = os.fspath(path).endswith(".gz")
    with open(path, "wb") as handle:
        handle.write(gzip.compress(payload) if compress else payload)
