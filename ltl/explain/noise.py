"""The pieces of an explanation problem shared by RDE, the baselines and the ordering test.

Mask shapes per domain, input checks, the obfuscating noise (per-channel statistics, Gaussian
or uniform draws, optionally in mirrored pairs), regions of the output, the default relative
distortion, and :class:`Problem`, which binds a model, an input, the noise model and the
distortion together. The mathematics is in :mod:`ltl.explain.rde`.
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable

import torch
import torch.nn as nn

from .settings import DOMAINS, NOISES, RDESettings

__all__ = ["DOMAINS", "NOISES", "Distortion", "check_domain", "mask_shape", "as_batch", "eval_mode",
           "noise_statistics", "draw_noise", "check_region", "region", "relative_distortion", "Problem"]

Distortion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------------------------
# shapes and checks
# --------------------------------------------------------------------------------------------


def check_domain(domain: str) -> str:
    """``domain`` if it is one of :data:`DOMAINS`, else ``ValueError`` listing them."""
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {', '.join(DOMAINS)}, got {domain!r}")
    return domain


def mask_shape(domain: str, channels: int, height: int, width: int) -> tuple[int, int, int]:
    """The mask of one input ``(C, H, W)`` in a domain: ``(C, H, W)``, ``(1, H, W)`` or ``(C, 1, 1)``."""
    check_domain(domain)
    if domain == "coefficients":
        return (channels, height, width)
    if domain == "pixels":
        return (1, height, width)
    return (channels, 1, 1)


def as_batch(x: torch.Tensor, what: str = "x") -> tuple[torch.Tensor, bool]:
    """``(C, H, W)`` or ``(B, C, H, W)`` → ``((B, C, H, W), single)``, detached; checks dtype and values."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}; use torch.as_tensor(...)")
    if not x.is_floating_point():
        raise ValueError(f"{what} must be a floating-point tensor, got dtype {x.dtype}; convert it with .float()")
    if x.ndim not in (3, 4):
        raise ValueError(f"{what} must have shape (C, H, W) or (B, C, H, W), got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{what} contains NaN or inf")
    single = x.ndim == 3
    return (x[None] if single else x).detach(), single


def _channel_vector(v, channels: int, name: str, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(v, dtype=like.dtype).detach().to(like.device).reshape(-1)
    if t.numel() == 1:
        t = t.expand(channels)
    if t.numel() != channels:
        raise ValueError(f"{name} must have one entry per input channel ({channels}), got {t.numel()}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return t


@contextlib.contextmanager
def eval_mode(model):
    """Run an ``nn.Module`` in eval mode (batch statistics frozen) and restore its mode afterwards."""
    if not isinstance(model, nn.Module):
        yield
        return
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


# --------------------------------------------------------------------------------------------
# noise and distortion
# --------------------------------------------------------------------------------------------


def noise_statistics(x: torch.Tensor, noise_mean=None, noise_std=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and standard deviation of the obfuscating noise.

    Parameters
    ----------
    x : torch.Tensor, shape (B, C, H, W)
    noise_mean, noise_std : float or sequence of C floats, optional
        The noise statistics (in the units of ``x``), e.g. those of the training data; when not
        given, each sample's own channel means / standard deviations over ``H, W``.

    Returns
    -------
    mean, std : torch.Tensor, shape (B, C)
        On ``x``'s device and dtype.
    """
    b, c = x.shape[:2]
    mean = (x.mean(dim=(2, 3)) if noise_mean is None
            else _channel_vector(noise_mean, c, "noise_mean", x).expand(b, c))
    std = (x.std(dim=(2, 3), correction=0) if noise_std is None
           else _channel_vector(noise_std, c, "noise_std", x).expand(b, c))
    if bool((std < 0).any()):
        raise ValueError("noise_std must be >= 0")
    return mean, std


def draw_noise(samples: int, mean: torch.Tensor, std: torch.Tensor, size: tuple[int, int], *,
               kind: str = RDESettings.noise, generator: torch.Generator | None = None,
               antithetic: bool = False) -> torch.Tensor:
    """Noise images with the given per-channel statistics.

    Parameters
    ----------
    samples : int
        Draws S per sample.
    mean, std : torch.Tensor, shape (B, C)
    size : (H, W)
    kind : {'gaussian', 'uniform'}
        Gaussian ``N(μ, σ²)``, or uniform on ``[μ − √3σ, μ + √3σ]`` (the same mean and std).
    generator : torch.Generator, optional
        On the device of ``mean``.
    antithetic : bool
        Draw in pairs ``μ + σz``, ``μ − σz`` (the second half mirrors the first; an odd last draw
        is unpaired). Both distributions are symmetric, so each draw keeps its distribution; in a
        Monte Carlo mean, the terms odd in ``z`` cancel exactly (see :func:`rde`).

    Returns
    -------
    torch.Tensor, shape (S, B, C, H, W)
    """
    if kind not in NOISES:
        raise ValueError(f"noise must be one of {', '.join(NOISES)}, got {kind!r}")
    half = (samples + 1) // 2 if antithetic else samples
    shape = (half, *mean.shape, *size)
    kw = dict(generator=generator, device=mean.device, dtype=mean.dtype)
    if kind == "gaussian":
        z = torch.randn(shape, **kw)
    else:
        z = (2 * torch.rand(shape, **kw) - 1) * math.sqrt(3.0)
    if antithetic:
        z = torch.cat([z, -z[: samples - half]])
    return mean[..., None, None] + std[..., None, None] * z


def check_region(roi, height: int, width: int, what: str = "output") -> tuple[int, int, int, int]:
    """``(r0, c0, r1, c1)`` as ints, or ``ValueError`` when the rows r0:r1 / columns c0:c1 leave the
    ``height × width`` image or are empty."""
    try:
        r0, c0, r1, c1 = (int(v) for v in roi)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a region of interest is (r0, c0, r1, c1), four integers; got {roi!r}") from exc
    if not (0 <= r0 < r1 <= height and 0 <= c0 < c1 <= width):
        raise ValueError(f"region of interest rows {r0}:{r1}, columns {c0}:{c1} does not lie inside the "
                         f"{height}×{width} {what}; need 0 <= r0 < r1 <= {height} and 0 <= c0 < c1 <= {width}")
    return r0, c0, r1, c1


def region(out: torch.Tensor, roi) -> torch.Tensor:
    """The part of per-sample outputs ``(M, ...)`` in a region: ``roi`` None (all), ``(r0, c0, r1, c1)``
    (rows/columns of the last two dimensions) or a tensor broadcastable to ``out[0]`` (a weight,
    e.g. a boolean mask)."""
    if roi is None:
        return out
    if isinstance(roi, torch.Tensor):
        return out * roi.to(out.device, out.dtype)
    if out.ndim < 3:
        raise ValueError(f"a region (r0, c0, r1, c1) needs outputs with two spatial dimensions, got shape "
                         f"{tuple(out.shape)}; pass a weight tensor or your own distortion")
    r0, c0, r1, c1 = check_region(roi, *out.shape[-2:])
    return out[..., r0:r1, c0:c1]


def relative_distortion(roi=None) -> Distortion:
    """``d(a, b) = ‖a_R − b_R‖² / ‖a_R‖²`` per sample, for outputs ``(M, ...)`` (see :func:`region`)."""

    def distortion(out_x: torch.Tensor, out_y: torch.Tensor) -> torch.Tensor:
        num = region(out_x - out_y, roi).flatten(1).pow(2).sum(1)
        den = region(out_x, roi).flatten(1).pow(2).sum(1)
        return num / den

    distortion.__name__ = "relative_squared_error"
    return distortion


class Problem:
    """One explanation's input, reference output, noise model and distortion (shared by
    :func:`rde`, the baselines and :func:`~ltl.explain.relevance_ordering`).

    Call inside :func:`eval_mode`. ``x`` is ``(B, C, H, W)``; ``out_x = Φ(x)`` is computed once.
    """

    def __init__(self, model, x: torch.Tensor, *, distortion: Distortion | None = None, roi=None,
                 noise: str = RDESettings.noise, noise_mean=None, noise_std=None,
                 seed: int = RDESettings.seed):
        if not callable(model):
            raise TypeError(f"model must be callable (a torch model), got {type(model).__name__}")
        if noise not in NOISES:
            raise ValueError(f"noise must be one of {', '.join(NOISES)}, got {noise!r}")
        if distortion is not None and roi is not None:
            raise ValueError("roi applies to the default distortion; restrict your own distortion to the region instead")
        if distortion is not None and not callable(distortion):
            raise TypeError(f"distortion must be a function (out_x, out_y) -> per-sample tensor, got "
                            f"{type(distortion).__name__}")
        self.model, self.x, self.noise_kind, self.seed = model, x, noise, int(seed)
        with torch.no_grad():
            self.out_x = model(x)
        if not isinstance(self.out_x, torch.Tensor) or self.out_x.ndim < 1 or self.out_x.shape[0] != x.shape[0]:
            raise ValueError("the model must return a tensor with one row per input sample")
        if distortion is None:
            ref = region(self.out_x, roi).flatten(1).pow(2).sum(1)
            if bool((ref == 0).any()):
                raise ValueError("the model's output is zero in the region of interest, so its relative distortion "
                                 "is undefined; choose another region or pass your own distortion")
            distortion = relative_distortion(roi)
        self.distortion, self.roi = distortion, roi
        self.mean, self.std = noise_statistics(x, noise_mean, noise_std)
        self.generator = torch.Generator(device=x.device)
        self.generator.manual_seed(self.seed)

    def noise(self, samples: int, antithetic: bool = False) -> torch.Tensor:
        """Fresh noise ``(S, B, C, H, W)`` from the problem's seeded generator (see :func:`draw_noise`)."""
        return draw_noise(samples, self.mean, self.std, tuple(self.x.shape[-2:]), kind=self.noise_kind,
                          generator=self.generator, antithetic=antithetic)

    def distortions(self, s: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        """``d(Φ(x), Φ(s ⊙ x + (1 − s) ⊙ n))`` for masks ``s`` ``(B, *mask)`` and noise ``(S, B, C, H, W)``
        → ``(S, B)``; differentiable in ``s``."""
        S, B = n.shape[:2]
        y = s * self.x + (1 - s) * n  # (S, B, C, H, W)
        out_y = self.model(y.reshape(S * B, *self.x.shape[1:]))
        out_x = self.out_x.unsqueeze(0).expand(S, *self.out_x.shape).reshape(S * B, *self.out_x.shape[1:])
        d = self.distortion(out_x, out_y)
        if not isinstance(d, torch.Tensor) or d.shape != (S * B,):
            shape = tuple(d.shape) if isinstance(d, torch.Tensor) else type(d).__name__
            raise ValueError(f"distortion must return one value per sample, shape ({S * B},), got {shape}")
        return d.reshape(S, B)

    def describe(self) -> dict:
        name = getattr(self.distortion, "__name__", type(self.distortion).__name__)
        roi = self.roi if self.roi is None or not isinstance(self.roi, torch.Tensor) else "weight tensor"
        return {"distortion": name, "roi": list(roi) if isinstance(roi, tuple) else roi, "noise": self.noise_kind,
                "noise_mean": self.mean.tolist(), "noise_std": self.std.tolist(), "seed": self.seed}


