"""Filtered back projection on ltl's Radon operator, batched, on the sinogram's device (parallel
beam here; fan beam in :mod:`ltl.operators.fanbeam`)."""

from __future__ import annotations

import torch

from .filters import FILTERS, ramp_filter
from .radon import RadonOperator

__all__ = ["fbp", "FILTERS", "ramp_filter"]


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
    i.e. ASTRA's FBP × V·Δθ/π), which cannot restore what the missing wedge hides. A fan-beam
    geometry goes to :func:`ltl.operators.fanbeam.fan_fbp` (cosine and redundancy weights, Parker's
    on a short scan, and a pixel-driven back projection weighted by the distance to the source).
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
    if g.is_fan:
        from .fanbeam import fan_fbp

        single = sinogram.ndim == 2
        f = fan_fbp(g, sinogram.unsqueeze(0) if single else sinogram, filter=filter)
        return f[0] if single else f
    y = sinogram.to(torch.float32)
    d = g.det_count
    resp = ramp_filter(d, filter, device=y.device)
    size = 2 * (resp.shape[0] - 1)
    q = torch.fft.irfft(torch.fft.rfft(y, n=size, dim=-1) * resp, n=size, dim=-1)[..., :d]
    q = q * (g.angular_step / g.det_spacing)
    return op.T(q.contiguous())
