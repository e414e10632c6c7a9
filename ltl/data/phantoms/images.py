"""A user's own images: single files, stacks and folders, as phantoms.

:func:`load_images` gives whole images (normalised, optionally resampled to a square);
:func:`read_images` gives them at their own sizes, for crops (:mod:`.natural`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["load_images", "read_images", "read_image_file", "image_files", "IMAGE_SUFFIXES"]


def load_images(path: str | Path, size: int | None = None) -> torch.Tensor:
    """Load a user's images, ``(M, n, n)`` float32 normalised to [0, 1].

    Parameters
    ----------
    path : str or Path
        A ``.npy`` (``(n, n)`` or ``(M, n, n)``), an ``.npz`` (its ``images`` or ``image`` key, or
        its only array), an image file readable by scikit-image (PNG, TIFF, ...; colour is
        converted to grey), or a folder of such files (sorted by name).
    size : int, optional
        Resample every image to ``size``² (anti-aliased). Images must be square unless resized.

    Notes
    -----
    Each image is normalised to [0, 1] by its own minimum and maximum.
    """
    p = Path(path)
    arrays = [a for f in image_files(p) for a in read_image_file(f)]
    from skimage.transform import resize

    out = []
    for a in arrays:
        if size is not None and a.shape != (size, size):
            a = resize(a, (size, size), order=1, anti_aliasing=True, mode="edge")
        if a.shape[0] != a.shape[1]:
            raise ValueError(f"{p}: image of shape {a.shape} is not square; pass a size to resample it")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{p}: image contains NaN or inf")
        lo, hi = float(a.min()), float(a.max())
        out.append((a - lo) / (hi - lo) if hi > lo else np.zeros_like(a))
    if len({a.shape for a in out}) != 1:
        raise ValueError(f"{p}: images have different sizes; pass a size to resample them")
    return torch.from_numpy(np.stack(out).astype(np.float32))


#: File suffixes :func:`load_images` reads (a folder's other files are ignored).
IMAGE_SUFFIXES = {".npy", ".npz", ".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".pgm"}


def read_image_file(f: Path) -> list[np.ndarray]:
    """The image(s) of one file as float64 ``(h, w)`` arrays (a stack gives several); ``ValueError`` if unreadable."""
    suffix = f.suffix.lower()
    try:
        if suffix == ".npy":
            a = np.load(f, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(f, allow_pickle=False) as z:
                keys = [k for k in ("images", "image") if k in z] or list(z.keys())
                if len(keys) != 1 and not {"images", "image"} & set(z.keys()):
                    raise ValueError(f"{f}: npz holds {list(z.keys())}; store the images under 'images'")
                a = z[keys[0]]
        else:
            from skimage import io
            from skimage.color import rgb2gray, rgba2rgb

            a = io.imread(f)
            if a.ndim == 3 and a.shape[-1] == 4:
                a = rgba2rgb(a)
            if a.ndim == 3 and a.shape[-1] == 3:
                a = rgb2gray(a)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"cannot read image file {f}: {exc}") from exc
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 2:
        return [a]
    if a.ndim == 3:
        return list(a)
    raise ValueError(f"{f}: expected an image (n, n) or a stack (M, n, n), got shape {a.shape}")


def image_files(path: str | Path) -> list[Path]:
    """The image files of a file or folder (a folder's, sorted by name); errors as :func:`load_images`."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such image file or folder: {p}")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"folder {p} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return files
    return [p]


def read_images(path: str | Path) -> list[np.ndarray]:
    """Every image of a file or folder (:func:`load_images` reads the same), at its own size.

    Returns
    -------
    list of numpy.ndarray
        float64 ``(h, w)`` arrays in their own units (grey; colour converted), in file order and,
        within a stack, in stack order.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_images`; also for an image that holds NaN or inf.
    """
    out = []
    for f in image_files(path):
        for a in read_image_file(f):
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{f}: image contains NaN or inf")
            out.append(a)
    return out
