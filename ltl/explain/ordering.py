"""The relevance-ordering test: how fast does the output come back as the most relevant parts return?

After Macdonald et al. (2019), Sec. 4: for fractions k from 0 to 1, keep the ⌊k·d⌉ components
of the input that a relevance map ranks highest, replace the others by noise (the RDE noise
model), and measure the distortion of the output (mean over noise draws). An explanation that
finds what matters drives the distortion down early; the area under the curve (trapezoid rule
over k ∈ [0, 1]) summarises it: **lower is better**. Every method is tested with the same noise
draws (the same ``seed``), so their curves differ only by the ordering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..runtime.progress import Progress
from ..runtime.settings import check_int
from .noise import Problem, as_batch, check_domain, eval_mode, mask_shape
from .settings import RDESettings

__all__ = ["relevance_ordering", "OrderingCurve", "to_domain"]


@dataclass
class OrderingCurve:
    """A relevance-ordering curve.

    Attributes
    ----------
    fractions : torch.Tensor, shape (K,)
        Fractions k of the components kept, from 0 to 1 (CPU, float64).
    distortion : torch.Tensor, shape (K,) or (B, K)
        Mean distortion at each fraction (CPU, float64).
    area : float or torch.Tensor (B,)
        Area under the curve over k ∈ [0, 1]; lower is better.
    """

    fractions: torch.Tensor
    distortion: torch.Tensor
    area: float | torch.Tensor

    def to_dict(self) -> dict:
        """JSON-safe: ``fractions``, ``distortion``, ``area``."""
        area = self.area.tolist() if isinstance(self.area, torch.Tensor) else float(self.area)
        return {"fractions": self.fractions.tolist(), "distortion": self.distortion.tolist(), "area": area}


def to_domain(relevance: torch.Tensor, domain: str) -> torch.Tensor:
    """A relevance map of the input's shape ``(..., C, H, W)`` summed (of absolute values) into a
    domain's mask shape: ``(..., C, H, W)``, ``(..., 1, H, W)`` or ``(..., C, 1, 1)``."""
    check_domain(domain)
    r = relevance.abs()
    if domain == "pixels":
        return r.sum(-3, keepdim=True)
    if domain == "channels":
        return r.sum((-2, -1), keepdim=True)
    return r


def _ranks(relevance: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Rank (0 = most relevant) of each of the d components, ``(B, d)``; ties in random order."""
    b, d = relevance.shape
    ranks = torch.empty(b, d, dtype=torch.long)
    for i in range(b):
        perm = torch.randperm(d, generator=generator)
        order = perm[torch.argsort(relevance[i, perm], descending=True, stable=True)]
        ranks[i, order] = torch.arange(d)
    return ranks


def relevance_ordering(model, x: torch.Tensor, relevance: torch.Tensor, *, domain: str = RDESettings.domain,
                       distortion=None, roi=None, noise: str = RDESettings.noise, noise_mean=None, noise_std=None,
                       samples: int = RDESettings.samples, points: int = RDESettings.points,
                       seed: int = RDESettings.seed, progress: bool = False, desc: str = "ordering") -> OrderingCurve:
    """Distortion when only the most relevant fraction of the input is kept (module notes).

    ``domain``, ``noise``, ``samples``, ``points`` and ``seed`` default to those of
    :class:`~ltl.explain.RDESettings`.

    Parameters
    ----------
    model, x, distortion, roi, noise, noise_mean, noise_std : as in :func:`~ltl.explain.rde`.
    relevance : torch.Tensor
        A relevance map of ``x``'s shape (reduced with :func:`to_domain`), or already of the
        domain's mask shape (e.g. an RDE mask); with a batch, one per input.
    domain : {'coefficients', 'pixels', 'channels'}
        What one ranked component is.
    samples : int
        Noise draws per fraction (the same draws for every fraction).
    points : int
        Number of fractions, evenly spaced from 0 to 1 (at least 2).
    seed : int
        Seed of the noise and of the order among equally relevant components.
    progress : bool
        Show a bar over the fractions (one batched model call of ``samples`` inputs each), labelled ``desc``.

    Returns
    -------
    OrderingCurve
        With ``distortion`` ``(K,)`` and a float ``area`` for one input, ``(B, K)`` and ``(B,)``
        for a batch. Keeping everything (k = 1) gives the undistorted output, distortion 0.
    """
    check_int("samples", samples)
    check_int("points", points)
    if points < 2:
        raise ValueError(f"points must be >= 2 (the fractions 0 and 1 at least), got {points}")
    check_domain(domain)
    xb, single = as_batch(x)
    b, c, h, w = xb.shape
    mshape = mask_shape(domain, c, h, w)
    if not isinstance(relevance, torch.Tensor):
        raise TypeError(f"relevance must be a torch.Tensor, got {type(relevance).__name__}")
    rel = relevance.detach()
    if single and rel.ndim == 3:
        rel = rel[None]
    if rel.ndim != 4 or rel.shape[0] != b:
        raise ValueError(f"relevance must have shape {tuple(x.shape)} or one mask per input {(b, *mshape)}, "
                         f"got {tuple(relevance.shape)}")
    if tuple(rel.shape[1:]) != mshape:
        if tuple(rel.shape[1:]) != (c, h, w):
            raise ValueError(f"relevance must have the input's shape {(c, h, w)} or the {domain} mask shape "
                             f"{mshape}, got {tuple(relevance.shape)}")
        rel = to_domain(rel, domain)
    if not bool(torch.isfinite(rel).all()):
        raise ValueError("relevance contains NaN or inf")
    d = math.prod(mshape)
    gen = torch.Generator()
    gen.manual_seed(int(seed))
    ranks = _ranks(rel.flatten(1).double().cpu(), gen).to(xb.device)
    fractions = torch.linspace(0, 1, points, dtype=torch.float64)
    out = []
    with eval_mode(model), torch.no_grad():
        prob = Problem(model, xb, distortion=distortion, roi=roi, noise=noise, noise_mean=noise_mean,
                       noise_std=noise_std, seed=seed)
        n = prob.noise(samples)
        bar = Progress(progress, points, desc, unit="point")
        try:
            for f in fractions.tolist():
                keep = (ranks < round(f * d)).to(xb.dtype).reshape(b, *mshape)
                out.append(prob.distortions(keep, n).mean(0).double().cpu())
                bar.step()
        finally:
            bar.close()
    dist = torch.stack(out, dim=1)  # (B, K)
    area = torch.trapezoid(dist, fractions, dim=1)
    if single:
        return OrderingCurve(fractions, dist[0], float(area[0]))
    return OrderingCurve(fractions, dist, area)
