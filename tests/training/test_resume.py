"""``ltl train --resume`` reads the run's own settings: no options continue it exactly, ``--epochs``
extends it (and stretches the cosine schedule), options that change nothing are accepted, a changed
option that matters is refused in one line with nothing written."""

import json
import math

import pytest
import torch

from ltl.cli import main
from ltl.training import TrainConfig, load_checkpoint, train
from ltl.training.state import MACHINE, resume_config, saved_config

# non-default settings, so that a resumed run that fell back to the defaults would differ
OPTIONS = ["--width", "4", "--depth", "2", "--batch-size", "4", "--patch", "16", "--lr", "0.003", "--seed", "5",
           "--no-progress"]
KW = dict(width=4, depth=2, batch_size=4, patch=16, lr=3e-3, seed=5, progress=False)


def _state(model):
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _interrupted(small_data, out, epochs, after):
    def stop(epoch, row):
        if epoch == after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(data=str(small_data), out=str(out), epochs=epochs, **KW), callback=stop)


def test_resume_without_options_continues_exactly_from_any_directory(small_data, tmp_path, monkeypatch, capsys):
    ref = train(TrainConfig(data=str(small_data), out=str(tmp_path / "ref"), epochs=3, **KW))
    monkeypatch.chdir(small_data.parent)  # the run is started with a relative data path ...
    _interrupted(small_data.name, tmp_path / "run", epochs=3, after=1)
    monkeypatch.chdir(tmp_path)  # ... and resumed from elsewhere, with no option but --out and --resume
    assert main(["train", "--out", "run", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resuming run after epoch 1 of 3" in out and "epoch 3/3" in out
    ck = load_checkpoint(tmp_path / "run")
    assert ck["epoch"] == 3
    assert ck["config"]["data"] == str(small_data.resolve())
    want = _state(ref.model)
    got = ck["model"]
    for k in want:
        assert torch.equal(got[k], want[k]), k
    assert [r["train_loss"] for r in ck["history"]] == [r["train_loss"] for r in ref.history]


def test_epochs_extends_a_finished_run_and_its_cosine_schedule(small_data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", small_data, "--out", run, "--epochs", "2", *OPTIONS]) == 0
    capsys.readouterr()
    assert main(["train", "--out", run, "--resume", "--epochs", "4"]) == 0
    out = capsys.readouterr().out
    assert "extended from 2" in out and "epoch 4/4" in out
    ck = load_checkpoint(run)
    assert ck["epoch"] == 4 and ck["config"]["epochs"] == 4 and ck["config"]["width"] == 4
    lrs = [r["lr"] for r in ck["history"]]
    # epochs 1-2 under the 2-epoch cosine, epochs 3-4 as a 4-epoch run has them
    for e, want in [(0, 3e-3), (1, 3e-3 * (1 + math.cos(math.pi / 2)) / 2),
                    (2, 3e-3 * (1 + math.cos(math.pi * 2 / 4)) / 2), (3, 3e-3 * (1 + math.cos(math.pi * 3 / 4)) / 2)]:
        assert lrs[e] == pytest.approx(want, rel=1e-9, abs=1e-12), e
    assert json.loads((run / "config.json").read_text())["epochs"] == 4
    rows = json.loads((run / "log.json").read_text())["history"]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]


def test_options_that_change_nothing_are_accepted_and_a_finished_run_says_so(small_data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", small_data, "--out", run, "--epochs", "1", *OPTIONS]) == 0
    before = (run / "checkpoint.pt").read_bytes()
    capsys.readouterr()
    assert main(["train", "--out", run, "--resume", "--amp", "--device", "cpu", "--num-workers", "0",
                 "--no-progress", "--preload", "--data", small_data]) == 0
    out = capsys.readouterr().out
    assert "has finished its 1 epochs" in out and "--amp has no effect" in out
    assert (run / "checkpoint.pt").read_bytes() == before


@pytest.mark.parametrize("option, value, saved", [("--lr", "0.001", "lr=0.003"), ("--width", "8", "width=4"),
                                                  ("--no-fvis", None, "use_fvis=True")])
def test_a_changed_option_that_matters_is_refused(small_data, tmp_path, capsys, option, value, saved):
    run = tmp_path / "run"
    assert main(["train", "--data", small_data, "--out", run, "--epochs", "1", *OPTIONS]) == 0
    files = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(["train", "--out", run, "--resume", "--epochs", "2", option] + ([value] if value else [])) == 2
    err = capsys.readouterr().err
    assert err.startswith("ltl: error: cannot resume") and saved in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == files


def test_fewer_epochs_than_done_and_nothing_to_resume_are_refused(small_data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", small_data, "--out", run, "--epochs", "2", *OPTIONS]) == 0
    capsys.readouterr()
    assert main(["train", "--out", run, "--resume", "--epochs", "1"]) == 2
    assert "trained 2 epochs already" in capsys.readouterr().err
    assert main(["train", "--out", tmp_path / "empty", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--data is required" in err and not (tmp_path / "empty").exists()


def test_resume_config_takes_the_saved_settings_and_the_machine_defaults(small_data, tmp_path):
    run = tmp_path / "run"
    assert saved_config(run) is None
    with pytest.raises(FileNotFoundError, match="no training run to resume"):
        resume_config(run)
    cfg = TrainConfig(data=str(small_data), out=str(run), epochs=1, num_workers=1, device="cpu", preload=True, **KW)
    train(cfg)
    back = resume_config(run, {"epochs": 3})
    assert back.resume and back.epochs == 3 and back.lr == 3e-3 and back.width == 4 and back.seed == 5
    assert {k: getattr(back, k) for k in MACHINE} == {k: TrainConfig.defaults()[k] for k in MACHINE}
    with pytest.raises(ValueError, match="unknown training setting"):
        resume_config(run, {"epoch": 3})
