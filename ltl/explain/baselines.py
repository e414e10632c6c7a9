"""Baseline relevance maps to compare RDE with: random, gradient, SmoothGrad, Integrated Gradients.

Each takes ``(model, x, *, score=None, roi=None, seed=0, ...)`` with ``x`` ``(C, H, W)`` or
``(B, C, H, W)`` and returns a non-negative relevance map of ``x``'s shape. ``score(out) → (M,)``
is the scalar per sample whose sensitivity is measured; the default is the output's energy in the
region, ``‖Φ(x)_R‖²`` (the gradient of the default RDE distortion vanishes at ``y = x``, so the
sensitivity of what it compares is used instead). For a classifier pass the class score,
``lambda out: out[:, k]``.

References: K. Simonyan, A. Vedaldi, A. Zisserman, "Deep inside convolutional networks",
arXiv:1312.6034 (2013) (gradient); D. Smilkov et al., "SmoothGrad: removing noise by adding
noise", arXiv:1706.03825 (2017); M. Sundararajan, A. Taly, Q. Yan, "Axiomatic attribution for
deep networks", ICML 2017 (Integrated Gradients).
"""

from __future__ import annotations

from typing import Callable

import torch

from ..runtime.settings import check_int
from .noise import as_batch, eval_mode, region

__all__ = ["random_relevance", "gradient", "smoothgrad", "integrated_gradients", "BASELINES", "energy_score"]

Score = Callable[[torch.Tensor], torch.Tensor]


def energy_score(roi=None) -> Score:
    """``score(out) = ‖out_R‖²`` per sample (see :func:`~ltl.explain.noise.region`)."""

    def score(out: torch.Tensor) -> torch.Tensor:
        return region(out, roi).flatten(1).pow(2).sum(1)

    return score


def _score_of(score: Score | None, roi) -> Score:
    if score is not None and roi is not None:
        raise ValueError("roi applies to the default score; restrict your own score to the region instead")
    return energy_score(roi) if score is None else score


def _grad(model, x: torch.Tensor, score: Score) -> torch.Tensor:
    """``∂ score(model(x))_m / ∂x_m`` for inputs ``(M, C, H, W)``."""
    xg = x.detach().requires_grad_(True)
    with torch.enable_grad():
        sc = score(model(xg))
        if not isinstance(sc, torch.Tensor) or sc.shape != (x.shape[0],):
            shape = tuple(sc.shape) if isinstance(sc, torch.Tensor) else type(sc).__name__
            raise ValueError(f"score must return one value per sample, shape ({x.shape[0]},), got {shape}")
        (g,) = torch.autograd.grad(sc.sum(), xg)
    return g


def random_relevance(model, x: torch.Tensor, *, score: Score | None = None, roi=None, seed: int = 0) -> torch.Tensor:
    """Uniform random relevance in [0, 1) (``model``, ``score`` and ``roi`` are not used): the
    reference every explanation should beat. Seeded by ``seed`` on ``x``'s device."""
    xb, single = as_batch(x)
    g = torch.Generator(device=xb.device)
    g.manual_seed(int(seed))
    r = torch.rand(xb.shape, generator=g, device=xb.device, dtype=xb.dtype)
    return r[0] if single else r


def gradient(model, x: torch.Tensor, *, score: Score | None = None, roi=None, seed: int = 0) -> torch.Tensor:
    """Sensitivity ``|∂ score(Φ(x)) / ∂x|`` (``seed`` is not used)."""
    xb, single = as_batch(x)
    with eval_mode(model):
        r = _grad(model, xb, _score_of(score, roi)).abs()
    return r[0] if single else r


def smoothgrad(model, x: torch.Tensor, *, score: Score | None = None, roi=None, seed: int = 0, samples: int = 16,
               sigma: float = 0.15) -> torch.Tensor:
    """SmoothGrad: the mean of ``|∂ score/∂x|`` at ``x + ε``, ``ε ~ N(0, (σ·(max x − min x))²)``.

    Parameters
    ----------
    samples : int
        Noisy copies (one batched model call).
    sigma : float
        Noise level relative to each sample's value range (Smilkov et al. suggest 0.1–0.2).
    seed : int
        Seed of the noise.
    """
    check_int("samples", samples)
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    xb, single = as_batch(x)
    b = xb.shape[0]
    g = torch.Generator(device=xb.device)
    g.manual_seed(int(seed))
    span = (xb.flatten(1).amax(1) - xb.flatten(1).amin(1)).view(1, b, 1, 1, 1)
    eps = torch.randn((samples, *xb.shape), generator=g, device=xb.device, dtype=xb.dtype) * (sigma * span)
    with eval_mode(model):
        grads = _grad(model, (xb + eps).reshape(samples * b, *xb.shape[1:]), _score_of(score, roi))
    r = grads.abs().reshape(samples, *xb.shape).mean(0)
    return r[0] if single else r


def integrated_gradients(model, x: torch.Tensor, *, score: Score | None = None, roi=None, seed: int = 0,
                         steps: int = 32, baseline=None) -> torch.Tensor:
    """Integrated Gradients ``|(x − x′) ⊙ ∫₀¹ ∂ score(Φ(x′ + α(x − x′)))/∂x dα|``, midpoint rule.

    Parameters
    ----------
    steps : int
        Points α = (k + ½)/steps of the midpoint rule (one batched model call).
    baseline : float or torch.Tensor, optional
        x′, broadcastable to ``x``; default 0. For inputs standardised by training statistics the
        training mean (per channel) is the natural "absent" input.
    seed : int
        Not used (the method is deterministic).
    """
    check_int("steps", steps)
    xb, single = as_batch(x)
    base = torch.zeros_like(xb) if baseline is None else torch.as_tensor(baseline, dtype=xb.dtype).to(xb.device)
    base = (base[None] if single and base.ndim == 3 else base).expand_as(xb)
    alpha = (torch.arange(steps, device=xb.device, dtype=xb.dtype) + 0.5).div(steps).view(steps, 1, 1, 1, 1)
    path = base + alpha * (xb - base)  # (steps, B, C, H, W)
    with eval_mode(model):
        grads = _grad(model, path.reshape(-1, *xb.shape[1:]), _score_of(score, roi))
    r = ((xb - base) * grads.reshape(steps, *xb.shape).mean(0)).abs()
    return r[0] if single else r


#: The baselines by name, each ``f(model, x, *, score=None, roi=None, seed=0) → relevance like x``.
BASELINES: dict[str, Callable[..., torch.Tensor]] = {
    "random": random_relevance,
    "gradient": gradient,
    "smoothgrad": smoothgrad,
    "integrated_gradients": integrated_gradients,
}
