"""Where in Fourier space an error lives: its energy by frequency direction, and the missing wedge.

Convention (the one of :mod:`ltl.shearlets.visibility`, measured from ASTRA): the frequency
direction φ ∈ [0, π) of an array frequency ``(m_row, m_col)`` is ``atan2(−m_row, m_col) mod π``
(x = column to the right, y = −row upwards), and a view at angle θ measures the direction
θ mod π. A direction is measured when it lies within half an angular step of a view angle; the
others form the missing wedge, which no data constrain (Fourier slice theorem).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ..geometry import Geometry

__all__ = ["angular_energy", "missing_wedge_fraction", "measured_intervals", "save_angular_figure"]


def _images(x: torch.Tensor, what: str = "images") -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim not in (2, 3) or x.shape[-1] != x.shape[-2]:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{what} must be a tensor (N, N) or (B, N, N), got {shape}")
    return (x[None] if x.ndim == 2 else x).detach().to("cpu", torch.float64)


def _power(x: torch.Tensor) -> torch.Tensor:
    """``|DFT|² / N²`` per frequency ``(B, N, N)``; sums to ``Σ x²`` (Parseval)."""
    n = x.shape[-1]
    return torch.fft.fft2(x).abs().square() / (n * n)


def _directions(n: int) -> np.ndarray:
    from ..shearlets import frequency_directions

    return frequency_directions(n, full=True)


def angular_energy(images: torch.Tensor, bins: int = 90) -> tuple[np.ndarray, torch.Tensor]:
    """Energy of each image's 2D DFT by frequency direction, in ``bins`` equal bins over [0°, 180°).

    Parameters
    ----------
    images : torch.Tensor, shape (N, N) or (B, N, N)
        E.g. error images ``reconstruction − truth``.
    bins : int
        Number of direction bins (default 90, i.e. 2° each).

    Returns
    -------
    centres : numpy.ndarray, shape (bins,)
        Bin centres in degrees.
    energy : torch.Tensor, shape (B, bins), float64 on the CPU
        ``Σ |DFT(x)(ξ)|² / N²`` over the frequencies ξ ≠ 0 whose direction falls in the bin; with
        the DC term ``mean(x)²·N²`` the bins sum to ``‖x‖²`` (Parseval).
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    x = _images(images)
    n = x.shape[-1]
    p = _power(x).reshape(x.shape[0], -1)
    phi = _directions(n).reshape(-1)
    idx = np.minimum((phi / (math.pi / bins)).astype(np.int64), bins - 1)
    keep = np.ones(n * n, dtype=bool)
    keep[0] = False  # DC: no direction
    sel = torch.from_numpy(np.flatnonzero(keep))
    out = torch.zeros(x.shape[0], bins, dtype=torch.float64)
    out.index_add_(1, torch.from_numpy(idx[keep]), p[:, sel])
    centres = (np.arange(bins) + 0.5) * (180.0 / bins)
    return centres, out


def missing_wedge_fraction(images: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """Share of each image's energy (DC excluded) at frequency directions the scan does not measure.

    Parameters
    ----------
    images : torch.Tensor, shape (N, N) or (B, N, N)
    geometry : Geometry
        Same N.

    Returns
    -------
    torch.Tensor, shape (B,), float64 on the CPU, in [0, 1] (0 for an image without energy).
    """
    from ..shearlets import measured_direction_mask

    x = _images(images)
    n = x.shape[-1]
    if n != geometry.image_size:
        raise ValueError(f"images are {n}×{n} but the geometry has N={geometry.image_size}")
    p = _power(x).reshape(x.shape[0], -1)
    unseen = ~measured_direction_mask(_directions(n), geometry).reshape(-1)
    unseen[0] = False
    p = p.clone()
    p[:, 0] = 0.0
    total = p.sum(1)
    wedge = p[:, torch.from_numpy(np.flatnonzero(unseen))].sum(1)
    return torch.where(total > 0, wedge / torch.where(total > 0, total, torch.ones_like(total)), torch.zeros_like(total))


def measured_intervals(geometry: Geometry, resolution_deg: float = 0.05) -> list[tuple[float, float]]:
    """The measured frequency directions as intervals ``[start, stop]`` in degrees within [0, 180]."""
    from ..shearlets import measured_direction_mask

    grid = np.arange(0.0, 180.0 + resolution_deg / 2, resolution_deg)
    seen = measured_direction_mask(np.deg2rad(grid), geometry)
    out, start = [], None
    for g, s in zip(grid, seen):
        if s and start is None:
            start = g
        if not s and start is not None:
            out.append((float(start), float(g - resolution_deg)))
            start = None
    if start is not None:
        out.append((float(start), float(grid[-1])))
    return out


def save_angular_figure(path: str | Path, centres: np.ndarray, curves: dict, geometry: Geometry, *,
                        ylabel: str = "error energy / ‖truth‖² per degree", title: str | None = None,
                        dpi: int = 110, replace: bool = True) -> Path:
    """Plot energy against frequency direction (0–180°) per method, with the missing wedge shaded.

    Parameters
    ----------
    path : str or Path
        PNG to write (atomically).
    centres : array (bins,)
        Bin centres in degrees (equal bins over [0°, 180°), as :func:`angular_energy` returns).
    curves : dict of str → array (bins,)
        Energy per bin by method (plotted per degree, on a log scale).
    geometry : Geometry
        Its measured directions are marked; the rest, the missing wedge, is shaded.
    replace : bool
        Replace an existing file (a link is replaced, not written through); False refuses with
        ``FileExistsError``.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..runtime.files import atomic_write

    centres = np.asarray(centres, dtype=np.float64)
    width = 180.0 / len(centres)
    fig, ax = plt.subplots(figsize=(8.0, 4.2))
    unseen_label = "missing wedge (directions not measured)"
    seen = measured_intervals(geometry)
    edges = [0.0] + [v for iv in seen for v in iv] + [180.0]
    for a, b in zip(edges[::2], edges[1::2]):
        if b > a + 1e-9:
            ax.axvspan(a, b, color="0.85", zorder=0, label=unseen_label)
            unseen_label = None
    for a, b in seen:
        for v in (a, b):
            if 0.0 < v < 180.0:
                ax.axvline(v, color="0.4", lw=0.8, ls=":", zorder=1)
    floor = None
    for name, e in curves.items():
        e = np.asarray(e, dtype=np.float64) / width
        pos = e[e > 0]
        if pos.size:
            floor = pos.min() if floor is None else min(floor, pos.min())
        ax.plot(centres, np.where(e > 0, e, np.nan), lw=1.4, label=name, zorder=2)
    ax.set_yscale("log")
    if floor is not None:
        ax.set_ylim(bottom=floor / 2)
    ax.set_xlim(0, 180)
    ax.set_xticks(np.arange(0, 181, 30))
    ax.set_xlabel("frequency direction φ (degrees; a view at angle θ measures φ = θ mod 180°)")
    ax.set_ylabel(ylabel)
    ranges = ", ".join(f"{a:.1f}–{b:.1f}°" for a, b in seen)
    ax.set_title(title or f"Error energy by frequency direction; measured: {ranges}", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return atomic_write(path, lambda f: f.write(buf.getvalue()), suffix=".png", replace=replace)
