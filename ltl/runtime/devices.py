"""One device policy for every command and library function.

CUDA is used when both torch and ASTRA can use it (the Radon operator runs on the tensor's
device, so a CUDA tensor without ASTRA CUDA cannot be projected); otherwise the CPU. Under
torchrun each process takes the GPU ``LOCAL_RANK mod count``.
"""

from __future__ import annotations

import os

import torch

__all__ = ["astra_cuda_available", "cuda_usable", "num_workers", "default_device", "resolve_device"]


def astra_cuda_available() -> bool:
    """True when ASTRA was built with CUDA and a GPU is usable."""
    try:
        import astra

        return bool(astra.use_cuda())
    except Exception:
        return False


def cuda_usable() -> bool:
    """True when torch and ASTRA both see a CUDA device."""
    return bool(torch.cuda.is_available() and astra_cuda_available())


def num_workers() -> int:
    """Threads used to spread a CPU batch: ``LTL_NUM_THREADS`` or the usable cores."""
    env = os.environ.get("LTL_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def default_device(*, need_astra: bool = True) -> torch.device:
    """``cuda:LOCAL_RANK mod count`` when torch (and, with ``need_astra``, ASTRA) can use CUDA,
    else the CPU. Work that never projects (training on stored f_vis) passes ``need_astra=False``."""
    if torch.cuda.is_available() and (not need_astra or astra_cuda_available()):
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
    return torch.device("cpu")


def resolve_device(name: str | torch.device | None, *, need_astra: bool = True) -> torch.device:
    """The torch device for a user's choice: None for :func:`default_device`, else ``'cpu'``,
    ``'cuda'`` (then ``cuda:LOCAL_RANK mod count``) or ``'cuda:K'``. ``need_astra``: CUDA must
    serve ASTRA too (the default; see :func:`default_device`).

    Raises
    ------
    ValueError
        Not a torch device, not cpu or cuda, or CUDA asked for where torch and ASTRA cannot both
        use it, or a GPU index that does not exist.
    """
    if name is None:
        return default_device(need_astra=need_astra)
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"--device {name!r} is not a torch device; use cpu or cuda") from exc
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: ltl runs on cpu or cuda")
    if dev.type == "cuda":
        if need_astra and not cuda_usable():
            raise ValueError(f"--device {name}: CUDA is not available to both torch and ASTRA here; use --device cpu")
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: torch sees no CUDA device here; use --device cpu")
        count = torch.cuda.device_count()
        if dev.index is None:
            dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % count)
        elif dev.index >= count:
            raise ValueError(f"--device {name}: this machine has {count} GPU(s), cuda:0..cuda:{count - 1}")
    return dev
