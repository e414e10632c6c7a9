"""Scan and reconstruction files (``.npz``), as laid out in the design notes.

Scan file: ``sinogram`` ``(V, D)`` or ``(M, V, D)`` float32; ``angles`` ``(V,)`` radians;
``det_spacing`` scalar; ``image_size`` scalar N; for a fan beam ``source_origin`` and
``origin_det`` scalars (image pixels); optional ``images`` ``(M, N, N)`` ground truth; ``meta`` a
JSON string (how it was made, ltl version).

Reconstruction file: ``reconstruction`` ``(M, N, N)``, the geometry keys above, and ``meta``, a
JSON string with the method and its settings.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..runtime.files import atomic_write
from ..geometry import Geometry
from .simulate import Scan

__all__ = ["save_scan", "load_scan", "save_reconstruction", "load_reconstruction", "atomic_savez"]


def atomic_savez(path: str | Path, *, overwrite: bool = False, **arrays) -> Path:
    """Write an ``.npz`` through a temporary file and a rename, so a crash never leaves half a file.

    Raises ``FileExistsError`` when ``path`` exists and ``overwrite`` is false.
    """
    p = Path(path)
    if p.suffix != ".npz":
        raise ValueError(f"output file must end in .npz, got {p.name}")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p} exists; choose another path or pass --overwrite")
    return atomic_write(p, lambda f: np.savez_compressed(f, **arrays), suffix=".npz")


def _geometry_arrays(g: Geometry) -> dict:
    arrays = {"angles": np.asarray(g.angles, dtype=np.float64), "det_spacing": np.float64(g.det_spacing),
              "image_size": np.int64(g.image_size), "det_count": np.int64(g.det_count)}
    if g.is_fan:
        arrays.update(source_origin=np.float64(g.source_origin), origin_det=np.float64(g.origin_det))
    return arrays


def _fan(z) -> dict:
    """The fan-beam distances of an open file, or nothing for a parallel beam."""
    if "source_origin" in z.files and "origin_det" in z.files:
        return {"source_origin": float(z["source_origin"]), "origin_det": float(z["origin_det"])}
    return {}


def save_scan(path: str | Path, scan: Scan, *, overwrite: bool = False) -> Path:
    """Write a :class:`~ltl.data.simulate.Scan` as a scan file."""
    from .. import __version__

    arrays = dict(_geometry_arrays(scan.geometry), sinogram=scan.sinogram.detach().cpu().numpy().astype(np.float32))
    if scan.images is not None:
        arrays["images"] = scan.images.detach().cpu().numpy().astype(np.float32)
    meta = dict(scan.meta or {}, geometry=scan.geometry.to_dict(), ltl_version=__version__)
    arrays["meta"] = np.array(json.dumps(meta))
    return atomic_savez(path, overwrite=overwrite, **arrays)


def _open(path: str | Path, what: str):
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} {p} does not exist")
    if p.is_file() and not zipfile.is_zipfile(p):
        with open(p, "rb") as f:
            head = f.read(64).lstrip()
        if head[:1] in (b"{", b"["):
            raise ValueError(f"{p} is a JSON file, not an .npz {what}; ltl reads scans as .npz files with 'sinogram', "
                             "'angles', 'det_spacing' and 'image_size' (numpy.savez)")
    try:
        return p, np.load(p, allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"{p} is not a readable .npz {what} ({exc}); re-create it") from exc


def _require(z, p: Path, *keys: str) -> None:
    missing = [k for k in keys if k not in z.files]
    if missing:
        raise ValueError(f"{p}: missing key(s) {', '.join(map(repr, missing))}; a scan file needs "
                         "'sinogram', 'angles', 'det_spacing' and 'image_size'")


def _finite(a: np.ndarray, key: str, p: Path) -> np.ndarray:
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{p}: {key!r} contains NaN or inf; clean the data first")
    return a


def load_scan(path: str | Path) -> Scan:
    """Read a scan file; checks keys, shapes and finiteness, and names the offending key."""
    p, z = _open(path, "scan file")
    with z:
        _require(z, p, "sinogram", "angles", "det_spacing", "image_size")
        try:
            sino = _finite(np.asarray(z["sinogram"], dtype=np.float32), "sinogram", p)
            angles = np.asarray(z["angles"], dtype=np.float64)
            det_count = int(z["det_count"]) if "det_count" in z.files else None
            geometry = Geometry(int(z["image_size"]), angles, det_count=det_count or (sino.shape[-1] if sino.ndim >= 2 else None),
                                det_spacing=float(z["det_spacing"]), **_fan(z))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{p}: {exc}") from exc
        if sino.ndim == 2:
            sino = sino[None]
        if sino.ndim != 3 or sino.shape[1:] != geometry.sino_shape:
            raise ValueError(f"{p}: 'sinogram' has shape {sino.shape}, expected (V, D) or (M, V, D) = "
                             f"(M, {geometry.num_angles}, {geometry.det_count}) from 'angles' and the detector")
        images = None
        key = "images" if "images" in z.files else "image" if "image" in z.files else None
        if key:
            images = _finite(np.asarray(z[key], dtype=np.float32), key, p)
            if images.ndim == 2:
                images = images[None]
            if images.shape != (sino.shape[0], *geometry.image_shape):
                raise ValueError(f"{p}: {key!r} has shape {images.shape}, expected "
                                 f"({sino.shape[0]}, {geometry.image_size}, {geometry.image_size})")
            images = torch.from_numpy(images)
        meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
    return Scan(torch.from_numpy(sino), geometry, images, meta)


def save_reconstruction(path: str | Path, reconstruction: torch.Tensor, geometry: Geometry, meta: dict,
                        *, overwrite: bool = False, **extra: torch.Tensor) -> Path:
    """Write a reconstruction file; ``extra`` tensors are stored under their names."""
    from .. import __version__

    arrays = dict(_geometry_arrays(geometry),
                  reconstruction=reconstruction.detach().cpu().numpy().astype(np.float32))
    for k, v in extra.items():
        arrays[k] = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
    arrays["meta"] = np.array(json.dumps(dict(meta, geometry=geometry.to_dict(), ltl_version=__version__)))
    return atomic_savez(path, overwrite=overwrite, **arrays)


def load_reconstruction(path: str | Path) -> tuple[torch.Tensor, Geometry, dict]:
    """Read a reconstruction file: ``(reconstruction (M, N, N), geometry, meta)``."""
    p, z = _open(path, "reconstruction file")
    with z:
        if "reconstruction" not in z.files:
            raise ValueError(f"{p}: missing key 'reconstruction'")
        meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
        g = Geometry(int(z["image_size"]), z["angles"], det_count=int(z["det_count"]),
                     det_spacing=float(z["det_spacing"]), **_fan(z))
        return torch.from_numpy(np.asarray(z["reconstruction"])), g, meta
