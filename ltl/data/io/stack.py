"""A scan's projections opened, not read: :class:`ProjectionStack` reads the detector rows asked
for (with the same rows of the flats and darks), so a volume is reconstructed in slice batches
with memory that grows with the batch, not with the volume (:mod:`ltl.methods.volume`).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...geometry import Geometry
from .arrays import ArraySource, MemoryArray, TiffArray, TiffPages
from .hdf5 import HDF5_SUFFIXES, open_hdf5_scan, split_dataset
from .tiff import TIFF_SUFFIXES, is_tiff, tiff_files

__all__ = ["LAYOUTS", "Projections", "ProjectionStack", "open_projections", "open_fields", "file_identity"]

#: How a 3D TIFF stack or dataset is ordered: one page per view, or one sinogram per detector row.
LAYOUTS = ("projections", "sinograms")


@dataclass
class Projections:
    """Measured data as a file holds them, before preprocessing.

    Attributes
    ----------
    data : np.ndarray, shape (V, R, D)
        float32, one image per view (R detector rows, D detector columns).
    angles : np.ndarray or None, shape (V,)
        Radians, or None when the file has none (then they come from the command line).
    flats, darks : np.ndarray or None, shape (F, R, D)
        Flat (open-beam) and dark fields.
    kind : str
        ``'intensity'`` (counts or transmission: needs −log), ``'line_integrals'`` (a sinogram
        ready to reconstruct) or ``'unknown'``.
    meta : dict
        The format, the source and anything assumed while reading (JSON-safe).
    geometry : Geometry or None
        The geometry, when the file stores one (ltl's ``.npz``).
    """

    data: np.ndarray
    angles: np.ndarray | None = None
    flats: np.ndarray | None = None
    darks: np.ndarray | None = None
    kind: str = "unknown"
    meta: dict = field(default_factory=dict)
    geometry: Geometry | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(V, R, D)``."""
        return tuple(self.data.shape)


def _rows_index(rows) -> slice | None:
    if rows is None:
        return None
    if isinstance(rows, range):
        return slice(rows.start, rows.stop, rows.step)
    return rows


@dataclass
class ProjectionStack:
    """Projections ``(V, R, D)`` on disk with their flats and darks ``(F, R, D)``, read by detector row.

    Attributes
    ----------
    source : ArraySource
        The stored array: ``(V, R, D)`` in layout ``'projections'``, ``(R, V, D)`` in ``'sinograms'``.
    layout : {'projections', 'sinograms'}
    angles, kind, meta, geometry
        As in :class:`Projections`.
    flats, darks : ArraySource or None
        ``(F, R, D)``.
    """

    source: ArraySource
    layout: str = "projections"
    angles: np.ndarray | None = None
    flats: ArraySource | None = None
    darks: ArraySource | None = None
    kind: str = "unknown"
    meta: dict = field(default_factory=dict)
    geometry: Geometry | None = None

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if self.source.ndim == 2:  # one sinogram (V, D), or one projection of a single view
            self.layout = "projections"

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(V, R, D)``: views, detector rows, detector columns."""
        p, h, w = self.source.shape
        return (p, h, w) if self.layout == "projections" else (h, p, w)

    def read(self, rows: range | slice | None = None) -> np.ndarray:
        """Projections of detector rows ``rows`` (default all): ``(V, len(rows), D)`` float32."""
        r = _rows_index(rows)
        if self.layout == "projections":
            return self.source.take(None, r)
        return np.ascontiguousarray(self.source.take(r, None).transpose(1, 0, 2))

    def read_flats(self, rows: range | slice | None = None) -> np.ndarray | None:
        """Flat fields of detector rows ``rows``: ``(F, len(rows), D)`` float32, or None."""
        return None if self.flats is None else self.flats.take(None, _rows_index(rows))

    def read_darks(self, rows: range | slice | None = None) -> np.ndarray | None:
        """Dark fields of detector rows ``rows``: ``(F, len(rows), D)`` float32, or None."""
        return None if self.darks is None else self.darks.take(None, _rows_index(rows))

    def load(self, rows: range | slice | None = None) -> Projections:
        """Rows ``rows`` (default all) read into a :class:`Projections`."""
        return Projections(self.read(rows), self.angles, self.read_flats(rows), self.read_darks(rows), self.kind,
                           dict(self.meta), self.geometry)


def _is_glob(path) -> bool:
    return any(ch in str(path) for ch in "*?[")


def _tiff_source(path, *, page2d: bool) -> ArraySource:
    p = Path(path)
    if p.is_dir() or _is_glob(path):
        return TiffPages(tiff_files(path), path)
    return TiffArray(p, page2d=page2d)


def open_fields(path) -> ArraySource:
    """Flat or dark fields from a TIFF (file, folder, glob) or an HDF5 file or dataset, as an
    unread ``(F, R, D)`` source (one image ``(R, D)`` is one field)."""
    if is_tiff(path):
        return _tiff_source(path, page2d=True)
    p, _ = split_dataset(path)
    if p.suffix.lower() not in HDF5_SUFFIXES:
        raise ValueError(f"{path}: flat and dark fields are read from TIFF ({', '.join(TIFF_SUFFIXES)}: a file, a "
                         f"folder or a glob) or HDF5 files ({', '.join(HDF5_SUFFIXES)})")
    return open_hdf5_scan(path)["data"]


def open_projections(path, *, layout: str = "projections", dataset: str | None = None, flats=None,
                     darks=None) -> ProjectionStack:
    """Open a scan's projections without reading them (:func:`~ltl.data.io.read_projections`
    reads them whole; the parameters are the same).

    Raises
    ------
    FileNotFoundError, ValueError
        A missing file, or one that is not a scan ltl reads (the message says which formats), or
        flats/darks whose images do not match the projections.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    p, _ = split_dataset(path)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        from ..scanfile import load_scan

        scan = load_scan(p)
        data = np.ascontiguousarray(scan.sinogram.numpy().transpose(1, 0, 2))
        out = ProjectionStack(MemoryArray(data), angles=np.asarray(scan.geometry.angles), kind="line_integrals",
                              meta={"format": "ltl scan file"}, geometry=scan.geometry)
    elif suffix in HDF5_SUFFIXES:
        d = open_hdf5_scan(path, dataset)
        named = d["meta"]["format"] == "HDF5 dataset"
        out = ProjectionStack(d["data"], layout if named else "projections", d["angles"], d["flats"], d["darks"],
                              d["kind"], d["meta"])
    elif is_tiff(path):
        out = ProjectionStack(_tiff_source(path, page2d=False), layout, meta={"format": "TIFF", "layout": layout})
    elif not p.exists() and not _is_glob(path):
        raise FileNotFoundError(f"scan file {path} does not exist")
    else:
        raise ValueError(f"{path}: not a scan ltl reads; give a TIFF stack (.tif), an HDF5/NeXus file "
                         f"({', '.join(HDF5_SUFFIXES)}) or an ltl scan file (.npz)")
    out.meta["source"] = Path(str(path)).name
    for name, src in (("flats", flats), ("darks", darks)):
        if src is not None:
            setattr(out, name, open_fields(src))
            out.meta[name] = Path(str(src)).name
    for name in ("flats", "darks"):
        a = getattr(out, name)
        if a is not None and a.shape[1:] != out.shape[1:]:
            raise ValueError(f"{name} have images of shape {a.shape[1:]}, the projections {out.shape[1:]} "
                             "(rows, cols); they must match")
    return out


def file_identity(path) -> dict | None:
    """What identifies an input file for a resumable run: its resolved path, size in bytes and
    modification time in ns (for a folder or glob: the file count, total size and newest time);
    None for None."""
    if path is None:
        return None
    p, dataset = split_dataset(path)
    if p.is_dir():
        files = sorted(str(f) for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
    else:
        files = sorted(glob.glob(str(path))) if _is_glob(path) else [str(p)]
    stats = [os.stat(f) for f in files if os.path.exists(f)]
    return {"path": str(Path(str(path)).resolve()) if not _is_glob(path) else str(path), "dataset": dataset,
            "files": len(stats), "bytes": int(sum(s.st_size for s in stats)),
            "mtime_ns": int(max((s.st_mtime_ns for s in stats), default=0))}

