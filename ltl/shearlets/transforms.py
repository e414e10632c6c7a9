"""The FFT kernels of :class:`~ltl.shearlets.ShearletFrame`: the same circular convolutions with
the real, even frequency responses ``H_c`` of the frame, in the FFT layouts that are fastest on
CUDA and on CPU. ``tests/shearlets/test_frame.py`` checks each against the others.
"""

from __future__ import annotations

import numpy as np
import torch

from ._construction import FilterBank, full_spectrum

__all__ = ["forward_rfft", "forward_paired", "adjoint_rfft", "cpu_layouts"]


def forward_rfft(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``(B, N, N) -> (B, C, N, N)``: one rfft2, one broadcast multiply by the real half-spectrum
    filters ``h (C, N, N//2+1)``, one batched irfft2 (the CUDA path)."""
    n = x.shape[-1]
    return torch.fft.irfft2(torch.fft.rfft2(x).unsqueeze(1) * h, s=(n, n))


def forward_paired(x: torch.Tensor, hpair: torch.Tensor, channels: int) -> torch.Tensor:
    """The CPU path: channels 2p and 2p+1 are the real and imaginary parts of one complex
    ``ifft2(fft2(x) · (H_2p + i H_2p+1))`` (both convolutions are real). MKL's multi-dimensional
    complex-to-real FFT is several times slower than its complex FFT on some CPUs (measured 2-3x
    on AMD EPYC), which makes this about twice as fast as :func:`forward_rfft` there.

    ``hpair`` is ``(P, N, N)`` complex (:func:`cpu_layouts`, key ``"pair"``), ``channels`` the
    frame's C ≤ 2P; returns ``(B, C, N, N)``."""
    b, n = x.shape[0], x.shape[-1]
    y = torch.fft.ifft2(torch.fft.fft2(x).unsqueeze(1) * hpair)  # (B, P, N, N)
    p = hpair.shape[0]
    return torch.view_as_real(y).permute(0, 1, 4, 2, 3).reshape(b, 2 * p, n, n)[:, :channels]


def adjoint_rfft(c: torch.Tensor, h: torch.Tensor, hc: torch.Tensor | None) -> torch.Tensor:
    """``(B, C, N, N) -> (B, N, N)``: one batched rfft2, the channel sum ``Σ_c H_c Z_c`` and one
    irfft2. ``hc`` (complex copy of ``h``) selects a complex einsum, fastest on CPU; otherwise a
    real broadcast multiply and sum over ``view_as_real`` (no complex copy of the filters)."""
    n = c.shape[-1]
    spec = torch.fft.rfft2(c)  # (B, C, N, M)
    if hc is not None:
        acc = torch.einsum("bcnm,cnm->bnm", spec, hc)
    else:
        acc = torch.view_as_complex((torch.view_as_real(spec) * h.unsqueeze(-1)).sum(1))
    return torch.fft.irfft2(acc, s=(n, n))


def cpu_layouts(bank: FilterBank, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The CPU filter layouts of ``bank`` in real ``dtype`` (float32 or float64), on the CPU.

    Returns
    -------
    dict
        ``"pair"``: ``(⌈C/2⌉, N, N)`` complex, ``H_2p + i H_2p+1`` on the full grid (a zero
        channel pads an odd C), for :func:`forward_paired`; ``"half_complex"``: ``(C, N, N//2+1)``
        complex copy of the half-spectrum filters, for :func:`adjoint_rfft`.
    """
    cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
    full = torch.from_numpy(full_spectrum(bank)).to(dtype)
    c = full.shape[0]
    if c % 2:
        full = torch.cat([full, full.new_zeros(1, *full.shape[1:])])
    return {
        "pair": torch.complex(full[0::2], full[1::2]).contiguous(),
        "half_complex": torch.from_numpy(np.array(bank.filters)).to(cdtype),
    }
