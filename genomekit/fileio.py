"""Atomic file writes (a reader sees the old file or the complete new one, never a half-written file)
and the sha256 of a file."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; written files get the usual 0644 minus the umask.
_FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for writers that want a file name (PIL, pyarrow, safetensors).

    After the block the file is fsynced and renamed over ``path``; on an exception it is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def file_sha256(path: str | Path, *, prefix: bytes = b"") -> str:
    """sha256 (hex) of ``prefix`` followed by the bytes of the file at ``path``, read 1 MiB at a time."""
    digest = hashlib.sha256(prefix)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def _directory_mode() -> int:
    return 0o777 & ~_umask()


@contextlib.contextmanager
def staged_directory(path: str | Path, *, create: bool = True) -> Iterator[Path]:
    """A temporary directory beside ``path`` to fill; after the block it replaces ``path``.

    A reader (or a later run) sees the old directory or the complete new one: on an exception,
    Ctrl-C included, the temporary directory is removed and ``path`` is left as it was. An
    existing ``path`` is swapped out by two renames and then deleted, so the caller decides
    beforehand whether it may be replaced. With ``create=False`` the temporary directory is only
    named, not made: the writer creates it when it writes its first file, so a block that fails
    before writing anything leaves the disk untouched.
    """
    import uuid

    path = Path(path)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    try:
        yield tmp
        tmp.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, _directory_mode())
        if path.exists():
            old = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.old"
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
