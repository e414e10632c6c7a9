"""A run stopped at any point resumes to the same weights as a run that never stopped, and a
resume refuses data whose content changed since the checkpoint."""

import os
import shutil
import signal
import subprocess
import sys

import h5py
import pytest
import torch

from ltl.cli import main
from ltl.models import LtI
from ltl.training import TrainConfig, load_checkpoint, train
from ltl.training import loop, state
from ltl.training.state import resume_config

KW = dict(width=4, depth=1, batch_size=4, patch=16, seed=3, progress=False)
EPOCHS = 3


@pytest.fixture(scope="module")
def reference(small_data, tmp_path_factory):
    r = train(TrainConfig(data=str(small_data), out=str(tmp_path_factory.mktemp("ref") / "ref"), epochs=EPOCHS, **KW))
    return {k: v.detach().cpu().clone() for k, v in r.model.state_dict().items()}, [h["train_loss"] for h in r.history]


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way handles it."""


def _kill_at(monkeypatch, owner, name, epoch_calls):
    """Make ``owner.name`` die on its ``epoch_calls``-th call."""
    real = getattr(owner, name)
    calls = {"n": 0}

    def dying(*a, **k):
        calls["n"] += 1
        if calls["n"] == epoch_calls:
            raise Killed
        return real(*a, **k)

    monkeypatch.setattr(owner, name, dying)


# Where a kill can land in an epoch (the second epoch, so a checkpoint of the first exists), and
# before anything was saved at all (the first epoch's training loop).
STAGES = [
    ("training step, first epoch", loop, "_train_epoch", 1),
    ("training step, second epoch", loop, "_train_epoch", 2),
    ("writing the checkpoint", state, "save_checkpoint", 2),
    ("saving model/ after the checkpoint", LtI, "save", 3),  # epoch 1: model/ and best/, epoch 2: model/
    ("writing the logs", loop, "write_logs", 2),
    ("drawing the curves", loop, "plot_history", 2),
]


@pytest.mark.parametrize("stage,owner,name,call", STAGES, ids=[s[0] for s in STAGES])
def test_killed_at_any_stage_resumes_exactly(small_data, tmp_path, monkeypatch, reference, stage, owner, name, call):
    run = tmp_path / "run"
    with monkeypatch.context() as m:
        _kill_at(m, owner, name, call)
        with pytest.raises(Killed):
            train(TrainConfig(data=str(small_data), out=str(run), epochs=EPOCHS, **KW))
    # A new run in the same folder is refused; --resume picks it up with no other option.
    assert main(["train", "--data", str(small_data), "--out", str(run), "--no-progress"]) == 2
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 0
    ck = load_checkpoint(run)
    want, losses = reference
    assert ck["epoch"] == EPOCHS
    assert [h["train_loss"] for h in ck["history"]] == losses
    for k, v in want.items():
        assert torch.equal(ck["model"][k], v), k
    model = LtI.load(run / "model")  # the saved model is the final one, with a valid manifest
    for k, v in want.items():
        assert torch.equal(model.state_dict()[k], v), k


def test_sigkill_mid_run_then_resume(small_data, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "ltl", "train", "--data", str(small_data), "--out", str(run), "--epochs", "40",
           "--width", "4", "--depth", "1", "--batch-size", "4", "--patch", "16", "--seed", "3", "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        for line in proc.stdout:
            if line.startswith("epoch 2/40"):
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done = load_checkpoint(run)["epoch"]
    assert 2 <= done < 40
    # Resume for one more epoch, then compare with the same 40-epoch run stopped there in one go.
    def stop(epoch, row):
        if epoch == done + 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(resume_config(run), callback=stop)
    ref_dir = tmp_path / "ref"
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(data=str(small_data), out=str(ref_dir), epochs=40, **KW), callback=stop)
    got, want = load_checkpoint(run), load_checkpoint(ref_dir)
    assert got["epoch"] == want["epoch"] == done + 1
    assert [h["train_loss"] for h in got["history"]] == [h["train_loss"] for h in want["history"]]
    for k, v in want["model"].items():
        assert torch.equal(got["model"][k], v), k


def test_resume_refuses_changed_data(small_data, tmp_path, capsys):
    data = tmp_path / "data.h5"
    shutil.copy(small_data, data)
    run = tmp_path / "run"

    def stop(epoch, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(data=str(data), out=str(run), epochs=EPOCHS, **KW), callback=stop)
    snapshot = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with h5py.File(data, "r+") as f:  # the same file name, one training value changed
        f["truth"][0, 5, 5] += 0.25
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the train data" in err[0] and "changed since the run was checkpointed" in err[0]
    assert {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()} == snapshot
