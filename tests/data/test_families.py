"""The phantom library: every family seeded, deterministic, in [0, 1], on the documented grid; mixes."""

import math

import numpy as np
import pytest
import torch
from skimage import io

from ltl import Geometry
from ltl.data import simulate_phantoms
from ltl.data.phantoms import (FAMILIES, SKIMAGE_IMAGES, ImageCrops, Mix, block_mean, family, generate, parse_mix,
                               phantom_images, random_ellipses, random_polygons)
from ltl.data.phantoms.natural import skimage_image

NAMES = list(FAMILIES)


def _disc_outside(m):
    c = (torch.arange(m) + 0.5) / m * 2 - 1
    return c[None, :] ** 2 + c[:, None] ** 2 > 1


def test_at_least_six_families_with_one_signature():
    assert len(FAMILIES) >= 6
    assert {"ellipses", "polygons", "low-contrast", "vessels", "textures", "anatomy", "natural"} <= set(FAMILIES)
    assert FAMILIES["ellipses"].make is random_ellipses


@pytest.mark.parametrize("name", NAMES)
def test_family_is_seeded_deterministic_and_in_range(name):
    a = generate(name, 3, 24, seed=7, oversample=2)
    assert a.shape == (3, 48, 48) and a.dtype == torch.float32
    assert torch.equal(a, generate(name, 3, 24, seed=7, oversample=2))  # same seed, same images
    assert torch.equal(a[1:], generate(name, 2, 24, seed=8, oversample=2))  # phantom i has seed + i
    assert not torch.equal(a[0], a[1]) and not torch.equal(a[1], a[2])  # different seeds differ
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert float(a.amax(dim=(1, 2)).min()) > 0.2  # not blank
    assert float(a[:, _disc_outside(48)].abs().max()) == 0.0  # zero outside the inscribed disc
    assert generate(name, 1, 24, seed=7).shape == (1, 24, 24)  # oversample 1: the N grid itself


@pytest.mark.parametrize("name", NAMES)
def test_fine_grids_box_average_to_the_coarse_phantom(name):
    """The block means of the k×-finer rasterisations are the same phantom on the N grid, converging
    as k grows (sizes are in N-grid pixels, not fine pixels): |c2 − c1| small, |c4 − c2| < 0.7 |c2 − c1|."""
    c = {k: block_mean(generate(name, 3, 32, seed=11, oversample=k), k) for k in (1, 2, 4)}
    assert all(v.shape == (3, 32, 32) for v in c.values())
    d21 = float((c[2] - c[1]).abs().mean())
    d42 = float((c[4] - c[2]).abs().mean())
    other = float((generate(name, 3, 32, seed=12) - c[1]).abs().mean())
    assert d21 < 0.06 and d42 < 0.7 * d21, (d21, d42)
    assert d21 < other  # another phantom is farther away than the same one on another grid


@pytest.mark.parametrize("name", NAMES)
def test_scan_truth_is_the_block_mean_of_the_fine_phantom(name):
    g = Geometry.limited_angle(32, angular_range_deg=120, step_deg=4)
    scan = simulate_phantoms(name, g, count=2, noise=0.0, seed=3)
    assert torch.equal(scan.images, block_mean(generate(name, 2, 32, seed=3, oversample=2), 2))
    assert scan.meta["phantom"] == name and "families" not in scan.meta


def test_polygons_are_piecewise_constant():
    for img in random_polygons(4, 32, seed=0, oversample=2):
        assert torch.unique(img).numel() <= 16  # a body and at most 14 shapes, each one intensity, and 0


def test_natural_images_ship_with_scikit_image():
    for name in SKIMAGE_IMAGES:  # no download: every image is inside the installed package
        a = skimage_image(name)
        assert a.ndim == 2 and min(a.shape) >= 100 and a.min() == 0 and a.max() == 1


def test_crops_of_a_users_images(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    io.imsave(folder / "a.png", (rng.random((40, 60)) * 255).astype(np.uint8), check_contrast=False)
    np.save(folder / "b.npy", np.outer(np.arange(30), np.arange(30)).astype(float))
    crops = ImageCrops(folder)
    x = crops(3, 16, seed=1, oversample=2)
    assert x.shape == (3, 32, 32) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert torch.equal(x, family(f"crops:{folder}")(3, 16, seed=1, oversample=2))
    assert crops.record()["files"] == ["a.png", "b.npy"] and crops.record()["name"] == "imgs"
    np.save(folder / "b.npy", np.eye(30))
    assert ImageCrops(folder).sha256 != crops.sha256  # a changed folder is noticed
    with pytest.raises(FileNotFoundError):
        ImageCrops(tmp_path / "missing")


def test_parse_mix_canonical_all_and_left_out():
    m = parse_mix("mix:polygons=2, ellipses")
    assert m == Mix(("ellipses", "polygons"), (1.0, 2.0))  # registry order, weight 1 when omitted
    assert parse_mix(m.spec) == m and m.spec == "mix:ellipses=1,polygons=2"
    every = parse_mix("mix:all")
    assert every.families == tuple(FAMILIES) and set(every.weights) == {1.0}
    held = parse_mix("mix:all,-vessels,-natural")
    assert set(held.families) == set(FAMILIES) - {"vessels", "natural"}
    assert parse_mix("mix:all,ellipses=3").weights[0] == 3.0
    assert Mix.from_dict(held.to_dict()) == held


@pytest.mark.parametrize("spec, match", [
    ("mix:ellipses=1,blobs=1", "unknown phantom family 'blobs'.*families: ellipses, polygons"),
    ("mix:ellipses=0,polygons=1", "weight of 'ellipses'.*positive number, got '0'"),
    ("mix:ellipses=-1", "positive number, got '-1'"),
    ("mix:ellipses=abc", "positive number, got 'abc'"),
    ("mix:ellipses=nan", "positive number"),
    ("mix:ellipses=inf", "positive number"),
    ("mix:ellipses,,polygons", "empty entry"),
    ("mix:ellipses,ellipses=2", "appears twice"),
    ("mix:ellipses,-ellipses", "leaves no family"),
    ("mix:", "empty entry"),
    ("ellipses=1", "starts with 'mix:'"),
])
def test_bad_mix_is_one_clear_line(spec, match):
    with pytest.raises(ValueError, match=match) as e:
        parse_mix(spec)
    assert "\n" not in str(e.value)


def test_mix_draw_follows_seed_and_weights():
    mix = Mix(("ellipses", "polygons"), (3.0, 1.0))
    seeds = list(range(4000))
    fams = mix.families_of(seeds)
    assert fams == mix.families_of(seeds)  # deterministic
    assert [mix.family_of(s) for s in seeds[::97]] == fams[::97]  # each seed alone gives the same
    share = fams.count("ellipses") / len(fams)
    assert abs(share - 0.75) < 4 * math.sqrt(0.75 * 0.25 / len(fams))
    assert "vessels" not in parse_mix("mix:all,-vessels").families_of(seeds[:500])  # left out: never drawn
    with pytest.raises(ValueError, match="positive"):
        Mix(("ellipses",), (0.0,))


def test_phantom_images_of_a_mix_are_the_families_phantoms():
    mix = parse_mix("mix:vessels=1,anatomy=1,textures=1")
    seeds = [5, 20_001, 17, 10_003]
    images, fams = phantom_images(mix, seeds, 16, oversample=2)
    assert fams == mix.families_of(seeds) and images.shape == (4, 32, 32)
    for img, f, s in zip(images, fams, seeds):
        assert torch.equal(img, generate(f, 1, 16, seed=s, oversample=2)[0])
    one, names = phantom_images("ellipses", range(3, 6), 16)
    assert names == ["ellipses"] * 3 and torch.equal(one, random_ellipses(3, 16, seed=3))


def test_simulate_a_mix_records_each_scans_family():
    g = Geometry.limited_angle(16, angular_range_deg=120, step_deg=6)
    scan = simulate_phantoms("mix:ellipses=1,textures=1", g, count=4, seed=2)
    assert scan.meta["phantom"] == "mix:ellipses=1,textures=1"
    assert scan.meta["families"] == parse_mix("mix:ellipses,textures").families_of(range(2, 6))
    assert scan.meta["mix"]["weights"] == [1.0, 1.0]
    with pytest.raises(ValueError, match="unknown phantom 'blobs'.*ellipses"):
        simulate_phantoms("blobs", g)
