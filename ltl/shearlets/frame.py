"""The band-limited Parseval shearlet frame as a batched torch operator.

Construction after K. Guo and D. Labate, "The construction of smooth Parseval frames of
shearlets", Math. Model. Nat. Phenom. 8 (2013) 82-105, with the Meyer windows of S. Häuser and
G. Steidl, "Fast finite shearlet transform: a tutorial", arXiv:1202.1773 (2012); see
:mod:`ltl.shearlets._construction` for the formulas.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import torch

from ..operators.base import LinearOperator
from ..runtime.memory import check_fits
from ._construction import (
    FilterBank,
    build_filter_bank,
    default_scales,
    default_shears,
    frequency_directions,
    full_spectrum,
    half_spectrum_weights,
    max_scales,
)
from .channels import ShearletChannel, channels_of
from .transforms import adjoint_rfft, cpu_layouts, forward_paired, forward_rfft

__all__ = ["ShearletFrame", "ShearletChannel"]

_MIN_SIZE = 8
_DTYPES = (torch.float32, torch.float64)


def _check_size(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"N must be an integer image side, got {n!r} ({type(n).__name__}); pass e.g. 256")
    if n < _MIN_SIZE:
        raise ValueError(f"N must be >= {_MIN_SIZE} for a shearlet frame, got {n}; use a larger image")
    return int(n)


class ShearletFrame(LinearOperator):
    """A cone-adapted, band-limited Parseval frame of real shearlets on the ``N x N`` grid.

    ``forward`` (analysis) maps images ``(B, N, N)`` to coefficients ``(B, C, N, N)`` (undecimated:
    every channel is a full-size image); ``adjoint`` (synthesis) is its exact inverse because the
    frame is Parseval, ``Σ_c |ψ̂_c(ξ)|² = 1`` at every frequency of the grid. Both are circular
    convolutions with real, even frequency responses, precomputed once per device and dtype:
    forward is one ``rfft2``, one broadcast multiply and one batched ``irfft2`` (on CPU, where
    MKL's complex-to-real FFT is slow, channel pairs share one complex ``ifft2`` instead); adjoint
    is one batched ``rfft2``, a channel reduction and one ``irfft2``. Autograd works through both.

    As a :class:`~ltl.operators.LinearOperator`, ``frame(f)`` is :meth:`forward`, ``frame.T(c)``
    is :meth:`adjoint`, ``domain_shape`` is ``(N, N)``, ``range_shape`` is ``(C, N, N)`` and
    :meth:`norm` is 1 (Parseval).

    Parameters
    ----------
    N : int
        Image side (>= 8), odd or even.
    scales : int, optional
        Number of detail scales J (default :func:`default_scales`: ``clip(floor(log2 N) - 3, 1, 4)``,
        so 4 for N >= 128, 3 for N = 64, 2 for N = 32..63). At most ``floor(log2(N/2)) - 1``.
    shears : sequence of int, optional
        ``K_j`` for ``j = 1..J``: the shears per cone are ``k = -K_j..K_j``; default
        ``2^ceil(j/2)`` (2, 2, 4, 4, 8, ...), the parabolic growth of shearlet theory. Scale j has
        ``4 K_j`` channels.
    device : torch.device or str, optional
        Where the filters are kept (default CPU). Inputs on another device get a cached copy of the
        filters on their own device: the computation always runs where the data lies.
    dtype : torch.dtype
        ``torch.float32`` (default) or ``torch.float64``, the dtype of the stored filters.
    bins : int
        Number of direction bins of the per-channel angular energy histograms (default 180).

    Attributes
    ----------
    image_size : int
        N.
    domain_shape, range_shape : tuple of int
        ``(N, N)`` and ``(C, N, N)``.
    num_channels : int
        C = 1 + Σ_j 4 K_j (49 for the default 4 scales, 33 for 3, 17 for 2, 9 for 1).
    channels : tuple of ShearletChannel
        Per-channel metadata, ``channels[c]`` describes coefficient channel c.
    filters : torch.Tensor, shape (C, N, N//2 + 1)
        The real frequency responses on the ``rfft2`` half spectrum (frequencies as in
        ``torch.fft.rfftfreq``/``fftfreq`` times N, cycles per image).

    Notes
    -----
    Construction (all in cycles per image, ``ξ_x`` = column frequency, ``ξ_y`` = -row frequency):

    * Meyer function ``v(x) = x^4 (35 - 84x + 70x² - 20x³)`` on [0, 1] (Häuser & Steidl 2012,
      arXiv:1202.1773), ``b(u) = cos(π/2 · v(|u|))``.
    * Low-pass windows ``Φ_j(ξ) = b(|ξ_x|/a_j - 1) · b(|ξ_y|/a_j - 1)`` (with ``b = 1`` for negative
      arguments), ``a_j = (N/2) 2^(j-J-1)`` for ``j = 0..J-1``, and ``Φ_J ≡ 1``.
    * Radial windows ``W_0 = Φ_0``, ``W_j² = Φ_j² - Φ_{j-1}²`` (j = 1..J), so ``Σ_j W_j² = 1``;
      scale j lives on ``a_{j-1} <= ‖ξ‖_∞ <= 2 a_j`` (a factor 2 per scale).
    * Angular windows ``V_{j,k}(ξ) = b(K_j ξ_y/ξ_x - k)`` on the horizontal cone and
      ``b(K_j ξ_x/ξ_y - k)`` on the vertical cone; since ``b(u)² + b(u-1)² = 1`` on [0, 1] they are
      a partition of unity in the slope. The two windows with ``|k| = K_j`` peak on a diagonal and are
      glued across both cones into one smooth "seam" element (Guo & Labate 2013).
    * ``ψ̂_{j,k} = W_j V_{j,k}``, functions of ``ξ`` only through ``|ξ_x|, |ξ_y|, ξ_y/ξ_x``, hence
      even: ``ψ̂(-ξ) = ψ̂(ξ)`` is real, atoms are real and even, coefficients are real. For even N
      the self-mirrored Nyquist row/column is made exactly even by ``H ← sqrt((H(ξ)² + H(-ξ)²)/2)``,
      which keeps ``Σ|ψ̂|² = 1``.

    Examples
    --------
    >>> import torch
    >>> sh = ShearletFrame(128)
    >>> x = torch.rand(2, 128, 128)
    >>> c = sh(x)
    >>> c.shape, sh.num_channels
    (torch.Size([2, 49, 128, 128]), 49)
    >>> bool(torch.allclose(sh.adjoint(c), x, atol=1e-5))
    True
    """

    def __init__(
        self,
        N: int,
        scales: int | None = None,
        shears: Sequence[int] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        bins: int = 180,
    ) -> None:
        n = _check_size(N)
        jmax = max_scales(n)
        if scales is None:
            scales = min(default_scales(n), jmax)
        if isinstance(scales, bool) or not isinstance(scales, (int, np.integer)) or not 1 <= scales <= jmax:
            raise ValueError(
                f"scales must be an integer in 1..{jmax} for N={n} (coarsest band needs >= 1 cycle per "
                f"image), got {scales!r}; pass scales=None for the default {min(default_scales(n), jmax)}"
            )
        scales = int(scales)
        if shears is None:
            shears_t = default_shears(scales)
        else:
            try:
                shears_t = tuple(int(k) for k in shears)
                ok = all(int(k) == k and k >= 1 for k in shears) and len(shears_t) == scales
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(
                    f"shears must be {scales} positive integers K_1..K_{scales} (one per scale), got "
                    f"{shears!r}; pass shears=None for the default {default_shears(scales)}"
                )
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"bins must be a positive integer, got {bins!r}; the default is 180")
        channels = 1 + 4 * sum(shears_t)
        check_fits(channels * n * n * 8 * 3, f"a shearlet frame of {channels} channels at N={n}", device=None,
                   hint="use a smaller image size or fewer scales")
        bank = build_filter_bank(n, scales, shears_t, int(bins))
        filters = torch.from_numpy(np.array(bank.filters)).to(dtype=dtype, device=device)
        self._init_from(bank, filters)

    def _init_from(self, bank: FilterBank, filters: torch.Tensor) -> None:
        self._bank = bank
        self.filters = filters
        self._cache: dict[tuple, dict[str, torch.Tensor]] = {}
        self.channels: tuple[ShearletChannel, ...] = channels_of(bank)
        self.domain_shape = (bank.n, bank.n)
        self.range_shape = (len(self.channels), bank.n, bank.n)

    # ------------------------------------------------------------------ properties
    @property
    def image_size(self) -> int:
        """N, the image side."""
        return self._bank.n

    @property
    def num_channels(self) -> int:
        """C, the number of coefficient channels."""
        return int(self._bank.filters.shape[0])

    @property
    def scales(self) -> int:
        """J, the number of detail scales."""
        return self._bank.scales

    @property
    def shears(self) -> tuple[int, ...]:
        """``(K_1, ..., K_J)``."""
        return self._bank.shears

    @property
    def device(self) -> torch.device:
        """Device of the stored filters."""
        return self.filters.device

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the stored filters."""
        return self.filters.dtype

    @property
    def angular_energy(self) -> np.ndarray:
        """``(C, bins)`` read-only array of the per-channel direction histograms (rows sum to 1)."""
        return self._bank.angular_energy

    @property
    def bin_centers(self) -> np.ndarray:
        """``(bins,)`` centres of the direction bins in radians, in [0, π)."""
        bins = self._bank.angular_energy.shape[1]
        return (np.arange(bins) + 0.5) * (math.pi / bins)

    def norm(self) -> float:
        """‖SH‖₂ = 1: the frame is Parseval (``SHᵀSH = I``), so no power iteration is needed."""
        return 1.0

    def channel_arrays(self) -> dict[str, np.ndarray]:
        """All channel metadata as arrays of length C.

        Returns
        -------
        dict
            ``scale`` (int), ``cone`` (str: 'h', 'v' or '' for the low-pass), ``shear`` (int),
            ``seam`` (bool), ``frequency_angle`` and ``edge_angle`` (float radians, NaN for the
            low-pass), ``atom_norm2`` (float, ``‖ψ_c‖²``) and ``angular_energy`` (``(C, bins)``).
        """
        b = self._bank
        return {
            "scale": np.array(b.scale),
            "cone": np.array([c or "" for c in b.cone]),
            "shear": np.array(b.shear),
            "seam": np.array(b.seam),
            "frequency_angle": np.array(b.frequency_angle),
            "edge_angle": np.mod(b.frequency_angle + math.pi / 2, math.pi),
            "atom_norm2": np.array(b.atom_norm2),
            "angular_energy": np.array(b.angular_energy),
        }

    def full_filters(self) -> np.ndarray:
        """The frequency responses on the whole ``N x N`` DFT grid, ``(C, N, N)`` float64 numpy,
        indexed like ``numpy.fft.fft2`` output (row frequency, column frequency)."""
        return full_spectrum(self._bank)

    def frequency_directions(self) -> np.ndarray:
        """``(N, N//2+1)`` direction in [0, π) of each ``rfft2`` frequency (mathematical frame)."""
        return frequency_directions(self.image_size)

    def half_spectrum_weights(self) -> np.ndarray:
        """``(N//2+1,)`` column weights turning sums over the half spectrum into full-grid sums."""
        return half_spectrum_weights(self.image_size)

    # ------------------------------------------------------------------ devices
    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "ShearletFrame":
        """A frame sharing this one's construction with its filters on ``device`` / in ``dtype``."""
        dtype = self.dtype if dtype is None else dtype
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        new = object.__new__(ShearletFrame)
        new._init_from(self._bank, self.filters.to(device=device if device is not None else self.device, dtype=dtype))
        return new

    def _filters_for(self, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """The filters on ``device`` in ``dtype`` (cached per frame), in the layouts each path uses."""
        key = (str(device), dtype)
        got = self._cache.get(key)
        if got is None:
            h = self.filters.to(device=device, dtype=dtype).contiguous()
            got = {"half": h}
            if device.type == "cpu":
                got.update(cpu_layouts(self._bank, dtype))
            self._cache[key] = got
        return got

    # ------------------------------------------------------------------ checks
    def _check(self, t, what: str, lead: str) -> torch.Tensor:
        n = self.image_size
        c = self.num_channels
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{what} must be a torch.Tensor, got {type(t).__name__}; use torch.as_tensor(...)")
        if t.dtype not in _DTYPES:
            raise ValueError(
                f"{what} must be a real float32 or float64 tensor, got dtype {t.dtype}; convert it with "
                f".float() (complex data: transform .real and .imag separately)"
            )
        if lead == "image":
            if t.ndim not in (2, 3) or t.shape[-1] != n or t.shape[-2] != n:
                raise ValueError(
                    f"{what} must have shape ({n}, {n}) or (B, {n}, {n}) for this N={n} frame, got "
                    f"{tuple(t.shape)}; pass square {n}x{n} images, or build ShearletFrame(N) for your size"
                )
        else:
            if t.ndim not in (3, 4) or t.shape[-1] != n or t.shape[-2] != n or t.shape[-3] != c:
                raise ValueError(
                    f"{what} must have shape ({c}, {n}, {n}) or (B, {c}, {n}, {n}) for this frame "
                    f"(C={c} channels, N={n}), got {tuple(t.shape)}; pass the output of forward() of a "
                    f"frame with the same N and scales"
                )
        return t

    # ------------------------------------------------------------------ transforms
    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """Analysis: shearlet coefficients of images.

        Parameters
        ----------
        f : torch.Tensor, shape (N, N) or (B, N, N), float32 or float64
            Images, ``[row, col]``, on any device.

        Returns
        -------
        torch.Tensor, shape (C, N, N) or (B, C, N, N)
            Real coefficients ``c[b, ch] = ψ_ch ⊛ f[b]`` (circular convolution), same dtype and
            device as ``f``. ``‖forward(f)‖ = ‖f‖``.
        """
        self._check(f, "image", "image")
        single = f.ndim == 2
        x = f.unsqueeze(0) if single else f
        if x.shape[0] == 0:  # MKL rejects empty FFT batches
            return x.new_zeros(0, self.num_channels, *x.shape[-2:])
        filt = self._filters_for(x.device, x.dtype)
        if "pair" in filt:
            # CPU: one image at a time keeps the (C/2, N, N) complex intermediate in cache
            out = torch.cat([forward_paired(x[i:i + 1], filt["pair"], self.num_channels)
                             for i in range(x.shape[0])])
        else:
            out = forward_rfft(x, filt["half"])
        return out[0] if single else out

    analysis = forward

    def adjoint(self, c: torch.Tensor) -> torch.Tensor:
        """Synthesis, the adjoint and (Parseval frame) the inverse of :meth:`forward`.

        Parameters
        ----------
        c : torch.Tensor, shape (C, N, N) or (B, C, N, N), float32 or float64

        Returns
        -------
        torch.Tensor, shape (N, N) or (B, N, N)
            ``Σ_ch ψ_ch ⊛ c[:, ch]``, same dtype and device as ``c``.
        """
        self._check(c, "coefficients", "coeff")
        single = c.ndim == 3
        x = c.unsqueeze(0) if single else c
        if x.shape[0] == 0:
            return x.new_zeros(0, *x.shape[-2:])
        filt = self._filters_for(x.device, x.dtype)
        if x.device.type == "cpu":  # one image at a time: cache-sized intermediates
            out = torch.cat([adjoint_rfft(x[i:i + 1], filt["half"], filt.get("half_complex"))
                             for i in range(x.shape[0])])
        else:
            out = adjoint_rfft(x, filt["half"], filt.get("half_complex"))
        return out[0] if single else out

    inverse = adjoint
    synthesis = adjoint

    def atoms(self, position: tuple[int, int] | None = None, channels: Iterable[int] | None = None) -> torch.Tensor:
        """The atoms ``ψ_c`` translated to ``position``: the adjoint of one-hot coefficient maps.

        Parameters
        ----------
        position : (row, col), optional
            Pixel of the one-hot coefficient, default the image centre ``(N//2, N//2)``.
        channels : iterable of int, optional
            Which channels (default all).

        Returns
        -------
        torch.Tensor, shape (len(channels), N, N)
            On the frame's device, in its dtype.
        """
        n = self.image_size
        r, col = (n // 2, n // 2) if position is None else position
        if not (0 <= int(r) < n and 0 <= int(col) < n):
            raise ValueError(f"position must be a pixel (row, col) inside the {n}x{n} image, got {position!r}")
        idx = list(range(self.num_channels)) if channels is None else [int(i) for i in channels]
        if any(not 0 <= i < self.num_channels for i in idx):
            raise ValueError(f"channels must lie in 0..{self.num_channels - 1}, got {idx}")
        delta = torch.zeros(n, n, dtype=self.dtype, device=self.device)
        delta[int(r), int(col)] = 1.0
        h = self.filters[idx]
        return torch.fft.irfft2(torch.fft.rfft2(delta) * h, s=(n, n))

    def __repr__(self) -> str:
        return (f"ShearletFrame(N={self.image_size}, scales={self.scales}, shears={self.shears}, "
                f"channels={self.num_channels}, device={self.device}, dtype={self.dtype})")
