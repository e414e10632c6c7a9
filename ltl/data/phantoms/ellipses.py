"""Random ellipses (ltl's original training phantoms), the Shepp–Logan phantom and seeded variants of it.

All images are float32 tensors in [0, 1] of shape ``(M, n, n)``, on the square [-1, 1]² with
row 0 at the top (ASTRA's volume layout ``[row, col]``). Lengths here are in units of the half side
of the image (N/2 pixels of the N×N grid).
"""

from __future__ import annotations

import numpy as np
import torch

from .raster import check_count_size, check_oversample, check_seed

__all__ = ["random_ellipses", "ellipse_parameters", "rasterize_ellipses", "shepp_logan", "shepp_logan_parameters",
           "shepp_logan_variants", "MODIFIED_SHEPP_LOGAN"]


def ellipse_parameters(seed: int) -> np.ndarray:
    """Parameters of one random ellipse phantom, drawn from ``np.random.default_rng([0, seed])``.

    Returns an array ``(K, 6)`` of ``(intensity, a, b, x0, y0, phi)`` with K in 5..15 ellipses:
    a first large ellipse as the body (intensity 0.3–0.6), then ellipses with semi-axes 0.03–0.4,
    centres within radius 0.65 of the origin, rotations phi in [0, π) and additive intensities in
    [−0.3, 0.6]. Lengths are in units of the half side of the image.
    """
    rng = np.random.default_rng([0, int(seed)])
    k = int(rng.integers(5, 16))
    p = np.empty((k, 6))
    p[0] = [rng.uniform(0.3, 0.6), rng.uniform(0.6, 0.85), rng.uniform(0.5, 0.8),
            rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05), rng.uniform(0, np.pi)]
    for i in range(1, k):
        r, t = 0.65 * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
        p[i] = [rng.uniform(-0.3, 0.6), rng.uniform(0.03, 0.4), rng.uniform(0.03, 0.4),
                r * np.cos(t), r * np.sin(t), rng.uniform(0, np.pi)]
    return p


def rasterize_ellipses(params: np.ndarray, size: int) -> np.ndarray:
    """Sum of ellipse indicators sampled at the pixel centres of a ``size``² grid on [-1, 1]².

    Values are clipped below at 0 and zero outside the inscribed circle; not normalised.
    """
    c = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    x = c[None, :]
    y = -c[:, None]  # row 0 is the top
    img = np.zeros((size, size))
    for amp, a, b, x0, y0, phi in params:
        cp, sp = np.cos(phi), np.sin(phi)
        u = (x - x0) * cp + (y - y0) * sp
        v = -(x - x0) * sp + (y - y0) * cp
        img += amp * ((u / a) ** 2 + (v / b) ** 2 <= 1.0)
    img = np.clip(img, 0.0, None)
    img[x ** 2 + y ** 2 > 1.0] = 0.0
    return img


def random_ellipses(count: int, size: int, *, seed: int = 0, oversample: int = 1) -> torch.Tensor:
    """Random ellipse phantoms (family ``'ellipses'``): a body and 4–14 overlapping ellipses.

    Parameters
    ----------
    count : int
        Number of phantoms M.
    size : int
        N, the side of the reconstruction grid in pixels (>= 8).
    seed : int
        Phantom i is drawn from seed ``seed + i`` (:func:`ellipse_parameters`, stream
        ``default_rng([0, seed])``), so phantoms do not depend on ``count`` and disjoint seed
        ranges give disjoint sets.
    oversample : int
        k; the phantoms are rasterised at the centres of the k·N × k·N grid.

    Returns
    -------
    torch.Tensor, shape (M, k·N, k·N)
        float32 in [0, 1], zero outside the inscribed disc. Each image is the sum of the ellipses'
        additive intensities (clipped below at 0), normalised by its maximum on the fine grid, so
        ``block_mean(random_ellipses(..., oversample=k), k)`` is the same phantom on the N grid.

    Notes
    -----
    In pixels of the N grid: the body's semi-axes are 0.3–0.43·N (intensity 0.3–0.6, centre within
    0.025·N of the image centre); the other ellipses have semi-axes 0.015–0.2·N, centres within
    0.325·N of the centre, any rotation and additive intensities in [−0.3, 0.6] before the
    normalisation (:func:`ellipse_parameters` gives them in units of N/2).
    """
    check_count_size(count, size)
    check_oversample(oversample)
    check_seed(seed)
    n = size * oversample
    out = np.empty((count, n, n), dtype=np.float32)
    for i in range(count):
        img = rasterize_ellipses(ellipse_parameters(seed + i), n)
        m = img.max()
        out[i] = img / m if m > 0 else img
    return torch.from_numpy(out)


def shepp_logan(size: int, *, oversample: int = 1) -> torch.Tensor:
    """The (modified) Shepp–Logan phantom of scikit-image at ``size·oversample``², ``(1, n, n)``.

    scikit-image's 400×400 phantom is resampled with anti-aliasing (its values lie in [0, 1]).
    """
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    check_count_size(1, size)
    n = size * oversample
    img = resize(shepp_logan_phantom(), (n, n), order=1, anti_aliasing=n < 400, mode="edge")
    return torch.from_numpy(np.clip(img, 0.0, 1.0).astype(np.float32))[None]


#: The modified Shepp–Logan phantom, one row ``(intensity, a, b, x0, y0, phi_deg)`` per ellipse, lengths
#: in units of the image's half side, ``phi`` counter-clockwise in degrees. Shepp and Logan's ellipses
#: (L. A. Shepp, B. F. Logan, "The Fourier reconstruction of a head section", IEEE Trans. Nucl. Sci. 21
#: (1974) 21–43) with the higher-contrast intensities of P. Toft, "The Radon transform: theory and
#: implementation", PhD thesis, Technical University of Denmark (1996), the version
#: :func:`shepp_logan` shows (values in [0, 1]).
MODIFIED_SHEPP_LOGAN = np.array([
    [1.0, 0.6900, 0.9200, 0.00, 0.0000, 0.0],
    [-0.8, 0.6624, 0.8740, 0.00, -0.0184, 0.0],
    [-0.2, 0.1100, 0.3100, 0.22, 0.0000, -18.0],
    [-0.2, 0.1600, 0.4100, -0.22, 0.0000, 18.0],
    [0.1, 0.2100, 0.2500, 0.00, 0.3500, 0.0],
    [0.1, 0.0460, 0.0460, 0.00, 0.1000, 0.0],
    [0.1, 0.0460, 0.0460, 0.00, -0.1000, 0.0],
    [0.1, 0.0460, 0.0230, -0.08, -0.6050, 0.0],
    [0.1, 0.0230, 0.0230, 0.00, -0.6060, 0.0],
    [0.1, 0.0230, 0.0460, 0.06, -0.6050, 0.0],
])


def shepp_logan_parameters(seed: int | None = None, *, strength: float = 1.0) -> np.ndarray:
    """Ellipses of the modified Shepp–Logan phantom, randomly changed a little when ``seed`` is given.

    Parameters
    ----------
    seed : int or None
        None: the unchanged :data:`MODIFIED_SHEPP_LOGAN`. Otherwise the changes are drawn from
        ``np.random.default_rng([3, seed])`` (a stream no other ltl phantom or noise uses).
    strength : float
        Scales every change (default 1; 0 gives the unchanged phantom).

    Returns
    -------
    numpy.ndarray, shape (10, 6)
        ``(intensity, a, b, x0, y0, phi)`` per ellipse, phi in radians, as
        :func:`rasterize_ellipses` takes them.

    Notes
    -----
    With ``strength`` s: the skull and brain (the first two ellipses) are scaled together by
    1 + U(−0.03, 0.03)·s and the brain's intensity changes by U(−0.05, 0.05)·s; each inner feature
    has its intensity changed by U(−0.05, 0.05)·s, its semi-axes scaled by 1 + U(−0.15, 0.15)·s
    each, its centre moved by U(−0.03, 0.03)·s in x and y, and its rotation changed by
    U(−10°, 10°)·s. The features stay inside the skull, so a variant looks like a head section,
    unlike the random ellipses of :func:`ellipse_parameters` the models are trained on.
    """
    if not (isinstance(strength, (int, float)) and np.isfinite(strength) and 0 <= strength <= 2):
        raise ValueError(f"strength must be a number in [0, 2], got {strength!r}")
    p = MODIFIED_SHEPP_LOGAN.copy()
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0 or None, got {seed!r}")
        rng = np.random.default_rng([3, int(seed)])
        s = float(strength)
        k = len(p) - 2
        head = 1.0 + s * rng.uniform(-0.03, 0.03)
        p[:2, 1:3] *= head
        p[:2, 3:5] *= head
        p[1, 0] += s * rng.uniform(-0.05, 0.05)
        p[2:, 0] += s * rng.uniform(-0.05, 0.05, k)
        p[2:, 1:3] *= 1.0 + s * rng.uniform(-0.15, 0.15, (k, 2))
        p[2:, 3:5] += s * rng.uniform(-0.03, 0.03, (k, 2))
        p[2:, 5] += s * rng.uniform(-10.0, 10.0, k)
    p[:, 5] = np.deg2rad(p[:, 5])
    return p


def shepp_logan_variants(count: int, size: int, *, seed: int = 0, oversample: int = 1,
                         strength: float = 1.0) -> torch.Tensor:
    """Seeded variants of the modified Shepp–Logan phantom (family ``'shepp-logan-variants'``).

    Parameters
    ----------
    count : int
        Number of variants M.
    size : int
        N, the side of the reconstruction grid in pixels (>= 8).
    seed : int
        Variant i uses seed ``seed + i`` (:func:`shepp_logan_parameters`), so variants do not
        depend on ``count``.
    oversample : int
        k; rasterised at the centres of the k·N × k·N grid like :func:`random_ellipses`.
    strength : float
        Scales every random change (default 1; 0 gives the unchanged phantom).

    Returns
    -------
    torch.Tensor, shape (M, k·N, k·N)
        float32, clipped to [0, 1] (not renormalised: the skull stays at 1).
        ``block_mean(..., oversample)`` gives the phantom on the N grid.

    Notes
    -----
    A head section with the skull's semi-axes 0.35–0.46·N pixels and ten features whose sizes,
    positions (±0.015·N), rotations (±10°) and intensities (±0.05) vary; see
    :func:`shepp_logan_parameters`.
    """
    check_count_size(count, size)
    check_oversample(oversample)
    check_seed(seed)
    n = size * oversample
    out = np.empty((count, n, n), dtype=np.float32)
    for i in range(count):
        out[i] = np.clip(rasterize_ellipses(shepp_logan_parameters(seed + i, strength=strength), n), 0.0, 1.0)
    return torch.from_numpy(out)
