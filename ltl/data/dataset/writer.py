"""Writing a dataset: simulate scans chunk by chunk, reconstruct them with l1-shearlet, resume.

Samples are computed in chunks of ``chunk`` (chunk k = samples ``k·chunk .. (k+1)·chunk−1``).
Phantoms are rasterised on the CPU, one chunk ahead, while the device projects and solves; a
chunk's ``done`` flags are set only after its arrays are flushed, so a rerun of the same call
skips finished chunks and recomputes the rest.

The progress bar counts samples: within a chunk (solved as one batch) it advances sample by
sample with the solver's iterations, against the iterations the previous batches (or the timing
sample) needed. With ``estimate``, one sample is simulated and solved alone before the first
chunk, timed and discarded, and the estimated total time is reported before the work starts.
"""

from __future__ import annotations

import math
import time
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
from ...runtime.files import FileLock
from ...runtime.memory import check_disk
from ...runtime.progress import bar, sync
from ...shearlets.settings import FrameSettings, frame_settings_of, make_frame
from ...solvers import l1_shearlet
from ...solvers.settings import L1Settings
from ...version import __version__
from ..phantoms import block_mean
from ..simulate import add_noise
from .plan import PhantomPlan, plan_phantom
from .schema import (DATASET_PHANTOMS, FORMAT, FORMAT_VERSION, check_same, create_file, done_chunks, open_dataset,
                     read_settings)
from .seeds import sample_seeds, seed_ranges
from .shards import meet_and_merge, shard_path

__all__ = ["make_dataset", "DEFAULT_CHUNK"]

#: Samples per device batch and per resumable chunk.
DEFAULT_CHUNK = 16


def _simulate_chunk(seeds: np.ndarray, geometry: Geometry, oversample: int, noise: float, photons: float | None,
                    device: torch.device, fine: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ground truth ``(B, N, N)`` (block means of ``fine``, on the CPU) and noisy sinograms
    ``(B, V, D)`` on ``device``, the noise of sample j drawn with seed ``seeds[j]``."""
    clean = RadonOperator(geometry, oversample=oversample)(fine.to(device))
    sino = torch.cat([add_noise(clean[j:j + 1], noise=noise, photons=photons, seed=int(s))
                      for j, s in enumerate(seeds)])
    return block_mean(fine, oversample), sino


class _SampleBar:
    """A tqdm bar over samples that advances sample by sample while a batch is solved.

    Within a batch of B samples, after solver iteration k the bar stands at
    ``start + floor(B·k/K)`` (at most ``start + B − 1``), K the iterations the last batch needed
    (first: ``expected``); when the batch is written it stands at ``start + B``.
    """

    def __init__(self, pbar, expected: int):
        self.pbar, self.expected = pbar, max(1, int(expected))
        self.start, self.size = 0, 0

    def batch(self, size: int) -> Callable[[int, torch.Tensor], None]:
        self.start, self.size = int(self.pbar.n), int(size)

        def on_iteration(k, _x):
            target = self.start + min(self.size - 1, (self.size * k) // self.expected)
            if target > self.pbar.n:
                self.pbar.update(target - self.pbar.n)

        return on_iteration

    def done(self, iterations: int) -> None:
        self.expected = max(1, int(iterations))
        self.pbar.update(self.start + self.size - self.pbar.n)


def _write_chunks(h5, todo: list[int], *, seeds: np.ndarray, chunk: int, plan: PhantomPlan, geometry: Geometry,
                  oversample: int, noise: float, photons: float | None, device: torch.device, frame, A,
                  solver: L1Settings, desc: str, position: int | None, progress: bool, world: int,
                  expected_iters: int, callback: Callable[[int, int, int], Any] | None) -> None:
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
        return ahead_pool.submit(plan.fine, seeds[lo:hi], n, oversample, raster_pool)

    try:
        with bar(total=total, unit="sample", desc=desc, disable=not progress or total == 0,
                 position=position) as pbar:
            samples = _SampleBar(pbar, expected_iters)
            ahead = fine_of(todo[0]) if todo else None
            for i_k, k in enumerate(todo):
                a, b = k * chunk, min(m, (k + 1) * chunk)
                fine = ahead.result()
                ahead = fine_of(todo[i_k + 1]) if i_k + 1 < len(todo) else None
                truth, sino = _simulate_chunk(seeds[a:b], geometry, oversample, noise, photons, device, fine)
                f_vis, info = l1_shearlet(A, frame, sino, **kwargs, progress=False, callback=samples.batch(b - a))
                if not bool(torch.isfinite(f_vis).all()):
                    raise ValueError(f"the l1-shearlet solver returned NaN/inf for seeds {seeds[a]}..{seeds[b - 1]}; "
                                     "check the solver settings")
                h5["truth"][a:b] = truth.cpu().numpy()
                h5["sinogram"][a:b] = sino.cpu().numpy()
                h5["f_vis"][a:b] = f_vis.detach().cpu().float().numpy()
                h5.flush()
                h5["done"][a:b] = True
                h5.flush()
                samples.done(info.iterations)
                if callback is not None:
                    callback(k, a, b)
    finally:
        ahead_pool.shutdown(wait=True, cancel_futures=True)
        if raster_pool is not None:
            raster_pool.shutdown(wait=True, cancel_futures=True)


def _time_one_sample(seed: int, *, plan: PhantomPlan, geometry: Geometry, oversample: int, noise: float,
                     photons: float | None, device: torch.device, frame, A, solver: L1Settings) -> tuple[float, int]:
    """Seconds and solver iterations for one sample made and solved alone (the result is discarded).

    One solver iteration runs first, untimed, so that one-time set-up costs (FFT plans, kernels)
    do not count as the sample's time."""
    sync(device)
    t0 = time.perf_counter()
    fine = plan.fine(np.asarray([seed]), geometry.image_size, oversample)
    _, sino = _simulate_chunk(np.asarray([seed]), geometry, oversample, noise, photons, device, fine)
    sync(device)
    t_make = time.perf_counter() - t0
    l1_shearlet(A, frame, sino, **dict(solver.kwargs(), iters=1, tol=0.0), progress=False)
    sync(device)
    t0 = time.perf_counter()
    _, info = l1_shearlet(A, frame, sino, **solver.kwargs(), progress=False)
    sync(device)
    return t_make + time.perf_counter() - t0, int(info.iterations)


def _check_scalars(chunk, noise, oversample) -> None:
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
    estimate: Callable[[dict], Any] | None = None,
) -> Path:
    """Simulate scans, reconstruct them with l1-shearlet and write an HDF5 training set.

    Parameters
    ----------
    path : str or Path
        The ``.h5`` file to write (or to resume).
    phantom : str
        A phantom family of :data:`ltl.data.phantoms.FAMILIES` (seeded per sample: sample seed s
        is the family's phantom s), ``'crops:PATH'`` (crops of a user's images), a mix
        ``'mix:NAME=W,...'`` (:func:`~ltl.data.phantoms.parse_mix`: each sample's family drawn
        from its seed and the weights; the file records the mix and holds a ``family`` array),
        or ``'shepp-logan'`` (the fixed phantom; only the noise varies). Default ``'ellipses'``.
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
    estimate : callable, optional
        ``estimate(info)`` once before the first sample is computed, when this rank has samples to
        compute: one sample is made and solved alone (with these settings, on ``device``), timed
        and discarded; ``info`` holds ``samples`` (left to compute here), ``seconds_per_sample``,
        ``seconds`` (their product), ``iterations`` (the solver's, for the timed sample),
        ``device`` and ``how`` (a sentence saying how the figure was measured).

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
    _check_scalars(chunk, noise, oversample)
    plan = plan_phantom(phantom)
    solver = L1Settings.from_dict(solver_settings)
    rank, world = env_rank(rank, world_size)
    seeds = sample_seeds(seed, count, val_count, test_count)
    dev = torch.device(device) if device is not None else default_device()
    frame = make_frame(geometry.image_size, frame_settings, device=dev)
    settings = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "geometry": geometry.to_dict(),
        "phantom": plan.phantom, **plan.extra, "noise": float(noise),
        "photons": None if photons is None else float(photons),
        "oversample": oversample, "noise_seeding": "per sample: add_noise(seed=sample seed)",
        "seed": int(seed), "count": int(count), "val_count": int(val_count), "test_count": int(test_count),
        "seed_ranges": seed_ranges(seeds), "chunk": int(chunk), "solver": {"method": "l1_shearlet", **solver.to_dict()},
        "frame": frame_settings_of(frame), "ltl_version": __version__,
    }
    m = int(seeds.size)
    n_chunks = math.ceil(m / chunk)
    if not path.exists() or overwrite:
        n, (v, d) = geometry.image_size, geometry.sino_shape
        check_disk(4.0 * m * (2 * n * n + v * d), path.parent, f"a dataset of {m} samples at {n}²",
                   hint="use a smaller --count or another --out")

    target = path if world == 1 else shard_path(path, rank)
    # Held while this process writes (or decides not to write) its file: a second `dataset make`
    # of the same file is refused, and `dataset info` names the writer. The kernel releases it if
    # the process dies, and the rerun resumes.
    with FileLock(target, "dataset"):
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

        if world > 1 and target.exists() and overwrite:
            target.unlink()
        if target.exists():
            with open_dataset(target, "r") as f:
                check_same(target, read_settings(f, target), settings)
        elif len(done_main) < n_chunks:
            create_file(target, settings, seeds, geometry, plan.families(seeds) if plan.mix is not None else None)

        mine = [k for k in range(rank, n_chunks, world) if k not in done_main]
        if mine:
            with open_dataset(target, "r+") as h5:
                done_here = done_chunks(h5["done"][:], chunk)
                todo = [k for k in mine if k not in done_here]
                A = RadonOperator(geometry, device=dev)
                common = dict(plan=plan, geometry=geometry, oversample=oversample, noise=float(noise), photons=photons,
                              device=dev, frame=frame, A=A, solver=solver)
                expected = solver.iters
                if todo and estimate is not None:
                    A.norm()  # computed once per geometry: not part of a sample's time
                    first = seeds[todo[0] * chunk]
                    per, expected = _time_one_sample(int(first), **common)
                    left = sum(min(m, (k + 1) * chunk) - k * chunk for k in todo)
                    estimate({"samples": left, "seconds_per_sample": per, "seconds": per * left, "iterations": expected,
                              "device": str(dev),
                              "how": f"timed on one sample (seed {first}) made and solved alone on {dev.type}, then "
                                     f"discarded; the {left} samples run in batches of {min(int(chunk), left)}"})
                _write_chunks(h5, todo, seeds=seeds, chunk=int(chunk), **common,
                              desc="dataset" if world == 1 else f"dataset rank {rank}",
                              position=rank if world > 1 else None, progress=progress, world=world,
                              expected_iters=expected, callback=callback)

    if world == 1:
        return path
    return path if meet_and_merge(path, rank, world) else target
