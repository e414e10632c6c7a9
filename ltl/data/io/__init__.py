"""Reading measured scans and images, writing reconstructions: TIFF, HDF5 (NXtomo, Data
Exchange), DICOM and ltl's ``.npz``, through tifffile, h5py and pydicom.

* :func:`read_projections` — projections ``(V, R, D)`` (views × detector rows × detector
  columns) with their flats, darks and angles where the file holds them;
  :func:`open_projections` opens them unread, to read a few detector rows at a time
  (:class:`ProjectionStack`; volumes in slice batches);
* :func:`read_images` — images ``(M, N, N)`` (ground truth or priors): TIFF, DICOM series,
  ltl's ``.npz``/HDF5 reconstructions;
* :func:`write_reconstruction` / :func:`read_reconstruction` — ``.tif``/``.tiff`` (float32 pages,
  provenance JSON in the ImageDescription), ``.h5``/``.hdf5`` and ``.npz``, each with the
  geometry, the method and its settings, the preprocessing and the ltl version;
  :func:`write_reconstruction_batches` writes a volume given batch by batch.

Angles are radians everywhere in ltl; files that store degrees are converted on reading.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...geometry import Geometry
from .dicom import is_dicom, read_dicom_series
from .hdf5 import (HDF5_SUFFIXES, read_hdf5_reconstruction, write_hdf5_reconstruction,
                   write_hdf5_reconstruction_batches, write_nxtomo)
from .stack import LAYOUTS, Projections, ProjectionStack, file_identity, open_fields, open_projections
from .tiff import TIFF_SUFFIXES, is_tiff, read_tiff, read_tiff_meta, write_tiff, write_tiff_batches

__all__ = ["Projections", "ProjectionStack", "open_projections", "open_fields", "file_identity", "read_projections",
           "read_images", "write_reconstruction", "write_reconstruction_batches", "read_reconstruction", "write_nxtomo",
           "read_dicom_series", "read_tiff", "write_tiff", "OUTPUT_SUFFIXES", "LAYOUTS"]

#: What :func:`write_reconstruction` writes, by file name ending.
OUTPUT_SUFFIXES = (".npz",) + TIFF_SUFFIXES + (".h5", ".hdf5")


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
    return open_projections(path, layout=layout, dataset=dataset, flats=flats, darks=darks).load()


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


def write_reconstruction_batches(path, batches, shape: tuple[int, int, int], geometry: Geometry, meta: dict, *,
                                 overwrite: bool = False, extra=None) -> Path:
    """:func:`write_reconstruction` of a volume ``shape = (M, N, N)`` given as an iterable of slice
    batches ``(k, N, N)`` in order. ``.tif`` and ``.h5`` hold one batch in memory at a time;
    ``.npz`` (a zip of whole arrays) gathers the volume, and ``extra`` (a callable returning a dict
    of whole arrays, called after the batches) only there."""
    from ... import __version__

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"output {p.name}: ltl writes {', '.join(OUTPUT_SUFFIXES)}")
    if suffix == ".npz":
        vol = np.concatenate([np.asarray(b, dtype=np.float32) for b in batches]) if shape[0] else np.zeros(shape)
        if vol.shape != tuple(shape):
            raise ValueError(f"batches of {vol.shape}, {tuple(shape)} announced")
        return write_reconstruction(p, vol, geometry, meta, overwrite=overwrite, **(extra() if extra else {}))
    full = dict(meta, geometry=geometry.to_dict(), ltl_version=__version__)
    if suffix in TIFF_SUFFIXES:
        return write_tiff_batches(p, batches, shape, full, overwrite=overwrite)
    return write_hdf5_reconstruction_batches(p, batches, shape, geometry.to_json(), dict(meta, ltl_version=__version__),
                                             __version__, overwrite=overwrite)


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
