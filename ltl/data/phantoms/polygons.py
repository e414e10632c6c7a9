"""Random polygons: piecewise-constant, straight-edged, occluding shapes with sharp corners."""

from __future__ import annotations

import math

import numpy as np
import torch

from .raster import Canvas, polygon, render

__all__ = ["random_polygons", "STREAM"]

#: The random stream of this family: phantom seed s draws from ``default_rng([STREAM, s])``.
STREAM = 4


def _vertices(rng, x0, y0, radius, count, spread, jitter):
    """``(count, 2)`` vertices around (x0, y0) at angles sorted around the circle."""
    base = np.sort(rng.uniform(0, 2 * np.pi, count)) if jitter is None else \
        (np.arange(count) + rng.uniform(-jitter, jitter, count)) * (2 * np.pi / count) + rng.uniform(0, 2 * np.pi)
    r = radius * rng.uniform(spread, 1.0, count)
    return np.stack([x0 + r * np.cos(base), y0 + r * np.sin(base)], axis=1)


def _bar(rng, x0, y0, n):
    length, width, phi = rng.uniform(0.1, 0.6) * n, rng.uniform(1.5, 8.0), rng.uniform(0, np.pi)
    d = np.array([math.cos(phi), math.sin(phi)])
    e = np.array([-d[1], d[0]])
    c = np.array([x0, y0])
    return np.stack([c + s * length / 2 * d + t * width / 2 * e for s, t in ((-1, -1), (1, -1), (1, 1), (-1, 1))])


def _draw(rng: np.random.Generator, cv: Canvas) -> None:
    n, h = cv.n, cv.radius
    shapes = []
    if rng.random() < 0.75:
        shapes.append((_vertices(rng, 0.0, 0.0, rng.uniform(0.75, 0.92) * h, int(rng.integers(5, 13)), 0.8, 0.3),
                       rng.uniform(0.1, 0.4)))
    for _ in range(int(rng.integers(4, 15))):
        r, t = 0.7 * h * math.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
        x0, y0 = r * math.cos(t), r * math.sin(t)
        kind = rng.choice(3, p=[0.4, 0.35, 0.25])
        size = rng.uniform(0.03, 0.25) * n
        if kind == 0:    # convex-ish: 3–7 vertices at random angles
            v = _vertices(rng, x0, y0, size, int(rng.integers(3, 8)), 0.7, None)
        elif kind == 1:  # star-shaped, non-convex: 5–12 vertices with radii 0.3–1 of the size
            v = _vertices(rng, x0, y0, size, int(rng.integers(5, 13)), 0.3, 0.35)
        else:            # a bar
            v = _bar(rng, x0, y0, n)
        shapes.append((v, rng.uniform(0.0, 1.0)))
    for v, value in shapes:  # parameters first, then painting: the grid does not change the draws
        lo, hi = v.min(axis=0), v.max(axis=0)
        w = cv.window((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (hi[0] - lo[0]) / 2, (hi[1] - lo[1]) / 2)
        cv.paint(w, polygon(w, v), value)


def random_polygons(count: int, size: int, *, seed: int = 0, oversample: int = 1) -> torch.Tensor:
    """Random polygon phantoms (family ``'polygons'``): piecewise constant, painted over each other.

    Parameters
    ----------
    count : int
        Number of phantoms M.
    size : int
        N, the side of the reconstruction grid in pixels (>= 8).
    seed : int
        Phantom i is drawn from ``np.random.default_rng([4, seed + i])``.
    oversample : int
        k; the polygons are rasterised at the centres of the k·N × k·N grid.

    Returns
    -------
    torch.Tensor, shape (M, k·N, k·N)
        float32 in [0, 1], zero outside the inscribed disc; ``block_mean(..., k)`` is the phantom on
        the N grid.

    Notes
    -----
    Lengths in pixels of the N grid. With probability 0.75 a body: a polygon of 5–12 vertices at
    radius 0.6–0.92·N/2 around the centre, intensity U(0.1, 0.4). Then 4–14 shapes with centres
    within 0.7·N/2 of the centre, each of size s ~ U(0.03, 0.25)·N and intensity U(0, 1), each
    covering what lies below (occlusion, not addition): convex-ish polygons (40%, 3–7 vertices at
    random angles, radii 0.7s–s), star-shaped non-convex polygons (35%, 5–12 vertices, radii
    0.3s–s) and bars (25%, length U(0.1, 0.6)·N, width U(1.5, 8) pixels, any orientation).
    Unlike the ellipses: straight edges, corners, and intensities that replace rather than add.
    """
    return render(_draw, STREAM, count, size, seed=seed, oversample=oversample)
