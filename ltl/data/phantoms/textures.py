"""Fine textures: regions of gratings, checkerboards, dot lattices, rings and band-limited noise."""

from __future__ import annotations

import math

import numpy as np
import torch

from .raster import Canvas, ellipse, render

__all__ = ["random_textures", "STREAM", "KINDS"]

#: The random stream of this family: phantom seed s draws from ``default_rng([STREAM, s])``.
STREAM = 7
#: The texture kinds, drawn with equal probability per region.
KINDS = ("grating", "checkerboard", "dots", "rings", "noise")


def _params(rng, kind: str, h: float) -> dict:
    p = {"angle": rng.uniform(0, np.pi), "phase": rng.uniform(0, 2 * np.pi)}
    if kind == "grating":
        p["period"] = rng.uniform(2.5, 10.0)
    elif kind == "checkerboard":
        p["cell"] = rng.uniform(2.0, 8.0)
    elif kind == "dots":
        p["spacing"] = rng.uniform(3.0, 10.0)
        p["radius"] = rng.uniform(0.25, 0.4) * p["spacing"]
    elif kind == "rings":
        p["period"] = rng.uniform(3.0, 10.0)
        p["centre"] = rng.uniform(-0.5, 0.5, 2) * h
    else:
        m = 24
        p["freq"] = rng.uniform(1 / 10, 1 / 3, m)
        p["dirs"] = rng.uniform(0, np.pi, m)
        p["phases"] = rng.uniform(0, 2 * np.pi, m)
    return p


def _texture(x: np.ndarray, y: np.ndarray, kind: str, p: dict) -> np.ndarray:
    """The texture in [−1, 1] at the points (x, y) (pixels of the N grid)."""
    c, s = math.cos(p["angle"]), math.sin(p["angle"])
    u, v = x * c + y * s, -x * s + y * c
    if kind == "grating":
        return np.cos(2 * np.pi * u / p["period"] + p["phase"])
    if kind == "checkerboard":
        cu, cv = np.floor(u / p["cell"]), np.floor(v / p["cell"])
        return 1.0 - 2.0 * np.mod(cu + cv, 2.0)
    if kind == "dots":
        sp = p["spacing"]
        du, dv = u - sp * np.round(u / sp), v - sp * np.round(v / sp)
        return np.where(du * du + dv * dv <= p["radius"] ** 2, 1.0, -1.0)
    if kind == "rings":
        x0, y0 = p["centre"]
        return np.cos(2 * np.pi * np.sqrt((x - x0) ** 2 + (y - y0) ** 2) / p["period"] + p["phase"])
    out = np.zeros(np.broadcast_shapes(x.shape, y.shape))
    for f, d, ph in zip(p["freq"], p["dirs"], p["phases"]):
        out += np.cos(2 * np.pi * f * (x * math.cos(d) + y * math.sin(d)) + ph)
    return np.clip(out / math.sqrt(len(p["freq"]) / 2) / 2, -1.0, 1.0)


def _draw(rng: np.random.Generator, cv: Canvas) -> None:
    h = cv.radius
    a = rng.uniform(0.8, 0.95) * h
    b = a * rng.uniform(0.8, 1.0)
    phi = rng.uniform(0, np.pi)
    regions = []
    for _ in range(int(rng.integers(2, 7))):
        r, t = 0.7 * b * math.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
        kind = KINDS[int(rng.integers(len(KINDS)))]
        regions.append((r * math.cos(t), r * math.sin(t), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.25), kind,
                        _params(rng, kind, h)))

    w = cv.window(0.0, 0.0, h)
    nearest = np.full(np.broadcast_shapes(w.x.shape, w.y.shape), np.inf)
    label = np.zeros(nearest.shape, dtype=np.int64)
    for i, (x0, y0, *_rest) in enumerate(regions):  # Voronoi cells of the region centres
        d = (w.x - x0) ** 2 + (w.y - y0) ** 2
        closer = d < nearest
        nearest = np.where(closer, d, nearest)
        label[closer] = i
    img = np.zeros(nearest.shape)
    xs, ys = np.broadcast_to(w.x, img.shape), np.broadcast_to(w.y, img.shape)
    for i, (_x, _y, base, amp, kind, p) in enumerate(regions):
        cell = label == i  # each texture is computed on its own cell's pixels only
        img[cell] = base + amp * _texture(xs[cell], ys[cell], kind, p)
    cv.paint(w, ellipse(w, 0.0, 0.0, a, b, phi), img)


def random_textures(count: int, size: int, *, seed: int = 0, oversample: int = 1) -> torch.Tensor:
    """Regions of fine textures (family ``'textures'``).

    Parameters
    ----------
    count : int
        Number of phantoms M.
    size : int
        N, the side of the reconstruction grid in pixels (>= 8).
    seed : int
        Phantom i is drawn from ``np.random.default_rng([7, seed + i])``.
    oversample : int
        k; rasterised at the centres of the k·N × k·N grid.

    Returns
    -------
    torch.Tensor, shape (M, k·N, k·N)
        float32 in [0, 1], zero outside the body; ``block_mean(..., k)`` is the phantom on the N grid.

    Notes
    -----
    Lengths in pixels of the N grid. The body is an ellipse with semi-axes a ~ U(0.8, 0.95)·N/2
    and b = a·U(0.8, 1), any rotation, cut into the Voronoi cells of 2–6 centres (within 0.7·b of
    the image centre). Each cell holds level U(0.2, 0.8) plus amplitude U(0.05, 0.25) times a
    texture in [−1, 1] of one of :data:`KINDS`, any orientation: a sinusoidal grating of period
    U(2.5, 10) pixels; a checkerboard of cells U(2, 8) pixels; a lattice of dots with spacing
    U(3, 10) pixels and radius 0.25–0.4 of it; concentric rings of period U(3, 10) pixels around a
    point within N/4 of the centre; band-limited noise, the sum of 24 plane waves with
    frequencies U(0.1, 0.33) cycles per pixel. Oriented detail near the pixel scale, with edges
    between regions but little contrast at large scales.
    """
    return render(_draw, STREAM, count, size, seed=seed, oversample=oversample)
