"""Rasterisation shared by the phantom families: a fine grid with windowed painting, and shapes.

Coordinates are in pixels of the N×N reconstruction grid, origin at the image centre, x to the
right and y up; the image is the square ``[-N/2, N/2]²`` and every family is zero outside its
inscribed disc (radius N/2). A :class:`Canvas` samples the phantom at the centres of the k·N × k·N
fine grid (k = ``oversample``), so ``block_mean(image, k)`` is the phantom on the N grid with its
partial-volume edges, and the data can be projected from the fine grid (no inverse crime).

Everything is numpy float64 on the CPU (one thread, so an image does not depend on the machine's
thread count); objects smaller than the image are painted inside their bounding box only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

__all__ = ["Canvas", "Window", "block_mean", "render", "check_count_size", "check_oversample", "check_seed",
           "ellipse", "polygon", "star", "segment_distance", "smooth_step"]


def block_mean(images: torch.Tensor, factor: int) -> torch.Tensor:
    """Average ``factor``×``factor`` blocks: ``(M, kN, kN)`` → ``(M, N, N)``."""
    if factor == 1:
        return images
    m, n, n2 = images.shape
    if n % factor or n2 % factor:
        raise ValueError(f"image side {n} is not a multiple of the factor {factor}")
    return images.reshape(m, n // factor, factor, n2 // factor, factor).mean(dim=(2, 4))


def check_count_size(count: int, size: int) -> None:
    """``ValueError`` unless ``count`` >= 1 and ``size`` >= 8."""
    if int(count) < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if int(size) < 8:
        raise ValueError(f"size must be >= 8 pixels, got {size}")


def check_oversample(oversample) -> None:
    """``ValueError`` unless ``oversample`` is a positive integer."""
    if isinstance(oversample, bool) or not isinstance(oversample, (int, np.integer)) or oversample < 1:
        raise ValueError(f"oversample must be a positive integer, got {oversample!r}")


def check_seed(seed) -> None:
    """``ValueError`` unless ``seed`` is an integer >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")


@dataclass(frozen=True)
class Window:
    """A rectangle of the fine grid: ``rows``, ``cols`` slices and the coordinates of its pixel
    centres, ``x`` ``(1, w)`` and ``y`` ``(h, 1)`` (pixels of the N grid), broadcastable."""

    rows: slice
    cols: slice
    x: np.ndarray
    y: np.ndarray

    @property
    def empty(self) -> bool:
        return self.x.size == 0 or self.y.size == 0


class Canvas:
    """The k·N × k·N fine grid of one phantom, painted object by object.

    Parameters
    ----------
    size : int
        N, the side of the reconstruction grid.
    oversample : int
        k; the canvas has (k·N)² pixels.
    """

    def __init__(self, size: int, oversample: int):
        self.n, self.k = int(size), int(oversample)
        m = self.n * self.k
        c = (np.arange(m) + 0.5) / self.k - self.n / 2.0
        self.xs, self.ys = c, -c  # column centres left to right; row centres top (y = N/2) to bottom
        self.image = np.zeros((m, m))

    @property
    def radius(self) -> float:
        """N/2, the radius of the inscribed disc outside which the phantom is zero."""
        return self.n / 2.0

    def window(self, x0: float, y0: float, rx: float, ry: float | None = None) -> Window:
        """The fine pixels whose centres lie in ``[x0 − rx, x0 + rx] × [y0 − ry, y0 + ry]``, clipped to the image
        (a few more at the border of the box)."""
        ry = rx if ry is None else ry
        k, h, m = self.k, self.n / 2.0, self.xs.size
        c0 = max(0, math.floor((x0 - rx + h) * k - 0.5))
        c1 = min(m, math.ceil((x0 + rx + h) * k + 0.5))
        r0 = max(0, math.floor((h - y0 - ry) * k - 0.5))
        r1 = min(m, math.ceil((h - y0 + ry) * k + 0.5))
        c1, r1 = max(c0, c1), max(r0, r1)
        return Window(slice(r0, r1), slice(c0, c1), self.xs[c0:c1][None, :], self.ys[r0:r1][:, None])

    def full(self) -> Window:
        """The whole canvas."""
        return Window(slice(None), slice(None), self.xs[None, :], self.ys[:, None])

    def view(self, w: Window) -> np.ndarray:
        """The canvas pixels of ``w`` (a view: writing it paints the canvas)."""
        return self.image[w.rows, w.cols]

    def paint(self, w: Window, weight: np.ndarray, value) -> None:
        """Cover the window with ``value`` where ``weight`` is 1, blend where it is in (0, 1)
        (occlusion: ``img ← (1 − weight)·img + weight·value``)."""
        if w.empty:
            return
        v = self.view(w)
        v += np.asarray(weight, dtype=np.float64) * (value - v)

    def add(self, w: Window, field) -> None:
        """Add ``field`` (broadcastable to the window) to the canvas."""
        if not w.empty:
            self.view(w)[...] += field

    def maximum(self, w: Window, field) -> None:
        """Keep the larger of the canvas and ``field`` (for overlapping bright structures)."""
        if not w.empty:
            v = self.view(w)
            np.maximum(v, field, out=v)

    def finish(self) -> np.ndarray:
        """The phantom: clipped to [0, 1], zero outside the inscribed disc, float32 ``(kN, kN)``."""
        img = np.clip(self.image, 0.0, 1.0)
        outside = self.xs[None, :] ** 2 + self.ys[:, None] ** 2 > self.radius ** 2
        img[outside] = 0.0
        return img.astype(np.float32)


def render(draw: Callable[[np.random.Generator, Canvas], None], stream: int, count: int, size: int, *, seed: int,
           oversample: int) -> torch.Tensor:
    """``(count, k·size, k·size)`` float32 phantoms: phantom i is ``draw(rng, canvas)`` with
    ``rng = np.random.default_rng([stream, seed + i])`` on a fresh :class:`Canvas`.

    Phantom i depends on ``seed + i`` only (not on ``count``), and its parameters do not depend on
    ``oversample`` (``draw`` draws them before it paints), so every grid shows the same object.
    """
    check_count_size(count, size)
    check_oversample(oversample)
    check_seed(seed)
    m = int(size) * int(oversample)
    out = np.empty((int(count), m, m), dtype=np.float32)
    for i in range(int(count)):
        canvas = Canvas(size, oversample)
        draw(np.random.default_rng([int(stream), int(seed) + i]), canvas)
        out[i] = canvas.finish()
    return torch.from_numpy(out)


# --------------------------------------------------------------------------- shapes
def _local(x, y, x0, y0, phi):
    c, s = math.cos(phi), math.sin(phi)
    dx, dy = x - x0, y - y0
    return dx * c + dy * s, -dx * s + dy * c


def ellipse(w: Window, x0: float, y0: float, a: float, b: float, phi: float = 0.0) -> np.ndarray:
    """Indicator ``(h, w)`` of the ellipse with centre (x0, y0), semi-axes a, b, rotated by phi (radians)."""
    u, v = _local(w.x, w.y, x0, y0, phi)
    return ((u / a) ** 2 + (v / b) ** 2 <= 1.0).astype(np.float64)


def polygon(w: Window, vertices: np.ndarray) -> np.ndarray:
    """Indicator ``(h, w)`` of a simple polygon (even–odd rule), ``vertices`` ``(V, 2)`` of (x, y)."""
    x, y = w.x, w.y
    inside = np.zeros(np.broadcast_shapes(x.shape, y.shape), dtype=bool)
    vx, vy = vertices[:, 0], vertices[:, 1]
    for i in range(len(vertices)):
        j = i - 1
        xi, yi, xj, yj = vx[i], vy[i], vx[j], vy[j]
        if yi == yj:
            continue
        crosses = (yi > y) != (yj > y)
        xc = xi + (y - yi) * ((xj - xi) / (yj - yi))
        inside ^= crosses & (x < xc)
    return inside.astype(np.float64)


def star(w: Window, x0: float, y0: float, r0: float, amps=(), phases=(), *, phi: float = 0.0,
         aspect: float = 1.0) -> np.ndarray:
    """Depth ``(h, w)`` into a star-shaped region, in pixels (> 0 inside, < 0 outside).

    The boundary is ``r(θ) = r0·(1 + Σ_m amps[m−2]·cos(mθ + phases[m−2]))``, m = 2, 3, ...,
    in a frame rotated by phi and squeezed by ``aspect`` (≤ 1) along its y axis. The depth is
    ``(r(θ) − ρ)·aspect``, about the distance to the boundary where the outline is smooth.
    Angles enter only through cos θ = u/ρ and sin θ = v/ρ (Chebyshev recurrences).
    """
    u, v = _local(w.x, w.y, x0, y0, phi)
    v = v / aspect
    rho = np.sqrt(u * u + v * v)
    safe = np.where(rho > 0, rho, 1.0)
    c1, s1 = np.where(rho > 0, u / safe, 1.0), np.where(rho > 0, v / safe, 0.0)
    r = np.ones_like(rho)
    cm, sm = c1, s1  # cos(mθ), sin(mθ) for m = 1
    for m, (a, p) in enumerate(zip(amps, phases), start=2):
        cm, sm = cm * c1 - sm * s1, sm * c1 + cm * s1
        r = r + a * (cm * math.cos(p) - sm * math.sin(p))
    return (r0 * r - rho) * aspect


def segment_distance(w: Window, p: tuple[float, float], q: tuple[float, float]) -> np.ndarray:
    """Distance ``(h, w)`` of each pixel centre to the segment from p to q (pixels)."""
    px, py = p
    dx, dy = q[0] - px, q[1] - py
    ll = dx * dx + dy * dy
    ax, ay = w.x - px, w.y - py
    t = np.clip((ax * dx + ay * dy) / ll, 0.0, 1.0) if ll > 0 else np.zeros(np.broadcast_shapes(ax.shape, ay.shape))
    ex, ey = ax - t * dx, ay - t * dy
    return np.sqrt(ex * ex + ey * ey)


def smooth_step(depth: np.ndarray, width: float) -> np.ndarray:
    """Edge profile from a depth (pixels, > 0 inside): 1 inside, 0 outside, a linear ramp of
    ``width`` pixels across the boundary (a hard edge for width 0)."""
    if width <= 0:
        return (depth >= 0).astype(np.float64)
    return np.clip(depth / width + 0.5, 0.0, 1.0)
