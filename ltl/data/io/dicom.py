"""DICOM image series through pydicom, as images (ground truth or prior images), not projections.

A series is a folder of files (or a list of them) with one image each; the slices are ordered
along the slice normal (ImagePositionPatient · the normal of ImageOrientationPatient) when every
file has them, else by InstanceNumber, else by file name. Pixel values are mapped through
RescaleSlope and RescaleIntercept (CT images become Hounsfield units).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["DICOM_SUFFIXES", "is_dicom", "read_dicom_series"]

DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")


def _is_dicom_file(p: Path) -> bool:
    if p.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with open(p, "rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def is_dicom(path: str | Path) -> bool:
    """A DICOM file, or a folder holding at least one."""
    p = Path(path)
    if p.is_dir():
        return any(_is_dicom_file(q) for q in sorted(p.iterdir()) if q.is_file())
    return p.is_file() and _is_dicom_file(p)


def _files(path) -> list[Path]:
    if isinstance(path, (list, tuple)):
        files = [Path(q) for q in path]
    else:
        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(f"DICOM path {p} does not exist")
        files = sorted(q for q in p.iterdir() if q.is_file() and _is_dicom_file(q)) if p.is_dir() else [p]
    if not files:
        raise FileNotFoundError(f"no DICOM files in {path}")
    return files


def _position(ds) -> float | None:
    try:
        o = np.asarray(ds.ImageOrientationPatient, dtype=np.float64)
        normal = np.cross(o[:3], o[3:])
        return float(np.dot(np.asarray(ds.ImagePositionPatient, dtype=np.float64), normal))
    except (AttributeError, ValueError, TypeError):
        return None


def read_dicom_series(path) -> tuple[np.ndarray, dict]:
    """Read a DICOM image series: ``(images (M, rows, cols) float32, meta)``.

    ``meta`` holds the order used, PixelSpacing (mm), SliceThickness, Modality and the count.
    Raises ``ValueError`` for files pydicom cannot decode (for example compressed pixel data
    without a decoder: ``pip install pylibjpeg``) or for slices of different sizes.
    """
    import pydicom

    files = _files(path)
    slices = []
    for f in files:
        try:
            ds = pydicom.dcmread(f)
            img = ds.pixel_array.astype(np.float32)
        except Exception as exc:  # pydicom raises many types for unreadable or undecodable files
            raise ValueError(f"{f}: cannot read the DICOM image ({exc})") from exc
        if img.ndim != 2:
            raise ValueError(f"{f}: a DICOM file with {img.ndim} dimensions; ltl reads series of 2D images")
        slope, intercept = float(getattr(ds, "RescaleSlope", 1.0)), float(getattr(ds, "RescaleIntercept", 0.0))
        slices.append((ds, img * slope + intercept, f.name))
    shapes = {s[1].shape for s in slices}
    if len(shapes) != 1:
        raise ValueError(f"{path}: DICOM images of different sizes {sorted(shapes)}; one series at a time")
    positions = [_position(s[0]) for s in slices]
    if all(v is not None for v in positions) and len(set(positions)) == len(positions):
        order, by = np.argsort(positions), "ImagePositionPatient"
    elif all(hasattr(s[0], "InstanceNumber") for s in slices):
        order, by = np.argsort([int(s[0].InstanceNumber) for s in slices], kind="stable"), "InstanceNumber"
    else:
        order, by = np.arange(len(slices)), "file name"
    first = slices[int(order[0])][0]
    meta = {"format": "DICOM", "count": len(slices), "order": by,
            "pixel_spacing_mm": [float(v) for v in getattr(first, "PixelSpacing", [])] or None,
            "slice_thickness_mm": float(first.SliceThickness) if getattr(first, "SliceThickness", None) else None,
            "modality": str(getattr(first, "Modality", "")) or None}
    return np.stack([slices[int(i)][1] for i in order]), meta
