import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from ltl.cli import main


def run(*args):
    return main([str(a) for a in args])


def test_info(capsys):
    assert run("info", "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ASTRA CUDA"] in ("yes", "no") and "torch" in info


def test_simulate_and_reconstruct(tmp_path, capsys):
    scan = tmp_path / "scan.npz"
    assert run("simulate", "--phantom", "ellipses", "--count", 2, "--size", 32, "--range", 120,
               "--noise", 0.01, "--seed", 3, "--out", scan) == 0
    with np.load(scan) as z:
        assert z["sinogram"].shape == (2, 120, 46) and z["images"].shape == (2, 32, 32)
        meta = json.loads(str(z["meta"]))
    assert meta["phantom_seed"] == 3 and meta["geometry"]["image_size"] == 32
    rec = tmp_path / "rec.npz"
    png = tmp_path / "rec.png"
    assert run("reconstruct", scan, "--method", "fbp", "--out", rec, "--png", png) == 0
    out = capsys.readouterr().out
    assert "RE" in out and png.stat().st_size > 1000
    with np.load(rec) as z:
        assert z["reconstruction"].shape == (2, 32, 32)
        assert json.loads(str(z["meta"]))["method"] == "fbp"


def test_no_overwrite(tmp_path, capsys):
    scan = tmp_path / "scan.npz"
    assert run("simulate", "--size", 16, "--out", scan) == 0
    before = scan.read_bytes()
    assert run("simulate", "--size", 16, "--seed", 1, "--out", scan) == 2
    assert "exists" in capsys.readouterr().err
    assert scan.read_bytes() == before
    assert run("simulate", "--size", 16, "--seed", 1, "--out", scan, "--overwrite") == 0
    assert scan.read_bytes() != before


@pytest.mark.parametrize(
    "arrays, match",
    [
        (dict(angles=[0.0, 0.1], det_spacing=1.0, image_size=8), "sinogram"),
        (dict(sinogram=np.zeros((2, 12)), det_spacing=1.0, image_size=8), "angles"),
        (dict(sinogram=np.full((2, 12), np.nan), angles=[0.0, 0.1], det_spacing=1.0, image_size=8), "NaN"),
        (dict(sinogram=np.zeros((2, 12)), angles=[0.0, np.inf], det_spacing=1.0, image_size=8), "NaN or inf"),
        (dict(sinogram=np.zeros((2, 12)), angles=[0.1, 0.1], det_spacing=1.0, image_size=8), "repeated"),
        (dict(sinogram=np.zeros((3, 12)), angles=[0.0, 0.1], det_spacing=1.0, image_size=8), "shape"),
    ],
)
def test_bad_scan_files(tmp_path, capsys, arrays, match):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    out = tmp_path / "rec.npz"
    assert run("reconstruct", p, "--out", out) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ltl: error:") and match in err and "\n" not in err
    assert not out.exists()


def test_bad_arguments(tmp_path, capsys):
    assert run("reconstruct", tmp_path / "missing.npz", "--out", tmp_path / "r.npz") == 2
    assert "does not exist" in capsys.readouterr().err
    assert run("simulate", "--size", 16, "--range", -5, "--out", tmp_path / "s.npz") == 2
    assert "angular_range_deg" in capsys.readouterr().err
    assert run("simulate", "--size", 16, "--noise", "nan", "--out", tmp_path / "s.npz") == 2
    assert not (tmp_path / "s.npz").exists()
    assert run("simulate", "--phantom", tmp_path / "none.png", "--size", 16, "--out", tmp_path / "s.npz") == 2
    scan = tmp_path / "scan.npz"
    run("simulate", "--size", 16, "--out", scan)
    capsys.readouterr()
    assert run("reconstruct", scan, "--method", "magic", "--out", tmp_path / "r.npz") == 2
    assert "valid methods" in capsys.readouterr().err


def test_demo_small(tmp_path, capsys):
    out = tmp_path / "demo"
    assert run("demo", "--size", 32, "--no-progress", "--out", out) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["geometry"]["image_size"] == 32 and report["methods"]
    assert (out / "demo.png").stat().st_size > 1000
    assert run("demo", "--size", 32, "--out", out) == 2  # refuses to overwrite


def test_demo_with_an_lti_model(tmp_path, capsys):
    """The demo runs LtI from a checkpoint, reports both phantoms, and stores f_vis and the network's part."""
    import numpy as np

    from ltl import Geometry
    from ltl.data import load_reconstruction
    from ltl.models import LtI

    torch.manual_seed(0)
    g = Geometry.limited_angle(32, angular_range_deg=120, step_deg=1.0)
    LtI(g, width=4, depth=2, solver_settings=dict(iters=20)).save(tmp_path / "model")
    out = tmp_path / "demo"
    assert run("demo", "--size", 32, "--no-progress", "--checkpoint", tmp_path / "model", "--out", out) == 0
    text = capsys.readouterr().out
    assert "ellipses (seed 20000)" in text and "Shepp–Logan" in text and "LtI" in text
    report = json.loads((out / "metrics.json").read_text())
    assert list(report["methods"]) == ["FBP", "TV", "l1-shearlet", "LtI", "LtI + final step"]
    assert all(len(v["re"]) == 2 for v in report["methods"].values())
    rec, _, meta = load_reconstruction(out / "reconstructions.npz")
    assert rec.shape == (10, 32, 32) and meta["methods"][3] == "LtI"
    with np.load(out / "reconstructions.npz") as z:
        assert z["f_vis"].shape == (2, 32, 32) and z["contribution"].shape == (2, 32, 32)
        np.testing.assert_allclose(z["f_vis"].clip(0, 1), rec.numpy()[[2, 7]], atol=1e-6)
    # a checkpoint for another geometry: one clear line, exit 2, nothing new written
    other = Geometry.limited_angle(32, angular_range_deg=90, step_deg=1.0)
    LtI(other, width=4, depth=2).save(tmp_path / "other")
    assert run("demo", "--size", 32, "--checkpoint", tmp_path / "other", "--out", tmp_path / "d2") == 2
    assert "is for N=32, 90 views" in capsys.readouterr().err and not (tmp_path / "d2").exists()


def test_console_entry_point():
    r = subprocess.run([sys.executable, "-m", "ltl", "simulate", "--size", "8", "--range", "0", "--out", "x.npz"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("ltl: error:") and "Traceback" not in r.stderr


def test_device_errors(tmp_path, capsys):
    import torch

    scan = tmp_path / "scan.npz"
    run("simulate", "--size", 16, "--out", scan)
    capsys.readouterr()
    assert run("reconstruct", scan, "--device", "tpu9", "--out", tmp_path / "r.npz") == 2
    assert "--device" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert run("reconstruct", scan, "--device", "cuda", "--out", tmp_path / "r.npz") == 2
        assert "CUDA is not available" in capsys.readouterr().err
    assert not (tmp_path / "r.npz").exists()


@pytest.mark.parametrize("method", ["sirt", "cgls", "tv", "l1"])
def test_reconstruct_iterative_methods(tmp_path, capsys, method):
    scan = tmp_path / "scan.npz"
    run("simulate", "--size", 24, "--count", 2, "--range", 120, "--step", 3, "--out", scan)
    out = tmp_path / f"{method}.npz"
    assert run("reconstruct", scan, "--method", method, "--iters", 20, "--no-progress", "--out", out) == 0
    with np.load(out) as z:
        rec = z["reconstruction"]
        meta = json.loads(str(z["meta"]))
    assert rec.shape == (2, 24, 24) and np.all(np.isfinite(rec))
    assert meta["method"] == method and meta["iterations"] <= 20
    if method != "cgls":
        assert rec.min() >= 0


def test_reconstruct_bad_lambda(tmp_path, capsys):
    scan = tmp_path / "scan.npz"
    run("simulate", "--size", 16, "--out", scan)
    capsys.readouterr()
    for method in ("tv", "l1"):
        assert run("reconstruct", scan, "--method", method, "--lam", -1, "--out", tmp_path / "r.npz") == 2
        err = capsys.readouterr().err
        assert "lam" in err and err.count("\n") == 1
    assert not (tmp_path / "r.npz").exists()


def test_reconstruct_ltl_with_a_checkpoint(tmp_path, capsys):
    import torch

    from ltl import Geometry
    from ltl.models import LtI

    scan = tmp_path / "scan.npz"
    run("simulate", "--size", 24, "--count", 2, "--range", 120, "--step", 4, "--out", scan)
    g = Geometry.limited_angle(24, angular_range_deg=120, step_deg=4)
    torch.manual_seed(0)
    LtI(g, width=4, depth=1, solver_settings=dict(iters=5, tol=0)).save(tmp_path / "model")
    out = tmp_path / "ltl.npz"
    assert run("reconstruct", scan, "--method", "ltl", "--checkpoint", tmp_path / "model", "--out", out) == 0
    with np.load(out) as z:
        assert z["reconstruction"].shape == z["f_vis"].shape == z["contribution"].shape == (2, 24, 24)
        assert z["reconstruction"].min() >= 0
    # a scan of another geometry is refused, naming both
    other = tmp_path / "other.npz"
    run("simulate", "--size", 24, "--range", 90, "--step", 4, "--out", other)
    capsys.readouterr()
    assert run("reconstruct", other, "--method", "ltl", "--checkpoint", tmp_path / "model",
               "--out", tmp_path / "o.npz") == 2
    err = capsys.readouterr().err
    assert "geometry" in err.lower() and err.count("\n") == 1
    assert run("reconstruct", scan, "--method", "ltl", "--checkpoint", tmp_path / "nope",
               "--out", tmp_path / "o.npz") == 2
    assert not (tmp_path / "o.npz").exists()
