"""The training loop: a step lowers the loss, runs write their directory, resume is exact, DDP keeps
replicas equal, NaN stops cleanly, errors are clear."""

import csv
import dataclasses
import json
import shutil

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ltl.data.dataset import LtIDataset
from ltl.models import LtI
from ltl.cli import parser as cli_parser
from ltl.models import KINDS
from ltl.training import (CHECKPOINT_NAME, MODELS, NonFiniteLossError, TrainConfig, load_checkpoint, loss,
                          loss_weights, train, training_pair)

TINY = dict(width=4, depth=2, batch_size=4, progress=False, norm_samples=8)


def _cfg(data, out, **kw):
    return TrainConfig(data=str(data), out=str(out), **{**TINY, **kw})


def _state(model):
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def test_one_step_lowers_the_loss(small_data):
    torch.manual_seed(0)
    ds = LtIDataset(small_data, "train")
    model = LtI(ds.geometry, frame_settings=ds.frame_settings, width=4, depth=2)
    batch = torch.utils.data.default_collate([ds[i] for i in range(4)])
    x, t = training_pair(model, batch["f_vis"], batch["truth"])
    net = model.net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    target = net.normalize_target(t)
    loss0 = F.mse_loss(net(x), target)
    opt.zero_grad()
    loss0.backward()
    opt.step()
    loss1 = F.mse_loss(net(x), target)
    assert float(loss1.detach()) < float(loss0.detach())


def test_run_directory_and_model(small_data, tmp_path):
    res = train(_cfg(small_data, tmp_path / "run", epochs=2, patch=16))
    run = tmp_path / "run"
    for name in ("checkpoint.pt", "log.csv", "log.json", "curves.png", "config.json", "model/model.pt",
                 "model/model.json", "best/model.json"):
        assert (run / name).exists(), name
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for key in ("train_loss", "val_loss", "val_re", "val_psnr", "val_ssim", "val_haarpsi", "fvis_psnr", "samples_per_s"):
        assert np.isfinite(float(rows[-1][key])), key
    log = json.loads((run / "log.json").read_text())
    assert len(log["history"]) == 2 and log["config"]["patch"] == 16
    model = LtI.load(run / "model")
    assert model.provenance["epochs_trained"] == 2
    assert model.provenance["train_data"]["split"] == "train"
    assert model.provenance["train_data"]["seed_ranges"] == [[0, 8]]
    assert model.provenance["val_data"]["seed_ranges"] == [[10000, 10004]]
    for k, v in _state(res.model).items():
        assert torch.equal(model.state_dict()[k], v), k
    assert model.net.out_std.ne(1).any()  # normalisation was fitted
    ck = load_checkpoint(run)
    assert ck["epoch"] == 2 and len(ck["history"]) == 2


def test_resume_is_exact(small_data, tmp_path):
    kw = dict(epochs=3, patch=16, lr=3e-3)
    ref = train(_cfg(small_data, tmp_path / "a", **kw))

    def interrupt(epoch, row):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_cfg(small_data, tmp_path / "b", **kw), callback=interrupt)
    assert load_checkpoint(tmp_path / "b")["epoch"] == 1
    with pytest.raises(ValueError, match="--resume"):
        train(_cfg(small_data, tmp_path / "b", **kw))
    with pytest.raises(ValueError, match="lr=0.003.*lr=0.001"):
        train(_cfg(small_data, tmp_path / "b", **dict(kw, lr=1e-3), resume=True))
    res = train(_cfg(small_data, tmp_path / "b", **kw, resume=True))
    want, got = _state(ref.model), _state(res.model)
    for k in want:
        assert torch.equal(got[k], want[k]), k
    assert [r["train_loss"] for r in res.history] == [r["train_loss"] for r in ref.history]


def test_a_new_run_does_not_overwrite_files_in_its_directory(small_data, tmp_path):
    out = tmp_path / "folder"
    out.mkdir()
    (out / "log.csv").write_text("someone's log")
    with pytest.raises(ValueError, match=r"holds log.csv but no training checkpoint.*another --out"):
        train(_cfg(small_data, out, epochs=1))
    assert (out / "log.csv").read_text() == "someone's log" and not (out / "model").exists()


def test_preloaded_batches_train_like_the_dataloader(small_data, tmp_path):
    kw = dict(epochs=2, patch=16, lr=3e-3)
    ref = train(_cfg(small_data, tmp_path / "a", **kw))
    pre = train(_cfg(small_data, tmp_path / "b", preload=True, **kw))
    want, got = _state(ref.model), _state(pre.model)
    for k in want:
        torch.testing.assert_close(got[k], want[k], atol=1e-6, rtol=1e-5)


def test_coefficient_loss_is_the_raw_scale_error(small_data):
    """The 'coefficients' loss in normalised space equals the raw-scale MSE divided by mean(std²)."""
    ds = LtIDataset(small_data, "train")
    model = LtI(ds.geometry, frame_settings=ds.frame_settings, width=4, depth=2)
    std = torch.linspace(0.5, 3.0, model.num_invisible)
    model.net.set_normalization(torch.zeros(model.net.in_channels), torch.ones(model.net.in_channels),
                                torch.zeros(model.num_invisible), std)
    w = loss_weights(model.net, "coefficients")
    assert loss_weights(model.net, "normalized") is None
    g = torch.Generator().manual_seed(0)
    raw_z, raw_t = torch.randn(2, model.num_invisible, 8, 8, generator=g), torch.randn(2, model.num_invisible, 8, 8, generator=g)
    z, t = model.net.normalize_target(raw_z), model.net.normalize_target(raw_t)
    got = float(((z - t) ** 2 * w).mean())
    want = float(((raw_z - raw_t) ** 2).mean() / (std ** 2).mean())
    assert abs(got - want) < 1e-5 * want
    mixed = float(((z - t) ** 2 * loss_weights(model.net, "mixed")).mean())
    assert abs(mixed - 0.5 * (want + float(((z - t) ** 2).mean()))) < 1e-5 * mixed


def test_nan_stops_and_keeps_the_checkpoint(small_data, tmp_path, monkeypatch):
    data = tmp_path / "d.h5"
    shutil.copy(small_data, data)
    cfg = _cfg(data, tmp_path / "run", epochs=1, schedule="constant")
    train(cfg)
    ck = tmp_path / "run" / CHECKPOINT_NAME
    before = ck.read_bytes()
    with h5py.File(data, "r+") as f:
        f["f_vis"][2] = np.nan
    # A resume refuses changed data (test_kill_resume.py); let it through to reach the NaN guard.
    from ltl.training import state

    monkeypatch.setattr(state, "check_data", lambda *a, **k: None)
    cfg = cfg.replace(epochs=2, resume=True)
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 2.*last good checkpoint .*checkpoint.pt \(after epoch 1\)"):
        train(cfg)
    assert ck.read_bytes() == before
    assert load_checkpoint(ck)["epoch"] == 1
    assert isinstance(NonFiniteLossError("x"), ValueError)


def test_clear_errors(small_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        train(_cfg(tmp_path / "nope.h5", tmp_path / "r"))
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="not a readable HDF5"):
        train(_cfg(bad, tmp_path / "r"))
    with pytest.raises(ValueError, match="batch_size"):
        train(_cfg(small_data, tmp_path / "r", batch_size=0))
    (tmp_path / "r2").mkdir()
    (tmp_path / "r2" / CHECKPOINT_NAME).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable training checkpoint"):
        train(_cfg(small_data, tmp_path / "r2", resume=True))
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "r3")


def test_cli_registration(small_data, tmp_path):
    p = cli_parser()
    args = p.parse_args(["train", "--data", str(small_data), "--out", str(tmp_path / "run"), "--epochs", "1",
                         "--width", "4", "--depth", "1", "--batch-size", "4", "--patch", "16", "--no-progress",
                         "--lr", "0.002", "--seed", "3"])
    assert args.func(args) == 0
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (cfg["width"], cfg["depth"], cfg["patch"], cfg["lr"], cfg["seed"]) == (4, 1, 16, 0.002, 3)
    args = p.parse_args(["train", "--data", str(small_data), "--out", str(tmp_path / "run"), "--epochs", "1"])
    with pytest.raises(ValueError, match="--resume"):
        args.func(args)


def test_cli_defaults_are_the_config_defaults():
    args = cli_parser().parse_args(["train", "--data", "d.h5", "--out", "o"])
    options = {k: v for k, v in vars(args).items() if k not in ("command", "func")}
    fields = TrainConfig.field_names()
    assert set(options) <= set(fields), set(options) - set(fields)  # every option sets the field of its name
    assert {"val_data", "epochs", "batch_size", "lr", "schedule", "width", "depth", "patch", "amp", "grad_clip",
            "use_fvis", "predict_lowpass", "residual", "loss", "preload", "seed", "num_workers", "device", "resume",
            "progress", "model"} <= set(options)
    defaults = TrainConfig.defaults()
    for name, value in options.items():
        if name not in ("data", "out"):
            assert value == defaults[name] and type(value) is type(defaults[name]), name
    assert TrainConfig(**options) == TrainConfig(data="d.h5", out="o")
    args = cli_parser().parse_args(["train", "--data", "d.h5", "--out", "o", "--no-fvis", "--no-lowpass",
                                    "--no-residual", "--no-progress", "--amp", "--preload", "--resume"])
    assert (args.use_fvis, args.predict_lowpass, args.residual, args.progress) == (False,) * 4
    assert (args.amp, args.preload, args.resume) == (True,) * 3


def test_cli_checks_the_device_before_reading_anything(tmp_path, capsys):
    from ltl.cli import main

    out = tmp_path / "run"
    out.mkdir()
    (out / "log.csv").write_text("someone's log")  # train() itself would refuse this folder first
    assert main(["train", "--data", str(tmp_path / "missing.h5"), "--out", str(out), "--device", "tpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ltl: error: --device") and "'tpu' is not a torch device" in err
    assert "missing.h5" not in err and "log.csv" not in err
    assert sorted(p.name for p in out.iterdir()) == ["log.csv"]


def test_config_is_frozen_validated_and_round_trips(tmp_path):
    cfg = TrainConfig(data=tmp_path / "d.h5", out=tmp_path / "run", val_data=str(tmp_path / "v.h5"), epochs=3,
                      lr=2e-3, patch=16, grad_clip=0.5, use_fvis=False, model="postproc-l1", device="cpu")
    assert cfg.data == str(tmp_path / "d.h5") and cfg.out == str(tmp_path / "run")  # paths stored as strings
    d = cfg.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert TrainConfig.from_dict(d) == cfg and TrainConfig.from_dict(cfg.to_dict()) == cfg
    plain = TrainConfig(data="d.h5", out="o")
    assert TrainConfig.from_dict(plain.to_dict()) == plain
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 4
    assert cfg.replace(epochs=4).epochs == 4 and cfg.epochs == 3
    with pytest.raises(ValueError, match="batch_size"):
        cfg.replace(batch_size=0)
    with pytest.raises(ValueError, match="model must be one of ltl, postproc-fbp, postproc-l1, ltl-nosplit"):
        TrainConfig(data="d.h5", out="o", model="fbpconvnet")
    for bad in (dict(lr=0.0), dict(weight_decay=-1.0), dict(threshold=1.5), dict(patch=4), dict(schedule="step"),
                dict(loss="l1"), dict(amp=1), dict(depth=-1)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrainConfig(data="d.h5", out="o", **bad)
    with pytest.raises(ValueError, match="unknown training setting.*epoch"):
        TrainConfig.from_dict(dict(d, epoch=3))
    assert set(MODELS) == set(KINDS) and len(MODELS) == len(KINDS)


def test_public_loss_is_the_weighted_mean_squared_error():
    g = torch.Generator().manual_seed(1)
    z, t = torch.randn(3, 4, 5, 5, generator=g), torch.randn(3, 4, 5, 5, generator=g)
    w = torch.tensor([0.5, 1.0, 2.0, 0.5]).view(1, -1, 1, 1)
    per = loss(z, t, w, per_sample=True)
    assert per.shape == (3,)
    for k in range(3):
        torch.testing.assert_close(per[k], ((z[k] - t[k]) ** 2 * w[0]).mean())
    torch.testing.assert_close(loss(z, t, w), per.mean())
    torch.testing.assert_close(loss(z.half(), t, None), ((z.half().float() - t) ** 2).mean())


@pytest.mark.gpu
def test_amp_training_on_cuda(small_data, tmp_path):
    res = train(_cfg(small_data, tmp_path / "run", epochs=2, device="cuda", amp=True, patch=16))
    assert next(res.model.net.parameters()).device.type == "cuda"
    assert all(np.isfinite(r["train_loss"]) and np.isfinite(r["val_psnr"]) for r in res.history)
    ck = load_checkpoint(tmp_path / "run")
    assert ck["scaler"] and ck["scaler"]["scale"] > 0 and "cuda" in ck["rng"]
    back = train(_cfg(small_data, tmp_path / "run", epochs=2, device="cuda", amp=True, patch=16, resume=True))
    assert len(back.history) == 2  # nothing left to do
