"""Rebinning between fan-beam and parallel-beam sinograms, so parallel-beam models serve fan scans.

A fan-beam ray (β, u) on a flat detector at distance R + O from the source is the parallel-beam
ray θ = β − γ, t = R·sin γ with γ = atan(u/(R + O)) (see :mod:`ltl.geometry`); a parallel ray
(θ, t) is also (θ + π, −t). Each target sample is read from the source sinogram by bilinear
interpolation in (angle, detector) wherever one of its two descriptions lies inside the measured
range (the mean of both where both do); elsewhere it is 0 and the returned mask is False.

Accuracy (``tests/operators/test_rebin.py``, a smooth 128² image, 0.5° steps, R = 300, O = 150
pixels): the fan scan rebinned to parallel beam matches ASTRA's parallel projection of the same
image to 0.25% relative (ASTRA's linear and line kernels differ by as much), parallel → fan matches
ASTRA's fan projection to 0.5%, and fan → parallel → fan returns the fan sinogram to 0.5% — the
smoothing of two linear interpolations, the price of rebinning.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["rebin_fan_to_parallel", "rebin_parallel_to_fan"]


def _check(y: torch.Tensor, geometry, what: str) -> tuple[torch.Tensor, bool]:
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor")
    if y.ndim not in (2, 3) or tuple(y.shape[-2:]) != geometry.sino_shape:
        raise ValueError(f"{what} must have shape {geometry.sino_shape} or (B, ...) for {geometry.describe()}, "
                         f"got {tuple(y.shape)}")
    single = y.ndim == 2
    return (y.unsqueeze(0) if single else y).to(torch.float32), single


class _Grid:
    """Fractional indices into a sinogram's (angle, detector) grid, with validity."""

    def __init__(self, geometry, device):
        self.period = 2 * math.pi if geometry.is_fan else math.pi  # a parallel view at θ + π is the view at θ, mirrored
        a = np.asarray(geometry.angles, dtype=np.float64)
        diffs = np.diff(a)
        if a.size > 1 and not (np.all(diffs > 0) or np.all(diffs < 0)):
            raise ValueError("rebinning needs the angles in scan order (strictly increasing or decreasing)")
        self.sign = -1.0 if a.size > 1 and diffs[0] < 0 else 1.0
        self.a0 = float(a[0])
        rel = self.sign * (a - a[0])
        if rel[-1] >= 2 * math.pi:
            raise ValueError("rebinning needs a scan of at most one turn")
        # A complete scan wraps around: its first view, once more one period later, closes the gap.
        self.wraps = a.size > 1 and rel[-1] < self.period <= rel[-1] + 1.5 * geometry.angular_step
        if self.wraps:
            rel = np.append(rel, self.period)
        self.rel = torch.tensor(rel, dtype=torch.float64, device=device)
        self.count, self.spacing = geometry.det_count, geometry.det_spacing

    def index(self, angle: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Fractional view and detector indices of (angle, position) and whether both are inside."""
        b = torch.remainder(self.sign * (angle - self.a0), 2 * math.pi)
        tol = 1e-9
        b = torch.where(b > 2 * math.pi - tol, b - 2 * math.pi, b)  # a hair below the first view is the first view
        rel = self.rel
        if rel.numel() == 1:
            vi = torch.zeros_like(b)
            ok = b.abs() <= tol
        else:
            k = torch.searchsorted(rel, b.contiguous()).clamp(1, rel.numel() - 1)
            lo, hi = rel[k - 1], rel[k]
            vi = (k - 1).double() + (b - lo) / (hi - lo)
            ok = (b >= -tol) & (b <= rel[-1] + tol)
        di = pos / self.spacing + (self.count - 1) / 2.0
        ok = ok & (di >= -1e-6) & (di <= self.count - 1 + 1e-6)
        return vi.clamp(0, rel.numel() - 1), di.clamp(0, self.count - 1), ok


    def extend(self, y: torch.Tensor) -> torch.Tensor:
        """y with the first view appended one period later when the scan wraps around."""
        if not self.wraps:
            return y
        first = y[:, :1]
        return torch.cat([y, first if self.period > math.pi else first.flip(-1)], dim=1)


def _bilinear(y: torch.Tensor, vi: torch.Tensor, di: torch.Tensor) -> torch.Tensor:
    """y ``(B, V, D)`` at fractional indices ``(P,)`` → ``(B, P)``."""
    v, d = y.shape[1], y.shape[2]
    v0 = vi.floor().clamp(max=v - 2 if v > 1 else 0).long()
    d0 = di.floor().clamp(max=d - 2 if d > 1 else 0).long()
    fv, fd = (vi - v0).float(), (di - d0).float()
    v1, d1 = (v0 + 1).clamp(max=v - 1), (d0 + 1).clamp(max=d - 1)
    flat = y.reshape(y.shape[0], -1)

    def at(a, b):
        return flat.index_select(1, (a * d + b).reshape(-1))

    top = torch.lerp(at(v0, d0), at(v0, d1), fd)
    bottom = torch.lerp(at(v1, d0), at(v1, d1), fd)
    return torch.lerp(top, bottom, fv)


def _resample(y: torch.Tensor, grid: _Grid, candidates) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of the valid candidates ``[(angle, position), ...]`` of each target sample."""
    y = grid.extend(y)
    total = torch.zeros(y.shape[0], candidates[0][0].numel(), dtype=torch.float32, device=y.device)
    count = torch.zeros(candidates[0][0].numel(), dtype=torch.float32, device=y.device)
    for angle, pos in candidates:
        vi, di, ok = grid.index(angle.reshape(-1), pos.reshape(-1))
        total += _bilinear(y, vi, di) * ok.float()
        count += ok.float()
    return total / count.clamp(min=1.0), count > 0


def rebin_fan_to_parallel(y: torch.Tensor, fan, parallel, *, return_mask: bool = False):
    """A fan-beam sinogram resampled onto a parallel-beam geometry.

    Parameters
    ----------
    y : torch.Tensor, shape (V, D) or (B, V, D)
        Fan-beam sinograms of geometry ``fan`` (line integrals in pixel units).
    fan : Geometry
        The fan-beam geometry (:meth:`~ltl.Geometry.fan_beam`), angles in scan order.
    parallel : Geometry
        The parallel-beam target, e.g. a model's geometry. Full coverage of a parallel range Θ
        needs a fan scan over Θ plus the fan angle.
    return_mask : bool
        Also return the ``(V', D')`` mask of target samples the fan scan covers.

    Returns
    -------
    torch.Tensor, shape (V', D') or (B, V', D'), and the mask when asked
        float32 on y's device; 0 where the fan scan did not measure the ray.
    """
    if not fan.is_fan or parallel.is_fan:
        raise ValueError("rebin_fan_to_parallel needs a fan-beam source and a parallel-beam target geometry")
    yb, single = _check(y, fan, "fan-beam sinogram")
    dev = yb.device
    r, sdd = fan.source_origin, fan.source_origin + fan.origin_det
    theta = torch.tensor(np.asarray(parallel.angles), dtype=torch.float64, device=dev)[:, None]
    t = (torch.arange(parallel.det_count, dtype=torch.float64, device=dev) - (parallel.det_count - 1) / 2.0)
    t = (t * parallel.det_spacing)[None, :].expand(theta.shape[0], -1)
    inside = t.abs() < r
    gam = torch.asin((t / r).clamp(-1 + 1e-12, 1 - 1e-12))
    u = sdd * torch.tan(gam)
    grid = _Grid(fan, dev)
    out, mask = _resample(yb, grid, [(theta + gam, u), (theta + math.pi - gam, -u)])
    mask = mask.reshape(parallel.sino_shape) & inside
    out = out.reshape(-1, *parallel.sino_shape) * mask
    out = out[0] if single else out
    return (out, mask) if return_mask else out


def rebin_parallel_to_fan(y: torch.Tensor, parallel, fan, *, return_mask: bool = False):
    """A parallel-beam sinogram resampled onto a fan-beam geometry (the inverse of
    :func:`rebin_fan_to_parallel`); shapes and mask as there, with the roles swapped."""
    if not fan.is_fan or parallel.is_fan:
        raise ValueError("rebin_parallel_to_fan needs a parallel-beam source and a fan-beam target geometry")
    yb, single = _check(y, parallel, "parallel-beam sinogram")
    dev = yb.device
    r, sdd = fan.source_origin, fan.source_origin + fan.origin_det
    beta = torch.tensor(np.asarray(fan.angles), dtype=torch.float64, device=dev)[:, None]
    u = (torch.arange(fan.det_count, dtype=torch.float64, device=dev) - (fan.det_count - 1) / 2.0) * fan.det_spacing
    gam = torch.atan(u / sdd)[None, :].expand(beta.shape[0], -1)
    t = r * torch.sin(gam)
    grid = _Grid(parallel, dev)
    out, mask = _resample(yb, grid, [(beta - gam, t), (beta - gam + math.pi, -t)])
    mask = mask.reshape(fan.sino_shape)
    out = out.reshape(-1, *fan.sino_shape) * mask
    out = out[0] if single else out
    return (out, mask) if return_mask else out
