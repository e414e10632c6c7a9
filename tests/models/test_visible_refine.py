"""LtI's optional data-consistent final step: off by default (outputs and metadata unchanged), reduces
the data residual from f_ltl, keeps the predicted coefficients as μ grows, round-trips through a
checkpoint, and is what the ``ltl`` method runs when the model has it on."""

import json

import pytest
import torch

from ltl import Geometry, methods
from ltl.data import simulate_phantoms
from ltl.models import LtI
from ltl.solvers.refine import RefineSettings

N = 32


@pytest.fixture(scope="module")
def geom():
    return Geometry.limited_angle(N, angular_range_deg=120, step_deg=3)


@pytest.fixture(scope="module")
def model(geom):
    torch.manual_seed(0)
    m = LtI(geom, width=4, depth=2, solver_settings=dict(iters=20, tol=0))
    m.net.set_normalization(torch.zeros(m.net.in_channels), torch.ones(m.net.in_channels),
                            torch.zeros(m.net.out_channels), 0.01 * torch.ones(m.net.out_channels))
    return m.eval()


@pytest.fixture(scope="module")
def scan(geom):
    return simulate_phantoms("ellipses", geom, count=2, noise=0.01, seed=10_000)


@pytest.fixture(scope="module")
def parts(model, scan):
    return model.reconstruct(scan.sinogram, return_parts=True)


def _residual(model, f, y):
    return (model.operator(f) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)


def test_off_by_default_output_and_metadata_unchanged(model, scan, parts):
    assert model.refine_settings is None and "refine" not in model.metadata()
    assert "f_combined" not in parts
    f_vis = parts["f_vis"]
    torch.testing.assert_close(parts["f_ltl"], model.combine(f_vis, model.predict(f_vis)))


def test_shipped_model_loads_with_refine_off_and_on():
    from ltl.models.shipped import default_checkpoint

    ckpt = default_checkpoint()
    if ckpt is None:
        pytest.skip("no shipped model in this installation")
    plain = LtI.load(ckpt)  # the manifest hash over model.json still matches
    assert plain.refine_settings is None and "refine" not in plain.metadata()
    on = LtI.load(ckpt, refine={"iters": 50})
    assert on.refine_settings == RefineSettings(iters=50)
    assert {k: v for k, v in on.metadata().items() if k != "refine"} == plain.metadata()
    with pytest.raises(ValueError, match="no option 'denoise'"):
        LtI.load(ckpt, denoise=True)


def test_refine_reduces_the_data_residual_and_converges(model, scan, parts):
    y = scan.sinogram
    f, info = model.refine(y, parts["f_ltl"], parts["prediction"], settings=RefineSettings(iters=150),
                           return_info=True)
    assert float(f.min()) >= 0
    assert bool((_residual(model, f, y) < 0.9 * _residual(model, parts["f_ltl"], y)).all())
    objs = [sum(v) for _, v in info.history]
    assert objs[-1] < objs[0]
    tail = objs[len(objs) // 2:]
    assert max(tail) - min(tail) < 1e-2 * (objs[0] - objs[-1])  # settled: the second half moves little
    g, _ = model.refine(y, parts["f_ltl"], parts["prediction"], settings=RefineSettings(iters=300),
                        return_info=True)
    assert float((g - f).norm() / g.norm()) < 0.02


def test_large_prior_weight_keeps_the_predicted_coefficients(model, scan, parts):
    y, pred = scan.sinogram, parts["prediction"]
    dist = []
    for m in (0.0, 1.0, 100.0):
        f = model.refine(y, parts["f_ltl"], pred, settings=RefineSettings(prior_factor=m, iters=150))
        dist.append(float((model.analysis(f, "invisible") - pred).norm() / pred.norm()))
    assert dist[0] > dist[1] > dist[2], dist
    start = float((model.analysis(parts["f_ltl"], "invisible") - pred).norm() / pred.norm())
    assert dist[2] < max(2 * start, 0.05), (dist, start)


def test_reconstruct_with_refine_and_checkpoint_round_trip(model, geom, scan, parts, tmp_path):
    s = RefineSettings(lam_factor=0.5, prior_factor=3.0, iters=30)
    model.refine_settings = s
    try:
        out = model.reconstruct(scan.sinogram, return_parts=True)
        torch.testing.assert_close(out["f_combined"], parts["f_ltl"])
        torch.testing.assert_close(out["f_ltl"], model.refine(scan.sinogram, parts["f_ltl"], parts["prediction"]))
        model.save(tmp_path / "m")
        loaded = LtI.load(tmp_path / "m").eval()
        assert loaded.refine_settings == s and json.loads((tmp_path / "m" / "model.json").read_text())["refine"] == s.to_dict()
        rec = methods.create("ltl", model=loaded).reconstruct(loaded.operator, scan.sinogram)
        torch.testing.assert_close(rec.image, out["f_ltl"], atol=1e-5, rtol=1e-4)
        assert rec.info["refine"] == s.to_dict()
        torch.testing.assert_close(rec.parts["f_combined"], parts["f_ltl"], atol=1e-5, rtol=1e-4)
        assert methods.create("ltl", model=loaded).record()["refine"] == s.to_dict()
    finally:
        model.refine_settings = None
    assert "refine" not in methods.create("ltl", model=model).record()


def test_refine_settings_are_checked(model):
    with pytest.raises(ValueError, match="refine"):
        model.refine_settings = "tv"
    with pytest.raises(ValueError, match="unknown"):
        model.refine_settings = {"lambda": 1}
    model.refine_settings = True
    assert model.refine_settings == RefineSettings()
    model.refine_settings = False
    assert model.refine_settings is None


def test_ltl_refined_method_runs_the_step_on_a_plain_model(model, geom):
    """``ltl-refined`` takes an ``ltl`` model without the step switched on and runs it with the
    measured defaults: the same image as the model with refine=True, and a different one from ``ltl``."""
    from ltl import RadonOperator, methods
    from ltl.data import simulate_phantoms
    from ltl.solvers.refine import RefineSettings

    scan = simulate_phantoms("ellipses", geom, count=1, noise=0.01, seed=20001)
    A = RadonOperator(geom)
    assert model.refine_settings is None
    plain = methods.create("ltl", model=model).reconstruct(A, scan.sinogram)
    refined = methods.create("ltl-refined", model=model).reconstruct(A, scan.sinogram, f_vis=plain.parts["f_vis"])
    assert refined.info["refine"] == RefineSettings().to_dict()
    torch.testing.assert_close(refined.parts["f_combined"], plain.image)
    with_step = model.refine(scan.sinogram, plain.image, model.predict(plain.parts["f_vis"]))
    torch.testing.assert_close(refined.image, with_step, rtol=1e-5, atol=1e-6)
    assert float((refined.image - plain.image).abs().max()) > 1e-3
    assert methods.get("ltl-refined").learned and methods.label("ltl-refined") == "LtI + final step"
    with pytest.raises(ValueError, match="ltl train --model ltl`"):
        methods.create("ltl-refined", model=type("M", (), {"kind": "postproc-l1"})())
