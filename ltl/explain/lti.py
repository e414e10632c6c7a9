"""RDE for LtI: which visible coefficients of f_vis does the network use for what it adds?

The explained map Φ is LtI's U-Net on raw scale: the network input
``x = model.network_input(f_vis)`` ``(B, C_in, N, N)`` (the visible shearlet channels of f_vis,
and f_vis itself as the last channel when ``model.use_fvis``) goes to ``model.net.predict(x)``
``(B, C_inv, N, N)``. Its output is judged in the image domain, on the network's contribution
``SHᵀ(inv·out)`` (:meth:`LtI.contribution`) in a region of interest R:

    d(out_x, out_y) = ‖SHᵀ(inv·(out_x − out_y))_R‖² / ‖SHᵀ(inv·out_x)_R‖².

Components are replaced by noise with the per-channel mean and standard deviation of the
network's training inputs (``model.net.in_mean``, ``model.net.in_std``), i.e. by "typical" values
that carry no information about this scan.

A model with ``residual`` adds SH(f_vis) of the predicted channels to the network's output to form
its prediction; what is explained here is the network's own output, the *correction*, not that
pass-through of f_vis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
import torch.nn as nn

from ..runtime.progress import Progress, sync
from .baselines import BASELINES
from .noise import check_region
from .ordering import OrderingCurve, relevance_ordering, to_domain
from .rde import RDEResult, rde
from .settings import RDESettings

__all__ = ["LtINetwork", "LtIExplainer", "LtIExplanation", "explain_lti", "BASELINE_NAMES"]

BASELINE_NAMES = tuple(BASELINES)


class LtINetwork(nn.Module):
    """Φ of an LtI model: raw network input ``(M, C_in, N, N)`` → raw output ``(M, C_inv, N, N)``."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.net.predict(x)


class _Destandardized(nn.Module):
    """``z ↦ Φ(μ + σ·z)``: a network on raw inputs seen in standardised coordinates."""

    def __init__(self, network: nn.Module, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.network, self.mean, self.std = network, mean, std

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.network(self.mean + self.std * z)


def channel_labels(model) -> list[str]:
    """Names of the network's input channels: ``j<scale><cone><shear>`` per visible shearlet
    channel (``low-pass`` for scale 0), then ``f_vis``."""
    labels = []
    for i in model.vis_index.cpu().tolist():
        ch = model.frame.channels[i]
        labels.append("low-pass" if ch.scale == 0 else f"j{ch.scale}{ch.cone}{ch.shear:+d}")
    if model.use_fvis:
        labels.append("f_vis")
    return labels


class LtIExplainer:
    """The map, distortion and noise statistics for explaining an LtI model's network.

    Parameters
    ----------
    model : LtI
    roi : (r0, c0, r1, c1), optional
        Region of the N×N image: rows r0:r1, columns c0:c1 (pixels); default the whole image.
        ``ValueError`` naming the image size when it leaves the image or is empty.
    noise_mean, noise_std : sequence of C_in floats, optional
        Noise statistics per network input channel; default the model's training statistics
        ``model.net.in_mean`` / ``in_std``. ``ValueError`` when those are the untrained defaults
        (all 0 / all 1): the checkpoint lacks the statistics the noise needs.

    Attributes
    ----------
    network : LtINetwork
        Φ.
    roi : tuple of int
    noise_mean, noise_std : torch.Tensor, shape (C_in,)
    """

    def __init__(self, model, *, roi: Sequence[int] | None = None, noise_mean=None, noise_std=None):
        from ..models import LtI

        if not isinstance(model, LtI):
            raise TypeError(f"model must be an ltl LtI model, got {type(model).__name__}")
        self.model = model
        self.network = LtINetwork(model)
        n = model.geometry.image_size
        self.roi = check_region((0, 0, n, n) if roi is None else roi, n, n, what="image")
        net = model.net
        if noise_mean is None and noise_std is None:
            if bool((net.in_mean == 0).all()) and bool((net.in_std == 1).all()):
                raise ValueError("the LtI checkpoint lacks the training statistics the RDE noise needs (its input "
                                 "normalisation is the untrained default, mean 0 and std 1); use a model trained with "
                                 "`ltl train`, or pass noise_mean and noise_std per input channel")
            noise_mean, noise_std = net.in_mean, net.in_std
        elif noise_mean is None or noise_std is None:
            raise ValueError("pass both noise_mean and noise_std, or neither (then the training statistics are used)")
        self.noise_mean = torch.as_tensor(noise_mean, dtype=torch.float32).detach().reshape(-1).cpu()
        self.noise_std = torch.as_tensor(noise_std, dtype=torch.float32).detach().reshape(-1).cpu()
        for name, t in (("noise_mean", self.noise_mean), ("noise_std", self.noise_std)):
            if t.numel() != net.in_channels:
                raise ValueError(f"{name} must have one entry per network input channel ({net.in_channels}), "
                                 f"got {t.numel()}")

    # ------------------------------------------------------------------ pieces
    def network_input(self, f_vis: torch.Tensor) -> torch.Tensor:
        """``(N, N)`` or ``(B, N, N)`` → the network input ``(B, C_in, N, N)`` on the model's device."""
        f = f_vis[None] if f_vis.ndim == 2 else f_vis
        with torch.no_grad():
            return self.model.network_input(f.to(self.model.device, torch.float32))

    def contribution(self, out: torch.Tensor) -> torch.Tensor:
        """``SHᵀ(inv·out)`` ``(M, N, N)`` of raw network outputs ``(M, C_inv, N, N)``."""
        return self.model.contribution(out)

    def _region(self, img: torch.Tensor) -> torch.Tensor:
        r0, c0, r1, c1 = self.roi
        return img[:, r0:r1, c0:c1]

    def relative_contribution_error(self, out_x: torch.Tensor, out_y: torch.Tensor) -> torch.Tensor:
        """``‖SHᵀ(inv·(out_x − out_y))_R‖² / ‖SHᵀ(inv·out_x)_R‖²`` per sample ``(M,)``."""
        num = self._region(self.contribution(out_x - out_y)).flatten(1).pow(2).sum(1)
        with torch.no_grad():
            den = self._region(self.contribution(out_x)).flatten(1).pow(2).sum(1)
        return num / den

    def score(self, out: torch.Tensor) -> torch.Tensor:
        """``‖SHᵀ(inv·out)_R‖²`` per sample ``(M,)``: the energy of the contribution in the region."""
        return self._region(self.contribution(out)).flatten(1).pow(2).sum(1)

    # ------------------------------------------------------------------ methods
    def rde(self, x: torch.Tensor, **kwargs) -> RDEResult:
        """:func:`~ltl.explain.rde` of Φ at network input ``x`` with this distortion and noise."""
        return rde(self.network, x, distortion=self.relative_contribution_error, noise_mean=self.noise_mean,
                   noise_std=self.noise_std, **kwargs)

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        """``z = (x − μ) / σ`` per channel with the noise statistics (σ = 0 channels are left at 0)."""
        return self._standard(x)[0]

    def _standard(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z, μ, σ)`` with μ, σ shaped ``(C, 1, 1)`` on ``x``'s device and dtype."""
        mean = self.noise_mean.to(x.device, x.dtype).view(-1, 1, 1)
        std = self.noise_std.to(x.device, x.dtype).view(-1, 1, 1)
        return (x - mean) / torch.where(std > 0, std, torch.ones_like(std)), mean, std

    def baseline(self, name: str, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """Relevance of a baseline (:data:`~ltl.explain.BASELINES`) for the contribution's energy in R.

        The baselines see the network in the standardised coordinates of the noise model,
        ``z = (x − μ)/σ`` per channel (one unit = one standard deviation of what replaces a
        component): the gradient is ``σ·∂/∂x``, SmoothGrad's noise (a fraction of z's range) is
        the same number of standard deviations in every channel, and Integrated Gradients runs
        from the noise mean ``z = 0`` (which makes it the same as in raw units). In raw units,
        channels whose values are tiny get huge gradients although replacing them changes
        little, and a ranking by raw gradients does worse than a random one (measured on the
        demo model). Returns relevance of ``x``'s shape.
        """
        if name not in BASELINES:
            raise ValueError(f"unknown baseline {name!r}; valid: {', '.join(BASELINES)}")
        z, mean, std = self._standard(x)
        if name == "integrated_gradients":
            kwargs.setdefault("baseline", 0.0)
        return BASELINES[name](_Destandardized(self.network, mean, std), z, score=self.score, **kwargs)

    def ordering(self, x: torch.Tensor, relevance: torch.Tensor, **kwargs) -> OrderingCurve:
        """:func:`~ltl.explain.relevance_ordering` with this distortion and noise."""
        return relevance_ordering(self.network, x, relevance, distortion=self.relative_contribution_error,
                                  noise_mean=self.noise_mean, noise_std=self.noise_std, **kwargs)


@dataclass
class LtIExplanation:
    """An RDE explanation of one LtI reconstruction, with baselines and their ordering curves.

    Attributes
    ----------
    f_vis, f_ltl : torch.Tensor, shape (N, N)
        The l1-shearlet reconstruction and LtI's reconstruction (CPU).
    contribution : torch.Tensor, shape (N, N)
        What the network adds to the image, ``SHᵀ(inv·U-Net output)`` (for a ``residual`` model
        the correction, without the pass-through of f_vis).
    network_input : torch.Tensor, shape (C_in, N, N)
    roi : (r0, c0, r1, c1)
    domain : str
    rde : RDEResult
        Its ``mask`` on the CPU, of the domain's mask shape.
    relevance : dict of str → torch.Tensor (C_in, N, N)
        The baselines' relevance maps.
    curves : dict of str → OrderingCurve
        Relevance-ordering curves of ``'rde'`` and every baseline (same noise draws).
    pixel_relevance : dict of str → torch.Tensor (N, N)
        Per-pixel relevance of every method, in [0, 1]: the RDE mask averaged over channels (in
        the 'channels' domain each channel's mask value spread over its pixels); a baseline's
        absolute relevance summed over channels, divided by its maximum.
    channel_relevance : torch.Tensor, shape (C_in,)
        The RDE mask averaged over each channel's pixels.
    masked_visible : torch.Tensor, shape (N, N)
        ``SHᵀ`` of the visible coefficients the mask keeps (``s ⊙`` visible channels), in image
        units: what of f_vis the explanation says the network relies on.
    visible_part : torch.Tensor, shape (N, N)
        ``SHᵀ`` of all visible coefficients (mask 1), for comparison.
    channel_labels : list of str
    settings : dict
        JSON-safe settings.
    seconds : dict of str → float
        Time per method (``rde``, each baseline) and for the ordering curves.
    """

    f_vis: torch.Tensor
    f_ltl: torch.Tensor
    contribution: torch.Tensor
    network_input: torch.Tensor
    roi: tuple[int, int, int, int]
    domain: str
    rde: RDEResult
    relevance: dict[str, torch.Tensor]
    curves: dict[str, OrderingCurve]
    pixel_relevance: dict[str, torch.Tensor]
    channel_relevance: torch.Tensor
    masked_visible: torch.Tensor
    visible_part: torch.Tensor
    channel_labels: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def areas(self) -> dict[str, float]:
        """Area under each method's ordering curve (lower is better)."""
        return {k: float(v.area) for k, v in self.curves.items()}


def _visible_synthesis(model, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``SHᵀ`` of the visible coefficients of network input ``x`` ``(C_in, N, N)`` weighted by
    ``keep`` (broadcastable to x) → ``(N, N)``."""
    nv = model.num_visible
    kept = (keep.expand_as(x) * x)[:nv]
    full = x.new_zeros(model.frame.num_channels, *x.shape[-2:])
    full[model.vis_index.to(x.device)] = kept
    return model.frame.adjoint(full)


def explain_lti(model, f_vis: torch.Tensor, settings: RDESettings | None = None, *,
                roi: Sequence[int] | None = None, domain: str | None = None, lam: float | None = None,
                steps: int | None = None, samples: int | None = None, noise: str | None = None,
                lr: float | None = None, seed: int | None = None, init: float | None = None,
                antithetic: bool | None = None, points: int | None = None,
                baselines: Sequence[str] = BASELINE_NAMES, noise_mean=None, noise_std=None,
                progress: bool = False) -> LtIExplanation:
    """Explain what LtI's network adds to one reconstruction: RDE, baselines, ordering curves.

    Parameters
    ----------
    model : LtI
        With training statistics in its normalisation buffers (see :class:`LtIExplainer`).
    f_vis : torch.Tensor, shape (N, N)
        The l1-shearlet reconstruction (``model.reconstruct(..., return_parts=True)['f_vis']``).
    settings : RDESettings, optional
        The RDE and ordering settings; default ``RDESettings()``.
    domain, lam, steps, samples, noise, lr, seed, init, antithetic, points : optional
        Override the field of ``settings`` of the same name (None keeps it); the result is
        validated (:meth:`RDESettings.validate`, ``ValueError`` for a bad value). As in
        :func:`~ltl.explain.rde`; ``seed`` also seeds the baselines and the ordering test, and
        ``points`` is the number of fractions of the ordering curves (0 to 1).
    roi : (r0, c0, r1, c1), optional
        Region of the image whose contribution is explained (rows r0:r1, columns c0:c1); default
        the whole image.
    baselines : sequence of str
        Names from :data:`~ltl.explain.BASELINES` to compare with (default all). SmoothGrad uses
        ``samples`` noisy copies, Integrated Gradients ``max(samples, 8)`` steps from the training
        mean.
    noise_mean, noise_std : optional
        Override the model's training statistics (see :class:`LtIExplainer`).
    progress : bool
        Show progress bars (rate and ETA) for RDE, the baselines and each ordering curve.

    Returns
    -------
    LtIExplanation
        All tensors on the CPU. The computation runs on the model's device.
    """
    given = dict(domain=domain, lam=lam, steps=steps, samples=samples, noise=noise, lr=lr, seed=seed, init=init,
                 antithetic=antithetic, points=points)
    if settings is not None and not isinstance(settings, RDESettings):
        raise TypeError(f"settings must be RDESettings, got {type(settings).__name__}")
    s = (RDESettings() if settings is None else settings).replace(**{k: v for k, v in given.items() if v is not None})
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {', '.join(map(repr, unknown))}; valid: {', '.join(BASELINES)}")
    if not isinstance(f_vis, torch.Tensor) or f_vis.ndim != 2:
        shape = tuple(f_vis.shape) if isinstance(f_vis, torch.Tensor) else type(f_vis).__name__
        raise ValueError(f"f_vis must be one image (N, N), got {shape}")
    ex = LtIExplainer(model, roi=roi, noise_mean=noise_mean, noise_std=noise_std)
    was_training = model.training
    model.eval()
    try:
        x = ex.network_input(f_vis)[0]  # (C_in, N, N)
        with torch.no_grad():
            out = ex.network(x[None])
            contribution = ex.contribution(out)[0]
            fv = f_vis.to(x.device, torch.float32)[None]
            f_ltl = model.combine(fv, model.prediction_from_output(out, fv))[0]
        if float(ex.score(out)) == 0:
            raise ValueError(f"the network adds nothing to the region {ex.roi}, so there is nothing to explain; "
                             "choose another --roi")
        seconds: dict[str, float] = {}
        res = ex.rde(x, domain=s.domain, lam=s.lam, steps=s.steps, samples=s.samples, noise=s.noise, lr=s.lr,
                     seed=s.seed, init=s.init, antithetic=s.antithetic, progress=progress)
        seconds["rde"] = res.seconds
        relevance = {}
        bar = Progress(progress, len(baselines), "baselines", unit="method")
        try:
            for name in baselines:
                t0 = time.perf_counter()
                kw = ({"samples": s.samples} if name == "smoothgrad"
                      else {"steps": max(s.samples, 8)} if name == "integrated_gradients" else {})
                relevance[name] = ex.baseline(name, x, seed=s.seed, **kw)
                sync(x.device)
                seconds[name] = time.perf_counter() - t0
                bar.step()
        finally:
            bar.close()
        t0 = time.perf_counter()
        ranked = [("rde", res.mask)] + list(relevance.items())
        curves = {m: ex.ordering(x, r, domain=s.domain, noise=s.noise, samples=s.samples, points=s.points, seed=s.seed,
                                 progress=progress, desc=f"ordering curve {i}/{len(ranked)} ({m})")
                  for i, (m, r) in enumerate(ranked, 1)}
        seconds["ordering"] = time.perf_counter() - t0
        with torch.no_grad():
            masked_visible = _visible_synthesis(model, x, res.mask)
            visible_part = _visible_synthesis(model, x, torch.ones_like(x))
    finally:
        model.train(was_training)
    mask = res.mask.cpu()
    res.mask = mask
    pixel = {"rde": mask.expand(x.shape).mean(0)}
    for name, r in relevance.items():
        p = to_domain(r.cpu(), "pixels")[0]
        pixel[name] = p / p.max() if float(p.max()) > 0 else p
    record = {"domain": s.domain, "lam": float(s.lam), "steps": s.steps, "samples": s.samples, "noise": s.noise,
              "lr": float(s.lr), "seed": s.seed, "init": float(s.init), "points": s.points, "roi": list(ex.roi),
              "baselines": list(baselines),
              "noise_statistics": "given" if noise_mean is not None else "the model's training statistics",
              "explained": "the network's own output (the correction of f_vis's coefficients)" if model.residual
              else "the network's output (the predicted coefficients)",
              "image_size": model.geometry.image_size, "input_channels": int(x.shape[0])}
    return LtIExplanation(
        f_vis=f_vis.detach().float().cpu(), f_ltl=f_ltl.cpu(), contribution=contribution.cpu(), network_input=x.cpu(),
        roi=ex.roi, domain=s.domain, rde=res, relevance={k: v.cpu() for k, v in relevance.items()}, curves=curves,
        pixel_relevance=pixel, channel_relevance=mask.expand(x.shape).mean((1, 2)),
        masked_visible=masked_visible.cpu(), visible_part=visible_part.cpu(), channel_labels=channel_labels(model),
        settings=record, seconds=seconds)
