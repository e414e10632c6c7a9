"""Fan-beam filtered back projection on a flat detector, with redundancy (Parker) weights.

The reconstruction follows Kak & Slaney, *Principles of Computerized Tomographic Imaging* (1988),
§3.4.2 (equally spaced collinear detectors): with R the source–axis distance, s = u·R/(R + O)
the detector position u scaled to the rotation axis, cos γ = R/√(R² + s²), and U(x, β) the
distance from the source to x along the central ray divided by R,

    f(x) = Σ_β Δβ · U(x, β)⁻² · Q_β(s(x, β)),   Q_β = h ∗ (w(β, γ) · cos γ · p_β),

where h is the ramp filter in s and w the redundancy weight: ½ on a full turn (every ray is
measured twice), Parker's short-scan weights (D. L. Parker, "Optimal short scan convolution
reconstruction for fan beam CT", Med. Phys. 9 (1982) 254–257) on a scan of 180° plus the fan
angle, generalised to any range by tapering only where a ray and its conjugate (β + π − 2γ, −γ)
both lie in the scan (the "overscan" form of Wesarg, Ebert & Bortfeld, Med. Phys. 29 (2002) 372),
and 1 where a ray is measured once — so a limited-angle scan shorter than 180° is weighted like the
parallel-beam FBP, each view by Δβ. The back projection is pixel driven (linear interpolation on
the detector), on the sinogram's device, in chunks of views that bound its memory.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .filters import ramp_filter

__all__ = ["fan_angles", "redundancy_weights", "fan_backproject", "fan_fbp"]

#: Elements of the (B, views, N²) interpolation buffer of :func:`fan_backproject` per chunk.
_CHUNK_ELEMENTS = 1 << 22


def _require_fan(geometry) -> None:
    if not getattr(geometry, "is_fan", False):
        raise ValueError(f"a fan-beam geometry is needed (Geometry.fan_beam), got {geometry.describe()}")


def fan_angles(geometry) -> np.ndarray:
    """γ of each detector pixel: ``atan(u_k / (R + O))`` with ``u_k = (k − (D − 1)/2)·det_spacing``,
    shape ``(D,)``, radians."""
    _require_fan(geometry)
    u = (np.arange(geometry.det_count) - (geometry.det_count - 1) / 2.0) * geometry.det_spacing
    return np.arctan(u / (geometry.source_origin + geometry.origin_det))


def _scan_positions(geometry) -> tuple[np.ndarray, float, int]:
    """Source angles relative to the scan's start, ``(V,)`` in [0, span), the span V·Δβ, and the
    direction of rotation (+1 increasing, −1 decreasing angles)."""
    a = np.asarray(geometry.angles, dtype=np.float64)
    d = np.diff(a)
    if a.size > 1 and not (np.all(d > 0) or np.all(d < 0)):
        raise ValueError("fan-beam FBP needs the source angles in scan order (strictly increasing or decreasing)")
    sign = -1 if a.size > 1 and d[0] < 0 else 1
    step = geometry.angular_step
    return sign * (a - a[0]) + step / 2.0, step * a.size, sign


def redundancy_weights(geometry) -> torch.Tensor:
    """The redundancy weight w(β, γ) of every measured ray, ``(V, D)`` float64 in [0, 1].

    A ray and its conjugate get weights that sum to 1 when both are measured; a ray measured once
    gets 1. Full turn (span ≥ 360° − Δβ/2): π/span (½ for exactly 360°). Otherwise, with span
    Δ = V·Δβ, position b ∈ (0, Δ) of the view in the scan and γ taken in the direction of
    rotation, the start zone b < a₁ = Δ − π + 2γ gets sin²(π/2 · b/a₁) and the end zone
    Δ − b < a₂ = Δ − π − 2γ gets sin²(π/2 · (Δ − b)/a₂) (Parker 1982 for Δ = π + fan angle).
    """
    b, span, sign = _scan_positions(geometry)
    gam = sign * fan_angles(geometry)
    v, d = geometry.num_angles, geometry.det_count
    if span >= 2 * math.pi - geometry.angular_step / 2:
        return torch.full((v, d), math.pi / span, dtype=torch.float64)
    w = np.ones((v, d))
    bb = b[:, None]
    a1 = (span - math.pi + 2 * gam)[None, :]
    a2 = (span - math.pi - 2 * gam)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        start = (a1 > 0) & (bb < a1)
        w = np.where(start, np.sin(0.5 * math.pi * bb / a1) ** 2, w)
        end = (a2 > 0) & (span - bb < a2)
        w = np.where(end, np.sin(0.5 * math.pi * (span - bb) / a2) ** 2, w)
    return torch.from_numpy(w)


def _pixel_grid(n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """x (column) and y coordinates of the pixel centres, flattened ``(N²,)`` float32, ASTRA's
    volume: x grows with the column, y decreases with the row."""
    c = torch.arange(n, dtype=torch.float32, device=device) - (n - 1) / 2.0
    return c[None, :].expand(n, n).reshape(-1), (-c)[:, None].expand(n, n).reshape(-1)


def fan_backproject(geometry, q: torch.Tensor) -> torch.Tensor:
    """The FBP back projection Σ_β U⁻²·q_β(u(x, β)), ``(B, V, D)`` → ``(B, N, N)`` on q's device.

    Pixel driven: each pixel centre is projected from the source onto the detector, q is read
    there by linear interpolation (zero outside the detector) and weighted by U⁻², U the distance
    from the source along the central ray over R. Not the adjoint of the Radon operator (that is
    ``RadonOperator.T``); the weight is the one fan-beam FBP needs. Views go in chunks of about
    4 M pixel-views, so the memory stays bounded for any scan.
    """
    _require_fan(geometry)
    if q.ndim != 3 or tuple(q.shape[1:]) != geometry.sino_shape:
        raise ValueError(f"q must have shape (B, {geometry.num_angles}, {geometry.det_count}), got {tuple(q.shape)}")
    n, d, v = geometry.image_size, geometry.det_count, geometry.num_angles
    r, sdd = geometry.source_origin, geometry.source_origin + geometry.origin_det
    dev, b = q.device, q.shape[0]
    x, y = _pixel_grid(n, dev)
    beta = torch.tensor(np.asarray(geometry.angles), dtype=torch.float64, device=dev)
    sin_b, cos_b = torch.sin(beta).float()[:, None], torch.cos(beta).float()[:, None]
    # q with one zero sample on each side of the detector, flattened per slice: (B, V·(D + 2))
    qp = torch.nn.functional.pad(q.to(torch.float32), (1, 1)).reshape(b, -1)
    out = torch.zeros(b, n * n, dtype=torch.float32, device=dev)
    chunk = max(1, _CHUNK_ELEMENTS // (n * n))
    for lo in range(0, v, chunk):
        hi = min(v, lo + chunk)
        sb, cb = sin_b[lo:hi], cos_b[lo:hi]
        inv = torch.addcmul(torch.addcmul(torch.full((1, 1), r, device=dev), x[None], -sb), y[None], cb).reciprocal_()
        k = torch.addcmul(x[None] * cb, y[None], sb).mul_(inv).mul_(sdd / geometry.det_spacing)
        k = k.add_((d - 1) / 2.0 + 1.0).clamp_(0.0, float(d + 1))  # outside the detector: the zero samples
        k0 = k.floor().clamp_(max=float(d))
        frac = k.sub_(k0).reshape(-1)
        row = torch.arange(lo, hi, device=dev)[:, None] * (d + 2)
        idx = k0.long().add_(row).reshape(-1)
        weight = inv.mul_(r).square_()  # U⁻² = (R / distance along the central ray)²
        val = torch.lerp(qp.index_select(1, idx), qp.index_select(1, idx + 1), frac)
        out += (val.reshape(b, hi - lo, n * n) * weight).sum(dim=1)
    return out.reshape(b, n, n)


def fan_fbp(geometry, sinogram: torch.Tensor, *, filter: str = "ram-lak") -> torch.Tensor:
    """Fan-beam FBP (module notes), ``(B, V, D)`` → ``(B, N, N)`` float32 on the sinogram's device.

    Parameters
    ----------
    geometry : Geometry
        A fan-beam geometry (:meth:`~ltl.Geometry.fan_beam`), angles in scan order.
    sinogram : torch.Tensor, shape (B, V, D)
        Line integrals in pixel units, as :class:`~ltl.RadonOperator` returns them.
    filter : {'ram-lak', 'shepp-logan', 'cosine', 'hann'}
        The ramp filter's window (:func:`ltl.operators.filters.ramp_filter`).
    """
    _require_fan(geometry)
    y = sinogram.to(torch.float32)
    dev = y.device
    d = geometry.det_count
    gam = torch.as_tensor(fan_angles(geometry), dtype=torch.float64)
    pre = (redundancy_weights(geometry) * torch.cos(gam)[None, :]).to(torch.float32).to(dev)
    resp = ramp_filter(d, filter, device=dev)
    size = 2 * (resp.shape[0] - 1)
    q = torch.fft.irfft(torch.fft.rfft(y * pre, n=size, dim=-1) * resp, n=size, dim=-1)[..., :d]
    ds = geometry.det_spacing / geometry.magnification  # detector pixel scaled to the rotation axis
    return fan_backproject(geometry, q * (geometry.angular_step / ds))
