"""LtI: split/combine exactness, reconstruction, save/load, geometry checks."""

import json

import pytest
import torch

from ltl import Geometry, RadonOperator
from ltl.data import block_mean, random_ellipses, simulate_phantoms
from ltl.models import LtI

N = 32


@pytest.fixture(scope="module")
def geom():
    return Geometry.limited_angle(N, angular_range_deg=120, step_deg=3)


@pytest.fixture(scope="module")
def model(geom):
    torch.manual_seed(0)
    m = LtI(geom, width=4, depth=2, solver_settings=dict(iters=5, tol=0))
    m.net.set_normalization(torch.rand(m.net.in_channels), 1 + torch.rand(m.net.in_channels),
                            torch.rand(m.net.out_channels), 1 + torch.rand(m.net.out_channels))
    return m.eval()


@pytest.fixture(scope="module")
def truth():
    return block_mean(random_ellipses(3, N, seed=5, oversample=2), 2)


def test_mask_and_channels(model):
    c = model.frame.num_channels
    assert model.mask.shape == (c,) and model.mask.dtype == torch.bool
    assert not bool(model.mask[0])  # the low-pass is predicted (its missing wedge is invisible)
    assert model.num_visible + model.num_invisible == c and model.num_invisible > 0
    assert model.net.in_channels == model.num_visible + 1 and model.net.out_channels == model.num_invisible


def test_combine_is_exact_for_true_coefficients(model, truth):
    """f_vis with the truth's visible coefficients + the truth's invisible ones → the truth."""
    _, inv = model.split(model.frame.forward(truth))
    out = model.combine(truth, inv)
    torch.testing.assert_close(out, truth, atol=1e-5, rtol=0)


def test_combine_decomposes_into_visible_and_network_parts(model, truth, gen):
    f_vis = truth + 0.05 * torch.randn(truth.shape, generator=gen)
    pred = torch.randn(3, model.num_invisible, N, N, generator=gen) * 0.01
    raw = model.combine(f_vis, pred, clamp=False)
    visible_part = model.frame.adjoint(model._full(model.frame.forward(f_vis), torch.zeros_like(pred)))
    torch.testing.assert_close(raw, visible_part + model.contribution(pred), atol=1e-5, rtol=0)
    assert float(model.combine(f_vis, pred).min()) >= 0
    torch.testing.assert_close(model.combine(f_vis, pred), raw.clamp_min(0))


def test_reconstruct_parts_and_batches(model, geom):
    scan = simulate_phantoms("ellipses", geom, count=3, noise=0.01, seed=1)
    parts = model.reconstruct(scan, return_parts=True)
    assert set(parts) == {"f_ltl", "f_vis", "contribution", "prediction"}
    assert parts["f_ltl"].shape == (3, N, N) and parts["prediction"].shape == (3, model.num_invisible, N, N)
    torch.testing.assert_close(parts["f_ltl"], model.combine(parts["f_vis"], parts["prediction"]), atol=1e-6, rtol=0)
    one = model.reconstruct(scan.sinogram[1])
    assert one.shape == (N, N)
    assert model.training is False


def test_geometry_mismatch_is_refused(model, geom, tmp_path):
    other = Geometry.limited_angle(N, angular_range_deg=120, step_deg=3, center_deg=30)
    y = RadonOperator(other)(torch.rand(1, N, N))
    with pytest.raises(ValueError, match=r"trained for N=32.*-60\.0°.*scan has N=32.*-30\.0°"):
        model.reconstruct(y, geometry=other)
    with pytest.raises(ValueError, match="trained for"):
        model.reconstruct(simulate_phantoms("ellipses", other, count=1, seed=0))
    with pytest.raises(ValueError, match="for the model's geometry"):
        model.reconstruct(torch.zeros(1, 60, 46))
    model.save(tmp_path / "ck")
    with pytest.raises(ValueError, match="trained for.*scan has"):
        LtI.load(tmp_path / "ck", geometry=other)


def test_save_load_round_trip(model, geom, tmp_path):
    d = model.save(tmp_path / "ck")
    assert sorted(p.name for p in d.iterdir()) == ["model.json", "model.pt"]
    meta = json.loads((d / "model.json").read_text())
    for key in ("geometry", "frame", "mask", "solver", "model", "normalization", "provenance", "ltl_version",
                "weights_sha256"):
        assert key in meta
    assert torch.load(d / "model.pt", weights_only=True).keys() == model.state_dict().keys()
    back = LtI.load(d / "model.json", geometry=geom)
    assert back.geometry == geom and back.solver_settings == model.solver_settings
    for k, v in model.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k
    f_vis = torch.rand(2, N, N)
    torch.testing.assert_close(back.eval().predict(f_vis), model.predict(f_vis))


def test_missing_and_corrupt_checkpoints(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.*not found"):
        LtI.load(tmp_path / "nope")
    d = model.save(tmp_path / "ck")
    (d / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        LtI.load(d)
    d = model.save(tmp_path / "ck2")
    (d / "model.pt").write_bytes((d / "model.pt").read_bytes()[:100])
    with pytest.raises(ValueError, match="does not match the hash"):
        LtI.load(d)
    meta = json.loads((d / "model.json").read_text())
    del meta["weights_sha256"]
    (d / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="changed after the model was saved"):  # the manifest covers the hash
        LtI.load(d)
    del meta["manifest_sha256"]  # a checkpoint written before hashes existed
    (d / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="not a readable torch state dict"):
        LtI.load(d)
    meta["format"] = "something"
    (d / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format"):
        LtI.load(d)
    with pytest.raises(ValueError, match="not a directory"):
        model.save(d / "model.json")


@pytest.mark.gpu
def test_reconstruct_on_cuda(model, geom):
    m = LtI.from_metadata(model.metadata())
    m.load_state_dict(model.state_dict())
    m = m.to("cuda").eval()
    y = RadonOperator(geom)(block_mean(random_ellipses(2, N, seed=3, oversample=2), 2))
    out = m.reconstruct(y.cuda(), return_parts=True)
    assert out["f_ltl"].device.type == "cuda"
    cpu = model.eval().predict(out["f_vis"].cpu())
    torch.testing.assert_close(out["prediction"].cpu(), cpu, atol=1e-3, rtol=1e-3)


def test_analysis_of_one_part_equals_split(model, truth):
    vis, inv = model.split(model.frame.forward(truth))
    torch.testing.assert_close(model.analysis(truth, "visible"), vis, atol=1e-6, rtol=0)
    torch.testing.assert_close(model.analysis(truth, "invisible"), inv, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="part"):
        model.analysis(truth, "some")


def test_lowpass_and_residual_options(geom, truth, gen):
    """Without predict_lowpass the low-pass is kept from f_vis; a residual model's prediction is
    SH(f_vis) plus the network's correction, and a zero correction returns f_vis exactly."""
    plain = LtI(geom, width=4, depth=2, predict_lowpass=False, residual=False)
    assert bool(plain.mask[0]) and plain.num_invisible > 0
    res = LtI(geom, width=4, depth=2).eval()
    assert res.num_invisible == plain.num_invisible + 1
    f_vis = truth + 0.05 * torch.randn(truth.shape, generator=gen)
    t = res.network_target(f_vis, truth)
    coeffs_truth = res.split(res.frame.forward(truth))[1]
    coeffs_fvis = res.split(res.frame.forward(f_vis))[1]
    torch.testing.assert_close(t, coeffs_truth - coeffs_fvis, atol=1e-5, rtol=0)
    # the correction t turns f_vis into the truth's coefficients in every predicted channel
    torch.testing.assert_close(res.combine(f_vis, res.prediction_from_output(t, f_vis), clamp=False),
                               res.combine(f_vis, coeffs_truth, clamp=False), atol=1e-5, rtol=0)
    zero = res.prediction_from_output(torch.zeros_like(t), f_vis)
    torch.testing.assert_close(res.combine(f_vis, zero, clamp=False), f_vis, atol=1e-5, rtol=0)
    meta = res.metadata()["model"]
    assert meta["predict_lowpass"] is True and meta["residual"] is True
    old = dict(res.metadata(), model={k: v for k, v in meta.items() if k not in ("predict_lowpass", "residual")},
               mask=[bool(v) for v in plain.mask.tolist()])
    old["model"]["out_channels"] = plain.num_invisible
    old["normalization"] = None
    back = LtI.from_metadata(old)  # metadata written before the options existed: both off
    assert back.residual is False and back.predict_lowpass is False and bool(back.mask[0])


def test_solver_settings_reach_the_l1_step(geom):
    """``lam_factor`` in the solver settings is the c of l1_shearlet's default λ, saved with the model."""
    from ltl.solvers import l1_shearlet

    scan = simulate_phantoms("ellipses", geom, count=2, noise=0.01, seed=3)
    a = LtI(geom, width=4, depth=2, solver_settings=dict(iters=20, tol=0, lam_factor=0.5))
    b = LtI(geom, width=4, depth=2, solver_settings=dict(iters=20, tol=0))
    want, _ = l1_shearlet(RadonOperator(geom), a.frame, scan.sinogram, iters=20, tol=0, lam_factor=0.5)
    torch.testing.assert_close(a.solve(scan.sinogram), want)
    assert float((a.solve(scan.sinogram) - b.solve(scan.sinogram)).abs().max()) > 1e-3
    assert LtI.from_metadata(a.metadata()).solver_settings["lam_factor"] == 0.5
    with pytest.raises(ValueError, match="unknown solver setting"):
        LtI(geom, width=4, depth=2, solver_settings=dict(step_ratio=2))
