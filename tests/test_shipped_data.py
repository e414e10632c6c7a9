"""The sample scans in data/ load, and the settings they record reproduce them exactly."""

from pathlib import Path

import pytest
import torch

from ltl import Geometry
from ltl.data import load_scan, simulate_phantoms

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize("name", ["shepp-logan-120deg-128.npz", "ellipses-120deg-128.npz"])
def test_sample_scan_reproduces_from_its_metadata(name):
    scan = load_scan(DATA / name)
    m = scan.meta
    assert scan.geometry == Geometry.from_dict(m["geometry"])
    again = simulate_phantoms(m["phantom"], scan.geometry, count=m["count"], noise=m["noise"],
                              photons=m["photons"], seed=m["phantom_seed"], oversample=m["oversample"])
    assert torch.equal(again.sinogram, scan.sinogram)
    assert torch.equal(again.images, scan.images)


def test_demo_model_is_for_the_standard_task_and_adds_what_l1_misses():
    """The shipped model loads (hash checked), is for 256², 120° in 1° steps, carries fitted
    normalisation and provenance, and on a held-out phantom (test seed) improves on its own f_vis."""
    from ltl.cli import default_checkpoint
    from ltl.metrics import relative_error
    from ltl.models import LtI

    assert default_checkpoint() == DATA / "demo-model"
    model = LtI.load(DATA / "demo-model")
    assert model.geometry == Geometry.limited_angle(256, angular_range_deg=120, step_deg=1.0)
    assert model.net.in_std.ne(1).all() and model.net.out_std.ne(1).all()
    prov = model.provenance
    assert prov["train_data"]["seed_ranges"][-1][1] <= 10000 and prov["made_by"]["train_samples"] > 0
    scan = simulate_phantoms("ellipses", model.geometry, count=1, noise=0.01, seed=20049)
    parts = model.reconstruct(scan, return_parts=True)
    re_vis = float(relative_error(parts["f_vis"].clamp(0, 1), scan.images)[0])
    re_ltl = float(relative_error(parts["f_ltl"].clamp(0, 1), scan.images)[0])
    assert re_ltl < 0.8 * re_vis
    combined = model.combine(parts["f_vis"], parts["prediction"])
    torch.testing.assert_close(parts["f_ltl"], combined, atol=1e-5, rtol=0)
