"""Leave-one-family-out evaluation: a model's training families come from its provenance; the
report splits the scores into those families and the held-out ones, per family, with win counts."""

import csv
import io
import json

import pytest

import ltl.cli
from ltl.data.dataset import make_dataset
from ltl.data.phantoms import parse_mix
from ltl.evaluation import (HELD_OUT, IN_DISTRIBUTION, evaluate, family_breakdown, shifted_scans, trained_families,
                            win_counts, write_report)
from ltl.models import load_model

from .conftest import TINY_SOLVER

FAST = {"tv": {"iters": 5}}


def _provenance(phantom, mix=None):
    settings = {"phantom": phantom}
    if mix is not None:
        settings["mix"] = mix.to_dict()
    return {"train_data": {"file": "train.h5", "split": "train", "settings": settings}}


@pytest.fixture(scope="module")
def mixed_model(ckpts, tmp_path_factory):
    """The tiny LtI model, as if trained on a mix of ellipses and polygons (vessels left out)."""
    mix = parse_mix("mix:ellipses=1,polygons=1")
    model = load_model(ckpts["ltl"])
    model.provenance = _provenance(mix.spec, mix)
    return model.save(tmp_path_factory.mktemp("mixed") / "ltl")


def test_trained_families_from_provenance():
    mix = parse_mix("mix:all,-vessels")
    assert trained_families(_provenance(mix.spec, mix)) == list(mix.families)
    assert "vessels" not in trained_families(_provenance(mix.spec, mix))
    assert trained_families(_provenance("ellipses")) == ["ellipses"]  # a one-family file, e.g. the demo model's
    assert trained_families(_provenance("mix:textures=2,anatomy=1")) == ["textures", "anatomy"]  # text only
    assert trained_families(None) is None and trained_families({"epochs_trained": 3}) is None


def test_win_counts_are_paired_per_image():
    per = {"tv": {"psnr": [20.0, 25.0, 30.0, None], "ssim": [0.5, 0.6, 0.7, 0.8]},
           "ltl": {"psnr": [21.0, 24.0, 30.0, 40.0], "ssim": [0.6, 0.7, 0.6, 0.9]}}
    assert win_counts(per, "ltl", "tv", [0, 1, 2, 3]) == {"psnr": 1, "ssim": 3, "n": 4}  # ties do not count
    assert win_counts(per, "ltl", "tv", [1]) == {"psnr": 0, "ssim": 1, "n": 1}
    b = family_breakdown({m: dict(v, re=[0.1] * 4, haarpsi=[0.5] * 4) for m, v in per.items()},
                         ["a", "b", "a", "b"], ["tv", "ltl"], {"ltl": {"provenance": _provenance("a")}},
                         ("re", "psnr", "ssim", "haarpsi"))
    assert b["status"]["ltl"] == {"a": IN_DISTRIBUTION, "b": HELD_OUT}
    assert b["groups"]["held_out"]["families"] == ["b"] and b["groups"]["held_out"]["images"] == 2
    assert b["by_family"]["a"]["wins_vs_tv"]["ltl"] == {"psnr": 1, "ssim": 1, "n": 2}
    assert b["by_family"]["b"]["summary"]["ltl"]["psnr"] == {"mean": 32.0, "std": pytest.approx(11.3137, 1e-4),
                                                             "n": 2}


def test_held_out_family_is_marked_and_reported(mixed_model, geom, tmp_path):
    scans = shifted_scans("ellipses,vessels,polygons", geom, count=2, seed=20_000)
    assert scans.meta["families"] == ["ellipses"] * 2 + ["vessels"] * 2 + ["polygons"] * 2
    ev = evaluate(scans, "fbp,tv,ltl", checkpoints={"ltl": mixed_model}, settings=FAST, device="cpu",
                  progress=False)
    b = ev.breakdown
    assert b["trained_on"]["ltl"] == ["ellipses", "polygons"] and b["split_by"] == "ltl"
    assert b["status"]["ltl"] == {"ellipses": IN_DISTRIBUTION, "vessels": HELD_OUT, "polygons": IN_DISTRIBUTION}
    assert b["groups"]["in_distribution"]["families"] == ["ellipses", "polygons"]
    assert b["groups"]["held_out"]["families"] == ["vessels"] and b["groups"]["held_out"]["images"] == 2
    psnr = ev.per_image
    held = [i for i, f in enumerate(ev.families) if f == "vessels"]
    want = sum(psnr["ltl"]["psnr"][i] > psnr["tv"]["psnr"][i] for i in held)
    assert b["groups"]["held_out"]["wins_vs_tv"]["ltl"]["psnr"] == want
    mean = sum(psnr["fbp"]["ssim"][i] for i in held) / 2
    assert b["by_family"]["vessels"]["summary"]["fbp"]["ssim"]["mean"] == pytest.approx(mean)

    out = write_report(ev, tmp_path / "rep", montage=0)
    doc = json.loads((out / "results.json").read_text())
    assert doc["families"]["status"]["ltl"]["vessels"] == HELD_OUT
    assert {r["family"] for r in doc["per_image"]} == {"ellipses", "vessels", "polygons"}
    md = (out / "report.md").read_text()
    assert "### Held out: vessels (2 images)" in md and "### In distribution: ellipses, polygons (4 images)" in md
    assert "### vessels (2 images; LtI: held out)" in md and "### polygons (2 images; LtI: in distribution)" in md
    rows = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    assert rows[0]["family"] == "ellipses" and rows[-1]["family"] == "polygons"


def test_model_without_provenance_reports_families_unsplit(ckpts, geom):
    scans = shifted_scans("anatomy", geom, count=2)
    ev = evaluate(scans, "fbp,ltl", checkpoints={"ltl": ckpts["ltl"]}, device="cpu", progress=False)
    assert ev.breakdown["split_by"] is None and ev.breakdown["groups"] is None
    assert ev.breakdown["status"]["ltl"] == {"anatomy": "unknown"}
    assert "wins_vs_tv" not in ev.breakdown["by_family"]["anatomy"]  # no TV in the methods


def test_mixed_test_set_carries_its_families(mixed_model, geom, tmp_path):
    path = make_dataset(tmp_path / "test.h5", phantom="mix:ellipses,vessels", count=0, test_count=4, geometry=geom,
                        chunk=4, device="cpu", progress=False, solver_settings=TINY_SOLVER)
    ev = evaluate(path, "tv,ltl", checkpoints={"ltl": mixed_model}, split="test", settings=FAST, device="cpu",
                  progress=False)
    fams = parse_mix("mix:ellipses,vessels").families_of(range(20_000, 20_004))
    assert ev.families == fams
    assert set(ev.breakdown["by_family"]) == set(fams)
    assert all(ev.breakdown["status"]["ltl"][f] == (HELD_OUT if f == "vessels" else IN_DISTRIBUTION) for f in fams)


def test_cli_phantom_families_prints_both_groups(mixed_model, tmp_path, capsys):
    out = tmp_path / "rep"
    args = ltl.cli.parser().parse_args(["evaluate", "--phantom", "ellipses,vessels", "--count", "1", "--methods",
                                        "tv,ltl", "--checkpoint", str(mixed_model), "--iters", "5", "--device", "cpu",
                                        "--no-progress", "--montage", "0", "--out", str(out)])
    assert args.seed == 20_000  # the test seeds by default
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "### In distribution: ellipses (1 image)" in text and "### Held out: vessels (1 image)" in text
    assert "| PSNR > TV | SSIM > TV |" in text
    with pytest.raises(ValueError, match="unknown family 'blobs'") as e:
        shifted_scans("ellipses,blobs", load_model(mixed_model).geometry)
    assert "\n" not in str(e.value)
