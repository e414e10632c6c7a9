"""ASTRA orientation convention and visibility of shearlet channels under limited-angle scans."""

import math

import numpy as np
import pytest
import torch

from ltl.geometry import Geometry
from ltl.operators import RadonOperator
from ltl.shearlets import (
    ShearletFrame,
    measured_direction_mask,
    operator_visibility_ratio,
    visibility,
    visible_fraction,
)


def _xy(n):
    r, c = np.mgrid[0:n, 0:n].astype(float)
    return c - n / 2 + 0.5, -(r - n / 2 + 0.5)  # x = column (right), y = -row (up)


@pytest.mark.parametrize("deg", [0, 30, 60, 90, 120, 150])
def test_astra_view_theta_measures_frequency_direction_theta(deg):
    """The convention documented in ltl.shearlets.visibility, re-measured through RadonOperator:
    a windowed plane wave with frequency direction phi (x = column, y = -row frame) has its
    sinogram energy peak at the view theta = phi (mod pi)."""
    n = 64
    x, y = _xy(n)
    phi = math.radians(deg)
    wave = np.cos(2 * math.pi * 10 * (math.cos(phi) * x + math.sin(phi) * y) / n)
    img = torch.from_numpy(np.exp(-(x**2 + y**2) / (2 * 8.0**2)) * wave).float()
    g = Geometry.limited_angle(n, angular_range_deg=180, step_deg=1.0, center_deg=90.0)  # 0..179 deg
    sino = RadonOperator(g)(img)
    peak = math.degrees(g.angles[int((sino**2).sum(1).argmax())])
    assert abs(((peak - deg) + 90) % 180 - 90) <= 1.0


def test_astra_thin_lines():
    """A horizontal line (one row) is seen edge-on at 90°, a vertical line (one column) at 0°."""
    n = 64
    g = Geometry.limited_angle(n, angular_range_deg=180, center_deg=90.0)
    a = RadonOperator(g)
    horiz = torch.zeros(n, n)
    horiz[n // 2, :] = 1
    vert = torch.zeros(n, n)
    vert[:, n // 2] = 1
    assert round(math.degrees(g.angles[int(a(horiz).amax(1).argmax())])) == 90
    assert round(math.degrees(g.angles[int(a(vert).amax(1).argmax())])) == 0


def test_measured_direction_mask_half_step():
    g = Geometry.limited_angle(32, angular_range_deg=120, step_deg=1.0)  # -60..59 deg
    deg = np.array([0.0, 59.5, 59.6, 90.0, 119.4, 119.5, 179.9, -30.0, 200.0, 240.0])
    got = measured_direction_mask(np.radians(deg), g)
    np.testing.assert_array_equal(got, [True, True, False, False, False, True, True, True, True, False])


def test_visibility_pattern_for_120_degrees():
    n = 128
    sh = ShearletFrame(n)
    g = Geometry.limited_angle(n)  # views -60..59 deg -> directions [119.5, 180) U [0, 59.5]
    vis = visibility(sh, g)
    assert vis.dtype == torch.bool and vis.shape == (sh.num_channels,)
    frac = visible_fraction(sh, g)
    assert vis[0] and sh.channels[0].scale == 0
    for ch in sh.channels[1:]:
        d = abs((ch.frequency_angle + math.pi / 2) % math.pi - math.pi / 2)  # distance to 0 mod pi
        if d <= math.radians(45):
            assert vis[ch.index] and frac[ch.index] > 0.99
        elif d >= math.radians(70):
            assert not vis[ch.index] and frac[ch.index] < 0.01


def test_energy_and_operator_visibility_agree_120_degrees():
    n = 128
    sh = ShearletFrame(n)
    g = Geometry.limited_angle(n, angular_range_deg=120)
    energy = visibility(sh, g).numpy()
    ratio = operator_visibility_ratio(sh, g)
    assert ratio.shape == (sh.num_channels,)
    agree = np.mean(energy == (ratio >= 0.5))
    assert agree >= 0.95, agree
    # a channel whose energy all lies in measured directions keeps all its projection energy,
    # one whose energy lies in the wedge keeps almost none
    frac = visible_fraction(sh, g)
    fine = sh.channel_arrays()["scale"] >= 3
    np.testing.assert_allclose(ratio[(frac > 0.999) & fine], 1.0, rtol=0.05)
    assert np.all(ratio[(frac < 0.001) & fine] < 0.1)


@pytest.mark.parametrize("make", [lambda n: Geometry.limited_angle(n, angular_range_deg=180),
                                  lambda n: Geometry.limited_angle(n, angular_range_deg=120).full_angle(),
                                  lambda n: Geometry.limited_angle(n, angular_range_deg=180, step_deg=3.0)])
def test_full_scan_sees_every_channel(make):
    n = 64
    sh = ShearletFrame(n)
    g = make(n)
    assert bool(visibility(sh, g).all())
    np.testing.assert_allclose(visible_fraction(sh, g), 1.0, atol=1e-12)


def test_full_scan_operator_ratio_is_one():
    n = 32
    sh = ShearletFrame(n)
    g = Geometry.limited_angle(n, angular_range_deg=180, center_deg=90.0)
    np.testing.assert_allclose(operator_visibility_ratio(sh, g), 1.0, rtol=1e-5)


def test_lowpass_always_visible():
    n = 64
    sh = ShearletFrame(n)
    g = Geometry.limited_angle(n, angular_range_deg=10, center_deg=90.0)
    vis = visibility(sh, g, threshold=0.9)
    assert vis[0] and not vis[1:].all()


def test_visibility_rejects_mismatched_geometry():
    sh = ShearletFrame(64)
    with pytest.raises(ValueError, match=r"N=32.*N=64.*ShearletFrame\(32\)"):
        visibility(sh, Geometry.limited_angle(32))
    with pytest.raises(ValueError, match="threshold"):
        visibility(sh, Geometry.limited_angle(64), threshold=1.5)
