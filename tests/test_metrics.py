"""Tests for ltl.metrics: agreement with numpy/skimage, batching, HaarPSI properties, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import signal
from skimage.data import shepp_logan_phantom
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.transform import resize

from ltl.metrics import all_metrics, haarpsi, psnr, relative_error, ssim


def _phantom(n: int) -> np.ndarray:
    return resize(shepp_logan_phantom(), (n, n), anti_aliasing=True).astype(np.float64)


def _pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """(x, ref) pairs: noisy/blurred phantoms and random images, sizes 64 and 128 (and odd)."""
    rng = np.random.default_rng(1234)
    pairs = []
    for n in (64, 128):
        ref = _phantom(n)
        pairs.append((ref + 0.05 * rng.standard_normal((n, n)), ref))
        pairs.append((np.clip(ref + 0.2 * rng.standard_normal((n, n)), 0, 1), ref))
        smooth = resize(_phantom(n // 4), (n, n), order=3)  # blurred version
        pairs.append((smooth, ref))
        pairs.append((rng.random((n, n)), rng.random((n, n))))
    ref = _phantom(37)
    pairs.append((ref + 0.1 * rng.standard_normal((37, 37)), ref))
    return pairs


PAIRS = _pairs()


def _t(a: np.ndarray, dtype=torch.float64) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(dtype)


# --------------------------------------------------------------------------------------------
# Relative error, PSNR, SSIM against numpy / skimage
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(len(PAIRS)))
def test_relative_error_matches_numpy(i):
    x, ref = PAIRS[i]
    expected = np.linalg.norm(x - ref) / np.linalg.norm(ref)
    out = relative_error(_t(x), _t(ref))
    assert out.shape == ()
    assert out.dtype == torch.float64
    assert float(out) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("i", range(len(PAIRS)))
def test_psnr_matches_skimage(i):
    x, ref = PAIRS[i]
    expected = peak_signal_noise_ratio(ref, x, data_range=1.0)
    assert float(psnr(_t(x), _t(ref))) == pytest.approx(expected, abs=1e-3)
    # float32 input is fine too
    assert float(psnr(_t(x, torch.float32), _t(ref, torch.float32))) == pytest.approx(
        expected, abs=1e-3
    )


@pytest.mark.parametrize("i", range(len(PAIRS)))
def test_ssim_matches_skimage(i):
    x, ref = PAIRS[i]
    expected = structural_similarity(ref, x, data_range=1.0)
    assert float(ssim(_t(x), _t(ref))) == pytest.approx(expected, abs=1e-3)
    assert float(ssim(_t(x, torch.float32), _t(ref, torch.float32))) == pytest.approx(
        expected, abs=1e-3
    )


def test_ssim_matches_skimage_tightly_in_float64():
    x, ref = PAIRS[0]
    expected = structural_similarity(ref, x, data_range=1.0)
    assert float(ssim(_t(x), _t(ref))) == pytest.approx(expected, abs=1e-10)


def test_data_range_is_used():
    x, ref = PAIRS[0]
    expected_p = peak_signal_noise_ratio(2 * ref, 2 * x, data_range=2.0)
    expected_s = structural_similarity(2 * ref, 2 * x, data_range=2.0)
    got_p = float(psnr(_t(2 * x), _t(2 * ref), data_range=2.0))
    got_s = float(ssim(_t(2 * x), _t(2 * ref), data_range=2.0))
    assert got_p == pytest.approx(expected_p, abs=1e-6)
    assert got_s == pytest.approx(expected_s, abs=1e-6)


def test_identical_images():
    ref = _t(_phantom(64))
    assert math.isinf(float(psnr(ref, ref))) and float(psnr(ref, ref)) > 0
    assert float(ssim(ref, ref)) == pytest.approx(1.0, abs=1e-12)
    assert float(relative_error(ref, ref)) == 0.0


# --------------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", [relative_error, psnr, ssim, haarpsi])
def test_batched_equals_per_image(metric):
    same_size = [p for p in PAIRS if p[0].shape == (64, 64)]
    xb = torch.stack([_t(x) for x, _ in same_size])
    rb = torch.stack([_t(r) for _, r in same_size])
    out = metric(xb, rb)
    assert out.shape == (len(same_size),)
    singles = torch.stack([metric(xb[i], rb[i]) for i in range(len(same_size))])
    torch.testing.assert_close(out, singles, rtol=1e-12, atol=1e-12)


def test_all_metrics_keys_shapes_and_values():
    gen = torch.Generator().manual_seed(7)
    ref = _t(_phantom(64), torch.float32).expand(3, 64, 64).clone()
    x = ref + 0.05 * torch.randn(3, 64, 64, generator=gen)
    out = all_metrics(x, ref)
    assert set(out) == {"re", "psnr", "ssim", "haarpsi"}
    for v in out.values():
        assert v.shape == (3,) and v.dtype == torch.float32 and v.device == x.device
    torch.testing.assert_close(out["re"], relative_error(x, ref))
    torch.testing.assert_close(out["psnr"], psnr(x, ref))
    torch.testing.assert_close(out["ssim"], ssim(x, ref))
    torch.testing.assert_close(out["haarpsi"], haarpsi(x, ref))
    single = all_metrics(x[0], ref[0])
    assert all(v.shape == () for v in single.values())


# --------------------------------------------------------------------------------------------
# HaarPSI
# --------------------------------------------------------------------------------------------


def _haarpsi_numpy(x: np.ndarray, ref: np.ndarray) -> float:
    """Straightforward numpy/scipy transcription of the published HaarPSI formulas (grayscale,
    0-255 scale, MATLAB conv2 'same' alignment, 2x2 mean + downsample, 3 scales)."""

    def conv_same(a, h):  # MATLAB conv2(a, h, 'same')
        k = h.shape[0]
        full = signal.convolve2d(a, h, mode="full")
        return full[k // 2 : k // 2 + a.shape[0], k // 2 : k // 2 + a.shape[1]]

    c, alpha = 30.0, 4.2
    imgs = [255.0 * x, 255.0 * ref]
    imgs = [conv_same(a, np.full((2, 2), 0.25))[::2, ::2] for a in imgs]
    mags = []  # mags[i][orientation][scale]
    for a in imgs:
        per_o = [[], []]
        for s in (1, 2, 3):
            h = np.full((2**s, 2**s), 2.0**-s)
            h[: 2 ** (s - 1)] *= -1
            per_o[0].append(np.abs(conv_same(a, h)))
            per_o[1].append(np.abs(conv_same(a, h.T)))
        mags.append(per_o)
    num = den = 0.0
    for o in (0, 1):
        g1, g2 = mags[0][o], mags[1][o]
        ls = sum((2 * g1[s] * g2[s] + c) / (g1[s] ** 2 + g2[s] ** 2 + c) for s in (0, 1)) / 2
        w = np.maximum(g1[2], g2[2])
        num += np.sum(w / (1 + np.exp(-alpha * ls)))
        den += np.sum(w)
    m = num / den
    return (np.log(m / (1 - m)) / alpha) ** 2


@pytest.mark.parametrize("i", range(len(PAIRS)))
def test_haarpsi_matches_formula_transcription(i):
    x, ref = PAIRS[i]
    assert float(haarpsi(_t(x), _t(ref))) == pytest.approx(_haarpsi_numpy(x, ref), abs=1e-10)


@pytest.mark.parametrize("n", [64, 128, 37])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_haarpsi_identity_is_one(n, dtype):
    ref = _t(_phantom(n), dtype)
    val = haarpsi(ref, ref)
    assert val.dtype == dtype
    assert float(val) == pytest.approx(1.0, abs=1e-6)
    rnd = torch.rand(2, n, n, generator=torch.Generator().manual_seed(n), dtype=dtype)
    torch.testing.assert_close(haarpsi(rnd, rnd), torch.ones(2, dtype=dtype), rtol=0, atol=1e-6)


def test_haarpsi_all_zero_pair_is_one():
    z = torch.zeros(16, 16)
    assert float(haarpsi(z, z)) == 1.0


@pytest.mark.parametrize("n", [64, 128])
def test_haarpsi_decreases_with_noise(n):
    rng = np.random.default_rng(2024 + n)
    ref = _phantom(n)
    noise = rng.standard_normal((n, n))
    vals = [float(haarpsi(_t(ref + s * noise), _t(ref))) for s in (0.0, 0.01, 0.05, 0.1, 0.2)]
    assert vals[0] == pytest.approx(1.0, abs=1e-12)
    assert all(a > b for a, b in zip(vals, vals[1:])), vals
    # independent noise realisations, batched
    sigmas = torch.tensor([0.01, 0.05, 0.1, 0.2], dtype=torch.float64)[:, None, None]
    gen = torch.Generator().manual_seed(n)
    refb = _t(ref).expand(4, n, n)
    xb = refb + sigmas * torch.randn(4, n, n, generator=gen, dtype=torch.float64)
    vb = haarpsi(xb, refb)
    assert bool((vb[:-1] > vb[1:]).all()), vb


@pytest.mark.parametrize("i", range(len(PAIRS)))
def test_haarpsi_symmetric_and_bounded(i):
    x, ref = PAIRS[i]
    a = float(haarpsi(_t(x), _t(ref)))
    b = float(haarpsi(_t(ref), _t(x)))
    assert a == pytest.approx(b, abs=1e-12)
    assert 0.0 < a <= 1.0


def test_haarpsi_without_subsampling():
    ref = _t(_phantom(64))
    assert float(haarpsi(ref, ref, subsample=False)) == pytest.approx(1.0, abs=1e-12)
    gen = torch.Generator().manual_seed(3)
    x = ref + 0.05 * torch.randn(64, 64, generator=gen, dtype=torch.float64)
    v = float(haarpsi(x, ref, subsample=False))
    assert 0.0 < v < 1.0


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

ALL = [relative_error, psnr, ssim, haarpsi, all_metrics]


@pytest.mark.parametrize("metric", ALL)
def test_mismatched_shapes_raise(metric):
    with pytest.raises(ValueError, match="same shape"):
        metric(torch.rand(16, 16), torch.rand(16, 17))


@pytest.mark.parametrize("metric", ALL)
@pytest.mark.parametrize("shape", [(16,), (1, 1, 16, 16), ()])
def test_wrong_ndim_raises(metric, shape):
    with pytest.raises(ValueError, match=r"\(N, N\) or \(B, N, N\)"):
        metric(torch.rand(shape), torch.rand(shape))


@pytest.mark.parametrize("metric", ALL)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("which", ["x", "ref"])
def test_non_finite_raises(metric, bad, which):
    x, ref = torch.rand(2, 16, 16), torch.rand(2, 16, 16)
    (x if which == "x" else ref)[1, 3, 4] = bad
    with pytest.raises(ValueError, match="finite"):
        metric(x, ref)


def test_zero_reference_raises_for_relative_error():
    ref = torch.rand(3, 8, 8)
    ref[1] = 0
    with pytest.raises(ValueError, match=r"nonzero norm.*\[1\]"):
        relative_error(torch.rand(3, 8, 8), ref)


def test_other_bad_inputs():
    with pytest.raises(ValueError, match="at least 7x7"):
        ssim(torch.rand(6, 6), torch.rand(6, 6))
    with pytest.raises(ValueError, match="float32/float64"):
        psnr(torch.ones(8, 8, dtype=torch.int64), torch.ones(8, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match="data_range"):
        psnr(torch.rand(8, 8), torch.rand(8, 8), data_range=0.0)
    with pytest.raises(TypeError):
        psnr(np.ones((8, 8)), np.ones((8, 8)))
