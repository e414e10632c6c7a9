"""The shipped-model index: compact pickle-free weights that keep the hash checks, the choice of a
model by a scan's geometry and the refusal of a scan none fits (on a small fake index in a temporary
folder, through ``$LTL_MODELS``), ``ltl models``, and every model really shipped loads, matches its
recorded hashes and reconstructs a scan of its geometry."""

import json
import zipfile

import numpy as np
import pytest
import torch

from ltl import Geometry
from ltl.cli import main
from ltl.models import (KINDS, LtI, NoModelForGeometry, PostProc, install_model, load_for, load_model, model_for,
                        shipped_models)
from ltl.models.checkpoint import manifest_hash, read_meta, sha256
from ltl.models.shipped import MODELS_ENV, TRAIN_PHANTOM, model_name

TINY_SOLVER = dict(iters=5, tol=0)
PROV = {"train_data": {"samples": 8, "settings": {"phantom": TRAIN_PHANTOM, "noise": 0.01}}}


def _geom(rng, step=3.0, center=0.0, size=32):
    return Geometry.limited_angle(size, angular_range_deg=rng, step_deg=step, center_deg=center)


def _randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.net.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))
    return model.eval()


def _lti(g, seed=0):
    return _randomize(LtI(g, width=4, depth=2, solver_settings=TINY_SOLVER, provenance=PROV), seed)


@pytest.fixture
def index(tmp_path, monkeypatch):
    """A fake index of compact models: LtI at 60° and 90° (32², 3° steps), FBPConvNet at 90°."""
    runs, idx = tmp_path / "runs", tmp_path / "index"
    made = {}
    for seed, (kind, rng) in enumerate([("ltl", 60), ("ltl", 90), ("postproc-fbp", 90)]):
        g = _geom(rng)
        model = _lti(g, seed) if kind == "ltl" else _randomize(PostProc(g, source="fbp", width=4, depth=2), seed)
        run = model.save(runs / f"{kind}-{rng}")
        methods = {kind: {"psnr": [30.0 + seed, 1.0], "ssim": [0.9, 0.01]},
                   "tv": {"psnr": [28.0, 1.0], "ssim": [0.85, 0.01]}}
        made[(kind, rng)] = install_model(run, idx, scores={"held_out": {"families": ["vessels"], "methods": methods}})
    monkeypatch.setenv(MODELS_ENV, str(idx))
    return idx, made, runs


# ---------------------------------------------------------------------------------------- compact form
def test_installed_models_are_compact_pickle_free_and_keep_the_hash_checks(index):
    idx, made, runs = index
    rec = made[("ltl", 90)]
    assert rec.name == "ltl-90deg-32-s3" and rec.path == idx / rec.name and rec.weights == "model.npz"
    assert sorted(p.name for p in rec.path.iterdir()) == ["model.json", "model.npz"]
    meta = json.loads((rec.path / "model.json").read_text())
    assert meta["manifest_sha256"] == manifest_hash(meta) and meta["weights_sha256"] == sha256(rec.path / "model.npz")
    assert meta["compacted_from"]["weights_sha256"] == json.loads((runs / "ltl-90" / "model.json").read_text())[
        "weights_sha256"]
    with zipfile.ZipFile(rec.path / "model.npz") as z:  # plain .npy members, no pickled objects
        assert all(n.endswith(".npy") for n in z.namelist())
    with np.load(rec.path / "model.npz", allow_pickle=False) as z:
        kernels = [k for k in z.files if z[k].ndim >= 2]
        assert kernels and all(z[k].dtype == np.float16 for k in kernels)
        assert all(z[k].dtype != np.float16 for k in z.files if z[k].ndim < 2)
    original, compact = LtI.load(runs / "ltl-90"), LtI.load(rec.path)
    for (k, a), b in zip(original.state_dict().items(), compact.state_dict().values()):
        assert a.dtype == b.dtype, k  # cast back to the model's own dtypes
        tol = 1e-3 * float(a.abs().max()) if a.is_floating_point() and a.ndim >= 2 else 0.0
        torch.testing.assert_close(b, a, atol=tol, rtol=0)
    x = torch.randn(2, original.net.in_channels, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ya, yb = original.net(x), compact.net(x)
    assert float((ya - yb).norm() / ya.norm()) < 2e-2


def test_an_edited_or_damaged_compact_model_is_refused(index):
    _, made, _ = index
    d = made[("ltl", 60)].path
    meta = json.loads((d / "model.json").read_text())
    meta["geometry"]["angles"] = [a * 1.5 for a in meta["geometry"]["angles"]]  # relabel 60° as 90°
    (d / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="changed after the model was saved"):
        LtI.load(d)
    d = made[("ltl", 90)].path
    (d / "model.npz").write_bytes((d / "model.npz").read_bytes()[:-20])
    with pytest.raises(ValueError, match="does not match the hash"):
        load_model(d)
    (d / "model.npz").unlink()
    with pytest.raises(FileNotFoundError, match="model.npz not found"):
        load_model(d)


def test_install_refuses_to_overwrite_unless_asked(index):
    idx, made, runs = index
    with pytest.raises(FileExistsError, match="exists"):
        install_model(runs / "ltl-60", idx)
    again = install_model(runs / "ltl-60", idx, overwrite=True)
    assert again.path == made[("ltl", 60)].path and again.scores is None


# ---------------------------------------------------------------------------------------- choice
def test_listing_has_geometry_training_data_and_scores(index):
    idx, made, _ = index
    found = shipped_models()
    assert [m.name for m in found] == sorted(m.name for m in made.values())  # $LTL_MODELS replaces the search
    m = next(m for m in found if m.name == "ltl-60deg-32-s3")
    assert (m.kind, m.range_deg, m.step_deg, m.center_deg, m.geometry.image_size) == ("ltl", 60, 3, 0, 32)
    assert m.noise == 0.01 and m.train_data == TRAIN_PHANTOM and m.train_samples == 8
    assert "vessels" not in m.families and "natural" not in m.families and "ellipses" in m.families
    assert m.scores["held_out"]["methods"]["ltl"]["psnr"] == [30.0, 1.0]
    assert [m.name for m in shipped_models("postproc-fbp")] == ["postproc-fbp-90deg-32-s3"]
    with pytest.raises(ValueError, match="not one of"):
        shipped_models("unet")


def test_model_for_picks_the_model_of_the_scan_geometry(index):
    _, made, _ = index
    assert model_for(_geom(60)) == made[("ltl", 60)].path
    assert model_for(_geom(90)) == made[("ltl", 90)].path
    assert model_for(_geom(90), "postproc-fbp") == made[("postproc-fbp", 90)].path
    model = load_for(_geom(90))
    assert isinstance(model, LtI) and model.geometry == _geom(90)
    # LtI.load of the chosen folder is the model of that geometry
    assert LtI.load(model_for(_geom(60))).geometry == _geom(60)


@pytest.mark.parametrize("geometry, kind, fix", [
    (_geom(120), "ltl", "--size 32 --range 120 --step 3 --center 0"),           # another range
    (_geom(90, step=1.5), "ltl", "--size 32 --range 90 --step 1.5 --center 0"),  # another step
    (_geom(90, center=30), "ltl", "--size 32 --range 90 --step 3 --center 30"),  # another centre
    (_geom(90, size=48), "ltl", "--size 48 --range 90 --step 3 --center 0"),     # another image size
    (_geom(60), "postproc-fbp", "--range 60"),                                    # no model of that kind
])
def test_a_scan_no_model_fits_is_refused_with_the_list_and_the_training_command(index, geometry, kind, fix):
    with pytest.raises(NoModelForGeometry) as e:
        model_for(geometry, kind)
    msg = str(e.value)
    assert "\n" not in msg and isinstance(e.value, ValueError)
    assert f"no shipped {kind} model fits" in msg
    assert all(name in msg for name in ("ltl-60deg-32-s3", "ltl-90deg-32-s3", "postproc-fbp-90deg-32-s3"))
    assert f"ltl dataset make --out train.h5 --phantom {TRAIN_PHANTOM}" in msg and fix in msg
    assert ("--model postproc-fbp" in msg) == (kind == "postproc-fbp")


def test_an_empty_search_path_refuses_every_scan(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    assert shipped_models() == []
    with pytest.raises(NoModelForGeometry, match="shipped models: none found"):
        model_for(_geom(60))


def test_the_first_folder_on_the_search_path_wins(index, tmp_path, monkeypatch):
    idx, made, _ = index
    other = tmp_path / "other"
    run = _lti(_geom(60), seed=7).save(tmp_path / "runs" / "other-60")
    install_model(run, other, name="a-first-60")
    monkeypatch.setenv(MODELS_ENV, f"{other}:{idx}")
    assert model_for(_geom(60)) == other / "a-first-60"
    monkeypatch.setenv(MODELS_ENV, f"{idx}:{other}")
    assert model_for(_geom(60)) == made[("ltl", 60)].path


def test_a_corrupt_model_is_left_out_of_the_listing_with_a_warning(index, caplog):
    idx, made, _ = index
    (made[("ltl", 90)].path / "model.json").write_text("{not json")
    with caplog.at_level("WARNING"):
        names = [m.name for m in shipped_models()]
    assert "ltl-90deg-32-s3" not in names and "ltl-60deg-32-s3" in names
    assert "left out" in caplog.text
    with pytest.raises(ValueError, match="not valid JSON"):
        shipped_models(strict=True)
    with pytest.raises(NoModelForGeometry):
        model_for(_geom(90))


def test_a_fan_beam_scan_gets_the_widest_parallel_model_it_covers(index):
    _, made, _ = index
    # rebinned, a 90° fan scan (fan angle 33°) covers the 60° model's rays but not the 90° model's
    narrow = Geometry.fan_beam(32, source_origin=80, origin_det=40, angular_range_deg=90, step_deg=1.5, start_deg=-45)
    assert model_for(narrow) == made[("ltl", 60)].path
    wide = Geometry.fan_beam(32, source_origin=80, origin_det=40, angular_range_deg=150, step_deg=1.5, start_deg=-75)
    assert model_for(wide) == made[("ltl", 90)].path
    short = Geometry.fan_beam(32, source_origin=80, origin_det=40, angular_range_deg=60, step_deg=1.5, start_deg=-30)
    with pytest.raises(NoModelForGeometry, match="fan beam"):
        model_for(short)


def test_model_name():
    assert model_name("ltl", Geometry.limited_angle(256, angular_range_deg=90)) == "ltl-90deg-256"
    assert model_name("postproc-l1", _geom(60, step=1.5, center=10)) == "postproc-l1-60deg-32-s1.5-c10"


# ---------------------------------------------------------------------------------------- ltl models
def test_ltl_models_prints_the_table_and_json(index, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "| ltl-60deg-32-s3 | ltl | 32 | 60° | 3° | 0° | 0.01 | mix:all,-vessels,-natural (8 samples) |" in out
    assert "30.00 dB / 0.900 (TV 28.00 / 0.850) [vessels]" in out
    assert main(["models", "--json", "--kind", "ltl"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["ltl-60deg-32-s3", "ltl-90deg-32-s3"]
    assert rows[1]["range_deg"] == 90 and rows[1]["weights"] == "model.npz" and rows[1]["size_bytes"] > 0


def test_ltl_models_scan_names_the_chosen_model_or_refuses(index, tmp_path, capsys):
    from ltl.data import save_scan, simulate_phantoms

    _, made, _ = index
    fits, other = tmp_path / "fits.npz", tmp_path / "other.npz"
    save_scan(fits, simulate_phantoms("ellipses", _geom(90), count=1, noise=0.01, seed=20000))
    save_scan(other, simulate_phantoms("ellipses", _geom(45), count=1, noise=0.01, seed=20000))
    assert main(["models", "--scan", str(fits)]) == 0
    assert str(made[("ltl", 90)].path) in capsys.readouterr().out
    assert main(["models", "--scan", str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ltl: error: no shipped ltl model fits") and "\n" not in err and "--range 45" in err


# ---------------------------------------------------------------------------------------- what ships
SHIPPED = shipped_models(strict=True)


def test_something_ships_and_all_models_together_stay_small():
    assert SHIPPED, "no shipped model found in data/"
    assert {m.kind for m in SHIPPED} <= set(KINDS)
    assert sum(m.size_bytes for m in SHIPPED) < 48e6  # the demo model (fp32) + compact ones under ~40 MB
    assert model_for(Geometry.limited_angle(256, angular_range_deg=120, step_deg=1.0)) in [m.path for m in SHIPPED]


@pytest.mark.parametrize("shipped", SHIPPED, ids=[m.name for m in SHIPPED])
def test_every_shipped_model_loads_and_matches_its_hashes(shipped):
    meta, weights_p, _ = read_meta(shipped.path)
    assert meta["manifest_sha256"] == manifest_hash(meta)
    assert sha256(weights_p) == meta["weights_sha256"]
    model = load_model(shipped.path)
    assert model.geometry == shipped.geometry and model_for(shipped.geometry, shipped.kind) is not None


@pytest.mark.slow
@pytest.mark.parametrize("shipped", [m for m in SHIPPED if m.kind == "ltl"], ids=[m.name for m in SHIPPED
                                                                                   if m.kind == "ltl"])
def test_every_shipped_lti_model_reconstructs_a_scan_of_its_geometry(shipped):
    """One held-out-seed scan of a family it was trained on (the shipped 256² sample where it fits),
    on the CPU: LtI improves on its own f_vis (the l1 step takes tens of seconds on 2 cores)."""
    from ltl.data import load_scan, simulate_phantoms
    from ltl.data.samples import samples
    from ltl.metrics import relative_error

    torch.set_num_threads(2)
    model = LtI.load(shipped.path)
    fits = [p for p in samples().values() if load_scan(p).geometry == shipped.geometry and "ellipses" in p.name]
    family = "ellipses" if not shipped.families or "ellipses" in shipped.families else shipped.families[0]
    scan = load_scan(fits[0]) if fits and family == "ellipses" else simulate_phantoms(
        family, shipped.geometry, count=1, noise=shipped.noise or 0.01, seed=20001)
    parts = model.reconstruct(scan.sinogram[:1], geometry=scan.geometry, return_parts=True)
    truth = scan.images[:1]
    re_vis = float(relative_error(parts["f_vis"].clamp(0, 1), truth)[0])
    re_ltl = float(relative_error(parts["f_ltl"].clamp(0, 1), truth)[0])
    assert torch.isfinite(parts["f_ltl"]).all() and re_ltl < 0.9 * re_vis
