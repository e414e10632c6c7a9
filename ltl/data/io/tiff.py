"""TIFF stacks through tifffile: multi-page files, or a folder (or glob) of single-page files.

A stack is read as one array ``(pages, rows, cols)``; a single page is ``(rows, cols)``. Written
reconstructions are float32 pages ``(M, N, N)`` with ltl's provenance as JSON in the first page's
ImageDescription tag (geometry, method and settings, preprocessing, ltl version), which
:func:`read_tiff_meta` returns.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np

__all__ = ["TIFF_SUFFIXES", "is_tiff", "tiff_files", "read_tiff", "read_tiff_meta", "write_tiff", "write_tiff_batches"]

TIFF_SUFFIXES = (".tif", ".tiff")


def is_tiff(path: str | Path) -> bool:
    """A TIFF file, a folder of TIFF files, or a glob pattern of them."""
    p = Path(path)
    if p.is_dir():
        return bool(tiff_files(p))
    if any(ch in str(path) for ch in "*?["):
        return any(Path(f).suffix.lower() in TIFF_SUFFIXES for f in glob.glob(str(path)))
    return p.suffix.lower() in TIFF_SUFFIXES


def tiff_files(path: str | Path) -> list[str]:
    """The TIFF files of a folder or a glob pattern, sorted by name (zero-padded numbers sort right)."""
    p = Path(path)
    pattern = str(p / "*") if p.is_dir() else str(path)
    return sorted(f for f in glob.glob(pattern) if Path(f).suffix.lower() in TIFF_SUFFIXES)


def read_tiff(path: str | Path) -> np.ndarray:
    """The pixels of a TIFF file, folder or glob as float32: ``(rows, cols)`` or ``(pages, rows, cols)``.

    Raises ``FileNotFoundError`` when nothing matches, ``ValueError`` when the files are not
    images of one shape.
    """
    import tifffile

    p = Path(path)
    many = p.is_dir() or any(ch in str(path) for ch in "*?[")
    if many:
        files = tiff_files(path)
        if not files:
            raise FileNotFoundError(f"no .tif/.tiff files in {path}")
        src = files
    else:
        if not p.is_file():
            raise FileNotFoundError(f"TIFF file {p} does not exist")
        src = str(p)
    try:
        arr = tifffile.imread(src)
    except Exception as exc:  # tifffile raises several types for broken or mixed files
        raise ValueError(f"{path}: not a readable TIFF stack of equal-sized grey images ({exc})") from exc
    arr = np.asarray(arr)
    if arr.ndim == 4 and arr.shape[-1] in (3, 4):
        raise ValueError(f"{path}: colour TIFF images; ltl reads grey-value projections only")
    if arr.ndim not in (2, 3):
        raise ValueError(f"{path}: expected grey images (rows, cols) or a stack (pages, rows, cols), got shape {arr.shape}")
    return arr.astype(np.float32, copy=False)


def read_tiff_meta(path: str | Path) -> dict:
    """The JSON object in the first page's ImageDescription ({} when there is none or it is not JSON)."""
    import tifffile

    with tifffile.TiffFile(str(path)) as t:
        text = t.pages[0].description if t.pages else ""
    try:
        meta = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def write_tiff(path: str | Path, volume: np.ndarray, meta: dict, *, overwrite: bool = False) -> Path:
    """Write ``volume`` ``(M, N, N)`` (or ``(N, N)``) as float32 pages, ``meta`` as JSON in the
    ImageDescription; atomically (a temporary file, then a rename). ``FileExistsError`` unless
    ``overwrite``."""
    import tifffile

    from ...runtime.files import atomic_path, json_safe

    p = Path(path)
    if p.suffix.lower() not in TIFF_SUFFIXES:
        raise ValueError(f"a TIFF output must end in .tif or .tiff, got {p.name}")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p} exists; choose another path or pass --overwrite")
    data = np.ascontiguousarray(volume, dtype=np.float32)
    with atomic_path(p, suffix=p.suffix, replace=overwrite) as tmp:
        tifffile.imwrite(tmp, data, description=json.dumps(json_safe(meta)), metadata=None, photometric="minisblack")
    return p


def write_tiff_batches(path: str | Path, batches, shape: tuple[int, int, int], meta: dict, *,
                       overwrite: bool = False) -> Path:
    """Write a volume ``shape = (M, N, N)`` given as an iterable of slice batches ``(k, N, N)`` (in
    order, M slices in all) as float32 pages with ``meta`` in the first page's ImageDescription,
    as :func:`write_tiff` does; one batch in memory at a time; atomically."""
    import tifffile

    from ...runtime.files import atomic_path, json_safe

    p = Path(path)
    if p.suffix.lower() not in TIFF_SUFFIXES:
        raise ValueError(f"a TIFF output must end in .tif or .tiff, got {p.name}")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p} exists; choose another path or pass --overwrite")
    shape = tuple(int(s) for s in shape)
    count = [0]

    def pages():
        for b in batches:
            b = np.asarray(b, dtype=np.float32).reshape(-1, *shape[1:])
            for page in b:
                count[0] += 1
                if count[0] > shape[0]:
                    raise ValueError(f"more than the {shape[0]} slices announced")
                yield np.ascontiguousarray(page)
        if count[0] != shape[0]:
            raise ValueError(f"{count[0]} slices written, {shape[0]} announced")

    with atomic_path(p, suffix=p.suffix, replace=overwrite) as tmp:
        with tifffile.TiffWriter(tmp) as tw:
            tw.write(pages(), shape=shape, dtype="float32", description=json.dumps(json_safe(meta)), metadata=None,
                     photometric="minisblack")
    return p
