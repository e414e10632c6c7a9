"""Thin lines and branching vessels, one to a few pixels wide, on a faint background."""

from __future__ import annotations

import math

import numpy as np
import torch

from .raster import Canvas, render, segment_distance, smooth_step

__all__ = ["random_vessels", "STREAM"]

#: The random stream of this family: phantom seed s draws from ``default_rng([STREAM, s])``.
STREAM = 6
#: At most this many vessel segments per phantom.
MAX_SEGMENTS = 400


def _tree(rng, n, body, segments):
    """Append the segments ``(p, q, width, value)`` of one branching vessel tree."""
    t = rng.uniform(0, 2 * np.pi)
    r = rng.uniform(0.5, 0.9) * body
    direction = t + np.pi + rng.uniform(-0.6, 0.6)  # roughly towards the centre
    value = rng.uniform(0.5, 1.0)
    stack = [(r * math.cos(t), r * math.sin(t), direction, rng.uniform(1.5, 5.0), int(rng.integers(20, 61)))]
    while stack and len(segments) < MAX_SEGMENTS:
        x, y, d, width, steps = stack.pop()
        for _ in range(steps):
            if len(segments) >= MAX_SEGMENTS:
                break
            d += rng.normal(0.0, 0.25)
            step = rng.uniform(0.015, 0.04) * n
            qx, qy = x + step * math.cos(d), y + step * math.sin(d)
            if qx * qx + qy * qy > body * body:
                break
            segments.append(((x, y), (qx, qy), width, value))
            x, y = qx, qy
            width = max(0.6, width * rng.uniform(0.93, 0.99))
            if width > 1.0 and rng.random() < 0.1:
                side = rng.choice([-1.0, 1.0])
                stack.append((x, y, d + side * rng.uniform(0.4, 1.0), 0.7 * width, int(rng.integers(8, 31))))


def _draw(rng: np.random.Generator, cv: Canvas) -> None:
    n, h = cv.n, cv.radius
    body = rng.uniform(0.85, 0.95) * h
    level = rng.uniform(0.05, 0.25)
    bumps = [(rng.uniform(-0.5, 0.5) * h, rng.uniform(-0.5, 0.5) * h, rng.uniform(0.15, 0.3) * n,
              rng.uniform(-0.05, 0.05)) for _ in range(int(rng.integers(2, 4)))]
    segments: list = []
    for _ in range(int(rng.integers(2, 6))):
        _tree(rng, n, body, segments)
    for _ in range(int(rng.integers(0, 6))):  # thin straight wires
        length, t = rng.uniform(0.2, 0.8) * n, rng.uniform(0, np.pi)
        r, s = 0.6 * body * math.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
        cx, cy = r * math.cos(s), r * math.sin(s)
        dx, dy = length / 2 * math.cos(t), length / 2 * math.sin(t)
        segments.append(((cx - dx, cy - dy), (cx + dx, cy + dy), rng.uniform(0.5, 1.5), rng.uniform(0.3, 0.9)))

    w = cv.window(0.0, 0.0, h)
    field = np.full((1, 1), level)
    for x0, y0, s, g in bumps:
        field = field + g * np.exp(-((w.x - x0) ** 2 + (w.y - y0) ** 2) / (2 * s * s))
    cv.paint(w, (w.x ** 2 + w.y ** 2 <= body * body).astype(np.float64), field)
    for p, q, width, value in segments:
        pad = width / 2 + 1
        ws = cv.window((p[0] + q[0]) / 2, (p[1] + q[1]) / 2, abs(q[0] - p[0]) / 2 + pad, abs(q[1] - p[1]) / 2 + pad)
        cv.maximum(ws, value * smooth_step(width / 2 - segment_distance(ws, p, q), 0.0))


def random_vessels(count: int, size: int, *, seed: int = 0, oversample: int = 1) -> torch.Tensor:
    """Branching vessels and thin straight lines (family ``'vessels'``).

    Parameters
    ----------
    count : int
        Number of phantoms M.
    size : int
        N, the side of the reconstruction grid in pixels (>= 8).
    seed : int
        Phantom i is drawn from ``np.random.default_rng([6, seed + i])``.
    oversample : int
        k; rasterised at the centres of the k·N × k·N grid (a 1-pixel line covers k fine pixels,
        so its block mean on the N grid shows partial-volume values).

    Returns
    -------
    torch.Tensor, shape (M, k·N, k·N)
        float32 in [0, 1], zero outside the inscribed disc; ``block_mean(..., k)`` is the phantom on
        the N grid.

    Notes
    -----
    Lengths in pixels of the N grid. Background: a disc of radius U(0.85, 0.95)·N/2 at level
    U(0.05, 0.25) with 2–3 Gaussian bumps (σ ~ U(0.15, 0.3)·N, height ±0.05). 2–5 vessel trees,
    each a random walk from a point at 0.5–0.9 of the disc radius heading roughly inwards: 20–60
    straight steps of U(0.015, 0.04)·N pixels, the direction turning by N(0, 0.25 rad) per step;
    width (the tube's diameter) starting at U(1.5, 5) pixels and shrinking by U(0.93, 0.99) per
    step to at least 0.6 pixels; a branch (70% of the width, turned by ±U(0.4, 1) rad, 8–30
    steps) with probability 0.1 per step while wider than 1 pixel; one intensity U(0.5, 1) per tree;
    at most 400 segments in all. Then 0–5 straight wires, length U(0.2, 0.8)·N, width U(0.5, 1.5)
    pixels, intensity U(0.3, 0.9). Overlaps keep the brighter value. Structures at and below the
    pixel size, in every direction (also those the missing wedge hides).
    """
    return render(_draw, STREAM, count, size, seed=seed, oversample=oversample)
