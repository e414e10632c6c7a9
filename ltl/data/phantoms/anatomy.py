"""Anatomy-like compositions: a body outline with fat, organs, lungs, bones with a rim, small lesions."""

from __future__ import annotations

import math

import numpy as np
import torch

from .raster import Canvas, Window, render, smooth_step, star

__all__ = ["random_anatomy", "STREAM"]

#: The random stream of this family: phantom seed s draws from ``default_rng([STREAM, s])``.
STREAM = 8


def _blob(rng, x0, y0, r0, wobble, orders=3):
    return {"x0": x0, "y0": y0, "r0": r0, "amps": rng.uniform(-wobble, wobble, orders),
            "phases": rng.uniform(0, 2 * np.pi, orders), "phi": rng.uniform(0, np.pi)}


def _depth_at(shape: dict, x: float, y: float, aspect: float = 1.0) -> float:
    """The depth of one point in a star-shaped region."""
    pt = Window(slice(0, 1), slice(0, 1), np.array([[x]]), np.array([[y]]))
    return float(star(pt, shape["x0"], shape["y0"], shape["r0"], shape["amps"], shape["phases"], phi=shape["phi"],
                      aspect=aspect)[0, 0])


def _paint_star(cv: Canvas, s: dict, value, *, aspect=1.0, rim: float = 0.0, rim_value=None, edge: float = 0.0,
                add: bool = False) -> None:
    reach = s["r0"] * (1 + float(np.abs(s["amps"]).sum())) + edge + 1
    w = cv.window(s["x0"], s["y0"], reach)
    d = star(w, s["x0"], s["y0"], s["r0"], s["amps"], s["phases"], phi=s["phi"], aspect=aspect)
    inside = smooth_step(d, edge)
    if add:
        cv.add(w, value * inside)
        return
    cv.paint(w, inside, value)
    if rim > 0:  # a bright cortex of thickness `rim` inside the outline, the marrow inside it
        cv.paint(w, inside * (1.0 - smooth_step(d - rim, 0.0)), rim_value)


def _draw(rng: np.random.Generator, cv: Canvas) -> None:
    n, h = cv.n, cv.radius
    body = _blob(rng, 0.0, 0.0, rng.uniform(0.8, 0.93) * h, 0.04, 4)
    body["phi"] = rng.uniform(-0.15, 0.15)
    aspect = rng.uniform(0.62, 0.85)
    r0 = body["r0"]
    fat, muscle, fat_width = rng.uniform(0.12, 0.2), rng.uniform(0.22, 0.32), rng.uniform(0.02, 0.06) * n

    def inside(margin):  # a point at least `margin` pixels inside the body
        while True:
            x, y = rng.uniform(-r0, r0), rng.uniform(-r0, r0) * aspect
            if _depth_at(body, x, y, aspect) > margin:
                return x, y

    organs = []
    for _ in range(int(rng.integers(2, 6))):
        x, y = inside(0.15 * r0)
        organs.append((_blob(rng, x, y, rng.uniform(0.1, 0.28) * r0 * aspect, 0.15), rng.uniform(0.3, 0.45)))
    lungs, dots = [], []
    if rng.random() < 0.5:
        y = rng.uniform(-0.05, 0.2) * r0 * aspect
        for side in (-1.0, 1.0):
            lungs.append((_blob(rng, side * rng.uniform(0.28, 0.4) * r0, y, rng.uniform(0.18, 0.26) * r0, 0.1),
                          rng.uniform(0.02, 0.08)))
        for _ in range(int(rng.integers(5, 16))):
            lung = lungs[int(rng.integers(2))][0]
            t, rr = rng.uniform(0, 2 * np.pi), 0.7 * lung["r0"] * math.sqrt(rng.uniform())
            dots.append((_blob(rng, lung["x0"] + rr * math.cos(t), lung["y0"] + rr * math.sin(t),
                               rng.uniform(0.6, 2.0), 0.0), rng.uniform(0.25, 0.35)))
    spine = _blob(rng, rng.uniform(-0.03, 0.03) * r0, -rng.uniform(0.5, 0.62) * r0 * aspect,
                  rng.uniform(0.06, 0.1) * r0, 0.05)
    spine_rim, cortex, marrow = rng.uniform(1.5, 4.0), rng.uniform(0.85, 1.0), rng.uniform(0.4, 0.55)
    ribs = []
    if rng.random() < 0.6:
        for t in np.linspace(0, 2 * np.pi, int(rng.integers(6, 15)), endpoint=False) + rng.uniform(0, np.pi):
            rr = 0.84 * r0
            rib = _blob(rng, rr * math.cos(t), rr * math.sin(t) * aspect, rng.uniform(2.0, 5.0), 0.0)
            ribs.append((rib, rng.uniform(0.4, 0.7), rng.uniform(1.0, 2.0), rng.uniform(0.8, 1.0),
                         rng.uniform(0.4, 0.55)))
    lesions = []
    for _ in range(int(rng.integers(1, 7))):
        x, y = inside(min(8.0, 0.25 * r0 * aspect))
        contrast = rng.choice([-1.0, 1.0]) * rng.uniform(0.05, 0.2)
        lesions.append((_blob(rng, x, y, rng.uniform(1.5, 6.0), 0.1), contrast, rng.uniform(0.0, 1.5)))

    _paint_star(cv, body, fat, aspect=aspect)
    inner = dict(body, r0=r0 - fat_width / aspect)
    _paint_star(cv, inner, muscle, aspect=aspect)
    for s, v in organs:
        _paint_star(cv, s, v, edge=1.0)
    for s, v in lungs:
        _paint_star(cv, s, v, edge=1.0)
    for s, v in dots:
        _paint_star(cv, s, v)
    _paint_star(cv, spine, marrow, rim=spine_rim, rim_value=cortex)
    for rib, squeeze, rim, c, m in ribs:
        _paint_star(cv, rib, m, aspect=squeeze, rim=rim, rim_value=c)
    for s, contrast, edge in lesions:
        _paint_star(cv, s, contrast, edge=edge, add=True)


def random_anatomy(count: int, size: int, *, seed: int = 0, oversample: int = 1) -> torch.Tensor:
    """Anatomy-like body sections (family ``'anatomy'``).

    Parameters
    ----------
    count : int
        Number of phantoms M.
    size : int
        N, the side of the reconstruction grid in pixels (>= 8).
    seed : int
        Phantom i is drawn from ``np.random.default_rng([8, seed + i])``.
    oversample : int
        k; rasterised at the centres of the k·N × k·N grid.

    Returns
    -------
    torch.Tensor, shape (M, k·N, k·N)
        float32 in [0, 1], zero outside the body; ``block_mean(..., k)`` is the phantom on the N grid.

    Notes
    -----
    Lengths in pixels of the N grid; outlines are star-shaped, r(θ) = r0·(1 + Σ a_m cos(mθ + φ_m)).
    Body: r0 ~ U(0.8, 0.93)·N/2, 4 harmonics |a_m| < 0.04, squeezed vertically by U(0.62, 0.85)
    and tilted by up to ±0.15 rad; a fat layer of U(0.02, 0.06)·N pixels at U(0.12, 0.2) around
    soft tissue at U(0.22, 0.32). 2–5 organs (r0 ~ U(0.1, 0.28) of the body's minor radius,
    |a_m| < 0.15, intensity U(0.3, 0.45), 1-pixel soft edge). With probability 0.5 two lungs
    (r0 ~ U(0.18, 0.26)·r0_body, intensity U(0.02, 0.08)) with 5–15 vessel dots of radius
    U(0.6, 2) pixels at U(0.25, 0.35). A vertebra behind the centre (radius U(0.06, 0.1)·r0_body):
    cortex U(0.85, 1) of thickness U(1.5, 4) pixels around marrow U(0.4, 0.55). With probability
    0.6, 6–14 ribs along 0.84 of the outline: ellipses of U(2, 5) pixels with axis ratio
    U(0.4, 0.7), a cortex of U(1, 2) pixels. 1–6 lesions at least 8 pixels (at most a quarter of the
    minor radius) inside the body: radius U(1.5, 6) pixels, contrast ±U(0.05, 0.2) added, edge ramp U(0, 1.5) pixels.
    """
    return render(_draw, STREAM, count, size, seed=seed, oversample=oversample)
