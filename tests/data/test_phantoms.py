import numpy as np
import pytest
import torch
from skimage import io

from ltl.data import block_mean, load_images, random_ellipses, shepp_logan
from ltl.data.phantoms import ellipse_parameters


def test_ellipses_seeded_and_normalised():
    a = random_ellipses(4, 64, seed=7)
    b = random_ellipses(4, 64, seed=7)
    assert torch.equal(a, b)
    assert a.shape == (4, 64, 64) and a.dtype == torch.float32
    assert float(a.min()) >= 0 and torch.allclose(a.amax(dim=(1, 2)), torch.ones(4))
    # phantom i depends on seed + i only
    assert torch.equal(random_ellipses(1, 64, seed=9)[0], a[2])
    assert not torch.equal(a[0], a[1])


def test_ellipses_zero_outside_circle_and_count():
    a = random_ellipses(3, 64, seed=0)[0]
    c = (torch.arange(64) + 0.5) / 64 * 2 - 1
    r2 = c[None, :] ** 2 + c[:, None] ** 2
    assert float(a[r2 > 1].abs().max()) == 0.0
    for s in range(20):
        assert 5 <= len(ellipse_parameters(s)) <= 15


def test_oversampled_block_mean_is_coarse_phantom():
    fine = random_ellipses(2, 32, seed=3, oversample=2)
    assert fine.shape == (2, 64, 64)
    coarse = block_mean(fine, 2)
    assert coarse.shape == (2, 32, 32)
    assert float(coarse.max()) <= 1.0
    # the coarse grid sees the same phantom: same mean as the direct rasterisation, up to edge pixels
    direct = random_ellipses(2, 32, seed=3)
    assert float((coarse - direct).abs().mean()) < 0.05


def test_shepp_logan_any_size():
    for n in (31, 64, 128):
        s = shepp_logan(n)
        assert s.shape == (1, n, n) and 0 <= float(s.min()) and float(s.max()) <= 1


def test_load_images(tmp_path, rng):
    img = rng.random((20, 20))
    np.save(tmp_path / "a.npy", img * 5 + 2)
    got = load_images(tmp_path / "a.npy")
    np.testing.assert_allclose(got[0].numpy(), (img - img.min()) / (img.max() - img.min()), atol=1e-6)
    np.savez(tmp_path / "b.npz", images=np.stack([img, img.T]))
    assert load_images(tmp_path / "b.npz").shape == (2, 20, 20)
    io.imsave(tmp_path / "c.png", (img * 255).astype(np.uint8), check_contrast=False)
    png = load_images(tmp_path / "c.png", size=16)
    assert png.shape == (1, 16, 16) and float(png.max()) == pytest.approx(1.0)
    io.imsave(tmp_path / "d.tif", img.astype(np.float32))
    assert load_images(tmp_path / "d.tif").shape == (1, 20, 20)
    folder = tmp_path
    assert load_images(folder, size=16).shape == (5, 16, 16)


def test_load_images_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_images(tmp_path / "nope.npy")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="cannot read"):
        load_images(tmp_path / "bad.npy")
    np.save(tmp_path / "rect.npy", np.zeros((4, 6)))
    with pytest.raises(ValueError, match="not square"):
        load_images(tmp_path / "rect.npy")
    np.save(tmp_path / "nan.npy", np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="NaN"):
        load_images(tmp_path / "nan.npy")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        load_images(tmp_path / "empty")
