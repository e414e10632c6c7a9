"""Three-dimensional arrays on disk, read in parts: only the pages and rows asked for.

A source holds an array of shape ``(P, H, W)`` (pages, rows, columns) in a file and
:meth:`ArraySource.take` returns ``a[pages, rows, :]`` as float32 without reading the rest:

* :class:`TiffArray` — one TIFF file. Uncompressed, contiguous pages (what tifffile, ImageJ and
  most detector software write) are mapped with ``numpy.memmap`` for the call only, so the
  pages touched leave memory when it returns; compressed or scattered pages are decoded one page
  at a time (memory: one page plus the result; the file is decoded once per call).
* :class:`TiffPages` — a folder or glob of single-page TIFF files, one page each.
* :class:`H5Array` — an HDF5 dataset, optionally a subset of its frames (NXtomo's projections,
  flats or darks by ``image_key``), read by h5py hyperslab selection.
* :class:`MemoryArray` — an array already in memory (ltl's ``.npz`` scans).

A 2D image is a stack of one page ``(1, H, W)`` or a stack of one-row pages ``(H, 1, W)``,
as the caller says (``page2d``): a flat field is one page, a sinogram ``(V, D)`` is V views of one
detector row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

__all__ = ["ArraySource", "MemoryArray", "TiffArray", "TiffPages", "H5Array", "as_index"]


def as_index(sel, n: int):
    """A selection of ``range(n)`` (None, slice, range or integer array) as a slice when it is
    evenly spaced and increasing, else as a sorted int64 array."""
    if sel is None:
        return slice(0, n, 1)
    if isinstance(sel, range):
        sel = slice(sel.start, sel.stop, sel.step)
    if isinstance(sel, slice):
        r = range(n)[sel]
        if r.step < 0:
            return np.asarray(r, dtype=np.int64)
        return slice(r.start, r.start + len(r) * r.step if len(r) else r.start, r.step)
    idx = np.asarray(sel, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"index out of range 0..{n - 1}")
    if idx.size > 1 and np.all(np.diff(idx) == idx[1] - idx[0]) and idx[1] > idx[0]:
        return slice(int(idx[0]), int(idx[-1]) + 1, int(idx[1] - idx[0]))
    if idx.size == 1:
        return slice(int(idx[0]), int(idx[0]) + 1, 1)
    return idx


def _count(sel, n: int) -> int:
    return len(range(n)[sel]) if isinstance(sel, slice) else int(np.size(sel))


class ArraySource(ABC):
    """A 3D array ``(P, H, W)`` read in parts (module notes).

    Attributes
    ----------
    shape : tuple of int
        ``(P, H, W)``.
    ndim : int
        The dimensions as stored (2 for a single image, which ``shape`` presents as 3D).
    """

    shape: tuple[int, int, int]
    ndim: int = 3

    def take(self, pages=None, rows=None) -> np.ndarray:
        """``a[pages, rows, :]`` float32, shape ``(len(pages), len(rows), W)``; ``pages`` and
        ``rows`` are None (all), a slice, a range or an integer array."""
        p, r = as_index(pages, self.shape[0]), as_index(rows, self.shape[1])
        out = self._take(p, r)
        return np.ascontiguousarray(out, dtype=np.float32)

    @abstractmethod
    def _take(self, pages, rows) -> np.ndarray:
        """The parts ``pages`` × ``rows`` (index arrays or slices from :func:`as_index`)."""

    def __len__(self) -> int:
        return self.shape[0]


def _shape3(shape: tuple, page2d: bool, where) -> tuple[int, int, int]:
    if len(shape) == 2:
        return (1, *shape) if page2d else (shape[0], 1, shape[1])
    if len(shape) == 4 and shape[-1] in (3, 4):
        raise ValueError(f"{where}: colour TIFF images; ltl reads grey-value projections only")
    if len(shape) != 3:
        raise ValueError(f"{where}: expected grey images (rows, cols) or a stack (pages, rows, cols), "
                         f"got shape {shape}")
    return tuple(int(s) for s in shape)


class MemoryArray(ArraySource):
    """An array in memory, ``(P, H, W)`` (or 2D, see the module notes)."""

    def __init__(self, a: np.ndarray, *, page2d: bool = True):
        a = np.asarray(a)
        self.ndim = a.ndim
        self.shape = _shape3(a.shape, page2d, "array")
        self._a = a.reshape(self.shape)

    def _take(self, pages, rows):
        return self._a[pages][:, rows]


class TiffArray(ArraySource):
    """The first series of one TIFF file as ``(P, H, W)`` (module notes)."""

    def __init__(self, path: str | Path, *, page2d: bool = True):
        import tifffile

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"TIFF file {self.path} does not exist")
        try:
            with tifffile.TiffFile(str(self.path)) as t:
                s = t.series[0]
                shape, self.dtype = tuple(s.shape), np.dtype(s.dtype).newbyteorder(t.byteorder)
                self.offset = s.dataoffset
                self.page_count = len(s.pages) if s.pages is not None else 1
        except (IndexError, ValueError, tifffile.TiffFileError) as exc:
            raise ValueError(f"{self.path}: not a readable TIFF stack of equal-sized grey images ({exc})") from exc
        self.ndim = len(shape)
        self.shape = _shape3(shape, page2d, self.path)

    def _take(self, pages, rows):
        import tifffile

        if self.offset is not None:  # uncompressed and contiguous: map the file for this call only
            mm = np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape)
            try:
                return np.array(mm[pages][:, rows] if not isinstance(pages, slice) else mm[pages, rows], copy=True)
            finally:
                del mm
        with tifffile.TiffFile(str(self.path)) as t:
            if self.ndim == 2:
                return t.asarray(series=0).reshape(self.shape)[pages][:, rows]
            idx = range(self.shape[0])[pages] if isinstance(pages, slice) else pages
            out = np.empty((len(idx), _count(rows, self.shape[1]), self.shape[2]), dtype=np.float32)
            for i, k in enumerate(idx):
                page = t.asarray(key=int(k), series=0)
                if page.shape != self.shape[1:]:
                    raise ValueError(f"{self.path}: page {k} has shape {page.shape}, expected {self.shape[1:]}")
                out[i] = page[rows]
            return out


class TiffPages(ArraySource):
    """Single-page TIFF files (a folder or glob, sorted by name) as ``(P, H, W)``, one file a page."""

    def __init__(self, files: list[str], where: str | Path):
        if not files:
            raise FileNotFoundError(f"no .tif/.tiff files in {where}")
        self.files, self.where = list(files), where
        first = TiffArray(self.files[0], page2d=True)
        if first.shape[0] != 1:
            raise ValueError(f"{where}: {Path(self.files[0]).name} holds {first.shape[0]} pages; a folder of TIFF "
                             "files must hold one image each")
        self.shape = (len(self.files), first.shape[1], first.shape[2])

    def _take(self, pages, rows):
        idx = range(self.shape[0])[pages] if isinstance(pages, slice) else pages
        out = np.empty((len(idx), _count(rows, self.shape[1]), self.shape[2]), dtype=np.float32)
        for i, k in enumerate(idx):
            page = TiffArray(self.files[int(k)], page2d=True)
            if page.shape != (1, *self.shape[1:]):
                raise ValueError(f"{self.where}: not a readable TIFF stack of equal-sized grey images "
                                 f"({Path(self.files[int(k)]).name} has shape {page.shape[1:]}, the first "
                                 f"{self.shape[1:]})")
            out[i] = page.take(None, rows)[0]
        return out


class H5Array(ArraySource):
    """An HDF5 dataset ``(P, H, W)`` (or 2D), or the frames ``frames`` of it (module notes)."""

    def __init__(self, path: str | Path, dataset: str, *, frames: np.ndarray | None = None, page2d: bool = False):
        import h5py

        self.path, self.dataset = Path(path), dataset
        with h5py.File(self.path, "r") as f:
            shape = tuple(f[dataset].shape)
        self.ndim = len(shape)
        if self.ndim not in (2, 3):
            raise ValueError(f"{self.path}:{dataset} has shape {shape}; expected (views, rows, cols) or (views, cols)")
        self.frames = None if frames is None else np.asarray(frames, dtype=np.int64)
        full = _shape3(shape, page2d, f"{self.path}:{dataset}")
        self._page2d = page2d
        self.shape = (len(self.frames), *full[1:]) if self.frames is not None else full

    def _take(self, pages, rows):
        import h5py

        if self.frames is not None:
            pages = as_index(self.frames[pages], 1 << 62)
        with h5py.File(self.path, "r") as f:
            ds = f[self.dataset]
            if self.ndim == 2:
                a = np.asarray(ds[()] if self._page2d else ds[pages])
                a = a[None] if self._page2d else a[:, None, :]
                return a[pages][:, rows] if self._page2d else a[:, rows]
            if isinstance(pages, np.ndarray) and pages.size == 0:
                return np.empty((0, _count(rows, self.shape[1]), self.shape[2]), np.float32)
            return np.asarray(ds[pages, rows, :])
