"""The sample scans in data/ load, the settings they record reproduce them exactly, the 256² ones
fit the shipped demo model and reconstruct with it, and the locators find them."""

from pathlib import Path

import pytest
import torch

from ltl import Geometry
from ltl.data import load_scan, simulate_phantoms

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize("name", ["shepp-logan-120deg-128.npz", "ellipses-120deg-128.npz",
                                  "shepp-logan-120deg-256.npz", "ellipses-120deg-256.npz"])
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


def test_locators_find_the_samples_and_the_model_of_this_checkout():
    from ltl.data.samples import sample_path, samples
    from ltl.models.shipped import default_checkpoint, shipped_models

    found = samples()
    assert {p.name for p in DATA.glob("*.npz")} == {p.name for p in found.values()}
    assert sample_path("ellipses-120deg-256") == sample_path("ellipses-120deg-256.npz") == DATA / "ellipses-120deg-256.npz"
    with pytest.raises(FileNotFoundError, match="shipped samples: .*shepp-logan-120deg-256"):
        sample_path("nope")
    found = [(m.name, m.path) for m in shipped_models()]
    assert found[-1] == ("demo-model", default_checkpoint()) and all(p.is_relative_to(DATA) for _, p in found)


@pytest.mark.slow
def test_the_256_samples_fit_the_demo_model_and_reconstruct_with_it():
    """Every 256² sample has the demo model's geometry and noise; LtI improves on its own f_vis on
    the first held-out ellipse scan (one scan: the l1 step takes tens of seconds on 2 CPU cores)."""
    from ltl.data.samples import sample_path
    from ltl.metrics import relative_error
    from ltl.models import LtI
    from ltl.models.shipped import default_checkpoint

    model = LtI.load(default_checkpoint())
    for name in ("shepp-logan-120deg-256", "ellipses-120deg-256"):
        scan = load_scan(sample_path(name))
        assert scan.geometry == model.geometry and scan.meta["noise"] == 0.01, name
    scan = load_scan(sample_path("ellipses-120deg-256"))
    assert scan.meta["phantom_seed"] >= 20000 and scan.meta["noise_seed"] >= 20000  # the test seed range
    parts = model.reconstruct(scan.sinogram[0], geometry=scan.geometry, return_parts=True)
    re_vis = float(relative_error(parts["f_vis"].clamp(0, 1)[None], scan.images[:1])[0])
    re_ltl = float(relative_error(parts["f_ltl"].clamp(0, 1)[None], scan.images[:1])[0])
    assert re_ltl < 0.8 * re_vis
