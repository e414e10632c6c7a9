"""The ramp filter of filtered back projection and its windows, shared by the parallel- and
fan-beam FBP."""

from __future__ import annotations

import functools
import math

import torch

__all__ = ["FILTERS", "ramp_filter"]

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
