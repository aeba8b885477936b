"""``keras.utils.get_file``: fetch a file into the Keras cache, check its hash, extract it.

Local paths and ``file://`` URLs need no network; ``http(s)://`` origins are downloaded with
urllib. Every file lands atomically (a temporary file renamed into place), archives are
extracted without letting a member escape the target folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from typing import Any

__all__ = ["extract_archive", "get_file", "validate_file"]


def keras_home() -> str:
    """``$KERAS_HOME``, or ``~/.keras``."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def _hasher(algorithm: str, file_hash: str | None) -> Any:
    if algorithm == "sha256" or (algorithm == "auto" and file_hash and len(file_hash) == 64):
        return hashlib.sha256()
    if algorithm in ("md5", "auto"):
        return hashlib.md5()  # noqa: S324 - Keras's md5 option, an integrity check only
    raise ValueError(f"hash_algorithm must be 'auto', 'sha256' or 'md5', got {algorithm!r}.")


def hash_file(path: str, algorithm: str = "sha256", chunk_size: int = 65535) -> str:
    hasher = _hasher(algorithm, None if algorithm != "auto" else "x" * 64)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath: str, file_hash: str, algorithm: str = "auto",
                  chunk_size: int = 65535) -> bool:
    """Whether the file's sha256 (64 hex digits) or md5 matches ``file_hash``."""
    hasher = _hasher(algorithm, file_hash)
    with open(fpath, "rb") as stream:
        for chunk in iter(lambda: stream.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest() == str(file_hash)


def _inside(root: str, member: str) -> bool:
    target = os.path.realpath(os.path.join(root, member))
    return os.path.commonpath([os.path.realpath(root), target]) == os.path.realpath(root)


def extract_archive(file_path: str, path: str = ".", archive_format: Any = "auto") -> bool:
    """Extract a tar(.gz/.bz2/.xz) or zip archive into ``path``; False if it is neither."""
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    for kind in formats:
        if kind == "tar" and tarfile.is_tarfile(file_path):
            with tarfile.open(file_path) as archive:
                for member in archive.getmembers():
                    if not _inside(path, member.name) or member.issym() or member.islnk():
                        raise ValueError(
                            f"{file_path}: archive member {member.name!r} would land outside "
                            f"{path}; refusing to extract it."
                        )
                _extract_atomically(path, lambda target: archive.extractall(target))
            return True
        if kind == "zip" and zipfile.is_zipfile(file_path):
            with zipfile.ZipFile(file_path) as archive:
                for name in archive.namelist():
                    if not _inside(path, name):
                        raise ValueError(
                            f"{file_path}: archive member {name!r} would land outside {path}; "
                            "refusing to extract it."
                        )
                _extract_atomically(path, lambda target: archive.extractall(target))
            return True
    return False


def _extract_atomically(path: str, extract: Any) -> None:
    """Extract into a temporary sibling folder, then move it into place."""
    parent = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=".extract-")
    try:
        extract(staging)
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _fetch(origin: str, target: str) -> None:
    """Copy a local path / file:// URL, or download http(s), to ``target`` atomically."""
    parsed = urllib.parse.urlsplit(origin)
    directory = os.path.dirname(target)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".download-", suffix=".tmp")
    os.close(handle)
    try:
        if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
            source = urllib.request.url2pathname(parsed.path) if parsed.scheme == "file" \
                else origin
            if not os.path.isfile(source):
                raise FileNotFoundError(
                    f"get_file: {origin!r} is not a file (looked for {source!r})."
                )
            shutil.copyfile(source, temporary)
        else:
            try:
                urllib.request.urlretrieve(origin, temporary)  # noqa: S310 - Keras's behaviour
            except OSError as error:
                raise Exception(f"URL fetch failure on {origin}: {error}") from error
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def get_file(
    fname: str | None = None,
    origin: str | None = None,
    untar: bool = False,
    md5_hash: str | None = None,
    file_hash: str | None = None,
    cache_subdir: str = "datasets",
    hash_algorithm: str = "auto",
    extract: bool = False,
    archive_format: Any = "auto",
    cache_dir: str | None = None,
    force_download: bool = False,
) -> str:
    """Put the file at ``origin`` in ``cache_dir/cache_subdir`` (``~/.keras/datasets``) and
    return its path; with ``extract=True`` the archive is unpacked and the folder returned.

    A cached file is reused unless ``force_download`` or its hash differs from ``file_hash``
    (sha256 or md5); a fetched file whose hash differs is an error.

    >>> import tensorflowish as tf
    >>> path = tf.keras.utils.get_file(origin="file:///tmp/data.csv")  # doctest: +SKIP
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    cache_dir = os.path.expanduser(cache_dir or keras_home())
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    datadir = os.path.join(cache_dir, cache_subdir)
    os.makedirs(datadir, exist_ok=True)
    provided = fname
    fname = os.fspath(fname) if fname else ""
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(
                f"Can't parse the file name from the origin provided: '{origin}'. Please specify "
                "the `fname` argument."
            )
    elif os.sep in fname:
        raise ValueError(
            "Paths are no longer accepted as the `fname` argument. To specify the file's parent "
            f"directory, use the `cache_dir` argument. Received: fname={fname}"
        )
    if extract or untar:
        if provided and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, f"{fname[: fname.find('.')]}_extracted")
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, f"{fname}_archive")
    else:
        target = os.path.join(datadir, fname)
    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(
            target, file_hash, hash_algorithm):
        print(
            "A local file was found, but it seems to be incomplete or outdated because the "
            f"{hash_algorithm} file hash does not match the original value of {file_hash} so we "
            "will re-download the data."
        )
        download = True
    if download:
        _fetch(origin, target)
        if file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
            os.remove(target)
            raise ValueError(
                f"Incomplete or corrupted file detected. The {hash_algorithm} file hash does not "
                f"match the provided value of {file_hash}."
            )
    if extract or untar:
        if not os.path.isdir(extraction_dir) or download:
            if not extract_archive(target, extraction_dir, "tar" if untar else archive_format):
                import warnings

                warnings.warn("Could not extract archive.", stacklevel=2)
        return extraction_dir
    return target
