"""Safe file writes, input/output checks, a cross-process lock and JSON-safe values.

Every file ltl writes goes through :func:`atomic_write` or :func:`atomic_path`: the data goes to a
temporary file in the target folder, which is flushed and then renamed onto the final name. So

* a crash or a kill never leaves half a file under the final name;
* the final name is never opened for writing, so a symbolic link there is never followed (with
  ``replace=True`` the link itself is replaced by the new file, its target is left alone);
* with ``replace=False`` the rename refuses to replace anything at the final name — a file that
  appeared after the caller's own existence check (another process writing the same output), or a
  link — with ``FileExistsError``: the kernel's ``renameat2(RENAME_NOREPLACE)`` on Linux, else a
  hard link plus unlink, which is atomic on every POSIX file system;
* folders created for the output are removed again when the write fails;
* the file gets the permissions a plain ``open(path, 'w')`` would give (``tempfile.mkstemp`` alone
  creates it readable by its owner only).

Commands pass ``replace=overwrite`` for the user's outputs (``--overwrite``), so a file is replaced
only when the user asked for it, and refuse an output that is one of their inputs
(:func:`refuse_input_as_output`) before anything is computed. :class:`FileLock` tells other
processes that a file is being written (an ``flock`` on a ``.lock`` file beside it, which the kernel
releases when the holder dies, so a kill never leaves a stale lock).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from contextlib import contextmanager
from typing import BinaryIO, Callable, Iterator

__all__ = ["atomic_write", "atomic_path", "atomic_bytes", "temporary_sibling", "default_permissions", "json_safe",
           "rename_noreplace", "same_file", "refuse_input_as_output", "make_output_dir", "missing_folders",
           "remove_empty", "FileLock", "LockedError"]


def default_permissions(path: str | os.PathLike) -> None:
    """Give ``path`` the mode of a newly created file under the current umask (0o666 & ~umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def missing_folders(folder: str | os.PathLike) -> list[Path]:
    """``folder`` and those of its parents that do not exist (nor are a link), deepest first:
    what creating ``folder`` would make, for :func:`remove_empty` to undo."""
    made = []
    f = Path(folder).absolute()
    while not f.exists() and not f.is_symlink() and f != f.parent:
        made.append(f)
        f = f.parent
    return made


def remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first, as :func:`missing_folders` lists them) while they are
    empty; stop at the first that is not (another process's file keeps it)."""
    for f in folders:
        try:
            f.rmdir()
        except OSError:
            break


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the folders created, deepest first."""
    made = missing_folders(folder)
    Path(folder).mkdir(parents=True, exist_ok=True)
    return made


def temporary_sibling(path: Path, suffix: str = ".tmp") -> Path:
    """An empty, closed temporary file next to ``path`` with default permissions (the folder is
    created when missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    default_permissions(tmp)
    return Path(tmp)


_RENAME_NOREPLACE = 1
_renameat2 = None


def _load_renameat2():
    global _renameat2
    if _renameat2 is None:
        _renameat2 = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                fn = libc.renameat2
                fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
                fn.restype = ctypes.c_int
                _renameat2 = fn
            except (OSError, AttributeError):
                _renameat2 = False
    return _renameat2


def rename_noreplace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Rename ``src`` to ``dst`` atomically unless something (a file, a folder, a link, even a
    dangling one) already has the name ``dst``; then ``FileExistsError``, and ``src`` stays.

    Linux's ``renameat2(..., RENAME_NOREPLACE)`` where the file system supports it, else a hard link
    ``dst → src`` (which fails when ``dst`` exists) followed by the unlink of ``src``.
    """
    import errno

    src, dst = os.fspath(src), os.fspath(dst)
    fn = _load_renameat2()
    if fn:
        import ctypes

        AT_FDCWD = -100
        if fn(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise FileExistsError(errno.EEXIST, f"{dst} exists; choose another output or pass --overwrite", dst)
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
            raise OSError(err, os.strerror(err), dst)
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, f"{dst} exists; choose another output or pass --overwrite", dst) from None
    os.unlink(src)


def _finish(tmp: Path, p: Path, replace: bool) -> None:
    if replace:
        if p.is_dir() and not p.is_symlink():
            raise IsADirectoryError(f"{p} is a folder; give a file name")
        os.replace(tmp, p)  # replaces a link at p, never writes through it
    else:
        rename_noreplace(tmp, p)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None], *, suffix: str = ".tmp",
                 replace: bool = True) -> Path:
    """Call ``write(f)`` on a temporary binary file, flush it to disk and rename it to ``path``.

    ``replace=False`` refuses (``FileExistsError``) when ``path`` exists at the moment of the rename,
    and the temporary file is removed; so do folders this call created. ``path`` itself is never
    opened, so a link there is not followed.
    """
    p = Path(path)
    made = _make_parents(p.parent)
    tmp = None
    try:
        tmp = temporary_sibling(p, suffix)
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        _finish(tmp, p, replace)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        remove_empty(made)
        raise
    return p


def atomic_bytes(path: str | os.PathLike, data: bytes, *, replace: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data), replace=replace)


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
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp", *, replace: bool = True) -> Iterator[Path]:
    """A temporary path next to ``path`` for a writer that needs a file name (h5py, matplotlib);
    renamed to ``path`` when the block ends normally (without replacing anything when
    ``replace=False``, see :func:`atomic_write`), deleted when it raises."""
    p = Path(path)
    made = _make_parents(p.parent)
    tmp = None
    try:
        tmp = temporary_sibling(p, suffix)
        yield tmp
        _finish(tmp, p, replace)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        remove_empty(made)
        raise


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name the same file: the same inode when both exist (links and
    relative paths included), else the same resolved path."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def refuse_input_as_output(out: str | os.PathLike, inputs, *, option: str = "--out") -> None:
    """``ValueError`` when the output ``out`` is one of ``inputs`` (paths; ``None`` entries are
    skipped), so that ``--overwrite`` can never destroy the data being read."""
    for inp in inputs:
        if inp is None:
            continue
        src = Path(inp)
        if not src.exists() and ":" in str(inp):  # file.h5:/dataset
            src = Path(str(inp).rsplit(":", 1)[0])
        if same_file(out, src):
            raise ValueError(f"{option} {out} is the input {inp}; write the result to another file")


def make_output_dir(path: str | os.PathLike, *, overwrite: bool, names=()) -> tuple[Path, bool]:
    """Check an output folder before anything is computed; returns ``(path, created)``.

    The folder is refused when it is a file, or when it holds any of ``names`` and ``overwrite``
    is false. It is not created here (call ``path.mkdir`` when the first file is written and
    remove it on failure if ``created``): nothing exists on disk until there is something to put
    in it. ``created`` tells whether the folder is missing now.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise FileExistsError(f"{p} exists and is not a folder; choose another --out")
    if not p.exists():
        return p, True
    existing = [n for n in names if (p / n).exists() or (p / n).is_symlink()]
    if existing and not overwrite:
        raise FileExistsError(f"{p} already holds {', '.join(existing)}; choose another --out or pass --overwrite")
    return p, False


class LockedError(FileExistsError):
    """The file is being written by another process (:class:`FileLock`)."""


class FileLock:
    """An exclusive, non-blocking lock that tells other processes ``path`` is being written.

    It holds an ``fcntl.flock`` on ``<path>.lock``, which records the holder's process id, host
    and start time. The kernel drops the lock when the holder exits or is killed, so a left-over
    ``.lock`` file is not a lock: the next writer takes it over, and :meth:`holder` reports it only
    while it is held. The ``.lock`` file is removed on release. On systems without ``fcntl`` the
    lock is advisory through the file alone.

    Raises
    ------
    LockedError
        On entry, when another process holds the lock (the message names it).
    """

    def __init__(self, path: str | os.PathLike, what: str = "file"):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.what = what
        self._fd: int | None = None
        self._made: list[Path] = []

    _held: set[str] = set()  # lock files this process holds

    @staticmethod
    def holder(path: str | os.PathLike) -> str | None:
        """A description of the other process writing ``path`` (``'process 123 on host since
        ...'``), or ``None`` when no other process holds its lock (this process's own locks do
        not count)."""
        lock = Path(path).with_name(Path(path).name + ".lock")
        if os.path.abspath(lock) in FileLock._held or not lock.exists():
            return None
        try:
            fd = os.open(lock, os.O_RDONLY)
        except OSError:
            return None
        try:
            try:
                import fcntl
            except ImportError:  # pragma: no cover
                return _read_holder(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return _read_holder(fd) or "another process"
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def __enter__(self) -> "FileLock":
        self._made = _make_parents(self.lock_path.parent)
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError:
            remove_empty(self._made)
            raise
        try:
            import fcntl
        except ImportError:  # pragma: no cover
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                who = _read_holder(fd) or "another process"
                os.close(fd)
                remove_empty(self._made)
                raise LockedError(f"{self.path} is being written by {who}; wait for it to finish, or stop it "
                                  f"(its work is kept and the command resumes)") from None
        import socket
        import time as _time

        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} on {socket.gethostname()} since "
                     f"{_time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
        os.fsync(fd)
        self._fd = fd
        FileLock._held.add(os.path.abspath(self.lock_path))
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            FileLock._held.discard(os.path.abspath(self.lock_path))
            self.lock_path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None
            remove_empty(self._made)  # the folders made for the lock, when nothing else was put there


def _read_holder(fd: int) -> str | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 512).decode(errors="replace").strip()
    except OSError:
        return None
    return text or None
