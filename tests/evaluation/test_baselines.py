"""The learned baselines: PostProc (FBPConvNet, f_vis + U-Net) and LtI without the split — their
algebra, save/load round trips, geometry and kind checks, and training with the LtI loop."""

import json

import pytest
import torch
import torch.nn.functional as F

from ltl import Geometry, RadonOperator, fbp
from ltl.data import block_mean, random_ellipses, simulate_phantoms
from ltl.data.dataset import LtIDataset, make_dataset
from ltl.models import LtI, PostProc, load_model, read_kind
from ltl.cli import parser as ltl_parser
from ltl.training import TrainConfig, train, training_pair
from ltl.training.losses import network_start

N = 32


@pytest.fixture(scope="module")
def train_data(tmp_path_factory, geom):
    path = tmp_path_factory.mktemp("train") / "train.h5"
    make_dataset(path, count=4, val_count=2, geometry=geom, chunk=4, device="cpu", progress=False,
                 solver_settings=dict(iters=10, tol=0))
    return path


@pytest.fixture(scope="module")
def truth():
    return block_mean(random_ellipses(2, N, seed=7, oversample=2), 2)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("source", ["fbp", "l1"])
def test_postproc_round_trip(source, geom, tmp_path, gen):
    torch.manual_seed(0)
    kw = dict(solver_settings=dict(iters=5, tol=0)) if source == "l1" else {}
    model = PostProc(geom, source=source, width=4, depth=2, **kw)
    model.net.set_normalization([0.2], [0.3], [0.01], [0.1])
    d = model.save(tmp_path / "ck")
    meta = json.loads((d / "model.json").read_text())
    assert meta["kind"] == f"postproc-{source}" and meta["geometry"] == geom.to_dict() and meta["ltl_version"]
    assert (meta["solver"] is not None) == (source == "l1") and meta["weights_sha256"]
    assert read_kind(d) == f"postproc-{source}"
    for back in (PostProc.load(d, geometry=geom), load_model(d)):
        assert isinstance(back, PostProc) and back.kind == model.kind
        for k, v in _state(model).items():
            assert torch.equal(back.state_dict()[k], v), k
        f0 = torch.rand(2, N, N, generator=gen)
        torch.testing.assert_close(back.eval()(f0), model.eval()(f0))
    with pytest.raises(ValueError, match="not an LtI model.*load_model"):
        LtI.load(d)


def test_postproc_is_a_residual_on_its_input(geom):
    scan = simulate_phantoms("ellipses", geom, count=2, noise=0.01, seed=3)
    model = PostProc(geom, source="fbp", width=4, depth=2).eval()
    parts = model.reconstruct(scan, return_parts=True)
    torch.testing.assert_close(parts["initial"], fbp(RadonOperator(geom), scan.sinogram, filter="hann"))
    torch.testing.assert_close(parts["output"], (parts["initial"] + parts["residual"]).clamp_min(0))
    with torch.no_grad():
        model.net.head.weight.zero_()
        model.net.head.bias.zero_()
    torch.testing.assert_close(model.reconstruct(scan.sinogram), parts["initial"].clamp_min(0))
    assert model.net.in_channels == 1 and model.net.out_channels == 1


def test_geometry_is_checked_and_named(geom, tmp_path):
    other = Geometry.limited_angle(N, angular_range_deg=90, step_deg=3)
    for model in (PostProc(geom, width=4, depth=2), LtI(geom, width=4, depth=2, nosplit=True)):
        d = model.save(tmp_path / model.kind)
        with pytest.raises(ValueError, match=r"trained for N=32, 40 views.*has N=32, 30 views"):
            load_model(d, geometry=other)
        with pytest.raises(ValueError, match="trained for"):
            model.reconstruct(simulate_phantoms("ellipses", other, count=1, seed=0))


def test_nosplit_predicts_every_channel(geom, truth, tmp_path):
    model = LtI(geom, width=4, depth=2, nosplit=True, solver_settings=dict(iters=5, tol=0)).eval()
    c = model.frame.num_channels
    assert not bool(model.mask.any()) and model.num_invisible == c and model.num_visible == 0
    assert model.net.in_channels == c + 1 and model.net.out_channels == c
    f_vis = truth + 0.05
    x = model.network_input(f_vis)
    torch.testing.assert_close(x[:, :c], model.frame.forward(f_vis))
    # the truth's coefficients as the prediction give back the truth, whatever f_vis was
    torch.testing.assert_close(model.combine(f_vis, model.frame.forward(truth)), truth.clamp_min(0), atol=1e-5, rtol=0)
    # residual: the target is the correction of all of SH(f_vis)
    torch.testing.assert_close(model.network_target(f_vis, truth), model.frame.forward(truth - f_vis), atol=1e-5, rtol=0)
    d = model.save(tmp_path / "ck")
    meta = json.loads((d / "model.json").read_text())
    assert meta["kind"] == "ltl-nosplit" and meta["model"]["nosplit"] is True
    back = load_model(d)
    assert isinstance(back, LtI) and back.nosplit and back.kind == "ltl-nosplit"
    torch.testing.assert_close(back.eval().predict(f_vis), model.predict(f_vis))
    with pytest.raises(ValueError, match="not a post-processing U-Net"):
        PostProc.load(d)
    with pytest.raises(ValueError, match="mask must be all False"):
        LtI(geom, nosplit=True, mask=[True] + [False] * (c - 1))
    assert LtI(geom, width=4, depth=2).kind == "ltl"


def test_one_training_step_of_postproc_fbp_lowers_the_loss(train_data):
    torch.manual_seed(0)
    ds = LtIDataset(train_data, "train", keys=("sinogram", "truth"))
    model = PostProc(ds.geometry, source="fbp", width=4, depth=2)
    batch = torch.utils.data.default_collate([ds[i] for i in range(4)])
    start = network_start(model, batch, torch.device("cpu"))
    torch.testing.assert_close(start, fbp(RadonOperator(ds.geometry), batch["sinogram"], filter="hann"))
    x, t = training_pair(model, start, batch["truth"])
    torch.testing.assert_close(t[:, 0], batch["truth"] - start)
    net = model.net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    target = net.normalize_target(t)
    loss0 = F.mse_loss(net(x), target)
    opt.zero_grad()
    loss0.backward()
    opt.step()
    assert float(F.mse_loss(net(x), target).detach()) < float(loss0.detach())


def test_ltl_train_model_option(train_data, tmp_path, capsys):
    p = ltl_parser()
    run = tmp_path / "run"
    args = p.parse_args(["train", "--model", "postproc-fbp", "--data", str(train_data), "--out", str(run), "--epochs",
                         "2", "--width", "4", "--depth", "2", "--batch-size", "2", "--no-progress", "--lr", "0.003"])
    assert args.func(args) == 0
    model = load_model(run / "model")
    assert isinstance(model, PostProc) and model.kind == "postproc-fbp"
    assert model.provenance["train_config"]["model"] == "postproc-fbp" and model.provenance["epochs_trained"] == 2
    assert model.net.out_std.ne(1).all()  # the residual's normalisation was fitted
    log = json.loads((run / "log.json").read_text())
    assert all(torch.isfinite(torch.tensor(r["train_loss"])) for r in log["history"])
    # through main, which records the options written on the command line (an explicit --model ltl)
    from ltl.cli import main

    argv = ["train", "--model", "ltl", "--data", str(train_data), "--out", str(run), "--epochs", "3", "--width", "4",
            "--depth", "2", "--batch-size", "2", "--no-progress", "--lr", "0.003", "--resume"]
    assert main(argv) == 2
    assert "it was run with model='postproc-fbp', not model='ltl'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="model must be one of ltl, postproc-fbp, postproc-l1, ltl-nosplit"):
        train(TrainConfig(data=str(train_data), out=str(tmp_path / "x"), model="fbpconvnet"))


@pytest.mark.parametrize("kind", ["postproc-l1", "ltl-nosplit"])
def test_the_other_baselines_train(kind, train_data, tmp_path):
    res = train(TrainConfig(data=str(train_data), out=str(tmp_path / "run"), model=kind, epochs=1, width=4, depth=2,
                            batch_size=2, progress=False, norm_samples=4))
    model = load_model(tmp_path / "run" / "model")
    assert model.kind == kind and model.provenance["epochs_trained"] == 1
    assert res.history and all(torch.isfinite(torch.tensor(res.history[-1][k])) for k in ("train_loss", "val_psnr"))
