"""Preprocessing: each step against its formula, the centre-of-rotation estimates against planted
offsets, ring suppression on planted stripes, and a NeXus scan with flats and darks end to end."""

import numpy as np
import pytest
import torch

from ltl import Geometry, RadonOperator, fbp
from ltl.data import random_ellipses, shepp_logan
from ltl.data.io import read_projections, write_nxtomo
from ltl.data.preprocess import (PreprocessSettings, clip_positive, find_center, flat_dark, minus_log, preprocess,
                                 shift_detector, suppress_rings)

N = 96


@pytest.fixture(scope="module")
def images():
    return torch.cat([random_ellipses(2, N, seed=11), shepp_logan(N).reshape(1, N, N)]).float()


def test_flat_dark_clip_and_log(rng):
    p = rng.uniform(200, 900, size=(4, 2, 6)).astype(np.float32)
    flats = rng.uniform(1000, 1100, size=(3, 2, 6)).astype(np.float32)
    darks = rng.uniform(90, 110, size=(2, 2, 6)).astype(np.float32)
    flats[:, 0, 0] = darks.mean(axis=0)[0, 0]  # a dead pixel: flat == dark
    t, rec = flat_dark(p, flats, darks)
    expect = (p[:, 1:] - darks.mean(0)[1:]) / (flats.mean(0)[1:] - darks.mean(0)[1:])
    np.testing.assert_allclose(t[:, 1:], expect, rtol=1e-5)
    assert np.isnan(t[:, 0, 0]).all() and rec == {"step": "flat_dark", "flats": 3, "darks": 2, "dead_pixels": 1}
    t[0, 1, 1] = -0.5
    c, rec = clip_positive(t)
    assert rec["clipped"] == 5 and np.all(c > 0) and c[0, 1, 1] == rec["floor"] == np.nanmin(t[t > 0])
    y, rec = minus_log(c)
    np.testing.assert_allclose(y, -np.log(c), rtol=1e-6)
    with pytest.raises(ValueError, match="clip"):
        minus_log(t)
    with pytest.raises(ValueError, match="flat"):
        flat_dark(p, None, darks)


def test_shift_detector():
    row = np.arange(10, dtype=np.float32)[None] ** 2
    np.testing.assert_allclose(shift_detector(row, 2)[0, :8], row[0, 2:])
    np.testing.assert_allclose(shift_detector(row, 0.5)[0, :9], (row[0, :9] + row[0, 1:]) / 2)
    np.testing.assert_array_equal(shift_detector(row, 0), row)


@pytest.mark.parametrize("offset", [3.3, -2.7])
def test_center_mirror_method_finds_a_planted_offset(images, offset, rng):
    g = Geometry(N, np.deg2rad(np.arange(0, 181, 1.0)))  # 0° and 180° both measured
    y = RadonOperator(g)(images).numpy()
    measured = shift_detector(y, -offset)  # the axis now projects onto (D - 1)/2 + offset
    measured += 0.01 * y.max() * rng.standard_normal(measured.shape).astype(np.float32)
    c, how = find_center(measured, g)
    assert how == "mirror" and abs(c - offset) < 0.5
    for s in measured:  # each slice alone, too
        assert abs(find_center(s, g)[0] - offset) < 0.5


@pytest.mark.parametrize("offset", [3.3, -2.7])
def test_center_centroid_method_on_a_limited_range(images, offset, rng):
    g = Geometry.limited_angle(N, angular_range_deg=120)
    y = RadonOperator(g)(images).numpy()
    measured = shift_detector(y, -offset) + 0.01 * y.max() * rng.standard_normal(y.shape).astype(np.float32)
    c, how = find_center(measured, g)
    assert how == "centroid" and abs(c - offset) < 0.5
    with pytest.raises(ValueError, match="no views 180"):
        find_center(measured, g, method="mirror")
    with pytest.raises(ValueError, match="parallel-beam"):
        find_center(measured, Geometry.fan_beam(N, source_origin=300, origin_det=100))


def test_suppress_rings_removes_planted_stripes(images, rng):
    g = Geometry.limited_angle(N, angular_range_deg=180, step_deg=0.5)
    y = RadonOperator(g)(images).numpy()
    stripes = np.zeros(g.det_count, np.float32)
    stripes[rng.choice(g.det_count, 12, replace=False)] = rng.normal(0, 0.02 * y.max(), 12)
    cleaned, rec = suppress_rings(y + stripes)
    before = np.linalg.norm(np.broadcast_to(stripes, y.shape))
    assert np.linalg.norm(cleaned - y) < 0.65 * before  # measured about 0.5
    assert np.linalg.norm(suppress_rings(y)[0] - y) < 0.1 * before  # a clean sinogram barely changes
    assert rec["size"] == 5


def test_preprocess_records_its_steps_in_order(rng):
    g = Geometry.limited_angle(16, angular_range_deg=90, step_deg=10, det_count=20)
    p = rng.uniform(100, 200, size=(9, 2, 20)).astype(np.float32)
    flats = np.full((2, 2, 20), 300, np.float32)
    sino, record = preprocess(p, g, flats=flats, settings={"rings": True, "det_offset": 0.5, "center": 1.0})
    assert sino.shape == (2, 9, 20)
    assert [r["step"] for r in record] == ["flat_dark", "clip", "minus_log", "rings", "detector_offset", "center"]
    sino2, record2 = preprocess(-np.log(p / 300), g, settings=PreprocessSettings(log=False))
    assert record2 == [] and np.allclose(sino2, -np.log(p / 300).transpose(1, 0, 2))
    with pytest.raises(ValueError, match="flat fields"):
        preprocess(p, g, darks=flats)
    with pytest.raises(ValueError, match="do not fit"):
        preprocess(p[:, :, :10], g)
    for bad in ({"center": "middle"}, {"ring_size": 4}, {"clip": 0}, {"log": "yes"}):
        with pytest.raises(ValueError):
            PreprocessSettings.from_dict(bad)


def test_nexus_with_flats_and_darks_reconstructs_like_its_corrected_sinogram(tmp_path, images, rng):
    g = Geometry.limited_angle(N, angular_range_deg=120, det_count=N)
    y = RadonOperator(g)(images * 0.04)  # line integrals, (M, V, D), at most about 2.5
    gain = rng.uniform(0.9, 1.1, size=(len(images), g.det_count)).astype(np.float32)  # per detector pixel
    i0, dark = 5000.0 * gain, rng.uniform(80, 120, size=gain.shape).astype(np.float32)
    counts = i0[:, None, :] * np.exp(-y.numpy()) + dark[:, None, :]  # (M, V, D)
    write_nxtomo(tmp_path / "scan.nxs", counts.transpose(1, 0, 2), g.angles,
                 flats=np.stack([i0 + dark] * 3), darks=np.stack([dark] * 2))
    raw = read_projections(tmp_path / "scan.nxs")
    sino, record = preprocess(raw.data, g, flats=raw.flats, darks=raw.darks, kind=raw.kind)
    assert [r["step"] for r in record] == ["flat_dark", "clip", "minus_log"]
    A = RadonOperator(g)
    ours = fbp(A, torch.from_numpy(sino))
    ref = fbp(A, y)
    assert float((ours - ref).norm() / ref.norm()) < 1e-4
