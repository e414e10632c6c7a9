"""Figures: side-by-side montages of reconstructions and their error maps (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["save_montage"]


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = list(images.items())
    if truth is not None:
        cols = [("truth", truth)] + cols
    rows = 2 if truth is not None else 1
    fig, axes = plt.subplots(rows, len(cols), figsize=(2.6 * len(cols), 2.7 * rows + 0.4), squeeze=False)
    t = _np(truth) if truth is not None else None
    err_scale = 0.0
    if t is not None:
        err_scale = max(float(np.abs(_np(im) - t).max()) for _, im in images.items()) or 1.0
    for j, (name, im) in enumerate(cols):
        a = _np(im)
        ax = axes[0, j]
        ax.imshow(a, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        label = name
        if metrics and name in metrics:
            m = metrics[name]
            label += "\n" + ", ".join(f"{k.upper()} {v:.3f}" for k, v in m.items() if k in ("re", "ssim"))
        ax.set_title(label, fontsize=8)
        ax.axis("off")
        if rows == 2:
            ax = axes[1, j]
            ax.axis("off")
            if name != "truth":
                h = ax.imshow(a - t, cmap="seismic", vmin=-err_scale, vmax=err_scale, interpolation="nearest")
                ax.set_title(f"error of {name}", fontsize=8)
            else:
                ax.text(0.5, 0.5, f"signed error\n(reconstruction − truth)\ncolour range ±{err_scale:.2f}",
                        ha="center", va="center", fontsize=8, transform=ax.transAxes)
    if title:
        fig.suptitle(title, fontsize=10)
    if rows == 2 and len(cols) > 1:
        fig.colorbar(h, ax=axes[1, -1], fraction=0.046, pad=0.02)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi)
    plt.close(fig)
    return p
