"""Figures: side-by-side montages of reconstructions and their error maps (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["save_montage", "save_comparison"]


def _np(t) -> np.ndarray:
    return t.detach().cpu().float().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float32)


def save_montage(path: str | Path, images: dict, *, truth=None, title: str | None = None,
                 metrics: dict | None = None, dpi: int = 110) -> Path:
    """Write a PNG: the truth (if given), each reconstruction, and below each its error map.

    Parameters
    ----------
    images : dict of str → array (N, N)
        Reconstructions by method name, shown on the grey scale [0, 1].
    truth : array (N, N), optional
        Ground truth; adds a first column and a row of signed errors (reconstruction − truth).
    metrics : dict of str → dict, optional
        Per-method metrics to print under each panel (e.g. ``{'FBP': {'re': .., 'ssim': ..}}``).
    """
    return save_comparison(path, [{"truth": truth, "images": images, "metrics": metrics}], title=title, dpi=dpi)


def save_comparison(path: str | Path, cases: list[dict], *, title: str | None = None, dpi: int = 110) -> Path:
    """Write a PNG with, for each case, a row of images and (with a truth) a row of error maps.

    Parameters
    ----------
    cases : list of dict
        Each with ``images`` (dict method → array (N, N)), and optionally ``truth`` (N, N),
        ``metrics`` (dict method → dict of metric → value) and ``name`` (a row label). Every case
        should list the same methods; each case's error maps share one colour range.
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
                    ax.text(0.5, 0.5, f"signed error\n(reconstruction − truth)\ncolour range ±{err_scale:.2f}",
                            ha="center", va="center", fontsize=8, transform=ax.transAxes)
        if h is not None:
            fig.colorbar(h, ax=axes[r + 1, len(cols) - 1], fraction=0.046, pad=0.02)
        r += 2 if t is not None else 1
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi)
    plt.close(fig)
    return p
