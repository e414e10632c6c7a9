"""Reading measured scans and images, writing reconstructions: TIFF, HDF5 (NXtomo, Data
Exchange), DICOM and ltl's ``.npz``, through tifffile, h5py and pydicom.

* :func:`read_projections` — projections ``(V, R, D)`` (views × detector rows × detector
  columns) with their flats, darks and angles where the file holds them;
* :func:`read_images` — images ``(M, N, N)`` (ground truth or priors): TIFF, DICOM series,
  ltl's ``.npz``/HDF5 reconstructions;
* :func:`write_reconstruction` / :func:`read_reconstruction` — ``.tif``/``.tiff`` (float32 pages,
  provenance JSON in the ImageDescription), ``.h5``/``.hdf5`` and ``.npz``, each with the
  geometry, the method and its settings, the preprocessing and the ltl version.

Angles are radians everywhere in ltl; files that store degrees are converted on reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...geometry import Geometry
from .dicom import is_dicom, read_dicom_series
from .hdf5 import (HDF5_SUFFIXES, read_hdf5_reconstruction, read_hdf5_scan, split_dataset, write_hdf5_reconstruction,
                   write_nxtomo)
from .tiff import TIFF_SUFFIXES, is_tiff, read_tiff, read_tiff_meta, write_tiff

__all__ = ["Projections", "read_projections", "read_images", "write_reconstruction", "read_reconstruction",
           "write_nxtomo", "read_dicom_series", "read_tiff", "write_tiff", "OUTPUT_SUFFIXES", "LAYOUTS"]

#: What :func:`write_reconstruction` writes, by file name ending.
OUTPUT_SUFFIXES = (".npz",) + TIFF_SUFFIXES + (".h5", ".hdf5")
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


def _stack3(a: np.ndarray, layout: str, where) -> np.ndarray:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if a.ndim == 2:  # one sinogram (V, D), or one projection of a single view
        return a[:, None, :]
    if a.ndim != 3:
        raise ValueError(f"{where}: expected a 2D sinogram or a 3D stack, got shape {a.shape}")
    return a if layout == "projections" else np.ascontiguousarray(a.transpose(1, 0, 2))


def _fields(path, what: str) -> np.ndarray | None:
    """Flats or darks from a TIFF or an HDF5 dataset, as ``(F, R, D)``."""
    if path is None:
        return None
    a = read_tiff(path) if is_tiff(path) else read_hdf5_scan(path)["data"]
    return a[None] if a.ndim == 2 else a


def read_projections(path, *, layout: str = "projections", dataset: str | None = None, flats=None,
                     darks=None) -> Projections:
    """Read a scan's projections.

    Parameters
    ----------
    path : str or Path
        A TIFF file, folder or glob (``'proj_*.tif'``); an HDF5/NeXus file (``file.h5:/dataset``
        names a dataset); or ltl's ``.npz`` scan file.
    layout : {'projections', 'sinograms'}
        How a 3D TIFF stack or named dataset is ordered: ``(V, R, D)`` one page per view (the
        default, as detectors write them) or ``(R, V, D)`` one sinogram per row. A 2D image is
        one sinogram ``(V, D)``.
    dataset : str, optional
        The HDF5 dataset holding the projections.
    flats, darks : str or Path, optional
        Separate files of flat and dark fields (TIFF or HDF5), ``(F, R, D)`` or one ``(R, D)``;
        they replace any in the scan file.

    Raises
    ------
    FileNotFoundError, ValueError
        A missing file, or one that is not a scan ltl reads (the message says which formats).
    """
    p, _ = split_dataset(path)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        from ..scanfile import load_scan

        scan = load_scan(p)
        data = np.ascontiguousarray(scan.sinogram.numpy().transpose(1, 0, 2))
        out = Projections(data, np.asarray(scan.geometry.angles), kind="line_integrals",
                          meta={"format": "ltl scan file"}, geometry=scan.geometry)
    elif suffix in HDF5_SUFFIXES:
        d = read_hdf5_scan(path, dataset)
        data = d["data"] if d["meta"]["format"] != "HDF5 dataset" else _stack3(d["data"], layout, path)
        out = Projections(data, d["angles"], d["flats"], d["darks"], d["kind"], d["meta"])
    elif is_tiff(path):
        out = Projections(_stack3(read_tiff(path), layout, path), meta={"format": "TIFF", "layout": layout})
    elif not p.exists() and not any(ch in str(path) for ch in "*?["):
        raise FileNotFoundError(f"scan file {path} does not exist")
    else:
        raise ValueError(f"{path}: not a scan ltl reads; give a TIFF stack (.tif), an HDF5/NeXus file "
                         f"({', '.join(HDF5_SUFFIXES)}) or an ltl scan file (.npz)")
    out.meta["source"] = Path(str(path)).name
    for name, src in (("flats", flats), ("darks", darks)):
        a = _fields(src, name)
        if a is not None:
            setattr(out, name, a)
            out.meta[name] = Path(str(src)).name
    for name in ("flats", "darks"):
        a = getattr(out, name)
        if a is not None and a.shape[1:] != out.data.shape[1:]:
            raise ValueError(f"{name} have images of shape {a.shape[1:]}, the projections {out.data.shape[1:]} "
                             "(rows, cols); they must match")
    return out


def read_images(path) -> tuple[np.ndarray, dict]:
    """Images ``(M, N, N)`` float32 and their metadata, from a TIFF (page or stack), a DICOM
    series (file or folder), ltl's ``.npz`` scan or reconstruction file, or its HDF5 reconstruction."""
    p = Path(path)
    if is_tiff(path):
        a, meta = read_tiff(path), {"format": "TIFF"}
    elif p.suffix.lower() == ".npz" or p.suffix.lower() in HDF5_SUFFIXES:
        if p.suffix.lower() == ".npz" and p.is_file():
            with np.load(p, allow_pickle=False) as z:
                key = next((k for k in ("images", "image", "reconstruction") if k in z.files), None)
                if key is None:
                    raise ValueError(f"{p}: no 'images', 'image' or 'reconstruction' array")
                a, meta = np.asarray(z[key], dtype=np.float32), {"format": "npz", "key": key}
        else:
            a, _, meta = read_reconstruction(p)
    elif is_dicom(path):
        a, meta = read_dicom_series(path)
    elif not p.exists():
        raise FileNotFoundError(f"image file {p} does not exist")
    else:
        raise ValueError(f"{p}: not images ltl reads; give a TIFF, a DICOM series, or an ltl .npz/.h5 file")
    a = a[None] if a.ndim == 2 else a
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise ValueError(f"{p}: images must be square, (N, N) or (M, N, N); got shape {a.shape}")
    return a.astype(np.float32, copy=False), meta


def write_reconstruction(path, volume, geometry: Geometry, meta: dict, *, overwrite: bool = False, **extra) -> Path:
    """Write a reconstruction ``(M, N, N)`` with its geometry and provenance, by file ending:
    ``.npz`` (ltl's reconstruction file, with ``extra`` arrays), ``.tif``/``.tiff`` or ``.h5``/``.hdf5``."""
    import torch

    from ... import __version__
    from ..scanfile import save_reconstruction

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"output {p.name}: ltl writes {', '.join(OUTPUT_SUFFIXES)}")
    vol = volume.detach().cpu().numpy() if isinstance(volume, torch.Tensor) else np.asarray(volume)
    if suffix == ".npz":
        return save_reconstruction(p, torch.as_tensor(vol), geometry, meta, overwrite=overwrite, **extra)
    full = dict(meta, geometry=geometry.to_dict(), ltl_version=__version__)
    if suffix in TIFF_SUFFIXES:
        return write_tiff(p, vol, full, overwrite=overwrite)
    return write_hdf5_reconstruction(p, vol, geometry.to_json(), dict(meta, ltl_version=__version__), __version__,
                                     overwrite=overwrite)


def read_reconstruction(path) -> tuple[np.ndarray, Geometry | None, dict]:
    """``(volume (M, N, N) float32, geometry or None, meta)`` of a file :func:`write_reconstruction` wrote."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"reconstruction file {p} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".npz":
        from ..scanfile import load_reconstruction

        vol, g, meta = load_reconstruction(p)
        return vol.numpy(), g, meta
    if suffix in TIFF_SUFFIXES:
        vol, meta = read_tiff(p), read_tiff_meta(p)
        g = Geometry.from_dict(meta["geometry"]) if isinstance(meta.get("geometry"), dict) else None
        return (vol[None] if vol.ndim == 2 else vol), g, meta
    if suffix in HDF5_SUFFIXES:
        vol, gjson, meta = read_hdf5_reconstruction(p)
        return vol, (Geometry.from_json(gjson) if gjson else None), meta
    raise ValueError(f"{p.name}: ltl reads reconstructions from {', '.join(OUTPUT_SUFFIXES)}")
