"""What ``ltl evaluate`` reads: a dataset file (its truth, sinograms and stored f_vis), a scan file
or an in-memory Scan, as one :class:`EvalData`, with the phantom family of each image where known."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..geometry import Geometry
from ..runtime.files import json_safe

__all__ = ["EvalData", "load_data", "scan_families"]


@dataclass
class EvalData:
    """The scans an evaluation runs on (what :func:`load_data` returns)."""

    sinogram: torch.Tensor  # (M, V, D) float32 CPU
    geometry: Geometry
    truth: torch.Tensor | None  # (M, N, N)
    ids: list[int]
    id_kind: str
    info: dict
    seed: int | None = None
    dataset: Any = None  # an LtIDataset with key 'f_vis' for the cache, opened lazily
    fvis_settings: dict | None = None  # {'solver': ..., 'frame': ...} of the stored f_vis
    families: list | None = None  # the phantom family of each image, where known


def load_data(data, *, split: str | None = None, limit: int | None = None) -> EvalData:
    """Read the scans to evaluate from a dataset file (``.h5``), a scan file (``.npz``), an
    :class:`~ltl.data.LtIDataset` or a :class:`~ltl.data.Scan`; the first ``limit`` images."""
    from ..data import LtIDataset, Scan, load_scan

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    if isinstance(data, LtIDataset):
        split = data.split if split is None else split
        data = data.path
    if isinstance(data, Scan):
        scan, info = data, {"kind": "scan", "meta": json_safe(dict(data.meta or {}))}
    else:
        p = Path(data)
        if p.suffix.lower() in (".h5", ".hdf5"):
            return _load_dataset(p, split, limit)
        if p.suffix.lower() != ".npz":
            raise ValueError(f"{p}: pass an ltl dataset file (.h5, from `ltl dataset make`) or a scan file (.npz)")
        scan = load_scan(p)
        info = {"kind": "scan file", "path": str(p.resolve()), "meta": json_safe(dict(scan.meta or {}))}
    m = scan.sinogram.shape[0]
    if m == 0:
        raise ValueError("the scan holds no sinograms; nothing to evaluate")
    k = m if limit is None else min(limit, m)
    meta = scan.meta or {}
    seed = meta.get("phantom_seed", meta.get("noise_seed"))
    fams = scan_families(meta, m)
    return EvalData(scan.sinogram[:k].float().contiguous(), scan.geometry,
                    None if scan.images is None else scan.images[:k].float().contiguous(), list(range(k)), "index",
                    dict(info, images=k, of=m), seed if isinstance(seed, int) else None,
                    families=None if fams is None else fams[:k])


def scan_families(meta: dict, count: int) -> list[str] | None:
    """The family of each of a scan's ``count`` images from its ``meta``: its ``families`` list, or
    its ``phantom`` when that names one family (or the fixed ``'shepp-logan'``); else None."""
    from ..data.phantoms import is_family

    fams = meta.get("families")
    if isinstance(fams, list) and len(fams) == count and all(isinstance(f, str) for f in fams):
        return list(fams)
    phantom = meta.get("phantom")
    if isinstance(phantom, str) and (is_family(phantom) or phantom == "shepp-logan"):
        return [phantom] * count
    return None


def _load_dataset(path: Path, split: str | None, limit: int | None) -> EvalData:
    from ..data import LtIDataset

    ds = LtIDataset(path, split=split, keys=("truth", "sinogram"))
    try:
        k = len(ds) if limit is None else min(limit, len(ds))
        items = [ds[i] for i in range(k)]
    finally:
        ds.close()
    s = ds.settings
    info = {"kind": "dataset", "path": str(path.resolve()), "split": split or "all", "images": k, "of": len(ds),
            "settings": {kk: v for kk, v in s.items() if kk != "geometry"}}
    cache = LtIDataset(path, split=split, keys=("f_vis",))
    fvis = {"solver": {kk: v for kk, v in s["solver"].items() if kk != "method"}, "frame": dict(s["frame"])}
    return EvalData(torch.stack([it["sinogram"] for it in items]), ds.geometry, torch.stack([it["truth"] for it in items]),
                    [int(it["seed"]) for it in items], "sample seed", info, int(s.get("seed", 0)), cache, fvis,
                    [str(f) for f in ds.families[:k]])
