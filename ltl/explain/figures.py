"""Figures of an LtI explanation (matplotlib, headless): what the network adds, where RDE says it
looks, and how each method's ordering curve falls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .lti import LtIExplanation

__all__ = ["save_explanation", "save_relevance_maps", "save_rate_distortion"]

#: Display names of the methods.
NAMES = {"rde": "RDE", "random": "random", "gradient": "gradient", "smoothgrad": "SmoothGrad",
         "integrated_gradients": "Integrated Gradients"}


def _np(t) -> np.ndarray:
    return t.detach().cpu().float().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float32)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _outline(ax, roi, n: int) -> None:
    """Draw the region of interest (unless it is the whole image)."""
    from matplotlib.patches import Rectangle

    r0, c0, r1, c1 = roi
    if (r0, c0, r1, c1) == (0, 0, n, n):
        return
    ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, edgecolor="lime", linewidth=1.2))


def _save(fig, path, replace: bool = True) -> Path:
    """Write atomically; ``replace=False`` refuses an existing file (:func:`ltl.plotting.save_figure`)."""
    from ..plotting import save_figure

    return save_figure(fig, path, dpi=110, replace=replace)


def _symmetric(ax, img, title, fig):
    a = _np(img)
    v = float(np.abs(a).max()) or 1.0
    h = ax.imshow(a, cmap="seismic", vmin=-v, vmax=v, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    fig.colorbar(h, ax=ax, fraction=0.046, pad=0.02)


def _curves(ax, curves: dict) -> None:
    """The ordering curves on a log distortion axis, which keeps curves that fall by orders of
    magnitude apart (on a linear axis all but the slowest lie flat on zero); keeping everything
    gives distortion 0, which a log axis leaves out."""
    positive = []
    for name, c in curves.items():
        d = _np(c.distortion).astype(np.float64)
        positive.append(d[d > 0])
        ax.plot(_np(c.fractions), np.where(d > 0, d, np.nan), marker="." if name == "rde" else None,
                lw=2 if name == "rde" else 1.2, label=f"{NAMES.get(name, name)} (area {float(c.area):.3g})")
    values = np.concatenate(positive) if positive else np.zeros(0)
    ax.set_xlabel("fraction of components kept (most relevant first)", fontsize=8)
    ax.set_xlim(0, 1)
    if values.size:
        ax.set_yscale("log")
        ax.set_ylabel("distortion (relative squared error, log scale)", fontsize=8)
    else:
        ax.set_ylabel("distortion (relative squared error)", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)


def save_explanation(path: str | Path, expl: LtIExplanation, *, title: str | None = None, replace: bool = True) -> Path:
    """Write a PNG that explains one LtI reconstruction.

    Panels: f_ltl; the network's contribution ``SHᵀ(inv·out)`` (signed); the RDE mask per pixel
    overlaid on f_vis; ``SHᵀ`` of the visible coefficients the mask keeps; the mask per input
    channel; the rate–distortion (ordering) curves of RDE and the baselines. The region of
    interest is outlined in green.
    """
    plt = _plt()
    n = expl.f_vis.shape[-1]
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.6))
    for ax in axes[0]:
        ax.axis("off")
    ax = axes[0, 0]
    ax.imshow(_np(expl.f_ltl), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title("f_ltl (LtI reconstruction)", fontsize=8)
    _outline(ax, expl.roi, n)
    _symmetric(axes[0, 1], expl.contribution, "network contribution SHᵀ(inv·U-Net output)", fig)
    _outline(axes[0, 1], expl.roi, n)
    ax = axes[0, 2]
    ax.imshow(_np(expl.f_vis), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    rel = _np(expl.pixel_relevance["rde"])
    h = ax.imshow(rel, cmap="inferno", vmin=0, vmax=1, alpha=0.55, interpolation="nearest")
    fig.colorbar(h, ax=ax, fraction=0.046, pad=0.02)
    how = {"coefficients": "mask averaged over channels", "pixels": "mask", "channels": "channel mask averaged"}
    ax.set_title(f"RDE relevance on f_vis ({how[expl.domain]})\nkept {expl.rde.history['rate'][-1]:.1%}, "
                 f"λ={expl.rde.params['lam']:g}", fontsize=8)
    _outline(ax, expl.roi, n)
    _symmetric(axes[1, 0], expl.masked_visible, "SHᵀ(mask ⊙ visible coefficients)", fig)
    axes[1, 0].axis("off")
    _outline(axes[1, 0], expl.roi, n)
    ax = axes[1, 1]
    cr = _np(expl.channel_relevance)
    ax.bar(np.arange(cr.size), cr, color="tab:orange")
    ax.set_xticks(np.arange(cr.size))
    ax.set_xticklabels(expl.channel_labels, rotation=90, fontsize=5 if cr.size > 20 else 7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("mean mask", fontsize=8)
    ax.set_title("RDE mask per network input channel", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    _curves(axes[1, 2], expl.curves)
    axes[1, 2].set_title("relevance ordering: lower is better", fontsize=8)
    r0, c0, r1, c1 = expl.roi
    fig.suptitle(title or f"What LtI's network adds in rows {r0}:{r1}, columns {c0}:{c1}, and what it uses "
                          f"(RDE, {expl.domain})", fontsize=10)
    fig.tight_layout()
    return _save(fig, path, replace)


def save_relevance_maps(path: str | Path, expl: LtIExplanation, *, replace: bool = True) -> Path:
    """Write a PNG with every method's per-pixel relevance ([0, 1]) side by side, ROI outlined."""
    plt = _plt()
    n = expl.f_vis.shape[-1]
    items = list(expl.pixel_relevance.items())
    fig, axes = plt.subplots(1, len(items), figsize=(2.8 * len(items), 3.1), squeeze=False)
    for ax, (name, img) in zip(axes[0], items):
        h = ax.imshow(_np(img), cmap="inferno", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{NAMES.get(name, name)}\narea {float(expl.curves[name].area):.3g}", fontsize=8)
        ax.axis("off")
        _outline(ax, expl.roi, n)
    fig.colorbar(h, ax=axes[0, -1], fraction=0.046, pad=0.02)
    fig.suptitle("per-pixel relevance (summed over input channels, scaled to [0, 1])", fontsize=9)
    fig.tight_layout()
    return _save(fig, path, replace)


def save_rate_distortion(path: str | Path, curves: dict, *, history: dict | None = None, replace: bool = True) -> Path:
    """Write a PNG with the ordering curves of all methods in one plot and, given RDE's
    ``history``, its objective, distortion and rate per optimisation step beside it."""
    plt = _plt()
    ncols = 2 if history else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 4.2), squeeze=False)
    _curves(axes[0, 0], curves)
    axes[0, 0].set_title("rate–distortion: keep the most relevant fraction, noise elsewhere", fontsize=9)
    if history:
        ax = axes[0, 1]
        steps = np.arange(1, len(history["objective"]) + 1)
        for k in ("objective", "distortion", "rate"):
            ax.plot(steps, history[k], label=k)
        ax.set_xlabel("Adam step", fontsize=8)
        ax.set_title("RDE optimisation", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _save(fig, path, replace)
