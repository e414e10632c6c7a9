"""Frequency-domain construction of the band-limited shearlet filters (numpy, float64).

Everything here is built from the formulas of

* S. Häuser and G. Steidl, "Fast finite shearlet transform: a tutorial", arXiv:1202.1773
  (2012/2014): the Meyer auxiliary function ``v`` and Meyer-type windows;
* K. Guo and D. Labate, "The construction of smooth Parseval frames of shearlets",
  Math. Model. Nat. Phenom. 8 (2013) 82-105: a tensor-product Meyer low-pass whose squared
  differences give the radial (scale) windows, angular windows that form a partition of unity in
  the slope variable inside each cone, and "seam" elements that glue the two cones along the
  diagonals.

Frequency coordinates
---------------------
A grid point of the ``N x N`` DFT has integer frequencies ``(m_row, m_col)`` (cycles per image,
``numpy.fft.fftfreq(N) * N``). We use the *mathematical* frame ``x = column`` (pointing right),
``y = -row`` (pointing up), so ``xi_x = m_col`` and ``xi_y = -m_row``. Directions are
counter-clockwise angles from the +x axis in this frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["meyer_v", "default_scales", "default_shears", "FilterBank", "build_filter_bank"]


def meyer_v(x: np.ndarray) -> np.ndarray:
    """Meyer's auxiliary function of Häuser & Steidl, eq. (2.1).

    ``v(x) = 0`` for ``x <= 0``, ``1`` for ``x >= 1`` and ``x^4 (35 - 84 x + 70 x^2 - 20 x^3)`` in
    between. It satisfies ``v(x) + v(1 - x) = 1`` and is C^3 at 0 and 1.
    """
    x = np.clip(x, 0.0, 1.0)
    return x**4 * (35.0 - 84.0 * x + 70.0 * x**2 - 20.0 * x**3)


def _bump(u: np.ndarray) -> np.ndarray:
    """``cos(pi/2 * v(|u|))``: 1 at u = 0, 0 for |u| >= 1; ``bump(u)^2 + bump(u - 1)^2 = 1`` on [0, 1]."""
    vu = meyer_v(np.abs(u))
    out = np.cos(0.5 * math.pi * vu)
    out[vu >= 1.0] = 0.0  # cos(pi/2) is 6e-17 in floating point; make the support exact
    return out


def _lowpass_1d(w: np.ndarray, a: float) -> np.ndarray:
    """Meyer low-pass: 1 for |w| <= a, ``cos(pi/2 v(|w|/a - 1))`` on [a, 2a], 0 beyond."""
    return _bump(np.maximum(np.abs(w) / a - 1.0, 0.0))


def default_scales(n: int) -> int:
    """Default number of detail scales J: ``clip(floor(log2 N) - 3, 1, 4)`` (4 for N >= 128)."""
    return int(min(4, max(1, int(math.floor(math.log2(n))) - 3)))


def max_scales(n: int) -> int:
    """The most detail scales whose coarsest low-pass cutoff is still >= 1 cycle per image."""
    return max(1, int(math.floor(math.log2(n / 2.0))) - 1)


def default_shears(scales: int) -> tuple[int, ...]:
    """Parabolic shear growth: ``K_j = 2^ceil(j/2)`` for detail scales ``j = 1..J``."""
    return tuple(2 ** int(math.ceil(j / 2)) for j in range(1, scales + 1))


@dataclass(frozen=True)
class FilterBank:
    """Real, even frequency responses and their metadata (all numpy, read-only)."""

    n: int
    scales: int
    shears: tuple[int, ...]
    filters: np.ndarray  # (C, N, N//2+1) float64, rfft2 half-spectrum
    scale: np.ndarray  # (C,) int
    cone: tuple  # (C,) 'h' | 'v' | None
    shear: np.ndarray  # (C,) int
    seam: np.ndarray  # (C,) bool
    frequency_angle: np.ndarray  # (C,) float, nan for the low-pass
    angular_energy: np.ndarray  # (C, bins) float, rows sum to 1
    atom_norm2: np.ndarray  # (C,) squared l2 norm of each atom


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    m = np.fft.fftfreq(n) * n  # integer frequencies, Nyquist as -n/2 for even n
    xi_y = -m[:, None] * np.ones((1, n))  # row frequency -> y = -row
    xi_x = np.ones((n, 1)) * m[None, :]
    return xi_x, xi_y


def half_spectrum_weights(n: int) -> np.ndarray:
    """Weights ``(N//2+1,)`` over rfft columns so that a weighted sum over the half spectrum equals
    the sum over the full ``N x N`` grid for functions even in frequency."""
    m = n // 2 + 1
    w = np.full(m, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w


def frequency_directions(n: int, full: bool = False) -> np.ndarray:
    """Direction in [0, pi) of each grid frequency, ``atan2(xi_y, xi_x) mod pi`` (0 at DC).

    Shape ``(N, N//2+1)`` (rfft half spectrum) or ``(N, N)`` when ``full``.
    """
    xi_x, xi_y = _grid(n)
    phi = np.mod(np.arctan2(xi_y, xi_x), math.pi)
    phi[phi >= math.pi] = 0.0
    return phi if full else phi[:, : n // 2 + 1]


def _full_filters(n: int, scales: int, shears: tuple[int, ...]):
    xi_x, xi_y = _grid(n)
    ax, ay = np.abs(xi_x), np.abs(xi_y)
    hcone = ay <= ax  # includes the diagonals and DC
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(hcone, np.where(ax > 0, xi_y / np.where(ax > 0, xi_x, 1.0), 0.0), 0.0)
        t = np.where(~hcone, xi_x / np.where(ay > 0, xi_y, 1.0), 0.0)

    # Radial windows: Phi_j = phi(xi_x/a_j) phi(xi_y/a_j), a_j = (N/2) 2^(j-J-1), Phi_J = 1;
    # W_0 = Phi_0 (low-pass), W_j^2 = Phi_j^2 - Phi_{j-1}^2 (telescoping, sums to 1).
    half = n / 2.0
    lows2 = []
    for j in range(scales):
        a = half * 2.0 ** (j - scales - 1)
        lows2.append((_lowpass_1d(xi_x, a) * _lowpass_1d(xi_y, a)) ** 2)
    lows2.append(np.ones((n, n)))

    filters, meta = [np.sqrt(lows2[0])], [(0, None, 0, False, float("nan"))]
    for j in range(1, scales + 1):
        w = np.sqrt(np.clip(lows2[j] - lows2[j - 1], 0.0, None))
        k_max = shears[j - 1]
        for cone in ("h", "v"):
            ks = range(-k_max, k_max + 1) if cone == "h" else range(-k_max + 1, k_max)
            for k in ks:
                if cone == "h":
                    ang = np.where(hcone, _bump(k_max * s - k), 0.0)
                    if abs(k) == k_max:  # seam: glue the mirrored v-cone half (t = k/K there)
                        ang = ang + np.where(~hcone, _bump(k_max * t - k), 0.0)
                    phi = math.atan(k / k_max)
                else:
                    ang = np.where(~hcone, _bump(k_max * t - k), 0.0)
                    phi = math.pi / 2 - math.atan(k / k_max)
                filters.append(w * ang)
                meta.append((j, cone, k, abs(k) == k_max and cone == "h", phi % math.pi))
    h = np.stack(filters)
    # Make every response exactly even on the discrete grid: for even N the Nyquist row/column
    # maps to itself under negation but the formulas are evaluated at -N/2 only. Averaging the
    # squares of H(xi) and H(-xi) keeps sum_c H_c^2 = 1 and gives H(-xi) = H(xi), hence real
    # atoms, real coefficients and an exact rfft2/irfft2 path.
    neg = (-np.arange(n)) % n
    h = np.sqrt(0.5 * (h**2 + h[:, neg][:, :, neg] ** 2))
    return h, meta


@lru_cache(maxsize=8)
def build_filter_bank(n: int, scales: int, shears: tuple[int, ...], bins: int = 180) -> FilterBank:
    """Build (and cache) the filter bank for an ``N x N`` grid."""
    h, meta = _full_filters(n, scales, shears)
    h2 = h**2
    phi = frequency_directions(n, full=True)
    idx = np.minimum((phi / math.pi * bins).astype(np.int64), bins - 1).ravel()
    flat = h2.reshape(h2.shape[0], -1)
    hist = np.stack([np.bincount(idx, weights=row, minlength=bins) for row in flat])
    # DC has no direction: spread its energy uniformly over the bins.
    dc = flat[:, 0]
    hist[:, idx[0]] -= dc
    hist += dc[:, None] / bins
    total = flat.sum(axis=1)
    hist /= np.where(total > 0, total, 1.0)[:, None]
    half = h[:, :, : n // 2 + 1].copy()
    arrays = dict(
        filters=half,
        scale=np.array([m[0] for m in meta], dtype=np.int64),
        shear=np.array([m[2] for m in meta], dtype=np.int64),
        seam=np.array([m[3] for m in meta], dtype=bool),
        frequency_angle=np.array([m[4] for m in meta], dtype=np.float64),
        angular_energy=hist,
        atom_norm2=total / (n * n),
    )
    for a in arrays.values():
        a.setflags(write=False)
    return FilterBank(n=n, scales=scales, shears=shears, cone=tuple(m[1] for m in meta), **arrays)


def full_spectrum(bank: FilterBank) -> np.ndarray:
    """The filters on the whole ``N x N`` grid ``(C, N, N)`` (rebuilt from the even half spectrum)."""
    n = bank.n
    half = bank.filters
    cols = np.arange(n)
    src = np.where(cols <= n // 2, cols, n - cols)  # column -m is column m mirrored in rows
    rows = np.arange(n)
    out = half[:, :, src].copy()
    mirror = cols > n // 2
    out[:, :, mirror] = half[:, (-rows) % n][:, :, src[mirror]]
    return out
