"""Sharded writing: one shard file per rank, merged into the dataset by rank 0 or by hand.

With W ranks, rank K computes the chunks k ≡ K (mod W) into ``<stem>.rankK<suffix>`` (one writer
per HDF5 file, no parallel HDF5). :func:`meet_and_merge` lets the ranks meet in a process group
and rank 0 merge; without one, :func:`merge_shards` (``ltl dataset merge``) does it afterwards.
"""

from __future__ import annotations

import math
from pathlib import Path

from ...geometry import Geometry
from ...runtime.distributed import join_process_group
from ...runtime.files import FileLock
from .schema import check_same, create_file, done_chunks, open_dataset, read_settings, sample_families

__all__ = ["shard_path", "merge_shards", "meet_and_merge"]


def shard_path(path: str | Path, rank: int) -> Path:
    """The shard file of ``rank``: ``data.h5`` → ``data.rank1.h5``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.rank{int(rank)}{p.suffix or '.h5'}")


def merge_shards(path: str | Path, world_size: int, *, remove: bool = True) -> int:
    """Merge the shards ``<stem>.rankK<suffix>`` (K < ``world_size``) into ``path``.

    Creates ``path`` if needed (same settings as the shards; a mismatch is a ``ValueError``),
    copies every finished chunk not yet in ``path``, and deletes a shard once all of its chunks are
    merged (``remove``). Missing shards are skipped.

    Returns
    -------
    int
        The number of finished samples in ``path``.

    Raises
    ------
    FileNotFoundError
        Neither ``path`` nor any shard exists.
    ValueError
        ``world_size`` < 1, an unreadable file, or shards made with other settings.
    """
    path = Path(path)
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be an integer >= 1, got {world_size!r}")
    with FileLock(path, "dataset"):
        shards = [shard_path(path, k) for k in range(world_size) if shard_path(path, k).exists()]
        if not shards and not path.exists():
            raise FileNotFoundError(f"neither {path} nor any shard {shard_path(path, 0)} ... exists; run make_dataset first")
        if not path.exists():
            with open_dataset(shards[0], "r") as f:
                s = read_settings(f, shards[0])
                create_file(path, s, f["seed"][:], Geometry.from_dict(s["geometry"]),
                            sample_families(f, s) if "family" in f else None)
        with open_dataset(path, "r+") as out:
            ref = read_settings(out, path)
            chunk = int(ref["chunk"])
            m = out["done"].shape[0]
            for sp in shards:
                with open_dataset(sp, "r") as f:
                    check_same(sp, read_settings(f, sp), ref)
                    have = done_chunks(f["done"][:], chunk)
                    merged = done_chunks(out["done"][:], chunk)
                    for k in sorted(have - merged):
                        a, b = k * chunk, min(m, (k + 1) * chunk)
                        for key in ("truth", "sinogram", "f_vis"):
                            out[key][a:b] = f[key][a:b]
                        out.flush()
                        out["done"][a:b] = True
                    out.flush()
                    rank = int(sp.stem.rsplit(".rank", 1)[1])
                    expected = set(range(rank, math.ceil(m / chunk), world_size))
                if remove and expected <= done_chunks(out["done"][:], chunk):
                    sp.unlink()
            return int(out["done"][:].sum())


def meet_and_merge(path: Path, rank: int, world: int) -> bool:
    """After this rank's shard is written: meet the other ranks and let rank 0 merge.

    Joins (or creates, then destroys) a gloo process group (:func:`~ltl.runtime.distributed.join_process_group`).
    Returns False when there is no group to join (no ``MASTER_ADDR``): the shards stay for
    :func:`merge_shards`. Returns True once every rank has passed the barrier after the merge.
    """
    created = join_process_group(world)
    if created is None:
        return False
    import torch.distributed as dist

    try:
        dist.barrier()
        if rank == 0:
            merge_shards(path, world)
        dist.barrier()
    finally:
        if created:
            dist.destroy_process_group()
    return True
