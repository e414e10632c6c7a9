"""Atomic file writes and JSON-safe values. Atomic writes: a temporary file in the target folder, then a rename.

A crash never leaves half a file under the final name, and the file gets the permissions a plain
``open(path, 'w')`` would give (``tempfile.mkstemp`` alone creates it readable by its owner only).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from contextlib import contextmanager
from typing import BinaryIO, Callable, Iterator

__all__ = ["atomic_write", "atomic_path", "atomic_bytes", "temporary_sibling", "default_permissions", "json_safe"]


def default_permissions(path: str | os.PathLike) -> None:
    """Give ``path`` the mode of a newly created file under the current umask (0o666 & ~umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def temporary_sibling(path: Path, suffix: str = ".tmp") -> Path:
    """An empty, closed temporary file next to ``path`` with default permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    default_permissions(tmp)
    return Path(tmp)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None], *, suffix: str = ".tmp") -> Path:
    """Call ``write(f)`` on a temporary binary file, flush it to disk and rename it to ``path``."""
    p = Path(path)
    tmp = temporary_sibling(p, suffix)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def atomic_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data))


def json_safe(o):
    """``o`` with numpy scalars, tensors, paths and tuples turned into JSON values (non-finite
    floats become None)."""
    import math

    import numpy as np
    import torch

    if isinstance(o, dict):
        return {str(k): json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_safe(v) for v in o]
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return json_safe(o.item())
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, torch.Tensor):
        return json_safe(o.tolist())
    if isinstance(o, Path):
        return str(o)
    return o


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path next to ``path`` for a writer that needs a file name (h5py, matplotlib);
    renamed to ``path`` when the block ends normally, deleted when it raises."""
    p = Path(path)
    tmp = temporary_sibling(p, suffix)
    try:
        yield tmp
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
