"""Parseval property, adjointness, realness, metadata and directionality of ShearletFrame."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from ltl.shearlets import ShearletChannel, ShearletFrame


def _randn(rng, *shape, dtype=torch.float32):
    return torch.from_numpy(rng.standard_normal(shape)).to(dtype)


@pytest.mark.parametrize("n", [63, 64])
def test_parseval_and_perfect_reconstruction(rng, n):
    sh = ShearletFrame(n)
    f = _randn(rng, 3, n, n)
    c = sh(f)
    assert c.shape == (3, sh.num_channels, n, n) and c.dtype == torch.float32
    rel_norm = abs(c.double().norm() - f.double().norm()) / f.double().norm()
    assert rel_norm < 1e-5
    back = sh.adjoint(c)
    assert back.shape == f.shape
    assert ((back - f).double().norm() / f.double().norm()) < 1e-5
    assert sh.inverse is not None and torch.equal(sh.inverse(c), back)


@pytest.mark.parametrize("n", [63, 64])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_adjoint_identity(rng, n, dtype, tol):
    sh = ShearletFrame(n, dtype=dtype)
    f = _randn(rng, 2, n, n, dtype=dtype)
    c = _randn(rng, 2, sh.num_channels, n, n, dtype=dtype)
    lhs = (sh(f).double() * c.double()).sum()
    rhs = (f.double() * sh.adjoint(c).double()).sum()
    scale = sh(f).double().norm() * c.double().norm()
    assert abs(lhs - rhs) / scale < tol


@pytest.mark.parametrize("n", [63, 64, 128])
def test_sum_of_squared_filters_is_one(n):
    sh = ShearletFrame(n)
    full = sh.full_filters()
    assert full.shape == (sh.num_channels, n, n)
    np.testing.assert_allclose((full**2).sum(0), 1.0, rtol=0, atol=1e-12)
    h = sh.filters.double()
    assert h.shape == (sh.num_channels, n, n // 2 + 1) and sh.filters.dtype == torch.float32
    torch.testing.assert_close((h**2).sum(0), torch.ones(n, n // 2 + 1, dtype=torch.float64), rtol=0, atol=1e-6)
    # even responses: H(-xi) = H(xi) on the whole grid
    neg = (-np.arange(n)) % n
    np.testing.assert_array_equal(full, full[:, neg][:, :, neg])
    assert (full >= 0).all()


@pytest.mark.parametrize("n", [63, 64])
def test_coefficients_are_real(rng, n):
    """A plain complex-FFT implementation gives purely real coefficients equal to forward()."""
    sh = ShearletFrame(n, dtype=torch.float64)
    f = _randn(rng, 2, n, n, dtype=torch.float64)
    full = torch.from_numpy(sh.full_filters())
    ref = torch.fft.ifft2(torch.fft.fft2(f)[:, None] * full)
    assert ref.imag.abs().max() < 1e-12 * ref.real.abs().max()
    torch.testing.assert_close(sh(f), ref.real, rtol=0, atol=1e-12)
    assert not sh(f).is_complex()
    atoms = sh.atoms()
    assert not atoms.is_complex()


def test_single_image_and_batch_agree(rng):
    n = 32
    sh = ShearletFrame(n)
    f = _randn(rng, 4, n, n)
    c = sh(f)
    assert sh(f[1]).shape == (sh.num_channels, n, n)
    torch.testing.assert_close(sh(f[1]), c[1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(sh.adjoint(c[2]), sh.adjoint(c)[2], rtol=1e-5, atol=1e-6)
    assert sh(f[:0]).shape == (0, sh.num_channels, n, n) and sh.adjoint(c[:0]).shape == (0, n, n)


@pytest.mark.parametrize(
    "n,scales,channels", [(512, 4, 49), (256, 4, 49), (128, 4, 49), (64, 3, 33), (63, 2, 17), (32, 2, 17), (16, 1, 9)]
)
def test_default_scales_and_channel_counts(n, scales, channels):
    sh = ShearletFrame(n)
    assert sh.scales == scales and sh.num_channels == channels and sh.image_size == n
    assert sh.shears == tuple(2 ** math.ceil(j / 2) for j in range(1, scales + 1))
    arr = sh.channel_arrays()
    for j, k in enumerate(sh.shears, start=1):
        assert (arr["scale"] == j).sum() == 4 * k


def test_custom_scales_and_shears_stay_parseval(rng):
    sh = ShearletFrame(64, scales=2, shears=(1, 3))
    assert sh.num_channels == 1 + 4 + 12
    np.testing.assert_allclose((sh.full_filters() ** 2).sum(0), 1.0, atol=1e-12)
    f = _randn(rng, 64, 64)
    assert ((sh.adjoint(sh(f)) - f).norm() / f.norm()) < 1e-5


def test_channel_metadata():
    sh = ShearletFrame(128)
    ch = sh.channels
    assert len(ch) == sh.num_channels and all(isinstance(c, ShearletChannel) for c in ch)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ch[1].scale = 3
    low = ch[0]
    assert low.scale == 0 and low.cone is None and low.frequency_angle is None and low.edge_angle is None
    assert math.isnan(sh.channel_arrays()["frequency_angle"][0])
    arr = sh.channel_arrays()
    assert [c.index for c in ch] == list(range(sh.num_channels))
    assert set(arr["cone"][1:]) == {"h", "v"} and arr["cone"][0] == ""
    np.testing.assert_allclose(sh.angular_energy.sum(1), 1.0, atol=1e-12)
    assert sh.angular_energy.shape == (sh.num_channels, 180)
    for c in ch[1:]:
        assert 0 <= c.frequency_angle < math.pi
        assert math.isclose((c.frequency_angle + math.pi / 2) % math.pi, c.edge_angle, abs_tol=1e-12)
        k_max = sh.shears[c.scale - 1]
        assert abs(c.shear) <= k_max and c.seam == (abs(c.shear) == k_max)
        if c.seam:
            assert c.cone == "h" and math.isclose(math.cos(2 * c.frequency_angle), 0.0, abs_tol=1e-12)
        # the histogram's mass is centred on the documented frequency angle
        hist = np.asarray(c.angular_energy)
        z = (hist * np.exp(2j * sh.bin_centers)).sum()  # circular mean of directions mod pi
        mean = (np.angle(z) / 2) % math.pi
        diff = abs((mean - c.frequency_angle + math.pi / 2) % math.pi - math.pi / 2)
        assert diff < math.radians(3), (c, math.degrees(mean))
    np.testing.assert_allclose(arr["atom_norm2"], (sh.full_filters() ** 2).sum((1, 2)) / 128**2)


def _edge_image(n, alpha):
    """A tapered straight edge through the centre running along direction alpha (math frame)."""
    r, c = np.mgrid[0:n, 0:n].astype(float)
    x, y = c - n / 2, -(r - n / 2)
    step = ((-math.sin(alpha) * x + math.cos(alpha) * y) > 0).astype(float)
    t = np.clip((0.42 * n - np.hypot(x, y)) / (0.12 * n), 0, 1)
    return torch.from_numpy(step * t * t * (3 - 2 * t)).float()


def _circ(a, b):
    return np.abs(np.mod(a - b + math.pi / 2, math.pi) - math.pi / 2)


@pytest.mark.parametrize("deg", [0, 20, 45, 70, 90, 110, 135, 160])
def test_edge_energy_follows_edge_orientation(deg):
    n = 128
    sh = ShearletFrame(n)
    alpha = math.radians(deg)
    energy = (sh(_edge_image(n, alpha)) ** 2).sum((-2, -1)).numpy()
    arr = sh.channel_arrays()
    detail = arr["scale"] >= 2
    e, ang = energy[detail], arr["edge_angle"][detail]
    near = _circ(ang, alpha) <= math.radians(23)
    assert e[near].sum() / e.sum() > 0.8
    assert _circ(ang[np.argmax(e)], alpha) <= math.radians(12)


def test_autograd_matches_adjoint(rng):
    n = 32
    sh = ShearletFrame(n, dtype=torch.float64)
    f = _randn(rng, 2, n, n, dtype=torch.float64).requires_grad_(True)
    g = _randn(rng, 2, sh.num_channels, n, n, dtype=torch.float64)
    (sh(f) * g).sum().backward()
    torch.testing.assert_close(f.grad, sh.adjoint(g), rtol=1e-10, atol=1e-12)

    c = g.clone().requires_grad_(True)
    u = _randn(rng, 2, n, n, dtype=torch.float64)
    (sh.adjoint(c) * u).sum().backward()
    torch.testing.assert_close(c.grad, sh(u), rtol=1e-10, atol=1e-12)


def test_gradcheck_small():
    sh = ShearletFrame(8, dtype=torch.float64)
    f = torch.linspace(-1, 1, 64, dtype=torch.float64).reshape(1, 8, 8).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: sh(x), (f,))


def test_dtype_and_device_follow_the_data(rng):
    sh = ShearletFrame(32)
    f64 = _randn(rng, 32, 32, dtype=torch.float64)
    assert sh(f64).dtype == torch.float64
    assert sh.adjoint(sh(f64)).dtype == torch.float64
    sh64 = sh.to("cpu", torch.float64)
    assert sh64.filters.dtype == torch.float64 and sh64.num_channels == sh.num_channels
    assert sh64.channels == sh.channels
    torch.testing.assert_close(sh64(f64), sh(f64))


def test_atoms_are_adjoint_of_one_hot():
    n = 32
    sh = ShearletFrame(n)
    atoms = sh.atoms()
    assert atoms.shape == (sh.num_channels, n, n)
    for ch in (0, 3, sh.num_channels - 1):
        onehot = torch.zeros(sh.num_channels, n, n)
        onehot[ch, n // 2, n // 2] = 1.0
        torch.testing.assert_close(sh.adjoint(onehot), atoms[ch], rtol=1e-5, atol=1e-6)
    # Parseval: sum_c ||psi_c||^2 = sum_xi sum_c H_c(xi)^2 / N^2 = 1
    assert abs(float((atoms.double() ** 2).sum()) - 1.0) < 1e-5


@pytest.mark.parametrize("n", [31, 32])
def test_all_kernel_paths_agree(rng, n):
    """The CUDA layout (rfft2/irfft2, real reduction) and the CPU layout (paired complex FFTs,
    complex einsum) compute the same transform; both are exercised here on CPU."""
    from ltl.shearlets.transforms import adjoint_rfft, forward_paired, forward_rfft

    sh = ShearletFrame(n, dtype=torch.float64)
    filt = sh._filters_for(torch.device("cpu"), torch.float64)
    x = _randn(rng, 3, n, n, dtype=torch.float64)
    a = forward_rfft(x, filt["half"])
    b = forward_paired(x, filt["pair"], sh.num_channels)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    torch.testing.assert_close(sh(x), a, rtol=0, atol=1e-12)
    c = _randn(rng, 3, sh.num_channels, n, n, dtype=torch.float64)
    u = adjoint_rfft(c, filt["half"], None)
    v = adjoint_rfft(c, filt["half"], filt["half_complex"])
    torch.testing.assert_close(u, v, rtol=0, atol=1e-11)
    torch.testing.assert_close(sh.adjoint(c), u, rtol=0, atol=1e-11)
    # autograd through the CUDA-layout kernels gives the adjoint as well
    xg = x.clone().requires_grad_(True)
    (forward_rfft(xg, filt["half"]) * c).sum().backward()
    torch.testing.assert_close(xg.grad, u, rtol=0, atol=1e-11)
