"""On-disk training data for LtI: phantoms, sinograms and l1-shearlet reconstructions in HDF5.

File layout (one HDF5 file, written by :func:`make_dataset`)
-------------------------------------------------------------
``truth``     ``(M, N, N)`` float32  ground truth on the reconstruction grid (2×2 block means of the
              phantom rasterised on the 2× grid the data were projected from)
``sinogram``  ``(M, V, D)`` float32  noisy sinogram
``f_vis``     ``(M, N, N)`` float32  l1-shearlet reconstruction (:func:`ltl.solvers.l1_shearlet`), the
              network's input
``seed``      ``(M,)``     int64    sample seed: phantom seed and noise seed
``done``      ``(M,)``     bool     set once the sample's chunk is written completely
attribute ``settings``     JSON: format, geometry, phantom, noise, photons, oversample, seed ranges,
              chunk, solver settings (defaults filled in), frame settings, ltl version
attribute ``geometry``     JSON of the geometry (also inside ``settings``), for quick inspection

Sample seeds
------------
The file holds ``count`` samples with seeds ``seed .. seed+count−1`` (phantom i uses seed
``seed+i``, as :func:`ltl.data.simulate_phantoms`), then ``val_count`` samples from
``VAL_SEEDS.start`` and ``test_count`` from ``TEST_SEEDS.start``. A sample belongs to the split
whose seed range holds its seed (:data:`TRAIN_SEEDS`, :data:`VAL_SEEDS`, :data:`TEST_SEEDS`), so
splits never overlap, within one file or across files. Noise is drawn per sample with
``add_noise(seed=sample seed)``, so a sample does not depend on the chunking, the rank or the
other samples (unlike one ``simulate_phantoms`` call over many phantoms).

Resuming and sharding
---------------------
Samples are computed in chunks of ``chunk`` (chunk k = samples ``k·chunk .. (k+1)·chunk−1``); a
chunk's ``done`` flags are set only after its arrays are flushed, so a rerun of the same call
skips finished chunks and recomputes the rest. A file made with other settings is refused.

With ``world_size`` W > 1 (taken from torchrun's ``RANK``/``WORLD_SIZE`` by default) rank K
computes the chunks k ≡ K (mod W) and writes them to its own shard ``<stem>.rankK<suffix>``
(one writer per HDF5 file, no parallel HDF5 needed). When a process group is available
(torchrun sets ``MASTER_ADDR``; a gloo group is created if none exists), all ranks meet at a
barrier and rank 0 merges the shards into ``path`` (:func:`merge_shards`) and deletes them;
otherwise run :func:`merge_shards` (``ltl dataset merge``) once every rank has finished.
A process killed inside an HDF5 write can leave an unreadable file: it is reported as such
(``ValueError``); delete it (or the shard) and rerun.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .._io import temporary_sibling
from ..geometry import Geometry

__all__ = [
    "TRAIN_SEEDS", "VAL_SEEDS", "TEST_SEEDS", "SPLITS", "FORMAT", "FORMAT_VERSION",
    "make_dataset", "merge_shards", "shard_path", "dataset_info", "split_of", "check_disjoint",
    "LtIDataset", "add_cli",
]

#: Seeds of training phantoms.
TRAIN_SEEDS = range(0, 10_000)
#: Seeds of validation phantoms.
VAL_SEEDS = range(10_000, 20_000)
#: Seeds of test phantoms.
TEST_SEEDS = range(20_000, 30_000)
SPLITS = {"train": TRAIN_SEEDS, "val": VAL_SEEDS, "test": TEST_SEEDS}

FORMAT = "ltl-lti-dataset"
FORMAT_VERSION = 1
DATASET_PHANTOMS = ("ellipses", "shepp-logan")
_SOLVER_KEYS = ("lam", "iters", "tol", "noise", "nonneg")  # recorded with the solver's defaults filled in
_SOLVER_EXTRA = ("lam_factor", "primal_step", "balance")  # passed and recorded only when given
_FRAME_KEYS = ("scales", "shears")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _l1_shearlet(*args, **kwargs):
    """The l1-shearlet solver, imported on first use (solvers are not needed to read a dataset)."""
    from ..solvers import l1_shearlet

    return l1_shearlet(*args, **kwargs)


def split_of(seed: int) -> str | None:
    """``'train'``, ``'val'``, ``'test'`` or None: the split whose seed range holds ``seed``."""
    for name, r in SPLITS.items():
        if int(seed) in r:
            return name
    return None


def shard_path(path: str | Path, rank: int) -> Path:
    """The shard file of ``rank``: ``data.h5`` → ``data.rank1.h5``."""
    p = Path(path)
    return p.with_name(f"{p.stem}.rank{int(rank)}{p.suffix or '.h5'}")


def solver_settings_full(settings: dict | None) -> dict:
    """JSON-safe l1-shearlet settings with the solver's defaults filled in.

    Keys: ``lam`` (None for the solver's default λ), ``iters``, ``tol``, ``noise``, ``nonneg``
    (always recorded), ``lam_factor``, ``primal_step``, ``balance`` (only when given); unknown keys are
    a ``ValueError``.
    """
    settings = dict(settings or {})
    settings.pop("method", None)
    bad = sorted(set(settings) - set(_SOLVER_KEYS) - set(_SOLVER_EXTRA))
    if bad:
        raise ValueError(f"unknown solver setting(s) {bad}; valid keys: {', '.join(_SOLVER_KEYS + _SOLVER_EXTRA)}")
    try:
        from ..solvers import l1_shearlet

        sig = inspect.signature(l1_shearlet).parameters
        defaults = {k: sig[k].default for k in _SOLVER_KEYS
                    if k in sig and sig[k].default is not inspect.Parameter.empty}
    except ImportError:  # pragma: no cover - solvers not installed
        defaults = {}
    out = {k: defaults.get(k) for k in _SOLVER_KEYS}
    out.update(settings)
    for k, v in out.items():
        if isinstance(v, torch.Tensor):
            v = v.tolist()
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        out[k] = v
    try:
        json.dumps(out)
    except TypeError as exc:
        raise ValueError(f"solver settings must be JSON-safe numbers/booleans/None ({exc})") from exc
    return out


def solver_kwargs(settings: dict) -> dict:
    """Keyword arguments for :func:`ltl.solvers.l1_shearlet` from stored settings (None → default)."""
    kw = {k: v for k, v in settings.items() if k in _SOLVER_KEYS + _SOLVER_EXTRA and v is not None}
    if "lam" in settings:
        kw["lam"] = settings["lam"]
    return kw


def make_frame(n: int, settings: dict | None = None, device=None):
    """The :class:`~ltl.shearlets.ShearletFrame` of ``settings`` (keys ``scales``, ``shears``)."""
    from ..shearlets import ShearletFrame

    settings = dict(settings or {})
    bad = sorted(set(settings) - set(_FRAME_KEYS) - {"N", "num_channels"})
    if bad:
        raise ValueError(f"unknown frame setting(s) {bad}; valid keys: {', '.join(_FRAME_KEYS)}")
    if "N" in settings and int(settings["N"]) != int(n):
        raise ValueError(f"frame settings are for N={settings['N']}, the geometry has N={n}")
    frame = ShearletFrame(int(n), scales=settings.get("scales"), shears=settings.get("shears"), device=device)
    if "num_channels" in settings and int(settings["num_channels"]) != frame.num_channels:
        raise ValueError(
            f"frame settings say {settings['num_channels']} channels but ShearletFrame builds "
            f"{frame.num_channels}; the frame construction changed since the file was written"
        )
    return frame


def frame_settings_of(frame) -> dict:
    """JSON-safe settings that rebuild ``frame`` with :func:`make_frame`."""
    return {"N": int(frame.image_size), "scales": int(frame.scales), "shears": [int(k) for k in frame.shears],
            "num_channels": int(frame.num_channels)}


def _default_device() -> torch.device:
    if torch.cuda.is_available():
        try:
            from ..operators import _astra

            if _astra.cuda_available():
                return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        except Exception:  # pragma: no cover
            pass
    return torch.device("cpu")


def _env_rank(rank: int | None, world_size: int | None) -> tuple[int, int]:
    if world_size is None:
        world_size = int(os.environ.get("WORLD_SIZE", 1))
    if rank is None:
        rank = int(os.environ.get("RANK", 0))
    if isinstance(world_size, bool) or int(world_size) != world_size or world_size < 1:
        raise ValueError(f"world_size must be a positive integer, got {world_size!r}")
    if isinstance(rank, bool) or int(rank) != rank or not 0 <= rank < world_size:
        raise ValueError(f"rank must be an integer in 0..{world_size - 1}, got {rank!r}")
    return int(rank), int(world_size)


def _sample_seeds(seed: int, count: int, val_count: int, test_count: int) -> np.ndarray:
    for name, v in (("count", count), ("val_count", val_count), ("test_count", test_count)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if count + val_count + test_count < 1:
        raise ValueError("the dataset would be empty: pass count (and/or val_count, test_count) >= 1")
    if val_count > len(VAL_SEEDS) or test_count > len(TEST_SEEDS):
        raise ValueError(f"val_count and test_count may be at most {len(VAL_SEEDS)}")
    parts = [np.arange(seed, seed + count), np.arange(VAL_SEEDS.start, VAL_SEEDS.start + val_count),
             np.arange(TEST_SEEDS.start, TEST_SEEDS.start + test_count)]
    seeds = np.concatenate(parts).astype(np.int64)
    if np.unique(seeds).size != seeds.size:
        raise ValueError(
            f"seeds {seed}..{seed + count - 1} overlap the validation/test seeds "
            f"({VAL_SEEDS.start}.., {TEST_SEEDS.start}..) also requested; choose seed and count so "
            "that the ranges are disjoint"
        )
    return seeds


def _ranges(seeds: np.ndarray) -> list[list[int]]:
    """Contiguous runs of ``seeds`` as ``[start, stop)`` pairs."""
    out: list[list[int]] = []
    for s in seeds.tolist():
        if out and out[-1][1] == s:
            out[-1][1] = s + 1
        else:
            out.append([s, s + 1])
    return out


def _h5():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover
        raise ImportError("datasets need h5py: pip install h5py") from exc
    return h5py


def _open(path: Path, mode: str = "r"):
    """Open an ltl dataset file with clear errors for a missing or unreadable file."""
    h5py = _h5()
    if not path.exists():
        raise FileNotFoundError(
            f"dataset {path} does not exist; create it with `ltl dataset make --out {path}` "
            "(or ltl.data.dataset.make_dataset)"
        )
    if path.is_dir():
        raise ValueError(f"dataset {path} is a directory, expected an HDF5 file (.h5)")
    try:
        f = h5py.File(path, mode)
    except OSError as exc:
        raise ValueError(
            f"{path} is not a readable HDF5 file ({str(exc).splitlines()[0]}); it may be truncated by an "
            "interrupted write: delete it and re-create it with `ltl dataset make`"
        ) from exc
    try:
        _settings(f, path)
        for key in ("truth", "sinogram", "f_vis", "seed", "done"):
            if key not in f:
                raise ValueError(f"{path} is not a complete ltl dataset: it lacks the array {key!r}; re-create it")
    except BaseException:
        f.close()
        raise
    return f


def _settings(f, path: Path) -> dict:
    raw = f.attrs.get("settings")
    if raw is None:
        raise ValueError(f"{path} is not an ltl dataset (no 'settings' attribute); make one with `ltl dataset make`")
    try:
        s = json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: its 'settings' attribute is not valid JSON ({exc}); re-create the file") from exc
    if s.get("format") != FORMAT:
        raise ValueError(f"{path} is not an ltl dataset (format {s.get('format')!r}, expected {FORMAT!r})")
    if s.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has dataset format version {s.get('format_version')}, this ltl reads "
                         f"version {FORMAT_VERSION}; re-create it with this ltl")
    return s


def _create(path: Path, settings: dict, seeds: np.ndarray, geometry: Geometry) -> None:
    """Create an empty dataset skeleton atomically (temporary file + rename)."""
    h5py = _h5()
    tmp = temporary_sibling(path, ".h5.tmp")
    try:
        m = int(seeds.size)
        n = geometry.image_size
        v, d = geometry.sino_shape
        with h5py.File(tmp, "w") as f:
            f.attrs["settings"] = json.dumps(settings)
            f.attrs["geometry"] = geometry.to_json()
            f.attrs["ltl_version"] = settings["ltl_version"]
            f.create_dataset("truth", (m, n, n), dtype="f4", chunks=(1, n, n))
            f.create_dataset("f_vis", (m, n, n), dtype="f4", chunks=(1, n, n))
            f.create_dataset("sinogram", (m, v, d), dtype="f4", chunks=(1, v, d))
            f.create_dataset("seed", data=seeds.astype(np.int64))
            f.create_dataset("done", (m,), dtype=bool, fillvalue=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_same(path: Path, have: dict, want: dict) -> None:
    diffs = [k for k in sorted(set(have) | set(want)) if have.get(k) != want.get(k)]
    if diffs:
        k = diffs[0]

        def short(x):
            s = json.dumps(x)
            return s if len(s) <= 80 else s[:77] + "..."

        raise ValueError(
            f"{path} exists and was made with other settings ({', '.join(diffs)}; e.g. {k}: file has "
            f"{short(have.get(k))}, requested {short(want.get(k))}); choose another path or pass "
            "overwrite=True (--overwrite) to replace it"
        )


def _done_chunks(done: np.ndarray, chunk: int) -> set[int]:
    m = done.size
    return {k for k in range(math.ceil(m / chunk)) if done[k * chunk:min(m, (k + 1) * chunk)].all()}


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def _fine_phantoms(seeds: np.ndarray, phantom: str, n: int, oversample: int, pool=None) -> torch.Tensor:
    """The chunk's phantoms on the fine grid ``(len(seeds), kN, kN)``, rasterised in ``pool``'s threads."""
    from .phantoms import random_ellipses, shepp_logan

    if phantom != "ellipses":
        return shepp_logan(n, oversample=oversample).expand(len(seeds), -1, -1).contiguous()

    def one(s):
        return random_ellipses(1, n, seed=int(s), oversample=oversample)

    return torch.cat(list(pool.map(one, seeds)) if pool is not None else [one(s) for s in seeds])


def _simulate_chunk(seeds: np.ndarray, phantom: str, geometry: Geometry, oversample: int, noise: float,
                    photons: float | None, device: torch.device, fine: torch.Tensor | None = None):
    from ..operators import RadonOperator
    from .phantoms import block_mean
    from .simulate import add_noise

    if fine is None:
        fine = _fine_phantoms(seeds, phantom, geometry.image_size, oversample)
    clean = RadonOperator(geometry, oversample=oversample)(fine.to(device))
    sino = torch.cat([add_noise(clean[j:j + 1], noise=noise, photons=photons, seed=int(s))
                      for j, s in enumerate(seeds)])
    return block_mean(fine, oversample), sino


def make_dataset(
    path: str | Path,
    *,
    phantom: str = "ellipses",
    count: int,
    geometry: Geometry,
    noise: float = 0.01,
    photons: float | None = None,
    seed: int = 0,
    val_count: int = 0,
    test_count: int = 0,
    chunk: int = 16,
    solver_settings: dict | None = None,
    frame_settings: dict | None = None,
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
        Samples per batch on the device and per resumable unit (default 16).
    solver_settings : dict, optional
        ``l1_shearlet`` settings: ``lam`` (None: the solver's default λ), ``iters``, ``tol``,
        ``noise``, ``nonneg``, ``lam_factor``, ``primal_step``, ``balance``; missing keys take the solver's defaults.
    frame_settings : dict, optional
        ``ShearletFrame`` settings ``scales``, ``shears`` (default: the frame's defaults).
    oversample : int
        Phantoms are projected from a grid this many times finer (no inverse crime; default 2).
    device : torch.device or str, optional
        Where projection and solver run (default: CUDA when torch and ASTRA see it, else CPU).
    progress : bool
        Show a tqdm bar (per rank).
    rank, world_size : int, optional
        Shard the chunks over processes (default: torchrun's ``RANK``/``WORLD_SIZE``, else 0 and 1).
        See the module notes.
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
        Bad arguments, an existing file with other settings, or an unreadable existing file.
    """
    from .. import __version__

    path = Path(path)
    if not isinstance(geometry, Geometry):
        raise TypeError(f"geometry must be an ltl.Geometry, got {type(geometry).__name__}")
    if phantom not in DATASET_PHANTOMS:
        raise ValueError(f"phantom must be one of {', '.join(DATASET_PHANTOMS)} for a dataset, got {phantom!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if isinstance(oversample, bool) or not isinstance(oversample, int) or oversample < 1:
        raise ValueError(f"oversample must be a positive integer, got {oversample!r}")
    rank, world = _env_rank(rank, world_size)
    seeds = _sample_seeds(seed, count, val_count, test_count)
    dev = torch.device(device) if device is not None else _default_device()
    frame = make_frame(geometry.image_size, frame_settings, device=dev)
    solver = solver_settings_full(solver_settings)
    settings = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "geometry": geometry.to_dict(),
        "phantom": phantom, "noise": float(noise), "photons": None if photons is None else float(photons),
        "oversample": oversample, "noise_seeding": "per sample: add_noise(seed=sample seed)",
        "seed": int(seed), "count": int(count), "val_count": int(val_count), "test_count": int(test_count),
        "seed_ranges": _ranges(seeds), "chunk": int(chunk), "solver": {"method": "l1_shearlet", **solver},
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
            with _open(path, "r") as f:
                _check_same(path, _settings(f, path), settings)
                done_main = _done_chunks(f["done"][:], chunk)

    target = path if world == 1 else shard_path(path, rank)
    if world > 1 and target.exists() and overwrite:
        target.unlink()
    if target.exists():
        with _open(target, "r") as f:
            _check_same(target, _settings(f, target), settings)
    elif len(done_main) < n_chunks:
        _create(target, settings, seeds, geometry)

    mine = [k for k in range(rank, n_chunks, world) if k not in done_main]
    if mine:
        h5 = _open(target, "r+")
        try:
            done_here = _done_chunks(h5["done"][:], chunk)
            todo = [k for k in mine if k not in done_here]
            total = sum(min(m, (k + 1) * chunk) - k * chunk for k in todo)
            from tqdm.auto import tqdm

            desc = "dataset" if world == 1 else f"dataset rank {rank}"
            from concurrent.futures import ThreadPoolExecutor

            from ..operators._astra import num_workers

            # Phantoms are rasterised on the CPU, one chunk ahead, while the device solves.
            threads = max(1, min(8, num_workers() // world))
            ahead_pool = ThreadPoolExecutor(max_workers=1)
            raster_pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
            n_img = geometry.image_size

            def fine_of(k):
                lo, hi = k * chunk, min(m, (k + 1) * chunk)
                return ahead_pool.submit(_fine_phantoms, seeds[lo:hi], phantom, n_img, oversample, raster_pool)

            with ahead_pool, tqdm(total=total, unit="sample", desc=desc, disable=not progress or total == 0,
                            position=rank if world > 1 else None, dynamic_ncols=True) as bar:
                A = None
                ahead = fine_of(todo[0]) if todo else None
                for i_k, k in enumerate(todo):
                    a, b = k * chunk, min(m, (k + 1) * chunk)
                    fine = ahead.result()
                    ahead = fine_of(todo[i_k + 1]) if i_k + 1 < len(todo) else None
                    truth, sino = _simulate_chunk(seeds[a:b], phantom, geometry, oversample, float(noise),
                                                  photons, dev, fine=fine)
                    if A is None:
                        from ..operators import RadonOperator

                        A = RadonOperator(geometry, device=dev)
                    f_vis, _ = _l1_shearlet(A, frame, sino, **solver_kwargs(solver), progress=False)
                    if not bool(torch.isfinite(f_vis).all()):
                        raise ValueError(f"the l1-shearlet solver returned NaN/inf for seeds {seeds[a]}..{seeds[b - 1]}; "
                                         "check the solver settings")
                    h5["truth"][a:b] = truth.cpu().numpy()
                    h5["sinogram"][a:b] = sino.cpu().numpy()
                    h5["f_vis"][a:b] = f_vis.detach().cpu().float().numpy()
                    h5.flush()
                    h5["done"][a:b] = True
                    h5.flush()
                    bar.update(b - a)
                    if callback is not None:
                        callback(k, a, b)
            if raster_pool is not None:
                raster_pool.shutdown()
        finally:
            h5.close()

    if world == 1:
        return path
    created = _process_group(world)
    if created is None:
        return target
    import torch.distributed as dist

    try:
        dist.barrier()
        if rank == 0:
            merge_shards(path, world)
        dist.barrier()
    finally:
        if created:
            dist.destroy_process_group()
    return path


def _process_group(world: int) -> bool | None:
    """Make sure a process group exists: None if there is none to join (no ``MASTER_ADDR``),
    False if one was already initialised, True if a gloo group was created here."""
    import datetime

    import torch.distributed as dist

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


def merge_shards(path: str | Path, world_size: int, *, remove: bool = True) -> int:
    """Merge the shards ``<stem>.rankK<suffix>`` (K < ``world_size``) into ``path``.

    Creates ``path`` if needed (same settings as the shards; a mismatch is a ``ValueError``),
    copies every finished chunk not yet in ``path``, and deletes a shard once all of its chunks are
    merged (``remove``). Missing shards are skipped. Returns the number of finished samples.
    """
    path = Path(path)
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    shards = [shard_path(path, k) for k in range(world_size) if shard_path(path, k).exists()]
    if not shards and not path.exists():
        raise FileNotFoundError(f"neither {path} nor any shard {shard_path(path, 0)} ... exists; run make_dataset first")
    if not path.exists():
        with _open(shards[0], "r") as f:
            s = _settings(f, shards[0])
            _create(path, s, f["seed"][:], Geometry.from_dict(s["geometry"]))
    with _open(path, "r+") as out:
        ref = _settings(out, path)
        chunk = int(ref["chunk"])
        m = out["done"].shape[0]
        for sp in shards:
            with _open(sp, "r") as f:
                _check_same(sp, _settings(f, sp), ref)
                have = _done_chunks(f["done"][:], chunk)
                merged = _done_chunks(out["done"][:], chunk)
                for k in sorted(have - merged):
                    a, b = k * chunk, min(m, (k + 1) * chunk)
                    for key in ("truth", "sinogram", "f_vis"):
                        out[key][a:b] = f[key][a:b]
                    out.flush()
                    out["done"][a:b] = True
                out.flush()
                rank = int(sp.stem.rsplit(".rank", 1)[1])
                expected = set(range(rank, math.ceil(m / chunk), world_size))
            if remove and expected <= _done_chunks(out["done"][:], chunk):
                sp.unlink()
        return int(out["done"][:].sum())


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def dataset_info(path: str | Path) -> dict:
    """Settings of a dataset file plus ``samples``, ``done`` and per-split sample counts."""
    path = Path(path)
    with _open(path, "r") as f:
        s = _settings(f, path)
        seeds = f["seed"][:]
        done = f["done"][:]
    counts = {name: int(sum(1 for x in seeds if x in r)) for name, r in SPLITS.items()}
    return dict(s, path=str(path), samples=int(seeds.size), done=int(done.sum()), splits=counts)


def check_disjoint(*datasets: "LtIDataset") -> None:
    """Refuse datasets of the same phantom family that share sample seeds (``ValueError``)."""
    for i, a in enumerate(datasets):
        for b in datasets[i + 1:]:
            if a.settings["phantom"] != b.settings["phantom"]:
                continue
            common = np.intersect1d(a.sample_seeds, b.sample_seeds)
            if common.size:
                raise ValueError(
                    f"{a.path} ({a.split or 'all'}) and {b.path} ({b.split or 'all'}) share {common.size} "
                    f"phantom seed(s), e.g. {int(common[0])}; training and validation data must not overlap"
                )


class LtIDataset(torch.utils.data.Dataset):
    """A dataset file as a ``torch.utils.data.Dataset`` of dicts of tensors.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`make_dataset`.
    split : {'train', 'val', 'test'} or None
        Keep the samples whose seed lies in :data:`TRAIN_SEEDS` / :data:`VAL_SEEDS` /
        :data:`TEST_SEEDS`; None keeps all.
    keys : sequence of str
        Arrays to return among ``'f_vis'``, ``'truth'``, ``'sinogram'`` (default the first two).
    allow_incomplete : bool
        Use the finished samples of an unfinished file (default: refuse it).

    Items are ``{'f_vis': (N, N), 'truth': (N, N), 'seed': int64 (), 'index': int64 ()}`` float32
    CPU tensors. The HDF5 file is opened lazily in each process (DataLoader workers included),
    never in ``__init__``, so the dataset pickles and forks safely.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is unreadable or not an ltl dataset, unfinished, or holds no sample of ``split``.
    """

    def __init__(self, path: str | Path, split: str | None = None, *, keys: Sequence[str] = ("f_vis", "truth"),
                 allow_incomplete: bool = False):
        self.path = Path(path)
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)} or None, got {split!r}")
        bad = [k for k in keys if k not in ("f_vis", "truth", "sinogram")]
        if bad or not keys:
            raise ValueError(f"keys must be a non-empty subset of 'f_vis', 'truth', 'sinogram', got {list(keys)}")
        self.keys = tuple(keys)
        self.split = split
        with _open(self.path, "r") as f:
            self.settings = _settings(f, self.path)
            seeds = f["seed"][:]
            done = f["done"][:]
            shapes = {k: f[k].shape for k in ("truth", "f_vis", "sinogram")}
        self.geometry = Geometry.from_dict(self.settings["geometry"])
        n = self.geometry.image_size
        m = seeds.size
        want = {"truth": (m, n, n), "f_vis": (m, n, n), "sinogram": (m, *self.geometry.sino_shape)}
        for k, shp in want.items():
            if tuple(shapes[k]) != shp:
                raise ValueError(f"{self.path}: array {k!r} has shape {tuple(shapes[k])}, expected {shp}; re-create the file")
        if not done.all() and not allow_incomplete:
            raise ValueError(
                f"{self.path} is unfinished ({int(done.sum())} of {m} samples done); resume it by running the same "
                "`ltl dataset make` command again (or pass allow_incomplete=True)"
            )
        keep = done.copy()
        if split is not None:
            r = SPLITS[split]
            keep &= (seeds >= r.start) & (seeds < r.stop)
        self.indices = np.flatnonzero(keep)
        self.sample_seeds = seeds[self.indices]
        if self.indices.size == 0:
            what = f"{split} samples (seeds {SPLITS[split].start}..{SPLITS[split].stop - 1})" if split else "finished samples"
            ranges = ", ".join(f"{a}..{b - 1}" for a, b in self.settings.get("seed_ranges", []))
            hint = {"train": "", "val": " (make one with --val-count, or --seed 10000)",
                    "test": " (make one with --test-count, or --seed 20000)"}.get(split or "", "")
            raise ValueError(f"{self.path} holds no {what}; its seeds are {ranges}{hint}")
        self._h5 = None
        self._pid = None

    # -- metadata
    @property
    def frame_settings(self) -> dict:
        return dict(self.settings["frame"])

    @property
    def solver_settings(self) -> dict:
        return {k: v for k, v in self.settings["solver"].items() if k != "method"}

    def provenance(self) -> dict:
        """JSON-safe description of the data (for model metadata)."""
        s = {k: v for k, v in self.settings.items() if k not in ("geometry",)}
        return {"file": self.path.name, "split": self.split, "samples": int(len(self)),
                "seed_ranges": _ranges(np.sort(self.sample_seeds)), "settings": s}

    # -- data
    def __len__(self) -> int:
        return int(self.indices.size)

    def _file(self):
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = _h5().File(self.path, "r")
            self._pid = os.getpid()
        return self._h5

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        i = int(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} samples")
        j = int(self.indices[i])
        f = self._file()
        out = {k: torch.from_numpy(np.asarray(f[k][j], dtype=np.float32)) for k in self.keys}
        out["seed"] = torch.tensor(int(self.sample_seeds[i]), dtype=torch.int64)
        out["index"] = torch.tensor(j, dtype=torch.int64)
        return out

    def close(self) -> None:
        if self._h5 is not None and self._pid == os.getpid():
            try:
                self._h5.close()
            except Exception:  # pragma: no cover
                pass
        self._h5 = None

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_h5"] = None
        d["_pid"] = None
        return d

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"LtIDataset({str(self.path)!r}, split={self.split!r}, samples={len(self)}, {self.geometry.describe()})"


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def _cmd_make(args) -> int:
    import time

    out = Path(args.out)
    if out.suffix not in (".h5", ".hdf5"):
        raise ValueError(f"--out must end in .h5 or .hdf5, got {out.name}")
    from ..cli import geometry_from_args

    g = geometry_from_args(args)
    solver = {k: v for k, v in (("lam", args.lam), ("iters", args.iters), ("tol", args.tol)) if v is not None}
    frame = {"scales": args.scales} if args.scales is not None else None
    t0 = time.perf_counter()
    res = make_dataset(out, phantom=args.phantom, count=args.count, geometry=g, noise=args.noise,
                       photons=args.photons, seed=args.seed, val_count=args.val_count, test_count=args.test_count,
                       chunk=args.chunk, solver_settings=solver, frame_settings=frame, device=args.device,
                       progress=not args.no_progress, overwrite=args.overwrite)
    dt = time.perf_counter() - t0
    if res != out:
        print(f"wrote shard {res} ({dt:.1f} s); run `ltl dataset merge {out} --world-size W` when all ranks finished")
    elif int(os.environ.get("RANK", 0)) == 0:
        info = dataset_info(out)
        print(f"wrote {out}: {info['done']}/{info['samples']} samples ({', '.join(f'{k} {v}' for k, v in info['splits'].items())}), "
              f"{g.describe()}, noise η={args.noise:g} ({dt:.1f} s)")
    return 0


def _cmd_merge(args) -> int:
    done = merge_shards(args.path, args.world_size)
    print(f"merged shards into {args.path}: {done} samples done")
    return 0


def _cmd_info(args) -> int:
    info = dataset_info(args.path)
    if args.json:
        print(json.dumps(info))
    else:
        g = Geometry.from_dict(info["geometry"])
        print(f"{info['path']}: {info['done']}/{info['samples']} samples done, splits {info['splits']}")
        print(f"geometry   {g.describe()}")
        print(f"phantom    {info['phantom']}, noise η={info['noise']:g}, seeds {info['seed_ranges']}")
        print(f"solver     {info['solver']}")
        print(f"frame      {info['frame']}")
        print(f"ltl        {info['ltl_version']}")
    return 0


def add_cli(subparsers) -> None:
    """Register ``ltl dataset make|merge|info`` on an argparse subparsers object."""
    from ..cli import add_scan_options

    p = subparsers.add_parser("dataset", help="make and inspect HDF5 training sets (phantoms, sinograms, f_vis)")
    sub = p.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")

    s = sub.add_parser("make", help="simulate scans, reconstruct with l1-shearlet, write (or resume) an HDF5 file")
    s.add_argument("--out", required=True, help="dataset file to write (.h5); an unfinished one is resumed")
    s.add_argument("--phantom", default="ellipses", choices=DATASET_PHANTOMS, help="phantom family [ellipses]")
    s.add_argument("--count", type=int, required=True, help="samples with seeds SEED..SEED+COUNT-1")
    s.add_argument("--val-count", type=int, default=0, help=f"extra validation samples, seeds from {VAL_SEEDS.start} [0]")
    s.add_argument("--test-count", type=int, default=0, help=f"extra test samples, seeds from {TEST_SEEDS.start} [0]")
    s.add_argument("--seed", type=int, default=0, help="first seed [0]")
    add_scan_options(s)
    s.add_argument("--lam", type=float, default=None, help="l1-shearlet λ [the solver's default]")
    s.add_argument("--iters", type=int, default=None, help="l1-shearlet iterations [the solver's default]")
    s.add_argument("--tol", type=float, default=None, help="l1-shearlet tolerance [the solver's default]")
    s.add_argument("--scales", type=int, default=None, help="shearlet scales [the frame's default]")
    s.add_argument("--chunk", type=int, default=16, help="samples per batch and per resumable chunk [16]")
    s.add_argument("--device", default=None, help="torch device [cuda if available, else cpu]")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--overwrite", action="store_true", help="replace a file made with other settings")
    s.set_defaults(func=_cmd_make)

    s = sub.add_parser("merge", help="merge the rank shards of a sharded run into one file")
    s.add_argument("path", help="dataset file (.h5)")
    s.add_argument("--world-size", type=int, required=True, help="number of ranks that wrote shards")
    s.set_defaults(func=_cmd_merge)

    s = sub.add_parser("info", help="print a dataset's settings and progress")
    s.add_argument("path", help="dataset file (.h5)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=_cmd_info)
