"""The angular error energy: a plane wave's energy lands at its frequency direction, in ltl's
convention (a view at θ measures the direction θ mod π), which the Radon operator confirms."""

import math

import pytest
import torch

from ltl import Geometry, RadonOperator
from ltl.evaluation import angular_energy, measured_intervals, missing_wedge_fraction, save_angular_figure

N = 64


def wave(xi_x: int, xi_y: int, n: int = N) -> torch.Tensor:
    """cos of the integer frequency (xi_x, xi_y) in the frame x = column, y = −row (direction atan2(xi_y, xi_x))."""
    r = torch.arange(n, dtype=torch.float64)[:, None]
    c = torch.arange(n, dtype=torch.float64)[None, :]
    return torch.cos(2 * math.pi * (xi_x * c - xi_y * r) / n)


@pytest.mark.parametrize("xi", [(7, 4), (0, 6), (-5, 9), (6, 0), (3, -8)])
def test_plane_wave_energy_lies_at_its_direction(xi):
    w = wave(*xi)
    centres, e = angular_energy(w, bins=90)
    phi = math.degrees(math.atan2(xi[1], xi[0])) % 180.0
    k = int(e[0].argmax())
    assert abs(centres[k] - phi) <= 1.0 + 1e-9  # the 2°-bin holding φ
    assert float(e[0, k]) == pytest.approx(float((w ** 2).sum()), rel=1e-9)  # all of it there
    assert float(e[0].sum()) == pytest.approx(float((w ** 2).sum()), rel=1e-9)


def test_bins_sum_to_the_energy_without_dc(gen):
    x = torch.rand(3, 32, 32, generator=gen, dtype=torch.float64)
    _, e = angular_energy(x, bins=36)
    dc = x.mean(dim=(1, 2)) ** 2 * 32 * 32
    torch.testing.assert_close(e.sum(1) + dc, (x ** 2).sum(dim=(1, 2)))


def test_missing_wedge_agrees_with_the_radon_operator():
    """Directions the wedge holds are (almost) invisible to A; measured ones are not."""
    g = Geometry.limited_angle(N, angular_range_deg=120, step_deg=3)
    got = [v for iv in measured_intervals(g) for v in iv]
    assert got == pytest.approx([0.0, 58.5, 118.5, 180.0], abs=0.06)
    r = torch.arange(N, dtype=torch.float64)
    window = torch.exp(-((r[:, None] - N / 2 + 0.5) ** 2 + (r[None, :] - N / 2 + 0.5) ** 2) / (2 * (N / 6) ** 2))
    A = RadonOperator(g)
    seen = [(14, 8), (16, 0), (-10, 17)]  # 29.7°, 0°, 120.5°
    unseen = [(0, 16), (5, 16), (-5, 16)]  # 90°, 72.6°, 107.4°
    for xi in seen + unseen:
        w = wave(*xi) * window
        frac = float(missing_wedge_fraction(wave(*xi), g))
        energy = float(A(w.float()[None]).norm() / w.norm())
        if xi in seen:
            assert frac < 1e-12 and energy > 3.0, (xi, energy)
        else:
            assert frac > 1 - 1e-12 and energy < 0.5, (xi, energy)


def test_figure(tmp_path):
    g = Geometry.limited_angle(32, angular_range_deg=90, step_deg=2, center_deg=30)
    centres, e = angular_energy(torch.rand(2, 32, 32, dtype=torch.float64) - 0.5, bins=45)
    p = save_angular_figure(tmp_path / "a.png", centres, {"a": e[0].numpy(), "b": e[1].numpy()}, g)
    import matplotlib.image

    assert matplotlib.image.imread(p).shape[1] > 500
    with pytest.raises(ValueError, match="bins"):
        angular_energy(torch.zeros(8, 8), bins=0)
    with pytest.raises(ValueError, match="geometry has N=32"):
        missing_wedge_fraction(torch.zeros(16, 16), g)
