"""Batched image-quality metrics in torch: relative error, PSNR, SSIM and HaarPSI.

Every metric takes a reconstruction ``x`` and a reference ``ref`` of the same shape, either one
image ``(H, W)`` or a batch ``(B, H, W)`` (``H = W = N`` in this package), as floating-point
tensors on any device. The result is a tensor of shape ``()`` or ``(B,)`` (one value per image)
on the same device, in the promoted floating dtype of the inputs. Internally everything is
computed in float64 (float32 on devices without float64 support, e.g. MPS).

References
----------
.. [1] Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from
   error visibility to structural similarity", IEEE Transactions on Image Processing 13(4)
   (2004) 600-612. :doi:`10.1109/TIP.2003.819861`. The SSIM here reproduces
   ``skimage.metrics.structural_similarity`` with its defaults (7x7 uniform window,
   K1 = 0.01, K2 = 0.03, sample covariance, border crop of 3 pixels).
.. [2] R. Reisenhofer, S. Bosse, G. Kutyniok, T. Wiegand, "A Haar wavelet-based perceptual
   similarity index for image quality assessment", Signal Processing: Image Communication 61
   (2018) 33-43. :doi:`10.1016/j.image.2017.11.001`. The HaarPSI here is the grayscale index
   with the published constants C = 30, alpha = 4.2 on the 0-255 scale, 3 Haar scales, the
   2x2-mean/downsample-by-2 preprocessing and MATLAB ``conv2(..., 'same')`` zero-padded
   filtering, as in the authors' reference implementation (https://github.com/rgcda/haarpsi).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["relative_error", "psnr", "ssim", "haarpsi", "all_metrics"]

# SSIM constants (skimage defaults).
_SSIM_WIN = 7
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03

# HaarPSI constants (Reisenhofer et al. 2018), for intensities on the 0-255 scale.
_HAARPSI_C = 30.0
_HAARPSI_ALPHA = 4.2
_HAARPSI_SCALES = 3


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def _work_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def _prepare(
    x: torch.Tensor, ref: torch.Tensor, name: str, min_size: int = 1
) -> tuple[torch.Tensor, torch.Tensor, bool, torch.dtype]:
    """Validate a pair of images and return them as ``(B, H, W)`` tensors in the work dtype.

    Returns ``(x3, ref3, batched, out_dtype)``.
    """
    for label, t in (("x", x), ("ref", ref)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(
                f"{name}: expected {label} to be a torch.Tensor, got {type(t).__name__}; "
                f"convert it with torch.as_tensor first."
            )
        if not t.is_floating_point():
            raise ValueError(
                f"{name}: expected {label} to be a float32/float64 tensor, got dtype {t.dtype}; "
                f"cast it with .to(torch.float32)."
            )
    if x.shape != ref.shape:
        raise ValueError(
            f"{name}: expected x and ref of the same shape, got x {tuple(x.shape)} and ref "
            f"{tuple(ref.shape)}; pass matching (N, N) or (B, N, N) tensors."
        )
    if x.ndim not in (2, 3):
        raise ValueError(
            f"{name}: expected images of shape (N, N) or (B, N, N), got {x.ndim}-d shape "
            f"{tuple(x.shape)}; squeeze channel dimensions or stack images into a batch."
        )
    if x.device != ref.device:
        raise ValueError(
            f"{name}: expected x and ref on the same device, got {x.device} and {ref.device}; "
            f"move one of them with .to(device)."
        )
    if x.numel() == 0 or min(x.shape[-2:]) < min_size:
        raise ValueError(
            f"{name}: expected non-empty images of at least {min_size}x{min_size} pixels, got "
            f"shape {tuple(x.shape)}; pass larger images."
        )
    for label, t in (("x", x), ("ref", ref)):
        if not bool(torch.isfinite(t).all()):
            raise ValueError(
                f"{name}: expected finite values in {label}, found NaN or inf; clean the "
                f"input (e.g. torch.nan_to_num) before computing metrics."
            )
    out_dtype = torch.promote_types(x.dtype, ref.dtype)
    work = _work_dtype(x.device)
    batched = x.ndim == 3
    x3 = x.detach().to(work)
    r3 = ref.detach().to(work)
    if not batched:
        x3, r3 = x3.unsqueeze(0), r3.unsqueeze(0)
    return x3, r3, batched, out_dtype


def _finish(v: torch.Tensor, batched: bool, out_dtype: torch.dtype) -> torch.Tensor:
    v = v.to(out_dtype)
    return v if batched else v[0]


def _check_range(name: str, data_range: float) -> float:
    data_range = float(data_range)
    if not (math.isfinite(data_range) and data_range > 0):
        raise ValueError(
            f"{name}: expected a finite data_range > 0, got {data_range}; pass the width of "
            f"the intensity range (1.0 for images in [0, 1])."
        )
    return data_range


# --------------------------------------------------------------------------------------------
# Relative error, PSNR
# --------------------------------------------------------------------------------------------


def _relative_error(x3: torch.Tensor, r3: torch.Tensor) -> torch.Tensor:
    num = torch.linalg.vector_norm(x3 - r3, dim=(-2, -1))
    den = torch.linalg.vector_norm(r3, dim=(-2, -1))
    if bool((den == 0).any()):
        bad = torch.nonzero(den == 0).flatten().tolist()
        raise ValueError(
            f"relative_error: expected a reference with nonzero norm, got ||ref|| = 0 for "
            f"batch index(es) {bad}; use an absolute error for all-zero references."
        )
    return num / den


def relative_error(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Relative L2 error ``||x - ref||_2 / ||ref||_2`` per image.

    Parameters
    ----------
    x : torch.Tensor, shape (N, N) or (B, N, N)
        Reconstruction(s), float32 or float64.
    ref : torch.Tensor, same shape as `x`
        Reference image(s).

    Returns
    -------
    torch.Tensor, shape () or (B,)
        Relative error of each image, on the device of the inputs.

    Raises
    ------
    ValueError
        On mismatched shapes, wrong ndim, non-finite values, or an all-zero reference image.
    """
    x3, r3, batched, out_dtype = _prepare(x, ref, "relative_error")
    return _finish(_relative_error(x3, r3), batched, out_dtype)


def _psnr(x3: torch.Tensor, r3: torch.Tensor, data_range: float) -> torch.Tensor:
    mse = ((x3 - r3) ** 2).mean(dim=(-2, -1))
    val = 10.0 * torch.log10(data_range**2 / mse)
    return torch.where(mse == 0, torch.full_like(mse, math.inf), val)


def psnr(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio ``10 log10(data_range**2 / MSE)`` in dB, per image.

    Equals ``skimage.metrics.peak_signal_noise_ratio(ref, x, data_range=data_range)``.

    Parameters
    ----------
    x : torch.Tensor, shape (N, N) or (B, N, N)
        Reconstruction(s), float32 or float64.
    ref : torch.Tensor, same shape as `x`
        Reference image(s).
    data_range : float, optional
        Width of the intensity range (max - min possible value). Default 1.0.

    Returns
    -------
    torch.Tensor, shape () or (B,)
        PSNR in dB; ``inf`` for images with zero MSE.

    Raises
    ------
    ValueError
        On mismatched shapes, wrong ndim, non-finite values or a non-positive `data_range`.
    """
    data_range = _check_range("psnr", data_range)
    x3, r3, batched, out_dtype = _prepare(x, ref, "psnr")
    return _finish(_psnr(x3, r3, data_range), batched, out_dtype)


# --------------------------------------------------------------------------------------------
# SSIM
# --------------------------------------------------------------------------------------------


def _ssim(x3: torch.Tensor, r3: torch.Tensor, data_range: float) -> torch.Tensor:
    win = _SSIM_WIN
    np_ = win * win
    cov_norm = np_ / (np_ - 1.0)  # sample covariance, as skimage's default
    # All statistics in one pass: a stride-1 average pool without padding evaluates the 7x7
    # uniform filter exactly at the pixels skimage keeps after cropping (win-1)//2 at the borders.
    stack = torch.stack((x3, r3, x3 * x3, r3 * r3, x3 * r3), dim=1)  # (B, 5, H, W)
    ux, uy, uxx, uyy, uxy = F.avg_pool2d(stack, kernel_size=win, stride=1).unbind(1)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (_SSIM_K1 * data_range) ** 2
    c2 = (_SSIM_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=(-2, -1))


def ssim(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean structural similarity index (SSIM) per image.

    Matches ``skimage.metrics.structural_similarity(ref, x, data_range=data_range)`` with its
    defaults: 7x7 uniform window, K1 = 0.01, K2 = 0.03, sample covariance (normalised by
    49/48), and the SSIM map averaged over the valid region only (a 3-pixel border is
    dropped). SSIM is symmetric in `x` and `ref`.

    Parameters
    ----------
    x : torch.Tensor, shape (N, N) or (B, N, N)
        Reconstruction(s), float32 or float64; N >= 7.
    ref : torch.Tensor, same shape as `x`
        Reference image(s).
    data_range : float, optional
        Width of the intensity range (max - min possible value). Default 1.0.

    Returns
    -------
    torch.Tensor, shape () or (B,)
        Mean SSIM of each image, in [-1, 1].

    Raises
    ------
    ValueError
        On mismatched shapes, wrong ndim, images smaller than 7x7, non-finite values or a
        non-positive `data_range`.
    """
    data_range = _check_range("ssim", data_range)
    x3, r3, batched, out_dtype = _prepare(x, ref, "ssim", min_size=_SSIM_WIN)
    return _finish(_ssim(x3, r3, data_range), batched, out_dtype)


# --------------------------------------------------------------------------------------------
# HaarPSI
# --------------------------------------------------------------------------------------------


def _conv_same(img: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """MATLAB-style ``conv2(img, k, 'same')`` with zero padding, for several kernels at once.

    img : (B, 1, H, W); kernels : (K, 1, k, k) with one common even or odd size k.
    Returns (B, K, H, W). MATLAB's 'same' keeps the full convolution from index k // 2 on, so
    the true convolution equals a cross-correlation with the flipped kernel on an input padded
    by ``k - 1 - k // 2`` before and ``k // 2`` after.
    """
    k = kernels.shape[-1]
    before, after = k - 1 - k // 2, k // 2
    padded = F.pad(img, (before, after, before, after))
    return F.conv2d(padded, torch.flip(kernels, dims=(-2, -1)))


def _haar_kernels(scale: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The two Haar filters of one scale, shape (2, 1, 2**scale, 2**scale).

    Channel 0 is the filter of the reference implementation (upper half -2**-scale, lower half
    +2**-scale: responds to vertical intensity changes), channel 1 its transpose.
    """
    n = 2**scale
    h = torch.full((n, n), 2.0**-scale, dtype=dtype, device=device)
    h[: n // 2] *= -1
    return torch.stack((h, h.T)).unsqueeze(1)


def _haarpsi(
    x3: torch.Tensor, r3: torch.Tensor, data_range: float, subsample: bool
) -> torch.Tensor:
    b = x3.shape[0]
    imgs = torch.cat((x3, r3), dim=0).unsqueeze(1) * (255.0 / data_range)  # (2B, 1, H, W)
    if subsample:
        # conv2(img, ones(2)/4, 'same') followed by img(1:2:end, 1:2:end): mean over each 2x2
        # block starting at even indices, zero-padded at the bottom/right edge for odd sizes.
        imgs = F.avg_pool2d(F.pad(imgs, (0, 1, 0, 1)), kernel_size=2, stride=2)
    # coeffs[s]: (2B, 2, H', W'), orientation 0/1 of scale s+1.
    coeffs = [
        _conv_same(imgs, _haar_kernels(s, imgs.dtype, imgs.device))
        for s in range(1, _HAARPSI_SCALES + 1)
    ]
    mags = [c.abs() for c in coeffs]
    mx = [m[:b] for m in mags]  # per scale, (B, 2, H', W')
    mr = [m[b:] for m in mags]
    c = _HAARPSI_C
    # Local similarity per orientation: mean over the two finest scales.
    local = sum((2 * a * bb + c) / (a * a + bb * bb + c) for a, bb in zip(mx[:2], mr[:2])) / 2
    # Weights per orientation: the larger coarsest-scale magnitude.
    weights = torch.maximum(mx[2], mr[2])
    alpha = _HAARPSI_ALPHA
    num = (torch.sigmoid(alpha * local) * weights).sum(dim=(1, 2, 3))
    den = weights.sum(dim=(1, 2, 3))
    mean = num / torch.where(den > 0, den, torch.ones_like(den))
    score = (torch.logit(mean) / alpha) ** 2
    # den == 0 means both images have no coarse-scale structure at all (e.g. both all-zero,
    # hence identical after zero padding); define the index as 1 there instead of 0/0.
    return torch.where(den > 0, score, torch.ones_like(score))


def haarpsi(
    x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0, subsample: bool = True
) -> torch.Tensor:
    """Haar wavelet-based perceptual similarity index (HaarPSI), grayscale, per image.

    Implements Reisenhofer et al. (2018): images are mapped to the 0-255 scale
    (multiplied by ``255 / data_range``), optionally preprocessed by a 2x2 mean filter and
    downsampling by 2 (the reference implementation's default, simulating viewing distance),
    and filtered with horizontal and vertical Haar filters of sizes 2, 4, 8 (zero-padded,
    MATLAB ``'same'`` alignment). With magnitudes ``|g_s|`` of scale ``s`` and ``C = 30``,
    the local similarity per orientation is
    ``LS = mean_{s=1,2} (2 |g_s(x)| |g_s(ref)| + C) / (|g_s(x)|**2 + |g_s(ref)|**2 + C)``, the
    weight is ``W = max(|g_3(x)|, |g_3(ref)|)``, and with the logistic function
    ``l(t) = 1 / (1 + exp(-alpha t))``, ``alpha = 4.2``,
    ``HaarPSI = ( l^{-1}( sum l(LS) W / sum W ) )**2``, sums over both orientations and all
    pixels. The index is symmetric in `x` and `ref`, lies in (0, 1], and equals 1 iff the
    local similarities are 1 wherever the weights are nonzero (in particular for x == ref).

    Parameters
    ----------
    x : torch.Tensor, shape (N, N) or (B, N, N)
        Distorted image(s) / reconstruction(s), float32 or float64, intensities in
        ``[0, data_range]``.
    ref : torch.Tensor, same shape as `x`
        Reference image(s).
    data_range : float, optional
        Width of the intensity range; inputs are scaled by ``255 / data_range``. Default 1.0.
    subsample : bool, optional
        Apply the 2x2 mean filter + downsampling by 2 before the Haar transform, as the
        reference implementation does by default. Default True.

    Returns
    -------
    torch.Tensor, shape () or (B,)
        HaarPSI of each image. If both images of a pair have all-zero coarse-scale Haar
        coefficients (e.g. both all zero), the index is defined as 1.

    Raises
    ------
    ValueError
        On mismatched shapes, wrong ndim, non-finite values or a non-positive `data_range`.
    """
    data_range = _check_range("haarpsi", data_range)
    x3, r3, batched, out_dtype = _prepare(x, ref, "haarpsi")
    return _finish(_haarpsi(x3, r3, data_range, subsample), batched, out_dtype)


# --------------------------------------------------------------------------------------------
# All at once
# --------------------------------------------------------------------------------------------


def all_metrics(x: torch.Tensor, ref: torch.Tensor) -> dict[str, torch.Tensor]:
    """All metrics for images in [0, 1] (``data_range = 1``), validating the inputs once.

    Parameters
    ----------
    x : torch.Tensor, shape (N, N) or (B, N, N)
        Reconstruction(s), float32 or float64, N >= 7.
    ref : torch.Tensor, same shape as `x`
        Reference image(s), not all zero.

    Returns
    -------
    dict of str to torch.Tensor
        ``{"re": ..., "psnr": ..., "ssim": ..., "haarpsi": ...}``, each of shape ``(B,)`` for
        batched input and ``()`` for a single image, on the device of the inputs.

    Raises
    ------
    ValueError
        As the individual metrics.
    """
    x3, r3, batched, out_dtype = _prepare(x, ref, "all_metrics", min_size=_SSIM_WIN)
    vals = {
        "re": _relative_error(x3, r3),
        "psnr": _psnr(x3, r3, 1.0),
        "ssim": _ssim(x3, r3, 1.0),
        "haarpsi": _haarpsi(x3, r3, 1.0, True),
    }
    return {k: _finish(v, batched, out_dtype) for k, v in vals.items()}
