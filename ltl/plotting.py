"""Figures: side-by-side montages of reconstructions and their error maps, with the scan's measured
and missing directions marked (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["save_montage", "save_comparison", "save_figure", "draw_directions", "measured_directions"]

#: Colours of measured and missing frequency directions in :func:`draw_directions`.
MEASURED_COLOUR, MISSING_COLOUR = "tab:blue", "tab:red"


def _np(t) -> np.ndarray:
    return t.detach().cpu().float().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float32)


def measured_directions(geometry) -> list[tuple[float, float]]:
    """The frequency directions a scan measures, as arcs ``(start, end)`` in degrees within
    [0°, 180°): a view at angle θ measures the direction θ mod 180° (Fourier slice theorem; x to the
    right, y up, the convention of :mod:`ltl.shearlets.visibility`), widened by half the angular step
    on each side. The directions outside the arcs form the missing wedge."""
    theta = np.sort(np.mod(np.degrees(np.asarray(geometry.angles, dtype=np.float64)), 180.0))
    step = float(np.median(np.diff(theta))) if theta.size > 1 else 1.0
    arcs: list[list[float]] = []
    for t in theta:
        a, b = t - step / 2, t + step / 2
        if arcs and a <= arcs[-1][1] + 1e-9:
            arcs[-1][1] = max(arcs[-1][1], b)
        else:
            arcs.append([a, b])
    return [(float(a), float(b)) for a, b in arcs]


def draw_directions(ax, geometry, *, label: bool = True) -> None:
    """Draw on ``ax`` a disc of frequency directions: measured ones (:func:`measured_directions`, both
    ends of each) in blue, the missing wedge in red, with a caption below when ``label``."""
    from matplotlib.patches import Wedge

    ax.add_patch(Wedge((0, 0), 1, 0, 360, color=MISSING_COLOUR, alpha=0.75, lw=0))
    for a, b in measured_directions(geometry):
        for turn in (0.0, 180.0):
            ax.add_patch(Wedge((0, 0), 1, a + turn, b + turn, color=MEASURED_COLOUR, lw=0))
    ax.set_xlim(-1.1, 1.1)
    ax.set_ylim(-1.1, 1.1)
    ax.set_aspect("equal")
    ax.axis("off")
    if label:
        ax.set_title("Fourier directions:\nblue measured, red missing wedge", fontsize=7)


def save_montage(path: str | Path, images: dict, *, truth=None, title: str | None = None,
                 metrics: dict | None = None, dpi: int = 110, geometry=None, replace: bool = True) -> Path:
    """Write a PNG: the truth (if given), each reconstruction, and below each its error map.

    Parameters
    ----------
    images : dict of str → array (N, N)
        Reconstructions by method name, shown on the grey scale [0, 1].
    truth : array (N, N), optional
        Ground truth; adds a first column and a row of signed errors (reconstruction − truth).
    metrics : dict of str → dict, optional
        Per-method metrics to print under each panel (e.g. ``{'FBP': {'re': .., 'ssim': ..}}``).
    geometry : Geometry, optional
        Mark the scan's measured directions and missing wedge (see :func:`save_comparison`).
    replace : bool
        See :func:`save_comparison`.
    """
    return save_comparison(path, [{"truth": truth, "images": images, "metrics": metrics}], title=title, dpi=dpi,
                           geometry=geometry, replace=replace)


def save_comparison(path: str | Path, cases: list[dict], *, title: str | None = None, dpi: int = 110,
                    geometry=None, replace: bool = True) -> Path:
    """Write a PNG with, for each case, a row of images and (with a truth) a row of error maps.

    Parameters
    ----------
    cases : list of dict
        Each with ``images`` (dict method → array (N, N)), and optionally ``truth`` (N, N),
        ``metrics`` (dict method → dict of metric → value) and ``name`` (a row label). Every case
        should list the same methods; each case's error maps share one colour range.
    geometry : Geometry, optional
        The scans' geometry: marks its measured directions and missing wedge
        (:func:`draw_directions`) under each truth, or in the first image's corner without one.
    replace : bool
        Replace an existing file (a link at ``path`` is replaced, never written through); False
        refuses with ``FileExistsError`` (:func:`ltl.runtime.atomic_write`). The figure is drawn in
        memory in the format of ``path``'s suffix (an unknown suffix is a ``ValueError``) and
        written atomically.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncols = max(len(c["images"]) + (c.get("truth") is not None) for c in cases)
    nrows = sum(2 if c.get("truth") is not None else 1 for c in cases)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.7 * nrows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    r = 0
    for case in cases:
        images, truth, metrics = case["images"], case.get("truth"), case.get("metrics") or {}
        cols = list(images.items())
        if truth is not None:
            cols = [("truth", truth)] + cols
        t = _np(truth) if truth is not None else None
        err_scale = 0.0
        if t is not None:
            err_scale = max(float(np.abs(_np(im) - t).max()) for _, im in images.items()) or 1.0
        h = None
        for j, (name, im) in enumerate(cols):
            a = _np(im)
            ax = axes[r, j]
            ax.imshow(a, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            label = name if j or not case.get("name") else f"{case['name']}: {name}"
            if name in metrics:
                m = metrics[name]
                label += "\n" + ", ".join(f"{k.upper()} {v:.3f}" for k, v in m.items() if k in ("re", "ssim"))
            ax.set_title(label, fontsize=8)
            if t is not None:
                ax = axes[r + 1, j]
                if name != "truth":
                    h = ax.imshow(a - t, cmap="seismic", vmin=-err_scale, vmax=err_scale, interpolation="nearest")
                    ax.set_title(f"error of {name}", fontsize=8)
                else:
                    ax.text(0.5, 0.88 if geometry is not None else 0.5,
                            f"signed error\n(reconstruction − truth)\ncolour range ±{err_scale:.2f}",
                            ha="center", va="center", fontsize=8, transform=ax.transAxes)
                    if geometry is not None:
                        draw_directions(ax.inset_axes([0.18, 0.0, 0.64, 0.6]), geometry)
        if geometry is not None and t is None:
            draw_directions(axes[r, 0].inset_axes([0.72, 0.72, 0.26, 0.26]), geometry, label=False)
        if h is not None:
            fig.colorbar(h, ax=axes[r + 1, len(cols) - 1], fraction=0.046, pad=0.02)
        r += 2 if t is not None else 1
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=dpi, replace=replace)


def save_figure(fig, path: str | Path, *, dpi: int = 110, replace: bool = True) -> Path:
    """Write a matplotlib figure to ``path`` atomically (drawn in memory in the format of the
    suffix, then :func:`ltl.runtime.atomic_write` with ``replace``) and close it."""
    import io

    import matplotlib.pyplot as plt

    from .runtime.files import atomic_write

    p = Path(path)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=p.suffix[1:].lower() or "png", dpi=dpi)
    finally:
        plt.close(fig)
    return atomic_write(p, lambda f: f.write(buf.getvalue()), suffix=p.suffix or ".png", replace=replace)
