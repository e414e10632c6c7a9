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
import logging
import math
import numbers
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..runtime.files import atomic_write
from ..geometry import Geometry
from .simulate import Scan

__all__ = ["save_scan", "load_scan", "save_reconstruction", "load_reconstruction", "atomic_savez", "check_meta",
           "check_angles"]

log = logging.getLogger(__name__)

#: Angles beyond a full turn by more than this (radians) are taken for degrees and refused.
_TURN = 2 * math.pi + 1e-6


def atomic_savez(path: str | Path, *, overwrite: bool = False, **arrays) -> Path:
    """Write an ``.npz`` through a temporary file and a rename, so a crash never leaves half a file.

    Raises ``FileExistsError`` when ``path`` exists (a link too, even a dangling one) and
    ``overwrite`` is false, also when another process creates it while this one writes; with
    ``overwrite`` a link at ``path`` is replaced, its target is left alone.
    """
    p = Path(path)
    if p.suffix != ".npz":
        raise ValueError(f"output file must end in .npz, got {p.name}")
    if (p.exists() or p.is_symlink()) and not overwrite:
        raise FileExistsError(f"{p} exists; choose another path or pass --overwrite")
    return atomic_write(p, lambda f: np.savez_compressed(f, **arrays), suffix=".npz", replace=overwrite)


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
        raise FileNotFoundError(f"{what} {p} does not exist" + (f" (a link to {p.readlink()}, which is missing)"
                                                                if p.is_symlink() else ""))
    if p.is_dir():
        raise ValueError(f"{p} is a folder, not an .npz {what}")
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


def _real(z, key: str, p: Path, dtype) -> np.ndarray:
    """Array ``key`` of an open file as real numbers of ``dtype``; complex, text or object arrays are refused."""
    a = z[key]
    if np.iscomplexobj(a):
        raise ValueError(f"{p}: {key!r} is complex; ltl reads real data (store the magnitude or the real part "
                         "yourself if that is what you mean)")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise ValueError(f"{p}: {key!r} holds {a.dtype} values, not numbers")
    return np.asarray(a, dtype=dtype)


def _scalar(z, key: str, p: Path, kind: str):
    """A scalar of an open file: ``kind`` 'int' (an integer, also a float with an integral value) or 'float'."""
    a = z[key]
    if a.ndim != 0 and a.size != 1 or a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.number) \
            or np.iscomplexobj(a):
        raise ValueError(f"{p}: {key!r} must be one {'integer' if kind == 'int' else 'number'}, got "
                         f"{a.dtype} of shape {a.shape}")
    v = a.reshape(()).item()
    if kind == "int":
        if not (math.isfinite(v) and float(v).is_integer()):
            raise ValueError(f"{p}: {key!r} must be an integer, got {v!r}")
        return int(v)
    return float(v)


def check_angles(angles: np.ndarray, where: str) -> None:
    """Refuse angles that are clearly degrees; warn about angles that probably are.

    ltl's angles are radians. Angles beyond a full turn (max |θ| > 2π) are never needed in 2D (a
    view repeats every 2π) and are what degrees look like: refused. Whole numbers exactly 1 apart
    (a 57° step in radians) are what a degree scan of a few views looks like: a warning.
    """
    a = np.asarray(angles, dtype=np.float64).ravel()
    if a.size == 0 or not np.all(np.isfinite(a)):
        return  # the Geometry names these
    top = float(np.max(np.abs(a)))
    if top > _TURN:
        raise ValueError(f"{where}: angles reach {top:g}, beyond a full turn (2π ≈ 6.283): they look like degrees; "
                         "ltl reads radians (convert with numpy.deg2rad)")
    if a.size > 1 and np.all(a == np.round(a)) and np.all(np.abs(np.diff(a)) == 1):
        log.warning(f"{where}: the angles are whole numbers 1 apart ({a[0]:g}, {a[1]:g}, ...): if they are degrees, "
                    "convert them with numpy.deg2rad; ltl reads radians")


def _number(meta: dict, key: str, where: str, *, positive: bool) -> None:
    v = meta.get(key)
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ValueError(f"{where}: meta {key!r} must be a finite number {'> 0' if positive else '>= 0'} or null, "
                         f"got {v!r}")


def check_meta(text, where: str) -> dict:
    """A scan's ``meta`` JSON string as a dict; ``ValueError`` for text that is not a JSON object
    or a ``noise``/``photons`` entry that is not a number (``noise: true`` is not η = 1)."""
    text = np.asarray(text)
    if text.ndim != 0 or text.dtype.kind not in "US":
        raise ValueError(f"{where}: 'meta' must be one JSON string, got {text.dtype} of shape {text.shape}")
    try:
        meta = json.loads(str(text))
    except ValueError as exc:
        raise ValueError(f"{where}: 'meta' is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: 'meta' must be a JSON object, got {type(meta).__name__}")
    _number(meta, "noise", where, positive=False)
    _number(meta, "photons", where, positive=True)
    return meta


def load_scan(path: str | Path) -> Scan:
    """Read a scan file; checks keys, types, shapes, finiteness, angles and meta, and names the
    offending key.

    Raises
    ------
    FileNotFoundError
        No such file (or a dangling link).
    ValueError
        Not a readable ``.npz`` scan file: a missing key; a complex, text or empty array; NaN or
        inf; angles in degrees (beyond a full turn); a size that is not an integer or does not
        fit in memory; ``meta`` that is not a JSON object or has a non-numeric noise level.
    """
    from ..runtime.memory import check_fits

    p, z = _open(path, "scan file")
    with z:
        _require(z, p, "sinogram", "angles", "det_spacing", "image_size")
        try:
            sino = _finite(_real(z, "sinogram", p, np.float32), "sinogram", p)
            angles = _real(z, "angles", p, np.float64)
            check_angles(angles, str(p))
            det_count = _scalar(z, "det_count", p, "int") if "det_count" in z.files else None
            n = _scalar(z, "image_size", p, "int")
            if sino.ndim in (2, 3) and n >= 2:
                m = sino.shape[0] if sino.ndim == 3 else 1
                check_fits(4.0 * 3 * max(m, 1) * float(n) ** 2, f"{p}: {m} image(s) of image_size {n}",
                           hint="is 'image_size' right?")
            geometry = Geometry(n, angles, det_count=det_count or (sino.shape[-1] if sino.ndim >= 2 else None),
                                det_spacing=_scalar(z, "det_spacing", p, "float"), **_fan(z))
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            raise ValueError(msg if msg.startswith(str(p)) else f"{p}: {msg}") from exc
        if sino.ndim == 2:
            sino = sino[None]
        if sino.ndim != 3 or sino.shape[1:] != geometry.sino_shape:
            raise ValueError(f"{p}: 'sinogram' has shape {sino.shape}, expected (V, D) or (M, V, D) = "
                             f"(M, {geometry.num_angles}, {geometry.det_count}) from 'angles' and the detector")
        if sino.shape[0] == 0:
            raise ValueError(f"{p}: 'sinogram' holds no sinograms (shape {sino.shape}); nothing to reconstruct")
        images = None
        key = "images" if "images" in z.files else "image" if "image" in z.files else None
        if key:
            images = _finite(_real(z, key, p, np.float32), key, p)
            if images.ndim == 2:
                images = images[None]
            if images.shape != (sino.shape[0], *geometry.image_shape):
                raise ValueError(f"{p}: {key!r} has shape {images.shape}, expected "
                                 f"({sino.shape[0]}, {geometry.image_size}, {geometry.image_size})")
            images = torch.from_numpy(images)
        meta = check_meta(z["meta"], str(p)) if "meta" in z.files else {}
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
    """Read a reconstruction file: ``(reconstruction (M, N, N), geometry, meta)``.

    Raises ``FileNotFoundError`` for a missing file, ``ValueError`` for one that is not a
    readable reconstruction file (a missing key, bad geometry, meta or shape).
    """
    p, z = _open(path, "reconstruction file")
    with z:
        missing = [k for k in ("reconstruction", "angles", "image_size", "det_spacing") if k not in z.files]
        if missing:
            raise ValueError(f"{p}: missing key(s) {', '.join(map(repr, missing))}; not a reconstruction file "
                             "written by ltl")
        meta = check_meta(z["meta"], str(p)) if "meta" in z.files else {}
        try:
            rec = _real(z, "reconstruction", p, np.float32)
            g = Geometry(_scalar(z, "image_size", p, "int"), _real(z, "angles", p, np.float64),
                         det_count=_scalar(z, "det_count", p, "int") if "det_count" in z.files else None,
                         det_spacing=_scalar(z, "det_spacing", p, "float"), **_fan(z))
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            raise ValueError(msg if msg.startswith(str(p)) else f"{p}: {msg}") from exc
        rec = rec[None] if rec.ndim == 2 else rec
        if rec.ndim != 3 or rec.shape[1:] != g.image_shape:
            raise ValueError(f"{p}: 'reconstruction' has shape {rec.shape}, expected (M, {g.image_size}, "
                             f"{g.image_size}) from 'image_size'")
        return torch.from_numpy(rec), g, meta
