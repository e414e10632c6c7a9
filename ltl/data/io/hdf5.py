"""HDF5 files through h5py: NeXus NXtomo and Data Exchange scans, any named dataset, and ltl's
reconstruction layout.

Scans
-----
* **NXtomo** (NeXus application definition for tomography): an ``NXentry`` whose ``definition``
  is ``NXtomo``, with ``instrument/detector/data`` ``(frames, rows, cols)``,
  ``instrument/detector/image_key`` ``(frames,)`` (0 projection, 1 flat field, 2 dark field,
  3 invalid) and ``sample/rotation_angle`` ``(frames,)`` in the unit of its ``units`` attribute
  (degrees when absent, as beamlines write it; recorded in the metadata).
* **Data Exchange** (APS): ``/exchange/data`` ``(views, rows, cols)``, optional
  ``/exchange/data_white`` (flats), ``/exchange/data_dark`` and ``/exchange/theta`` (degrees).
* **Any dataset** ``file.h5:/path/to/data`` (or ``dataset=``): a 3D stack; angles from the command line.

:func:`open_hdf5_scan` opens a scan without reading its frames
(:class:`~ltl.data.io.arrays.H5Array`: h5py reads only the hyperslab asked for, e.g. a few
detector rows of every projection); :func:`read_hdf5_scan` reads it whole.

Reconstructions
---------------
``/reconstruction`` float32 ``(M, N, N)``; the root attributes ``geometry`` and ``meta`` hold JSON
(ltl's geometry; method, settings, preprocessing), ``ltl_version`` the version that wrote it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .arrays import H5Array

__all__ = ["HDF5_SUFFIXES", "split_dataset", "open_hdf5_scan", "read_hdf5_scan", "write_nxtomo",
           "write_hdf5_reconstruction", "write_hdf5_reconstruction_batches", "read_hdf5_reconstruction"]

HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".nxs", ".nx", ".cxi")
_DEGREES = ("degree", "degrees", "deg")
_RADIANS = ("rad", "radian", "radians")


def split_dataset(spec: str | Path) -> tuple[Path, str | None]:
    """``'scan.h5:/entry/data'`` → ``(Path('scan.h5'), '/entry/data')``; a plain path → ``(path, None)``."""
    s = str(spec)
    for suffix in HDF5_SUFFIXES:
        marker = suffix + ":"
        i = s.lower().find(marker)
        if i >= 0:
            return Path(s[:i + len(suffix)]), s[i + len(marker):] or None
    return Path(s), None


def _str(v) -> str:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return _str(v.reshape(-1)[0]) if v.size else ""
    return str(v)


def _find_nxtomo(f):
    """The NXtomo entry group of an open file, or None."""
    for name in f:
        g = f[name]
        if not hasattr(g, "keys"):
            continue
        definition = _str(g["definition"][()]) if "definition" in g else ""
        if definition == "NXtomo" or ("instrument/detector/image_key" in g and "instrument/detector/data" in g):
            return g
    return None


def _angles(ds, where: str, meta: dict) -> np.ndarray:
    a = np.asarray(ds[()], dtype=np.float64).reshape(-1)
    units = _str(ds.attrs.get("units", "")).strip().lower()
    if units in _RADIANS:
        return a
    if units not in _DEGREES:
        meta["assumed"] = f"{where} has no angle unit; read as degrees"
    return np.deg2rad(a)


def _open_nxtomo(entry, p: Path) -> dict:
    meta = {"format": "NXtomo", "entry": entry.name}
    data = entry["instrument/detector/data"]
    if data.ndim != 3:
        raise ValueError(f"{p}: {data.name} has shape {data.shape}; NXtomo data are (frames, rows, cols)")
    key = np.asarray(entry["instrument/detector/image_key"][()]).reshape(-1)
    if key.size != data.shape[0]:
        raise ValueError(f"{p}: image_key has {key.size} entries for {data.shape[0]} frames")
    if "sample/rotation_angle" not in entry:
        raise ValueError(f"{p}: NXtomo entry {entry.name} has no sample/rotation_angle")
    angles = _angles(entry["sample/rotation_angle"], "sample/rotation_angle", meta)
    if angles.size != key.size:
        raise ValueError(f"{p}: rotation_angle has {angles.size} entries for {key.size} frames")

    def frames(k: int):
        idx = np.flatnonzero(key == k)
        return H5Array(p, data.name, frames=idx) if idx.size else None

    proj = frames(0)
    if proj is None:
        raise ValueError(f"{p}: the NXtomo entry has no projections (image_key 0)")
    meta["invalid_frames"] = int(np.sum(key == 3))
    return dict(data=proj, angles=angles[key == 0], flats=frames(1), darks=frames(2), kind="intensity", meta=meta)


def _open_exchange(f, p: Path) -> dict:
    ex = f["exchange"]
    meta = {"format": "Data Exchange"}
    if ex["data"].ndim != 3:
        raise ValueError(f"{p}: /exchange/data has shape {ex['data'].shape}; expected (views, rows, cols)")
    angles = _angles(ex["theta"], "/exchange/theta", meta) if "theta" in ex else None
    get = (lambda k: H5Array(p, ex[k].name, page2d=True) if k in ex else None)
    return dict(data=H5Array(p, ex["data"].name), angles=angles, flats=get("data_white"), darks=get("data_dark"),
                kind="intensity", meta=meta)


def open_hdf5_scan(path: str | Path, dataset: str | None = None) -> dict:
    """The projections of an HDF5 scan (module notes), unread: a dict of ``data``
    (:class:`~ltl.data.io.arrays.H5Array` ``(V, R, D)``, or ``(P, H, W)`` as stored for a named
    dataset), ``angles`` radians or None, ``flats``, ``darks`` (H5Array or None), ``kind``, ``meta``.

    ``dataset`` (or ``path`` written ``file.h5:/path``) names a dataset, 3D or one 2D sinogram.
    """
    import h5py

    p, inline = split_dataset(path)
    dataset = dataset or inline
    if not p.is_file():
        raise FileNotFoundError(f"HDF5 file {p} does not exist")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise ValueError(f"{p} is not a readable HDF5 file ({exc})") from exc
    with f:
        if dataset is not None:
            if dataset not in f or not hasattr(f[dataset], "shape"):
                raise ValueError(f"{p}: no dataset {dataset!r}; name one that holds the projections")
            return dict(data=H5Array(p, f[dataset].name), angles=None, flats=None, darks=None, kind="unknown",
                        meta={"format": "HDF5 dataset", "dataset": dataset})
        entry = _find_nxtomo(f)
        if entry is not None:
            return _open_nxtomo(entry, p)
        if "exchange/data" in f:
            return _open_exchange(f, p)
    raise ValueError(f"{p}: neither an NXtomo entry nor /exchange/data; name the projections' dataset as "
                     f"{p.name}:/path/to/data")


def read_hdf5_scan(path: str | Path, dataset: str | None = None) -> dict:
    """The projections of an HDF5 scan (module notes) as a dict: ``data`` ``(V, R, D)`` float32
    (a 2D dataset ``(V, D)`` as ``(V, 1, D)``), ``angles`` radians or None, ``flats``, ``darks``,
    ``kind``, ``meta``; :func:`open_hdf5_scan`, read whole."""
    d = open_hdf5_scan(path, dataset)
    return dict(d, **{k: (None if d[k] is None else d[k].take()) for k in ("data", "flats", "darks")})


def write_nxtomo(path: str | Path, projections: np.ndarray, angles: np.ndarray, *, flats: np.ndarray | None = None,
                 darks: np.ndarray | None = None, overwrite: bool = False) -> Path:
    """Write an NXtomo file: darks, flats, then projections ``(V, R, D)`` at ``angles`` (radians,
    stored in degrees with ``units='degree'``); atomically. For tests and for exporting scans."""
    import h5py

    from ...runtime.files import atomic_path

    p = Path(path)
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p} exists; choose another path or pass --overwrite")
    proj = np.asarray(projections)
    if proj.ndim != 3 or np.asarray(angles).shape != (proj.shape[0],):
        raise ValueError("projections must be (V, R, D) with one angle per view")
    parts = [(2, darks), (1, flats), (0, proj)]
    stack = np.concatenate([np.asarray(a, dtype=proj.dtype).reshape(-1, *proj.shape[1:]) for _, a in parts if a is not None])
    key = np.concatenate([np.full(len(np.asarray(a).reshape(-1, *proj.shape[1:])), k, dtype=np.uint8)
                          for k, a in parts if a is not None])
    rot = np.zeros(key.size)
    rot[key == 0] = np.rad2deg(angles)
    with atomic_path(p, suffix=p.suffix, replace=overwrite) as tmp, h5py.File(tmp, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry["definition"] = "NXtomo"
        det = entry.create_group("instrument").create_group("detector")
        entry["instrument"].attrs["NX_class"] = "NXinstrument"
        det.attrs["NX_class"] = "NXdetector"
        det.create_dataset("data", data=stack, compression="gzip")
        det["image_key"] = key
        sample = entry.create_group("sample")
        sample.attrs["NX_class"] = "NXsample"
        sample["rotation_angle"] = rot
        sample["rotation_angle"].attrs["units"] = "degree"
        data = entry.create_group("data")
        data.attrs["NX_class"] = "NXdata"
        data["data"] = det["data"]
        data["rotation_angle"] = sample["rotation_angle"]
        data["image_key"] = det["image_key"]
    return p


def write_hdf5_reconstruction(path: str | Path, volume: np.ndarray, geometry_json: str, meta: dict, version: str,
                              *, overwrite: bool = False) -> Path:
    """Write ltl's HDF5 reconstruction layout (module notes), atomically."""
    import h5py

    from ...runtime.files import atomic_path, json_safe

    p = Path(path)
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p} exists; choose another path or pass --overwrite")
    with atomic_path(p, suffix=p.suffix, replace=overwrite) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("reconstruction", data=np.asarray(volume, dtype=np.float32), compression="gzip",
                         chunks=(1, *np.shape(volume)[1:]))
        f.attrs["geometry"] = geometry_json
        f.attrs["meta"] = json.dumps(json_safe(meta))
        f.attrs["ltl_version"] = version
    return p


def write_hdf5_reconstruction_batches(path: str | Path, batches, shape: tuple[int, int, int], geometry_json: str,
                                      meta: dict, version: str, *, overwrite: bool = False) -> Path:
    """:func:`write_hdf5_reconstruction` of a volume ``shape = (M, N, N)`` given as an iterable of
    slice batches ``(k, N, N)`` in order; one batch in memory at a time; atomically."""
    import h5py

    from ...runtime.files import atomic_path, json_safe

    p = Path(path)
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p} exists; choose another path or pass --overwrite")
    shape = tuple(int(s) for s in shape)
    with atomic_path(p, suffix=p.suffix, replace=overwrite) as tmp, h5py.File(tmp, "w") as f:
        ds = f.create_dataset("reconstruction", shape=shape, dtype=np.float32, compression="gzip",
                              chunks=(1, *shape[1:]))
        i = 0
        for b in batches:
            b = np.asarray(b, dtype=np.float32).reshape(-1, *shape[1:])
            if i + len(b) > shape[0]:
                raise ValueError(f"more than the {shape[0]} slices announced")
            ds[i:i + len(b)] = b
            i += len(b)
        if i != shape[0]:
            raise ValueError(f"{i} slices written, {shape[0]} announced")
        f.attrs["geometry"] = geometry_json
        f.attrs["meta"] = json.dumps(json_safe(meta))
        f.attrs["ltl_version"] = version
    return p


def read_hdf5_reconstruction(path: str | Path) -> tuple[np.ndarray, str | None, dict]:
    """``(volume (M, N, N), geometry JSON or None, meta)`` of ltl's layout; ``ValueError`` without
    ``/reconstruction``."""
    import h5py

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"reconstruction file {p} does not exist")
    with h5py.File(p, "r") as f:
        if "reconstruction" not in f:
            raise ValueError(f"{p}: no /reconstruction dataset; not an ltl reconstruction")
        vol = np.asarray(f["reconstruction"][()], dtype=np.float32)
        geometry = f.attrs.get("geometry")
        meta = json.loads(_str(f.attrs["meta"])) if "meta" in f.attrs else {}
    return vol, (_str(geometry) if geometry is not None else None), meta
