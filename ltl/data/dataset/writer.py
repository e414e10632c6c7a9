"""Writing a dataset: simulate scans chunk by chunk, reconstruct them with l1-shearlet, resume.

Samples are computed in chunks of ``chunk`` (chunk k = samples ``k·chunk .. (k+1)·chunk−1``).
Phantoms are rasterised on the CPU, one chunk ahead, while the device projects and solves; a
chunk's ``done`` flags are set only after its arrays are flushed, so a rerun of the same call
skips finished chunks and recomputes the rest.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ...geometry import Geometry
from ...operators import RadonOperator
from ...runtime import default_device
from ...runtime.devices import num_workers
from ...runtime.distributed import env_rank
from ...runtime.progress import bar
from ...shearlets.settings import FrameSettings, frame_settings_of, make_frame
from ...solvers import l1_shearlet
from ...solvers.settings import L1Settings
from ...version import __version__
from ..phantoms import block_mean, random_ellipses, shepp_logan
from ..simulate import add_noise
from .schema import (DATASET_PHANTOMS, FORMAT, FORMAT_VERSION, check_same, create_file, done_chunks, open_dataset,
                     read_settings)
from .seeds import sample_seeds, seed_ranges
from .shards import meet_and_merge, shard_path

__all__ = ["make_dataset", "DEFAULT_CHUNK"]

#: Samples per device batch and per resumable chunk.
DEFAULT_CHUNK = 16


def _fine_phantoms(seeds: np.ndarray, phantom: str, n: int, oversample: int, pool=None) -> torch.Tensor:
    """The chunk's phantoms on the fine grid ``(len(seeds), kN, kN)``, rasterised in ``pool``'s threads."""
    if phantom != "ellipses":
        return shepp_logan(n, oversample=oversample).expand(len(seeds), -1, -1).contiguous()

    def one(s):
        return random_ellipses(1, n, seed=int(s), oversample=oversample)

    return torch.cat(list(pool.map(one, seeds)) if pool is not None else [one(s) for s in seeds])


def _simulate_chunk(seeds: np.ndarray, geometry: Geometry, oversample: int, noise: float, photons: float | None,
                    device: torch.device, fine: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ground truth ``(B, N, N)`` (block means of ``fine``, on the CPU) and noisy sinograms
    ``(B, V, D)`` on ``device``, the noise of sample j drawn with seed ``seeds[j]``."""
    clean = RadonOperator(geometry, oversample=oversample)(fine.to(device))
    sino = torch.cat([add_noise(clean[j:j + 1], noise=noise, photons=photons, seed=int(s))
                      for j, s in enumerate(seeds)])
    return block_mean(fine, oversample), sino


def _write_chunks(h5, todo: list[int], *, seeds: np.ndarray, chunk: int, phantom: str, geometry: Geometry,
                  oversample: int, noise: float, photons: float | None, device: torch.device, frame,
                  solver: L1Settings, desc: str, position: int | None, progress: bool, world: int,
                  callback: Callable[[int, int, int], Any] | None) -> None:
    """Compute and write the chunks ``todo`` into the open file ``h5``."""
    m = int(seeds.size)
    total = sum(min(m, (k + 1) * chunk) - k * chunk for k in todo)
    threads = max(1, min(8, num_workers() // world))
    ahead_pool = ThreadPoolExecutor(max_workers=1)
    raster_pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
    n = geometry.image_size
    kwargs = solver.kwargs()

    def fine_of(k):
        lo, hi = k * chunk, min(m, (k + 1) * chunk)
        return ahead_pool.submit(_fine_phantoms, seeds[lo:hi], phantom, n, oversample, raster_pool)

    try:
        with bar(total=total, unit="sample", desc=desc, disable=not progress or total == 0,
                 position=position) as pbar:
            A = None
            ahead = fine_of(todo[0]) if todo else None
            for i_k, k in enumerate(todo):
                a, b = k * chunk, min(m, (k + 1) * chunk)
                fine = ahead.result()
                ahead = fine_of(todo[i_k + 1]) if i_k + 1 < len(todo) else None
                truth, sino = _simulate_chunk(seeds[a:b], geometry, oversample, noise, photons, device, fine)
                if A is None:
                    A = RadonOperator(geometry, device=device)
                f_vis, _ = l1_shearlet(A, frame, sino, **kwargs, progress=False)
                if not bool(torch.isfinite(f_vis).all()):
                    raise ValueError(f"the l1-shearlet solver returned NaN/inf for seeds {seeds[a]}..{seeds[b - 1]}; "
                                     "check the solver settings")
                h5["truth"][a:b] = truth.cpu().numpy()
                h5["sinogram"][a:b] = sino.cpu().numpy()
                h5["f_vis"][a:b] = f_vis.detach().cpu().float().numpy()
                h5.flush()
                h5["done"][a:b] = True
                h5.flush()
                pbar.update(b - a)
                if callback is not None:
                    callback(k, a, b)
    finally:
        ahead_pool.shutdown(wait=True, cancel_futures=True)
        if raster_pool is not None:
            raster_pool.shutdown(wait=True, cancel_futures=True)


def _check_scalars(phantom, chunk, noise, oversample) -> None:
    if phantom not in DATASET_PHANTOMS:
        raise ValueError(f"phantom must be one of {', '.join(DATASET_PHANTOMS)} for a dataset, got {phantom!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    if isinstance(noise, bool) or not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if isinstance(oversample, bool) or not isinstance(oversample, int) or oversample < 1:
        raise ValueError(f"oversample must be a positive integer, got {oversample!r}")


def make_dataset(
    path: str | Path,
    *,
    phantom: str = DATASET_PHANTOMS[0],
    count: int,
    geometry: Geometry,
    noise: float = 0.01,
    photons: float | None = None,
    seed: int = 0,
    val_count: int = 0,
    test_count: int = 0,
    chunk: int = DEFAULT_CHUNK,
    solver_settings: L1Settings | dict | None = None,
    frame_settings: FrameSettings | dict | None = None,
    oversample: int = 2,
    device: torch.device | str | None = None,
    progress: bool = True,
    rank: int | None = None,
    world_size: int | None = None,
    overwrite: bool = False,
    callback: Callable[[int, int, int], Any] | None = None,
) -> Path:
    """Simulate scans, reconstruct them with l1-shearlet and write an HDF5 training set.

    Parameters
    ----------
    path : str or Path
        The ``.h5`` file to write (or to resume).
    phantom : {'ellipses', 'shepp-logan'}
        Random ellipses (seeded per sample) or the Shepp–Logan phantom (then only the noise varies).
    count : int
        Samples with seeds ``seed .. seed+count−1``.
    geometry : Geometry
        The scan geometry (N×N reconstruction grid).
    noise, photons : float
        Relative Gaussian noise η and optional Poisson photons I0 (:func:`ltl.data.add_noise`), drawn
        per sample with the sample's seed.
    seed : int
        First seed of the ``count`` samples (phantom i uses ``seed + i``).
    val_count, test_count : int
        Extra samples with seeds from ``VAL_SEEDS.start`` and ``TEST_SEEDS.start`` (default 0).
    chunk : int
        Samples per batch on the device and per resumable unit (default :data:`DEFAULT_CHUNK`).
    solver_settings : L1Settings or dict, optional
        The l1-shearlet settings (:class:`~ltl.solvers.settings.L1Settings` or its dict form, an
        optional ``'method'`` key aside); missing keys take the defaults, unknown keys are a
        ``ValueError``. The file stores :meth:`L1Settings.to_dict` under ``settings['solver']``.
    frame_settings : FrameSettings or dict, optional
        The shearlet frame (:class:`~ltl.shearlets.settings.FrameSettings` or its dict form; default:
        the frame's defaults for N).
    oversample : int
        Phantoms are projected from a grid this many times finer (no inverse crime; default 2).
    device : torch.device or str, optional
        Where projection and solver run (default :func:`ltl.runtime.default_device`: CUDA when torch
        and ASTRA see it, else CPU).
    progress : bool
        Show a progress bar (per rank).
    rank, world_size : int, optional
        Shard the chunks over processes (default: torchrun's ``RANK``/``WORLD_SIZE``, else 0 and 1).
        See :mod:`ltl.data.dataset`.
    overwrite : bool
        Replace an existing file made with other settings (by default it is refused; a file with
        the same settings is resumed).
    callback : callable, optional
        ``callback(k, start, stop)`` after chunk k (samples ``start..stop−1``) is written.

    Returns
    -------
    Path
        ``path`` once it is complete (or, for W > 1 without a process group, this rank's shard).

    Raises
    ------
    ValueError
        Bad arguments or settings (before any file is created), an existing file with other
        settings, or an unreadable existing file.
    """
    path = Path(path)
    if not isinstance(geometry, Geometry):
        raise TypeError(f"geometry must be an ltl.Geometry, got {type(geometry).__name__}")
    _check_scalars(phantom, chunk, noise, oversample)
    solver = L1Settings.from_dict(solver_settings)
    rank, world = env_rank(rank, world_size)
    seeds = sample_seeds(seed, count, val_count, test_count)
    dev = torch.device(device) if device is not None else default_device()
    frame = make_frame(geometry.image_size, frame_settings, device=dev)
    settings = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "geometry": geometry.to_dict(),
        "phantom": phantom, "noise": float(noise), "photons": None if photons is None else float(photons),
        "oversample": oversample, "noise_seeding": "per sample: add_noise(seed=sample seed)",
        "seed": int(seed), "count": int(count), "val_count": int(val_count), "test_count": int(test_count),
        "seed_ranges": seed_ranges(seeds), "chunk": int(chunk), "solver": {"method": "l1_shearlet", **solver.to_dict()},
        "frame": frame_settings_of(frame), "ltl_version": __version__,
    }
    m = int(seeds.size)
    n_chunks = math.ceil(m / chunk)

    # Chunks already finished in the main file (read-only, before anyone writes it).
    done_main: set[int] = set()
    if path.exists():
        if overwrite and world == 1:
            path.unlink()
        elif overwrite:
            raise ValueError(f"{path} exists; with several ranks delete it (and its shards) instead of overwrite")
        else:
            with open_dataset(path, "r") as f:
                check_same(path, read_settings(f, path), settings)
                done_main = done_chunks(f["done"][:], chunk)

    target = path if world == 1 else shard_path(path, rank)
    if world > 1 and target.exists() and overwrite:
        target.unlink()
    if target.exists():
        with open_dataset(target, "r") as f:
            check_same(target, read_settings(f, target), settings)
    elif len(done_main) < n_chunks:
        create_file(target, settings, seeds, geometry)

    mine = [k for k in range(rank, n_chunks, world) if k not in done_main]
    if mine:
        with open_dataset(target, "r+") as h5:
            done_here = done_chunks(h5["done"][:], chunk)
            _write_chunks(h5, [k for k in mine if k not in done_here], seeds=seeds, chunk=int(chunk),
                          phantom=phantom, geometry=geometry, oversample=oversample, noise=float(noise),
                          photons=photons, device=dev, frame=frame, solver=solver,
                          desc="dataset" if world == 1 else f"dataset rank {rank}",
                          position=rank if world > 1 else None, progress=progress, world=world, callback=callback)

    if world == 1:
        return path
    return path if meet_and_merge(path, rank, world) else target
