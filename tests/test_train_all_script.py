"""scripts/train_all_ranges.py: its default plan fits the GPU budget at the assumed rates, and with
--small the whole chain (data, LtI per range, the baselines, evaluation, install) runs on the CPU,
resumes where a call stopped (between steps, inside a dataset, inside a training run) and installs
models that the shipped-model index finds by geometry."""

import importlib.util
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--small", "--ranges", "120,60", "--baseline-ranges", "120"]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_all_ranges", ROOT / "scripts" / "train_all_ranges.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


class _StopNow:
    """A deadline that has passed: a step stops after its first resumable unit."""

    def left(self):
        return 0.0

    def should_stop(self, unit_s):
        return True


class _Never(_StopNow):
    def left(self):
        return 1e9

    def should_stop(self, unit_s):
        return False


def test_the_default_plan_fits_13_minutes_with_every_step_under_the_call_limit(script, capsys):
    plan, rates = script.Plan(), script.ASSUMED
    steps = script.steps_of(plan, ("ltl",))
    names = [s.name for s in steps]
    lti = [n for n in names if n.startswith("train-ltl-") and n[10].isdigit()]
    assert lti == ["train-ltl-120", "train-ltl-90", "train-ltl-60", "train-ltl-150"]
    assert {f"train-{m}-{r}" for m in script.BASELINES for r in ("120", "90")} <= set(names)
    assert names[-1] == "install" and [n for n in names if n.startswith("eval-")] == ["eval-120", "eval-90", "eval-60",
                                                                                        "eval-150"]
    assert plan.size == 256 and plan.step == 1.0 and plan.noise == 0.01 and plan.phantom == "mix:all,-vessels,-natural"
    # equal budget: every model of a range trains on the same data with the same epochs and sizes
    cfgs = [script.train_config(plan, Path("/r"), m, 120.0, "cpu") for m in ("ltl",) + script.BASELINES]
    assert len({(c.data, c.epochs, c.batch_size, c.lr, c.width, c.depth, c.seed) for c in cfgs}) == 1
    total = rates["start_s"] + sum(script.estimate(plan, s, rates) for s in steps)
    assert total < 13 * 60 and all(script.estimate(plan, s, rates) < 9 * 60 for s in steps)
    assert script.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "train-postproc-l1-90" in out and f"{total / 60:5.2f} min" in out


@pytest.fixture(scope="module")
def small_run(script, tmp_path_factory):
    """The --small chain for 120° and 60° in two calls: three steps, then the rest."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("run") / "all"
    export = out.parent / "export"
    first = script.main(SMALL + ["--out", str(out), "--max-steps", "3"])
    after_first = json.loads((out / "summary.json").read_text())
    second = script.main(SMALL + ["--out", str(out), "--export", str(export)])
    return out, export, first, after_first, second


@pytest.mark.slow
def test_the_small_chain_resumes_and_installs_models_found_by_geometry(script, small_run, monkeypatch):
    from ltl.models import LtI, model_for, shipped_models
    from ltl.models.shipped import MODELS_ENV

    out, export, first, after_first, second = small_run
    assert first == script.EXIT_UNFINISHED and second == 0
    done_first = [k for k, v in after_first["steps"].items() if v["done"]]
    assert done_first == ["data-120", "train-ltl-120", "data-60"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["all_done"] and len(summary["calls"]) == 2
    ran_second = [s["step"] for s in summary["calls"][1]["steps"]]
    assert not set(done_first) & set(ran_second)  # nothing done twice
    assert set(ran_second) == {"train-ltl-60", "train-ltl-nosplit-120", "train-postproc-fbp-120",
                               "train-postproc-l1-120", "eval-120", "eval-60", "install"}
    tp = summary["throughput"]
    assert all(v > 0 for v in tp["data_samples_per_s"].values()) and set(tp["data_samples_per_s"]) == {"data-120",
                                                                                                       "data-60"}
    assert all(v > 0 for v in tp["train_samples_per_s"].values()) and len(tp["minutes_per_model"]) == 5
    for step in ("train-ltl-120", "train-postproc-l1-120"):
        assert summary["steps"][step]["epochs_done"] == 2
    # the evaluation splits the families by the models' training data and compares LtI with l1 + U-Net
    held = summary["steps"]["eval-120"]["scores"]["held_out"]
    assert held["families"] == ["vessels", "natural"] and held["images"] == 2
    assert set(held["methods"]) == {"fbp", "tv", "l1", "ltl", "ltl-refined", "ltl-nosplit", "postproc-fbp",
                                    "postproc-l1"}
    assert set(held["ltl-refined_wins_vs_postproc_l1"]) == {"psnr", "ssim", "n"}
    assert held["ltl_wins_vs_postproc_l1"]["n"] == 2 and "ltl_wins_vs_postproc_l1" not in \
        summary["steps"]["eval-60"]["scores"]["held_out"]
    # the installed models: compact, with their scores, chosen by geometry
    monkeypatch.setenv(MODELS_ENV, str(out / "models"))
    found = {m.name: m for m in shipped_models()}
    assert set(found) == {"ltl-120deg-32-s3", "ltl-60deg-32-s3"}
    for m in found.values():
        assert m.weights == "model.npz" and m.scores["held_out"]["families"] == ["vessels", "natural"]
        assert set(m.families) == {"ellipses", "polygons", "low-contrast", "textures", "anatomy",
                                   "shepp-logan-variants"}
        assert m.train_data.startswith("mix:") and m.train_samples == 16
    plan = script.plan_of(script.parser().parse_args(SMALL))
    g60 = script.geometry_of(plan, 60.0)
    assert model_for(g60) == found["ltl-60deg-32-s3"].path and LtI.load(model_for(g60)).geometry == g60
    assert {p.name for p in (export / "models").iterdir()} == set(found)
    assert json.loads((export / "summary.json").read_text())["all_done"]
    assert (export / "eval" / "120deg" / "results.json").exists() and not (export / "eval" / "120deg" /
                                                                           "reconstructions.npz").exists()


@pytest.mark.slow
def test_a_stopped_dataset_and_training_run_resume_to_the_same_result(script, small_run, tmp_path):
    from ltl.data.dataset import LtIDataset
    from ltl.models import LtI

    out, *_ = small_run
    plan = script.plan_of(script.parser().parse_args(SMALL))
    rates, cpu = dict(script.ASSUMED_SMALL), torch.device("cpu")
    # a dataset stopped after its first chunk, then finished, equals the one made in one go
    rec = script.run_data(plan, tmp_path, 60.0, cpu, _StopNow(), rates)
    assert not rec["done"] and rec["samples_this_call"] == plan.chunk
    rec = script.run_data(plan, tmp_path, 60.0, cpu, _Never(), rates)
    assert rec["done"] and rec["samples_this_call"] == plan.count + plan.val_count - plan.chunk
    for split in ("train", "val"):
        a, b = LtIDataset(script.data_path(out, 60.0), split), LtIDataset(script.data_path(tmp_path, 60.0), split)
        assert len(a) == len(b) > 0
        for i in range(len(a)):
            assert torch.equal(a[i]["f_vis"], b[i]["f_vis"]) and torch.equal(a[i]["truth"], b[i]["truth"])
        a.close(), b.close()
    # a training run stopped after its first epoch, then resumed, ends with the weights of one never stopped
    rec = script.run_train(plan, tmp_path, "ltl", 60.0, cpu, _StopNow(), rates)
    assert not rec["done"] and rec["epochs_done"] == 1
    assert (script.run_path(tmp_path, "ltl", 60.0) / "checkpoint.pt").exists()
    rec = script.run_train(plan, tmp_path, "ltl", 60.0, cpu, _Never(), rates)
    assert rec["done"] and rec["epochs_done"] == plan.epochs and rec["epochs_this_call"] == plan.epochs - 1
    resumed = LtI.load(script.run_path(tmp_path, "ltl", 60.0) / "model").state_dict()
    straight = LtI.load(script.run_path(out, "ltl", 60.0) / "model").state_dict()
    for k, v in straight.items():
        torch.testing.assert_close(resumed[k], v, rtol=1e-5, atol=1e-6, msg=k)


def test_a_run_folder_with_another_plan_is_refused(script, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    plan = replace(script.Plan(**script.SMALL), epochs=5)
    (out / "summary.json").write_text(json.dumps({"plan": plan.to_json(), "steps": {}, "calls": []}))
    assert script.main(["--small", "--out", str(out)]) == 2
    assert "another plan" in capsys.readouterr().err
    assert script.main(["--small", "--out", str(out), "--ship", "unet"]) == 2
    shutil.rmtree(out)
