import numpy as np
import pytest

from ltl import Geometry


def test_limited_angle_defaults():
    g = Geometry.limited_angle(128)
    np.testing.assert_allclose(g.angles, np.deg2rad(np.arange(-60, 60, 1.0)))
    assert g.det_count == int(np.ceil(np.sqrt(2) * 128))
    assert g.det_spacing == 1.0
    assert g.sino_shape == (120, g.det_count)
    assert abs(g.angular_range_deg - 120) < 1e-9


def test_centre_and_step():
    g = Geometry.limited_angle(64, angular_range_deg=90, step_deg=2, center_deg=30)
    np.testing.assert_allclose(np.rad2deg(g.angles), np.arange(-15, 75, 2.0))


def test_round_trip_and_equality():
    g = Geometry.limited_angle(65, angular_range_deg=150, step_deg=0.5, det_count=100, det_spacing=1.5)
    assert Geometry.from_json(g.to_json()) == g
    assert Geometry.from_dict(g.to_dict()) == g
    assert hash(Geometry.from_dict(g.to_dict())) == hash(g)
    assert g != Geometry.limited_angle(65, angular_range_deg=150, step_deg=0.5)
    assert eval(repr(g), {"Geometry": Geometry, "np": np}) == g


def test_immutable():
    g = Geometry.limited_angle(32)
    with pytest.raises(Exception):
        g.image_size = 4
    with pytest.raises(ValueError):
        g.angles[0] = 1.0


def test_full_angle():
    g = Geometry.limited_angle(32, angular_range_deg=120, step_deg=2).full_angle()
    assert g.num_angles == 90 and abs(g.angular_range_deg - 180) < 1e-9


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(image_size=0, angles=[0.0]), "image_size"),
        (dict(image_size=16.5, angles=[0.0]), "image_size"),
        (dict(image_size=16, angles=[]), "non-empty"),
        (dict(image_size=16, angles=[0.0, np.nan]), "NaN or inf"),
        (dict(image_size=16, angles=[0.0, np.inf]), "NaN or inf"),
        (dict(image_size=16, angles=[0.0, 0.5, 0.5]), "repeated"),
        (dict(image_size=16, angles=[0.0, 2 * np.pi]), "repeated"),
        (dict(image_size=16, angles=[0.0], det_count=0), "det_count"),
        (dict(image_size=16, angles=[0.0], det_spacing=-1.0), "det_spacing"),
    ],
)
def test_bad_geometry(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Geometry(**kwargs)


@pytest.mark.parametrize("kw", [dict(angular_range_deg=0), dict(angular_range_deg=400), dict(step_deg=0),
                                dict(step_deg=np.nan), dict(center_deg=np.inf)])
def test_bad_limited_angle(kw):
    with pytest.raises(ValueError):
        Geometry.limited_angle(32, **kw)
