"""Distribution shift: seeded Shepp–Logan variants and a user's images, evaluated without retraining."""

import json

import numpy as np
import pytest
import torch

from ltl.data import block_mean, random_ellipses, shepp_logan
from ltl.data.phantoms import MODIFIED_SHEPP_LOGAN, rasterize_ellipses, shepp_logan_parameters, shepp_logan_variants
from ltl.cli import parser as ltl_parser
from ltl.evaluation import shifted_scans


def _rel(a, b):
    return float((a - b).norm() / b.norm())


def test_variants_are_seeded_and_small_changes():
    a = shepp_logan_variants(3, 64, seed=5)
    assert a.shape == (3, 64, 64) and a.dtype == torch.float32 and float(a.min()) >= 0 and float(a.max()) <= 1
    assert torch.equal(a, shepp_logan_variants(3, 64, seed=5))
    assert torch.equal(a[1:], shepp_logan_variants(2, 64, seed=6))  # variant i has seed + i
    assert not torch.equal(a[0], a[1]) and _rel(a[0], a[1]) > 0.05
    # strength 0 is the modified Shepp–Logan phantom itself, which ltl.data.shepp_logan shows too
    plain = shepp_logan_variants(1, 64, seed=5, strength=0.0)
    p = shepp_logan_parameters(None)
    assert np.array_equal(p[:, :5], MODIFIED_SHEPP_LOGAN[:, :5])
    assert torch.equal(plain[0], torch.from_numpy(np.clip(rasterize_ellipses(p, 64), 0, 1).astype(np.float32)))
    smooth = block_mean(shepp_logan_variants(1, 64, strength=0.0, oversample=4), 4)
    assert _rel(smooth, shepp_logan(64)) < 0.2
    for v in a:  # a variant stays close to Shepp–Logan on a coarse grid (its thin skull may move a pixel)
        assert _rel(block_mean(v[None], 4), block_mean(plain, 4)) < 0.4


def test_variants_differ_from_the_training_ellipses():
    """On a 16×16 grid (block means, so that a skull moved by a pixel does not count) every variant
    is nearer to Shepp–Logan than to any of the first 64 training phantoms."""
    variants = block_mean(shepp_logan_variants(4, 64, seed=0), 4)
    train = block_mean(random_ellipses(64, 64, seed=0), 4)  # training seeds 0..63
    plain = block_mean(shepp_logan_variants(1, 64, strength=0.0), 4)[0]
    for v in variants:
        nearest = min(_rel(v, t) for t in train)
        assert nearest > 0.6 and nearest > 1.5 * _rel(v, plain)


def test_shifted_scans_from_a_folder(tmp_path, geom):
    from skimage import io

    folder = tmp_path / "imgs"
    folder.mkdir()
    yy, xx = np.mgrid[:50, :50]
    io.imsave(folder / "a.png", ((xx + yy) % 256).astype(np.uint8), check_contrast=False)
    np.save(folder / "b.npy", np.eye(40))
    scan = shifted_scans(folder, geom, noise=0.01, seed=2)
    assert scan.sinogram.shape == (2, *geom.sino_shape) and scan.images.shape == (2, 32, 32)
    assert scan.meta["phantom"] == "imgs/ (a.png, b.npy)" and str(tmp_path) not in str(scan.meta) and scan.meta["count"] == 2 and scan.meta["noise_seed"] == 2
    sl = shifted_scans("shepp-logan-variants", geom, count=2, seed=4)
    torch.testing.assert_close(sl.images, block_mean(shepp_logan_variants(2, 32, seed=4, oversample=2), 2))
    with pytest.raises(FileNotFoundError, match="shepp-logan-variants"):
        shifted_scans(tmp_path / "nope", geom)


def test_evaluate_variants_with_the_checkpoint_geometry(tmp_path, ckpts, geom):
    p = ltl_parser()
    out = tmp_path / "rep"
    args = p.parse_args(["evaluate", "--phantom", "shepp-logan-variants", "--count", "2", "--seed", "3",
                         "--methods", "fbp,ltl", "--checkpoint", str(ckpts["ltl"]), "--device", "cpu", "--out",
                         str(out), "--no-progress", "--montage", "1"])
    assert args.func(args) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["geometry"] == geom.to_dict()  # taken from the checkpoint
    assert doc["data"]["meta"]["phantom"] == "shepp-logan-variants" and doc["seed"] == 3
    assert doc["images"] == 2 and set(doc["summary"]) == {"fbp", "ltl"}
    assert "(indices 0, 1)" in (out / "report.md").read_text()
    assert doc["methods"]["ltl"]["settings"]["f_vis"] == "computed"
    saved = np.load(out / "reconstructions.npz")
    want = block_mean(shepp_logan_variants(2, 32, seed=3, oversample=2), 2)
    np.testing.assert_allclose(saved["truth"], want.numpy(), atol=1e-6)
