"""Process-group helpers: one code path for a single process and torchrun's DDP."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .devices import resolve_device

__all__ = ["DistInfo", "setup", "teardown", "all_reduce_sum", "any_flag", "barrier", "broadcast_buffers", "env_rank",
           "join_process_group"]


def env_rank(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """``(rank, world_size)``: the arguments where given, else torchrun's ``RANK``/``WORLD_SIZE``
    (0 and 1 without torchrun); ``ValueError`` for inconsistent values."""
    if world_size is None:
        world_size = int(os.environ.get("WORLD_SIZE", 1))
    if rank is None:
        rank = int(os.environ.get("RANK", 0))
    if isinstance(world_size, bool) or int(world_size) != world_size or world_size < 1:
        raise ValueError(f"world_size must be a positive integer, got {world_size!r}")
    if isinstance(rank, bool) or int(rank) != rank or not 0 <= rank < world_size:
        raise ValueError(f"rank must be an integer in 0..{world_size - 1}, got {rank!r}")
    return int(rank), int(world_size)


def join_process_group(world: int) -> bool | None:
    """Make sure a CPU-capable process group exists for ``world`` ranks: None if there is none to
    join (no ``MASTER_ADDR``), False if one was already initialised, True if a gloo group was
    created here (the caller destroys it)."""
    if not dist.is_available():
        return None
    if dist.is_initialized():
        if dist.get_world_size() != world:
            raise ValueError(f"world_size={world} but the process group has {dist.get_world_size()} ranks")
        return False
    if "MASTER_ADDR" not in os.environ:
        return None
    dist.init_process_group("gloo", timeout=datetime.timedelta(hours=24))
    return True


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    created_group: bool

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str | torch.device | None, *, need_astra: bool = True) -> DistInfo:
    """Read torchrun's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``, pick the device
    (:func:`~ltl.runtime.devices.resolve_device`) and, for more than one process, join (or
    create) the process group: NCCL on CUDA, gloo on the CPU."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    local = int(os.environ.get("LOCAL_RANK", rank))
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK={rank} and WORLD_SIZE={world} are inconsistent")
    dev = resolve_device(device, need_astra=need_astra)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    created = False
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        kw = {"device_id": dev} if dev.type == "cuda" else {}
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=60), **kw)
        created = True
    if world > 1 and dist.get_world_size() != world:
        raise ValueError(f"WORLD_SIZE={world} but the process group has {dist.get_world_size()} ranks")
    return DistInfo(rank, world, local, dev, created)


def teardown(info: DistInfo) -> None:
    if info.created_group and dist.is_initialized():
        dist.destroy_process_group()


def _comm_device(info: DistInfo) -> torch.device:
    return info.device if (info.device.type == "cuda" and dist.get_backend() == "nccl") else torch.device("cpu")


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum over ranks (identity for one process); returns a CPU tensor."""
    if not info.distributed:
        return t.detach().cpu()
    x = t.detach().to(_comm_device(info)).clone()
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x.cpu()


def any_flag(flag: bool, info: DistInfo) -> bool:
    """True on every rank if ``flag`` is True on any rank."""
    if not info.distributed:
        return bool(flag)
    return bool(all_reduce_sum(torch.tensor([1.0 if flag else 0.0], dtype=torch.float64), info)[0] > 0)


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def broadcast_buffers(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (e.g. BatchNorm running statistics) to every rank."""
    if not info.distributed:
        return
    dev = _comm_device(info)
    for b in module.buffers():
        x = b.detach().to(dev).clone()
        dist.broadcast(x, src=0)
        b.copy_(x.to(b.device))
