"""Crops of natural images: scikit-image's bundled photographs, or a user's own image folder."""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .images import image_files, read_images
from .raster import Canvas, render

__all__ = ["natural_images", "ImageCrops", "SKIMAGE_IMAGES", "STREAM", "CROPS_STREAM"]

#: The random stream of :func:`natural_images`: phantom seed s draws from ``default_rng([STREAM, s])``.
STREAM = 9
#: The random stream of :class:`ImageCrops`.
CROPS_STREAM = 10
#: scikit-image's data images that ship inside its wheel (no download), in the order the seeds index them.
SKIMAGE_IMAGES = ("astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "grass", "gravel",
                  "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket", "text")


def _grey(a: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2gray, rgba2rgb

    a = np.asarray(a)
    if a.ndim == 3 and a.shape[-1] == 4:
        a = rgba2rgb(a)
    if a.ndim == 3 and a.shape[-1] == 3:
        a = rgb2gray(a)
    return np.asarray(a, dtype=np.float64)


def _unit(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


@lru_cache(maxsize=None)
def skimage_image(name: str) -> np.ndarray:
    """scikit-image's data image ``name`` in grey, float32 in [0, 1] (its own min and max), cached."""
    from skimage import data

    try:
        a = getattr(data, name)()
    except Exception as exc:  # an older scikit-image, or an image that needs a download
        raise ValueError(f"scikit-image's data image {name!r} is not available ({type(exc).__name__}); the "
                         "'natural' phantoms need scikit-image >= 0.22 with its bundled images") from exc
    a = _unit(_grey(a)).astype(np.float32)
    a.setflags(write=False)
    return a


def _crop_params(rng: np.random.Generator, count: int) -> dict:
    return {"index": int(rng.integers(count)), "fraction": rng.uniform(0.35, 1.0), "top": rng.uniform(),
            "left": rng.uniform(), "turns": int(rng.integers(4)), "flip": bool(rng.random() < 0.5),
            "gamma": math.exp(rng.uniform(math.log(0.7), math.log(1.4)))}


def _paint_crop(cv: Canvas, image: np.ndarray, p: dict) -> None:
    """Paint the crop ``p`` of ``image`` (values in [0, 1]) over the whole canvas."""
    from skimage.transform import resize

    h, w = image.shape
    side = max(8, min(h, w, round(p["fraction"] * min(h, w))))
    top, left = math.floor(p["top"] * (h - side + 1)), math.floor(p["left"] * (w - side + 1))
    crop = np.rot90(np.asarray(image[top:top + side, left:left + side], dtype=np.float64), p["turns"])
    if p["flip"]:
        crop = crop[:, ::-1]
    m = cv.image.shape[0]
    out = resize(crop, (m, m), order=1, anti_aliasing=side > m, mode="reflect")
    cv.image[...] = np.clip(out, 0.0, 1.0) ** p["gamma"]


def natural_images(count: int, size: int, *, seed: int = 0, oversample: int = 1) -> torch.Tensor:
    """Crops of scikit-image's photographs (family ``'natural'``).

    Parameters
    ----------
    count : int
        Number of phantoms M.
    size : int
        N, the side of the reconstruction grid in pixels (>= 8).
    seed : int
        Phantom i is drawn from ``np.random.default_rng([9, seed + i])``.
    oversample : int
        k; the crop is resampled (linear, anti-aliased when shrunk) onto the k·N × k·N grid.

    Returns
    -------
    torch.Tensor, shape (M, k·N, k·N)
        float32 in [0, 1], zero outside the inscribed disc; ``block_mean(..., k)`` is the phantom on
        the N grid.

    Notes
    -----
    One of :data:`SKIMAGE_IMAGES` (uniformly; all ship inside scikit-image, no download), in grey
    and scaled to [0, 1] by its own minimum and maximum; a square crop of side U(0.35, 1) of the
    image's shorter side (at least 8 source pixels) at a uniform position; turned by a multiple
    of 90° and mirrored with probability 1/2; resampled onto the grid, then raised to a gamma
    U(0.7, 1.4) (log-uniform); zero outside the inscribed disc. Real-world edges, textures and
    smooth shading, unlike any drawn shape.
    """
    def draw(rng, cv):
        p = _crop_params(rng, len(SKIMAGE_IMAGES))
        _paint_crop(cv, skimage_image(SKIMAGE_IMAGES[p["index"]]), p)

    return render(draw, STREAM, count, size, seed=seed, oversample=oversample)


class ImageCrops:
    """Crops of a user's images as a phantom family (``'crops:PATH'``), with the family signature.

    Parameters
    ----------
    path : str or Path
        An image file, a stack (``.npy``/``.npz``/TIFF) or a folder of them, as
        :func:`~ltl.data.phantoms.load_images` reads them (any size; colour becomes grey). Each
        image is scaled to [0, 1] by its own minimum and maximum.

    Attributes
    ----------
    files : list of str
        The file names read (a folder's, sorted).
    sha256 : str
        Digest of the images' shapes and values: a dataset records it, so a changed folder is noticed.

    Notes
    -----
    ``crops(count, size, seed=s, oversample=k)`` draws phantom i from
    ``np.random.default_rng([10, s + i])`` exactly as :func:`natural_images` does, over these
    images instead of scikit-image's: image, crop of side U(0.35, 1) of its shorter side,
    position, quarter turns, mirror, gamma U(0.7, 1.4), zero outside the inscribed disc.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.files = [f.name for f in image_files(self.path)]
        self.images = [_unit(a).astype(np.float32) for a in read_images(self.path)]
        h = hashlib.sha256()
        for a in self.images:
            h.update(np.asarray(a.shape, dtype=np.int64).tobytes())
            h.update(np.ascontiguousarray(a).tobytes())
        self.sha256 = h.hexdigest()

    def __call__(self, count: int, size: int, *, seed: int = 0, oversample: int = 1) -> torch.Tensor:
        def draw(rng, cv):
            p = _crop_params(rng, len(self.images))
            _paint_crop(cv, self.images[p["index"]], p)

        return render(draw, CROPS_STREAM, count, size, seed=seed, oversample=oversample)

    def record(self) -> dict:
        """JSON-safe description: the folder's name (not its full path), the files and the digest."""
        return {"name": self.path.name, "files": self.files, "images": len(self.images), "sha256": self.sha256}
