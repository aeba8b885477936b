"""``Dataset.save`` / ``Dataset.load``: a dataset written to a folder and streamed back.

The folder holds chunk files of up to ``CHUNK_ELEMENTS`` elements (safetensors with a checksum
per tensor, each written atomically) and ``dataset_spec.json``, written last (atomically): a
folder without it is an unfinished save and does not load. Strings are stored as their bytes
plus offsets. The format is tensorflowish's own; TensorFlow's snapshot files do not load here.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from tensorflowish import checkpoint, errors

from .dataset import Dataset
from .structure import TensorSpec, flatten, map_structure, pack_like, spec_of

FORMAT = "tensorflowish.data.save/1"
SPEC_FILE = "dataset_spec.json"
CHUNK_ELEMENTS = 1024


def _encode_spec(spec: Any) -> Any:
    if isinstance(spec, dict):
        return {"kind": "dict", "items": {k: _encode_spec(v) for k, v in spec.items()}}
    if isinstance(spec, tuple):
        return {"kind": "tuple", "items": [_encode_spec(v) for v in spec]}
    if not isinstance(spec, TensorSpec):
        raise errors.UnimplementedError(
            None, None, f"Dataset.save: elements of type {spec!r} cannot be saved (only tensors)."
        )
    return {"kind": "tensor", "dtype": spec.dtype.name, "shape": list(spec.shape)}


def _decode_spec(encoded: Any) -> Any:
    if encoded["kind"] == "dict":
        return {k: _decode_spec(v) for k, v in encoded["items"].items()}
    if encoded["kind"] == "tuple":
        return tuple(_decode_spec(v) for v in encoded["items"])
    return TensorSpec(encoded["shape"], encoded["dtype"])


def _write_json(path: str, payload: dict) -> None:
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".spec.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(payload, stream, indent=1)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _leaf_arrays(prefix: str, array: Any) -> dict[str, np.ndarray]:
    from tensorflowish import backend

    host = backend.to_numpy(array)
    if host.dtype != object:  # the shape too: safetensors keeps a scalar as shape [1]
        return {prefix: np.ascontiguousarray(host),
                f"{prefix}.shape": np.asarray(host.shape, dtype=np.int64)}
    items = [bytes(item) for item in host.ravel()]
    offsets = np.cumsum([0] + [len(item) for item in items]).astype(np.int64)
    return {
        f"{prefix}.bytes": np.frombuffer(b"".join(items), dtype=np.uint8).copy(),
        f"{prefix}.offsets": offsets,
        f"{prefix}.shape": np.asarray(host.shape, dtype=np.int64),
    }


def _read_leaf(stored: dict, prefix: str) -> np.ndarray:
    if prefix in stored:
        return stored[prefix].reshape(tuple(int(d) for d in stored[f"{prefix}.shape"]))
    data, offsets = stored[f"{prefix}.bytes"].tobytes(), stored[f"{prefix}.offsets"]
    shape = tuple(int(d) for d in stored[f"{prefix}.shape"])
    out = np.empty(len(offsets) - 1, dtype=object)
    for index in range(len(out)):
        out[index] = data[offsets[index]:offsets[index + 1]]
    return out.reshape(shape)


def save(dataset: Dataset, path: str, compression: Any, shard_func: Any, checkpoint_args: Any):
    if compression not in (None, ""):
        raise errors.UnimplementedError(
            None, None, f"Dataset.save(compression={compression!r}): only uncompressed saves "
            "are supported.",
        )  # fmt: skip
    if shard_func is not None or checkpoint_args is not None:
        raise errors.UnimplementedError(
            None, None, "Dataset.save: shard_func and checkpoint_args are not supported; the "
            "elements are written in order into chunk files.",
        )  # fmt: skip
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    spec_path = os.path.join(path, SPEC_FILE)
    if os.path.exists(spec_path):
        os.unlink(spec_path)  # the folder is unfinished (unloadable) until the new spec lands
    spec, chunks, count, pending = None, [], 0, {}

    def flush() -> None:
        name = f"chunk-{len(chunks):05d}.safetensors"
        checkpoint.save_arrays(os.path.join(path, name), pending,
                               metadata={"elements": str(in_chunk)})  # fmt: skip
        chunks.append(name)

    in_chunk = 0
    for element in dataset._iter_arrays():
        if spec is None:
            spec = spec_of(element)
        for leaf_index, leaf in enumerate(flatten(element)):
            pending.update(_leaf_arrays(f"{in_chunk:06d}/{leaf_index}", leaf))
        in_chunk += 1
        count += 1
        if in_chunk == CHUNK_ELEMENTS:
            flush()
            pending, in_chunk = {}, 0
    if in_chunk:
        flush()
    if spec is None:
        spec = dataset.element_spec if dataset._spec() is not None else ()
    _write_json(spec_path, {
        "format": FORMAT, "element_spec": _encode_spec(spec), "cardinality": count,
        "chunks": chunks,
    })  # fmt: skip


class LoadedDataset(Dataset):
    def __init__(self, path: str, manifest: dict) -> None:
        self.path, self.manifest = path, manifest
        self.spec = _decode_spec(manifest["element_spec"])

    def _cardinality(self) -> int:
        return int(self.manifest["cardinality"])

    def _spec(self) -> Any:
        return self.spec

    def _iter_arrays(self) -> Iterator[Any]:
        leaves = len(flatten(self.spec))
        for name in self.manifest["chunks"]:
            file = os.path.join(self.path, name)
            stored = checkpoint.load_arrays(file)
            count = int(checkpoint.read_metadata(file)["elements"])
            for index in range(count):
                arrays = [_read_leaf(stored, f"{index:06d}/{k}") for k in range(leaves)]
                yield pack_like(self.spec, [_to_backend(a) for a in arrays])


def _to_backend(array: np.ndarray) -> Any:
    if array.dtype == object:
        return array
    from .structure import to_array

    return to_array(array)


def load(path: str, element_spec: Any, compression: Any, reader_func: Any) -> Dataset:
    if reader_func is not None:
        raise errors.UnimplementedError(None, None, "Dataset.load: reader_func is not supported.")
    path = os.fspath(path)
    spec_path = os.path.join(path, SPEC_FILE)
    if not os.path.exists(spec_path):
        raise errors.NotFoundError(
            None, None,
            f"Could not find a saved dataset in {path!r} (no {SPEC_FILE}); it was never saved "
            "there, or the save did not finish.",
        )  # fmt: skip
    with open(spec_path, encoding="utf-8") as stream:
        try:
            manifest = json.load(stream)
        except json.JSONDecodeError as error:
            raise errors.DataLossError(None, None, f"{spec_path} is damaged: {error}") from None
    if manifest.get("format") != FORMAT:
        raise errors.DataLossError(
            None, None, f"{path} is not a dataset saved by tensorflowish (format "
            f"{manifest.get('format')!r}).",
        )  # fmt: skip
    dataset = LoadedDataset(path, manifest)
    if element_spec is not None:
        given = map_structure(lambda s: s, element_spec)
        if given != dataset.spec:
            raise errors.InvalidArgumentError(
                None, None, f"Dataset.load: the saved element_spec {dataset.spec} differs from "
                f"the element_spec given {given}.",
            )  # fmt: skip
    return dataset
