"""Memory estimates before large allocations.

A size that cannot fit (``--size 1000000``, ``--count 1e9``, a huge ``image_size`` in a scan file
or ``width`` in a model file) is refused up front with the estimate, in one line, instead of
failing deep inside numpy or torch (or swapping the machine to a halt).

The limit is the memory available now: ``MemAvailable`` of ``/proc/meminfo`` (else the free
pages the C library reports) for the CPU, :func:`torch.cuda.mem_get_info` for a CUDA device. The
environment variable ``LTL_MEMORY_LIMIT`` (bytes, or with a suffix ``K``, ``M``, ``G``, ``T``)
caps it, for example to keep a job well inside a shared machine's share.
"""

from __future__ import annotations

import os

__all__ = ["TooLargeError", "available_bytes", "check_fits", "check_disk", "format_bytes", "memory_limit"]


class TooLargeError(ValueError):
    """A requested size needs more memory (or disk) than is available."""


_SUFFIX = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}


def memory_limit() -> int | None:
    """``LTL_MEMORY_LIMIT`` in bytes, or ``None`` when unset (a bad value is a ``ValueError``)."""
    raw = os.environ.get("LTL_MEMORY_LIMIT", "").strip()
    if not raw:
        return None
    text = raw.upper().removesuffix("IB").removesuffix("B")
    unit = text[-1:] if text[-1:] in _SUFFIX and text[-1:] else ""
    try:
        value = float(text[:-1] if unit else text) * _SUFFIX[unit]
    except ValueError:
        raise ValueError(f"LTL_MEMORY_LIMIT={raw!r} is not a size; write bytes or e.g. 8G") from None
    if not value > 0:
        raise ValueError(f"LTL_MEMORY_LIMIT={raw!r} must be positive")
    return int(value)


def _cpu_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def available_bytes(device=None) -> int | None:
    """Bytes that can be allocated now on ``device`` (CPU when ``None``), capped by
    ``LTL_MEMORY_LIMIT``; ``None`` when unknown."""
    avail = None
    dev = str(device) if device is not None else "cpu"
    if dev.startswith("cuda"):
        try:
            import torch

            avail = int(torch.cuda.mem_get_info(torch.device(dev))[0])
        except Exception:  # noqa: BLE001 - an unknown figure is no reason to fail
            avail = None
    else:
        avail = _cpu_available()
    cap = memory_limit()
    if cap is not None:
        avail = cap if avail is None else min(avail, cap)
    return avail


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units: ``'1.5 GiB'``."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} EiB"  # pragma: no cover


def check_fits(nbytes: float, what: str, *, device=None, hint: str = "", fraction: float = 0.9) -> None:
    """Refuse an allocation of about ``nbytes`` that does not fit.

    Parameters
    ----------
    nbytes : float
        The estimate in bytes (a float: products of user-given sizes may exceed int64).
    what : str
        What needs it, for the message (``'a 1000000² phantom on the 2× grid'``).
    device : torch.device or str, optional
        Where it is allocated (default the CPU).
    hint : str
        What to do instead (``'use a smaller --size'``).
    fraction : float
        Share of the available memory that may be used (default 0.9).

    Raises
    ------
    TooLargeError
        ``nbytes`` exceeds ``fraction`` of :func:`available_bytes` (a ``ValueError``, so the command
        line prints it in one line with exit status 2).
    """
    avail = available_bytes(device)
    if avail is None:
        return
    if nbytes > fraction * avail:
        where = "the GPU" if str(device or "cpu").startswith("cuda") else "this machine"
        msg = f"{what} needs about {format_bytes(nbytes)}, more than the {format_bytes(avail)} available on {where}"
        raise TooLargeError(f"{msg}; {hint}" if hint else msg)


def check_disk(nbytes: float, folder, what: str, *, hint: str = "") -> None:
    """Refuse writing about ``nbytes`` into ``folder`` (or its nearest existing parent) when the
    file system has less free space (:class:`TooLargeError`)."""
    import shutil
    from pathlib import Path

    f = Path(folder).absolute()
    while not f.exists() and f != f.parent:
        f = f.parent
    try:
        free = shutil.disk_usage(f).free
    except OSError:
        return
    if nbytes > free:
        msg = f"{what} needs about {format_bytes(nbytes)} of disk, more than the {format_bytes(free)} free in {f}"
        raise TooLargeError(f"{msg}; {hint}" if hint else msg)
