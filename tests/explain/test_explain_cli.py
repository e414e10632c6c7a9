"""``ltl explain`` end to end on a tiny model and a 32×32 scan, and its user errors."""

import json

import numpy as np
import pytest
import torch

import ltl
import ltl.cli
import ltl.models.shipped
from ltl import Geometry
from ltl.cli import UsageError
from ltl.data import save_scan, simulate_phantoms
from ltl.cli.explain import OUTPUTS, parse_roi
from ltl.models import LtI

N = 32


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("explain")
    g = Geometry.limited_angle(N, angular_range_deg=120, step_deg=3)
    scan = simulate_phantoms("ellipses", g, count=1, noise=0.01, seed=20000)
    save_scan(d / "scan.npz", scan)
    torch.manual_seed(0)
    m = LtI(g, width=4, depth=2, solver_settings=dict(iters=5, tol=0))
    c_in, c_out = m.net.in_channels, m.net.out_channels
    m.net.set_normalization(0.01 * torch.rand(c_in), 0.05 + 0.05 * torch.rand(c_in), torch.zeros(c_out), torch.ones(c_out))
    m.save(d / "model")
    LtI(g, width=4, depth=2, solver_settings=dict(iters=5, tol=0)).save(d / "untrained")
    return d


def explain(*argv):
    args = ltl.cli.parser().parse_args(["explain", *map(str, argv)])
    return args.func(args)


def test_explain_writes_figures_and_a_record(files, tmp_path, capsys):
    out = tmp_path / "ex"
    common = [files / "scan.npz", "--checkpoint", files / "model", "--roi", "8,8,24,24", "--steps", 6, "--samples", 2,
              "--points", 5, "--seed", 7, "--device", "cpu", "--no-progress", "--out", out]
    assert explain(*common) == 0
    printed = capsys.readouterr().out
    assert "area under the ordering curve" in printed and "wrote" in printed
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 1000, name
    rec = json.loads((out / "explanation.json").read_text())
    assert rec["ltl_version"] == ltl.__version__ and rec["seed"] == 7 and rec["index"] == 0
    assert rec["geometry"]["image_size"] == N and "40 views" in rec["geometry_description"]
    assert rec["settings"]["steps"] == 6 and rec["settings"]["samples"] == 2 and rec["settings"]["roi"] == [8, 8, 24, 24]
    assert rec["settings"]["domain"] == "coefficients" and rec["settings"]["lam"] == 10.0
    methods = {"rde", "random", "gradient", "smoothgrad", "integrated_gradients"}
    assert set(rec["areas"]) == methods and all(v >= 0 for v in rec["areas"].values())
    assert set(rec["seconds"]) >= methods | {"ordering", "reconstruction", "total"}
    assert len(rec["rde"]["history"]["objective"]) == 6 and rec["rde"]["params"]["seed"] == 7
    with np.load(out / "explanation.npz") as z:
        c_in = LtI.load(files / "model").net.in_channels
        assert z["mask"].shape == (c_in, N, N) and z["f_vis"].shape == (N, N)
        assert z["relevance_gradient"].shape == (c_in, N, N)
    # existing outputs are kept without --overwrite, replaced with it
    before = (out / "explanation.json").read_bytes()
    with pytest.raises(UsageError, match="already holds explanation.png.*--overwrite"):
        explain(*common)
    assert (out / "explanation.json").read_bytes() == before
    assert explain(*common[:-2], "--domain", "channels", "--out", out, "--overwrite") == 0
    assert json.loads((out / "explanation.json").read_text())["settings"]["domain"] == "channels"


def test_parse_roi():
    assert parse_roi("1, 2,30,31") == (1, 2, 30, 31)
    for bad in ("1,2,3", "a,b,c,d", "1,2,3,4,5"):
        with pytest.raises(ValueError, match="four integers r0,c0,r1,c1"):
            parse_roi(bad)


def test_user_errors(files, tmp_path, monkeypatch):
    scan, ck = files / "scan.npz", files / "model"
    base = ["--steps", 1, "--samples", 1, "--points", 2, "--device", "cpu", "--no-progress", "--out", tmp_path / "o"]
    with pytest.raises(ValueError, match="32×32 image"):
        explain(scan, "--checkpoint", ck, "--roi", "0,0,40,40", *base)
    with pytest.raises(ValueError, match="four integers"):
        explain(scan, "--checkpoint", ck, "--roi", "0,0,40", *base)
    with pytest.raises(UsageError, match=r"--index 3 is out of range.*holds 1 scan"):
        explain(scan, "--checkpoint", ck, "--index", 3, *base)
    with pytest.raises(ValueError, match="lacks the training statistics"):
        explain(scan, "--checkpoint", files / "untrained", *base)
    with pytest.raises(FileNotFoundError, match="not found"):
        explain(scan, "--checkpoint", tmp_path / "nowhere", *base)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        explain(tmp_path / "none.npz", "--checkpoint", ck, *base)
    with pytest.raises(UsageError, match="--steps must be an integer >= 1"):
        explain(scan, "--checkpoint", ck, *base, "--steps", 0)
    with pytest.raises(UsageError, match="--lam must be a positive number"):
        explain(scan, "--checkpoint", ck, *base, "--lam", 0)
    with pytest.raises(UsageError, match="--points must be an integer >= 2"):
        explain(scan, "--checkpoint", ck, *base, "--points", 1)
    monkeypatch.setattr(ltl.models.shipped, "default_checkpoint", lambda: None)
    with pytest.raises(UsageError, match="no LtI model to explain.*--checkpoint"):
        explain(scan, *base)
    assert not (tmp_path / "o").exists()
