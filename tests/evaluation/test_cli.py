"""ltl evaluate's command line and its errors: one clear line each."""

import pytest

import ltl.cli
import ltl.models.shipped
from ltl import Geometry
from ltl.cli import UsageError
from ltl.evaluation import METHODS, evaluate
from ltl.models import LtI


def _run(*argv):
    args = ltl.cli.parser().parse_args(["evaluate", *argv])
    return args.func(args)


def _one_line(exc_info):
    msg = str(exc_info.value)
    assert msg and "\n" not in msg
    return msg


def test_cli_report(tiny, ckpts, tmp_path, capsys):
    out = tmp_path / "rep"
    assert _run("--data", str(tiny), "--methods", "fbp,sirt,postproc-fbp", "--checkpoint-postproc-fbp",
                str(ckpts["postproc-fbp"]), "--iters", "3", "--limit", "2", "--device", "cpu", "--out", str(out),
                "--no-progress") == 0
    text = capsys.readouterr().out
    assert "| FBP + U-Net (FBPConvNet) |" in text and "wrote" in text
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 3
    with pytest.raises(UsageError, match="already holds a report.*--overwrite") as e:
        _run("--data", str(tiny), "--methods", "fbp", "--out", str(out))
    _one_line(e)
    assert _run("--data", str(tiny), "--methods", "fbp", "--device", "cpu", "--out", str(out), "--overwrite",
                "--no-progress") == 0
    assert len((out / "results.csv").read_text().splitlines()) == 1 + 4


def test_unknown_method_lists_the_valid_ones(tiny, tmp_path):
    with pytest.raises(UsageError) as e:
        _run("--data", str(tiny), "--methods", "fbp,fbpconvnet", "--out", str(tmp_path / "r"))
    msg = _one_line(e)
    assert "'fbpconvnet'" in msg and all(m in msg for m in METHODS)
    with pytest.raises(ValueError, match="valid methods: fbp, sirt, cgls, tv, l1, ltl"):
        evaluate(tiny, ["art"])


def test_empty_dataset_split(tiny, tmp_path):
    with pytest.raises(ValueError, match=r"holds no val samples.*--val-count") as e:
        _run("--data", str(tiny), "--split", "val", "--methods", "fbp", "--device", "cpu", "--out", str(tmp_path / "r"))
    _one_line(e)
    assert not (tmp_path / "r" / "results.json").exists()
    with pytest.raises(UsageError, match="--limit must be >= 1"):
        _run("--data", str(tiny), "--methods", "fbp", "--limit", "0", "--out", str(tmp_path / "r"))


def test_wrong_geometry_checkpoint(tiny, tmp_path):
    other = Geometry.limited_angle(32, angular_range_deg=90, step_deg=3)
    ck = LtI(other, width=4, depth=2).save(tmp_path / "other")
    with pytest.raises(ValueError, match=r"trained for N=32, 30 views.*data has N=32, 40 views") as e:
        _run("--data", str(tiny), "--methods", "ltl", "--checkpoint", str(ck), "--device", "cpu",
             "--out", str(tmp_path / "r"))
    assert str(ck) in _one_line(e)


def test_checkpoint_of_another_task(tiny, ckpts, tmp_path):
    with pytest.raises(ValueError, match="holds a 'postproc-fbp' model, but it was given for method 'ltl'") as e:
        _run("--data", str(tiny), "--methods", "ltl", "--checkpoint", str(ckpts["postproc-fbp"]), "--device", "cpu",
             "--out", str(tmp_path / "r"))
    _one_line(e)
    with pytest.raises(FileNotFoundError, match="model.json not found"):
        _run("--data", str(tiny), "--methods", "ltl-nosplit", "--checkpoint-nosplit", str(tmp_path / "nope"),
             "--device", "cpu", "--out", str(tmp_path / "r"))


def test_missing_checkpoints(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(ltl.models.shipped, "default_checkpoint", lambda: None)
    with pytest.raises(UsageError, match="method 'ltl' needs a model and no demo model was found.*--checkpoint") as e:
        _run("--data", str(tiny), "--out", str(tmp_path / "r"))  # the default methods include ltl
    _one_line(e)
    with pytest.raises(UsageError, match="--checkpoint-postproc-l1 RUN_DIR/model"):
        _run("--data", str(tiny), "--methods", "postproc-l1", "--out", str(tmp_path / "r"))
    with pytest.raises(ValueError, match="method 'ltl' needs a trained model"):
        evaluate(tiny, ["fbp", "ltl"], device="cpu")


def test_bad_data_file(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"dataset file \(.h5.*scan file \(.npz\)"):
        evaluate(tmp_path / "x.txt", "fbp", device="cpu")
    with pytest.raises(FileNotFoundError):
        evaluate(tmp_path / "x.h5", "fbp", device="cpu")
    with pytest.raises(ValueError, match="settings are for"):
        evaluate(tmp_path / "x.txt", "fbp", settings={"ltl": {}}, device="cpu")
