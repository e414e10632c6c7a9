"""Smooth backgrounds with small low-contrast inclusions (a detectability task)."""

from __future__ import annotations

import math

import numpy as np
import torch

from .raster import Canvas, ellipse, render, smooth_step, star

__all__ = ["low_contrast", "STREAM"]

#: The random stream of this family: phantom seed s draws from ``default_rng([STREAM, s])``.
STREAM = 5


def _draw(rng: np.random.Generator, cv: Canvas) -> None:
    n, h = cv.n, cv.radius
    a = rng.uniform(0.78, 0.95) * h
    b = a * rng.uniform(0.75, 1.0)
    phi = rng.uniform(0, np.pi)
    base = rng.uniform(0.3, 0.6)
    ramp = rng.uniform(-0.08, 0.08, 2)
    bumps = []
    for _ in range(int(rng.integers(3, 9))):
        r, t = 0.8 * b * math.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
        bumps.append((r * math.cos(t), r * math.sin(t), rng.uniform(0.08, 0.3) * n, rng.uniform(-0.12, 0.12)))
    inclusions = []
    for _ in range(int(rng.integers(4, 13))):
        r, t = 0.7 * b * math.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
        rad = rng.uniform(1.5, max(2.0, 0.06 * n))
        contrast = rng.choice([-1.0, 1.0]) * rng.uniform(0.02, 0.1)
        inclusions.append((r * math.cos(t), r * math.sin(t), rad, rng.uniform(0.6, 1.0), rng.uniform(0, np.pi),
                           contrast, rng.uniform(0.0, 2.0)))

    w = cv.window(0.0, 0.0, h)
    field = base + (ramp[0] * w.x + ramp[1] * w.y) / h
    for x0, y0, s, g in bumps:
        field = field + g * np.exp(-((w.x - x0) ** 2 + (w.y - y0) ** 2) / (2 * s * s))
    cv.paint(w, ellipse(w, 0.0, 0.0, a, b, phi), field)
    for x0, y0, rad, aspect, rot, contrast, edge in inclusions:
        wi = cv.window(x0, y0, rad + edge + 1)
        cv.add(wi, contrast * smooth_step(star(wi, x0, y0, rad, phi=rot, aspect=aspect), edge))


def low_contrast(count: int, size: int, *, seed: int = 0, oversample: int = 1) -> torch.Tensor:
    """Smooth backgrounds with low-contrast inclusions (family ``'low-contrast'``).

    Parameters
    ----------
    count : int
        Number of phantoms M.
    size : int
        N, the side of the reconstruction grid in pixels (>= 8).
    seed : int
        Phantom i is drawn from ``np.random.default_rng([5, seed + i])``.
    oversample : int
        k; rasterised at the centres of the k·N × k·N grid.

    Returns
    -------
    torch.Tensor, shape (M, k·N, k·N)
        float32 in [0, 1], zero outside the body; ``block_mean(..., k)`` is the phantom on the N grid.

    Notes
    -----
    Lengths in pixels of the N grid. The body is an ellipse with semi-axes a ~ U(0.78, 0.95)·N/2
    and b = a·U(0.75, 1), any rotation. Inside it a smooth field: a level U(0.3, 0.6), a linear ramp
    of at most ±0.08 per N/2 in x and y, and 3–8 Gaussian bumps (width σ ~ U(0.08, 0.3)·N, height
    U(−0.12, 0.12)). On it, 4–12 small elliptical inclusions: radius U(1.5, max(2, 0.06·N)),
    axis ratio U(0.6, 1), contrast ±U(0.02, 0.1) added to the background, and an edge ramp of
    U(0, 2) pixels (hard to soft); centres within 0.7·b of the centre. Most of the image's
    information lies in faint, small details rather than in strong edges.
    """
    return render(_draw, STREAM, count, size, seed=seed, oversample=oversample)
