"""Filtered back projection on ltl's Radon operator, batched, on the sinogram's device."""

from __future__ import annotations

import functools
import math

import torch

from .radon import RadonOperator

__all__ = ["fbp", "FILTERS", "ramp_filter"]

FILTERS = ("ram-lak", "shepp-logan", "cosine", "hann")


def ramp_filter(det_count: int, filter: str = "ram-lak", *, device=None) -> torch.Tensor:
    """The frequency response of the windowed ramp filter, shape ``(P // 2 + 1,)`` for ``torch.fft.rfft``.

    ``P`` is the padded length, the power of two ≥ 2·``det_count``. The ramp is the DFT of the
    band-limited spatial kernel h[0] = 1/4, h[n] = −1/(πn)² for odd n, 0 for even n (Kak &
    Slaney, *Principles of Computerized Tomographic Imaging*, 1988, eq. 3.61), in units of one
    detector pixel, which avoids the DC error of sampling |ω| directly. The windows, with f in
    cycles per pixel (|f| ≤ 1/2), are: Shepp–Logan sinc(f) = sin(πf)/(πf), cosine cos(πf), Hann
    (1 + cos(2πf))/2.
    """
    key = filter.lower()
    if key not in FILTERS:
        raise ValueError(f"unknown filter {filter!r}; choose one of {', '.join(FILTERS)}")
    return _ramp_filter(det_count, key).to(device)


@functools.lru_cache(maxsize=32)
def _ramp_filter(det_count: int, key: str) -> torch.Tensor:
    """Cached float32 response on the CPU."""
    size = max(64, 1 << math.ceil(math.log2(2 * det_count)))
    n = torch.cat([torch.arange(0, size // 2 + 1), torch.arange(-(size // 2) + 1, 0)]).double()
    h = torch.zeros(size, dtype=torch.float64)
    h[0] = 0.25
    odd = n.remainder(2) == 1
    h[odd] = -1.0 / (math.pi * n[odd]) ** 2
    resp = torch.fft.rfft(h).real  # ≈ |f|, f in cycles per detector pixel
    f = torch.fft.rfftfreq(size, dtype=torch.float64)
    if key == "shepp-logan":
        resp = resp * torch.sinc(f)
    elif key == "cosine":
        resp = resp * torch.cos(math.pi * f)
    elif key == "hann":
        resp = resp * 0.5 * (1.0 + torch.cos(2 * math.pi * f))
    return resp.to(torch.float32)


def fbp(op: RadonOperator, sinogram: torch.Tensor, *, filter: str = "ram-lak") -> torch.Tensor:
    """Filtered back projection, ``(V, D)`` or ``(B, V, D)`` → ``(N, N)`` or ``(B, N, N)``.

    Parameters
    ----------
    op : RadonOperator
        The operator whose geometry made the sinogram; its adjoint back-projects.
    sinogram : torch.Tensor, shape (V, D) or (B, V, D)
        Line integrals in pixel units (what ``op`` returns), on any device.
    filter : {'ram-lak', 'shepp-logan', 'cosine', 'hann'}
        The window on the ramp filter; smoother windows trade resolution for noise.

    Returns
    -------
    torch.Tensor
        The reconstruction, float32, on the sinogram's device.

    Notes
    -----
    f ≈ Δθ · Aᵀ(h ∗ y) / s, with h the ramp filter in detector pixels (see :func:`ramp_filter`),
    s the detector spacing, and Δθ the mean angular step in radians. With 180° of views this
    reconstructs intensities; on a limited range it is the usual FBP (each view weighted by Δθ,
    i.e. ASTRA's FBP × V·Δθ/π), which cannot restore what the missing wedge hides.
    """
    if not isinstance(op, RadonOperator):
        raise TypeError(f"op must be a RadonOperator, got {type(op).__name__}")
    g = op.geometry
    if not isinstance(sinogram, torch.Tensor):
        raise TypeError("sinogram must be a torch.Tensor; use torch.as_tensor(...)")
    if sinogram.ndim not in (2, 3) or tuple(sinogram.shape[-2:]) != g.sino_shape:
        raise ValueError(
            f"sinogram must have shape {g.sino_shape} or (B, {g.num_angles}, {g.det_count}) for "
            f"{g.describe()}, got {tuple(sinogram.shape)}"
        )
    y = sinogram.to(torch.float32)
    d = g.det_count
    resp = ramp_filter(d, filter, device=y.device)
    size = 2 * (resp.shape[0] - 1)
    q = torch.fft.irfft(torch.fft.rfft(y, n=size, dim=-1) * resp, n=size, dim=-1)[..., :d]
    q = q * (g.angular_step / g.det_spacing)
    return op.T(q.contiguous())
