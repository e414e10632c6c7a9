"""Volumes slice by slice: a projection stack reconstructed in batches of detector rows, with
memory bounded by the batch, a progress bar, resume after a kill, and torchrun sharding.

Every detector row of a parallel or fan beam is one slice, so a volume is independent slices.
:func:`reconstruct_volume` splits the rows into batches of ``batch_slices`` and, for each batch,
reads only those rows of the projections, flats and darks (:class:`~ltl.data.io.ProjectionStack`),
preprocesses them (:func:`~ltl.data.preprocess.preprocess`), reconstructs them and stores the
result as one file in the partial folder next to the output; the output is written from those
files at the end, in one atomic rename, and the folder is removed.

Memory
------
Peak memory is O(batch), not O(volume): one batch of projections ``(V, K, D)`` with its float64
flat/dark intermediates, the method's working set for K slices, and, while the output is written,
one stored batch ``(K, N, N)`` (``.tif`` and ``.h5``; an ``.npz`` output is a zip of whole arrays
and gathers the volume). Measured: ``scripts/bench_volume.py``.

Global preprocessing
--------------------
Two steps of :func:`~ltl.data.preprocess.preprocess` look at all the data, and a batch must not
see less than the whole: the clipping floor (the smallest positive transmission, unless
``--clip`` gives it) is found by a first pass over the batches that reads and normalises them
without reconstructing, and ``center='auto'`` is estimated once, on up to :data:`CENTER_ROWS`
rows spread over the volume. Both are stored with the partial result, so a resumed run reuses
them, and recorded in the output.

Resume
------
The partial folder ``.NAME.partial/`` beside the output ``NAME`` holds ``state.json`` (the
fingerprint of the inputs and settings: input files' paths, sizes and modification times, rows,
batch size, geometry, preprocessing, method and its settings, ltl version) and one
``batch-NNNNN.npz`` per finished batch, each written atomically (its presence is the done-mask).
Re-running the same command continues with the batches not yet stored (automatic). A command whose
fingerprint differs is refused with a line naming what differs, unless ``restart`` discards the
old partial result.

torchrun
--------
Under torchrun (``RANK``/``WORLD_SIZE``; :mod:`ltl.runtime.distributed`) the batches still to do
are dealt round-robin to the ranks, each stores its own, and rank 0 waits for all of them (polling
the partial folder, so a slow rank never hits a collective's timeout) and writes the one output.
The ranks must share the output's file system. The batches are the same whatever the number of
ranks, so a volume made by N processes equals the one made by one (bit for bit on the CPU).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from ..data.preprocess import PreprocessSettings, find_center, flat_dark, preprocess
from ..runtime.files import json_safe
from ..runtime.settings import Settings, check_int
from .partial import PartialStore

__all__ = ["VolumeSettings", "VolumeResult", "PartialStore", "plan_batches", "reconstruct_volume", "CENTER_ROWS",
           "merge_records"]

log = logging.getLogger(__name__)

#: Rows (spread evenly over the volume) on which ``center='auto'`` is estimated once.
CENTER_ROWS = 8
#: Seconds between rank 0's looks at the partial folder while other ranks finish.
POLL_S = 0.5


@dataclass(frozen=True)
class VolumeSettings(Settings):
    """How a volume is cut into work.

    Attributes
    ----------
    batch_slices : int
        Slices (detector rows) reconstructed together. Larger batches use the operator and the
        solvers better (a GPU most of all) and hold more in memory, linearly: a batch holds its
        projections ``(V, K, D)`` float32 with about three times that in preprocessing
        intermediates, plus the method's state (TV and l1: about ten images ``(K, N, N)``). 16
        keeps a 2048-wide TV batch near 3 GB.
    """

    WHAT = "volume"

    batch_slices: int = 16

    def validate(self) -> None:
        check_int("batch_slices", self.batch_slices)


@dataclass
class VolumeResult:
    """What :func:`reconstruct_volume` returns.

    Attributes
    ----------
    path : Path or None
        The output written (None on ranks other than 0).
    slices : int
        Slices in the volume.
    computed : int
        Batches this process reconstructed.
    resumed : int
        Batches found stored by an earlier run.
    seconds : float
        Wall time of this run.
    meta : dict
        What was written as the output's metadata (rank 0).
    """

    path: Path | None
    slices: int
    computed: int
    resumed: int
    seconds: float
    meta: dict = field(default_factory=dict)


def plan_batches(rows: range, batch_slices: int) -> list[range]:
    """``rows`` cut into consecutive batches of at most ``batch_slices`` rows (each a range)."""
    check_int("batch_slices", batch_slices)
    return [rows[i:i + batch_slices] for i in range(0, len(rows), batch_slices)]


# -------------------------------------------------------------------------------- records
_SUMMED = ("dead_pixels", "clipped")


def merge_records(records: list[list[dict]]) -> list[dict]:
    """The preprocessing records of the batches as one: counts (dead pixels, clipped values)
    summed, everything else from the first batch (the steps are the same in every batch)."""
    if not records:
        return []
    out = [dict(r) for r in records[0]]
    for rec in records[1:]:
        for m, r in zip(out, rec):
            for k in _SUMMED:
                if k in m and k in r:
                    m[k] += r[k]
    return out


def _merge_infos(infos: list[dict]) -> dict:
    """Method records of the batches: keys equal in every batch once, the rest per batch."""
    skip = {"objective", "seconds", "rows", "preprocessing"}
    keys = [k for k in infos[0] if k not in skip]
    common = {k: infos[0][k] for k in keys if all(json_safe(i.get(k)) == json_safe(infos[0][k]) for i in infos)}
    per = [{"rows": i["rows"], "seconds": i["seconds"],
            **{k: v for k, v in i.items() if k not in common and k not in skip}} for i in infos]
    out = dict(common, batches=per)
    if any("converged" in i for i in infos):
        out["converged"] = all(bool(i.get("converged", True)) for i in infos)
    if any("iterations" in i for i in infos):
        out["iterations"] = max(int(i.get("iterations", 0)) for i in infos)
    return out


# -------------------------------------------------------------------------------- engine
def _needs_log(settings: PreprocessSettings, stack) -> bool:
    return settings.log if settings.log is not None else (stack.flats is not None or stack.kind == "intensity")


def _min_positive(stack, rows: range) -> float:
    """The smallest positive finite transmission of ``rows`` (inf if none), as :func:`preprocess`
    would see it before clipping."""
    p = stack.read(rows)
    if stack.flats is not None:
        p, _ = flat_dark(p, stack.read_flats(rows), stack.read_darks(rows))
    good = p[np.isfinite(p) & (p > 0)]
    return float(good.min()) if good.size else float("inf")


def _gather(values: list[float], dist) -> list[float]:
    """Every rank's ``values`` slot-wise: rank r contributes the slots ``r::world``."""
    if dist is None or not dist.distributed:
        return values
    from ..runtime.distributed import all_reduce_sum

    t = torch.tensor(values, dtype=torch.float64)
    return all_reduce_sum(t, dist).tolist()


def _resolve(stack, geometry, settings: PreprocessSettings, plan: list[range], rows: range, dist) -> dict:
    """The global preprocessing values (module notes): ``{'clip': floor or None, 'center':
    offset, 'center_record': record or None}``."""
    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    clip = settings.clip
    if clip is None and _needs_log(settings, stack):
        mins = [0.0] * len(plan)
        for j in range(rank, len(plan), world):
            m = _min_positive(stack, plan[j])
            mins[j] = m if np.isfinite(m) else -1.0
        mins = [m for m in _gather(mins, dist) if m > 0]
        if not mins:
            raise ValueError("no positive value in the data; are these intensities? (check the flats and darks)")
        clip = float(min(mins))
    center, record = settings.center, None
    if center == "auto":
        if geometry.is_fan:
            raise ValueError("the centre-of-rotation estimate works on parallel-beam scans; give the offset of a "
                             "fan-beam scan (--cor PIXELS)")
        pick = sorted(set(np.linspace(0, len(rows) - 1, min(CENTER_ROWS, len(rows))).round().astype(int).tolist()))
        sample = [rows[i] for i in pick]
        fixed = settings.replace(clip=clip, center=0.0)
        sinos = [preprocess(stack.read(range(r, r + 1)), geometry, flats=stack.read_flats(range(r, r + 1)),
                            darks=stack.read_darks(range(r, r + 1)), settings=fixed, kind=stack.kind)[0]
                 for r in sample]
        center, how = find_center(np.concatenate(sinos), geometry)
        record = {"step": "center", "pixels": center, "estimated": how, "rows": sample}
    return {"clip": clip, "center": float(center), "center_record": record}


def _slices_done(store: PartialStore, plan: list[range]) -> int:
    return sum(len(plan[j]) for j in store.done() if j < len(plan))


def reconstruct_volume(stack, geometry, solve: Callable[[torch.Tensor], tuple[torch.Tensor, dict, dict]],
                       out: str | Path, *, rows: range | None = None, preprocessing: PreprocessSettings | None = None,
                       settings: VolumeSettings | None = None, key: dict | None = None, meta: dict | None = None,
                       overwrite: bool = False, restart: bool = False, progress: bool = True, dist=None,
                       on_batch: Callable[[range, np.ndarray], None] | None = None) -> VolumeResult:
    """Reconstruct the detector rows ``rows`` of ``stack`` slice batch by slice batch into ``out``.

    Parameters
    ----------
    stack : ProjectionStack
        Projections ``(V, R, D)`` with flats and darks (:func:`ltl.data.io.open_projections`).
    geometry : Geometry
        The geometry of one slice (V angles, D detector pixels).
    solve : callable
        ``solve(y)`` with sinograms ``y`` ``(K, V, D)`` float32 → ``(images (K, N, N), record,
        extra arrays)``: the method, built once by the caller.
    out : str or Path
        The output (``.tif``, ``.h5``, ``.npz``), written by rank 0 when every batch is stored.
    rows : range, optional
        Detector rows to reconstruct (default all); each is one slice of the output, in order.
    preprocessing : PreprocessSettings, optional
    settings : VolumeSettings, optional
        The batch size.
    key : dict, optional
        What else identifies the run for resuming (input files, method and settings); the
        rows, batch size, geometry, preprocessing and ltl version are added.
    meta : dict, optional
        Provenance written with the output besides the method's record and the preprocessing.
    overwrite, restart : bool
        Replace an existing output; discard a partial result of another command.
    progress : bool
        A bar over slices (rank 0), and the solvers' bars.
    dist : DistInfo, optional
        torchrun's ranks (:func:`ltl.runtime.distributed.setup`); None for one process.
    on_batch : callable, optional
        ``on_batch(rows, images)`` for every batch, in order, while rank 0 writes the output
        (metrics, a picture of the first slice).

    Returns
    -------
    VolumeResult

    Raises
    ------
    ValueError
        A partial result of another command, data that do not fit the geometry, or no positive
        value to clip to.
    """
    from .. import __version__
    from ..runtime.distributed import barrier

    t0 = time.perf_counter()
    out = Path(out)
    pre = preprocessing if preprocessing is not None else PreprocessSettings()
    vs = settings if settings is not None else VolumeSettings()
    v, r_count, d = stack.shape
    rows = range(r_count) if rows is None else rows
    if not len(rows):
        raise ValueError(f"no detector row selected of {r_count}")
    if v != geometry.num_angles or d != geometry.det_count:
        raise ValueError(f"projections of shape {stack.shape} do not fit (V, R, D) with V = {geometry.num_angles} "
                         f"angles and D = {geometry.det_count} detector pixels")
    plan = plan_batches(rows, vs.batch_slices)
    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    full_key = dict(key or {}, rows=[rows.start, rows.stop, rows.step], batch_slices=vs.batch_slices,
                    geometry=geometry.to_dict(), preprocessing=pre.to_dict(), ltl_version=__version__)
    store = PartialStore(out)

    # 1. the partial result: every rank checks (read-only), rank 0 creates
    status = store.check(full_key, restart=restart)
    if dist is not None:
        barrier(dist)
    if rank == 0 and status == "new":
        store.create(full_key)
    if dist is not None:
        barrier(dist)

    try:
        return _run(stack, geometry, solve, out, store, plan, rows, pre, vs, meta, overwrite, progress, dist, on_batch,
                    t0)
    except ValueError:
        # a user error (data that do not fit, a centre that cannot be estimated) before anything
        # was stored: leave no partial result that would refuse the corrected command
        if rank == 0 and status == "new" and not store.done():
            store.remove()
        raise


def _run(stack, geometry, solve, out, store, plan, rows, pre, vs, meta, overwrite, progress, dist, on_batch,
         t0) -> VolumeResult:
    from ..data.io import write_reconstruction_batches
    from ..runtime.distributed import barrier
    from ..runtime.progress import bar

    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    # 2. the global preprocessing values, once per partial result
    resolved = store.resolved()
    if resolved is None:
        resolved = _resolve(stack, geometry, pre, plan, rows, dist)
        if rank == 0:
            store.set_resolved(resolved)
    fixed = pre.replace(clip=resolved["clip"], center=resolved["center"])

    # 3. deal the batches still to do
    done = store.done()
    if dist is not None:
        barrier(dist)  # every rank has listed before any stores
    pending = [j for j in range(len(plan)) if j not in done]
    mine = pending[rank::world]
    if rank == 0 and done:
        log.info(f"resuming: {len(done)} of {len(plan)} batches are stored in {store.dir}")
    pbar = bar(total=len(rows), initial=_slices_done(store, plan), unit="slice",
               desc="volume", disable=not progress or rank != 0)

    for j in mine:
        tb = time.perf_counter()
        r = plan[j]
        sino, record = preprocess(stack.read(r), geometry, flats=stack.read_flats(r), darks=stack.read_darks(r),
                                  settings=fixed, kind=stack.kind)
        image, info, parts = solve(torch.from_numpy(sino))
        del sino
        info = dict(info, rows=[r.start, r.stop, r.step], seconds=time.perf_counter() - tb, preprocessing=record)
        parts = {k: (p.detach().cpu().numpy() if isinstance(p, torch.Tensor) else p) for k, p in parts.items()}
        store.save(j, image.detach().cpu().numpy(), info, parts)
        del image, parts
        pbar.update(_slices_done(store, plan) - pbar.n)

    if rank != 0:
        pbar.close()
        return VolumeResult(None, len(rows), len(mine), len(done), time.perf_counter() - t0)
    if world == 1 and len(store.done()) < len(plan):
        raise RuntimeError(f"batches {sorted(set(range(len(plan))) - store.done())} vanished from {store.dir}")
    while len(store.done()) < len(plan):  # other ranks still at work
        time.sleep(POLL_S)
        pbar.update(_slices_done(store, plan) - pbar.n)
    pbar.close()

    # 4. rank 0 writes the one output
    infos = [store.load_info(j) for j in range(len(plan))]
    records = merge_records([i["preprocessing"] for i in infos])
    records = [x for x in records if x["step"] != "center"]
    c = resolved["center_record"] or ({"step": "center", "pixels": resolved["center"], "estimated": None}
                                      if resolved["center"] else None)
    if c is not None:
        records.append(c)
    written = dict(meta or {})
    written.update(_merge_infos(infos))
    written.update(preprocessing=records, slices=len(rows), batch_slices=vs.batch_slices,
                   seconds=time.perf_counter() - t0, resumed_batches=len(done))
    n = geometry.image_size

    def batches() -> Iterator[np.ndarray]:
        for j, r in enumerate(plan):
            img = store.load(j)[0]
            if on_batch is not None:
                on_batch(r, img)
            yield img

    def extra() -> dict[str, Any]:
        got = [store.load(j, parts=True)[2] for j in range(len(plan))]
        return {k: np.concatenate([g[k] for g in got]) for k in got[0]} if got and got[0] else {}

    write_reconstruction_batches(out, batches(), (len(rows), n, n), geometry, written, overwrite=overwrite, extra=extra)
    store.remove()
    return VolumeResult(out, len(rows), len(mine), len(done), time.perf_counter() - t0, written)
