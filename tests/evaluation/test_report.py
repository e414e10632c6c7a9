"""The report: produced end to end, its numbers recomputable from the saved reconstructions, the
learned methods run as their models, the f_vis cache used only when its settings fit."""

import csv
import json

import matplotlib.image
import pytest
import torch

from ltl import RadonOperator
from ltl.data import LtIDataset, Scan, save_scan, simulate_phantoms
from ltl.evaluation import NAMES, QUANTITIES, evaluate, load_reconstructions, missing_wedge_fraction, write_report
from ltl.metrics import all_metrics
from ltl.models import load_model

from .conftest import ALL


def _csv(out):
    with open(out / "results.csv") as f:
        return list(csv.DictReader(f))


def test_report_end_to_end(report, tiny, ckpts, geom):
    ev, out = report
    for name in ("results.json", "results.csv", "report.md", "reconstructions.npz", "montage.png",
                 "angular_error.png"):
        assert (out / name).stat().st_size > 0, name
    montage = matplotlib.image.imread(out / "montage.png")
    angular = matplotlib.image.imread(out / "angular_error.png")
    assert montage.shape[0] > 500 and montage.shape[1] > 1500 and angular.shape[1] > 500
    assert montage[..., :3].std() > 0.05 and angular[..., :3].std() > 0.05  # not blank
    md = (out / "report.md").read_text()
    for m in ALL:
        assert f"| {NAMES[m]} |" in md, m
    assert "![montage](montage.png)" in md and "(angular_error.png)" in md
    doc = json.loads((out / "results.json").read_text())
    assert doc["geometry"] == geom.to_dict() and doc["ltl_version"]
    assert doc["ids"] == [20000, 20001, 20002, 20003] and doc["data"]["split"] == "test"
    assert doc["data"]["settings"]["seed_ranges"] == [[0, 2], [20000, 20004]]
    assert len(doc["per_image"]) == 4 * len(ALL) and set(doc["summary"]) == set(ALL)
    for m, ck in ckpts.items():
        rec = doc["methods"][m]["checkpoint"]
        assert rec["kind"] == m
        assert rec["weights_sha256"] == json.loads((ck / "model.json").read_text())["weights_sha256"]
    assert len(_csv(out)) == 4 * len(ALL)
    assert len(doc["angular_error_energy"]["bin_centres_deg"]) == 90


def test_numbers_equal_metrics_of_the_saved_reconstructions(report, geom):
    ev, out = report
    saved = load_reconstructions(out)
    assert saved["methods"] == list(ALL) and saved["ids"] == [20000, 20001, 20002, 20003]
    truth, y = saved["truth"], saved["sinogram"]
    A = RadonOperator(geom)
    rows = {(int(r["image"]), r["method"]): r for r in _csv(out)}
    doc = json.loads((out / "results.json").read_text())
    for m in ALL:
        rec = saved["reconstructions"][m]
        assert rec.shape == (4, 32, 32)
        want = {k: v.double() for k, v in all_metrics(rec.clamp(0, 1), truth).items()}
        want["residual"] = ((A(rec) - y).double().flatten(1).norm(dim=1) / y.double().flatten(1).norm(dim=1))
        want["wedge_error"] = missing_wedge_fraction(rec.clamp(0, 1).double() - truth.double(), geom)
        for k, v in want.items():
            got = torch.tensor([float(rows[(i, m)][k]) for i in range(4)], dtype=torch.float64)
            torch.testing.assert_close(got, v, rtol=1e-5, atol=1e-7, msg=f"{m} {k}")
            s = doc["summary"][m][k]
            assert s["mean"] == pytest.approx(float(got.mean()), rel=1e-12)
            assert s["std"] == pytest.approx(float(got.std()), rel=1e-9)  # ddof=1
    assert all(doc["summary"][m]["seconds"]["n"] == 4 for m in ALL if m != "l1")


def test_learned_methods_run_their_models(report, tiny, ckpts):
    """Each reconstruction is what its model (or solver) gives; l1 reuses the stored f_vis only where
    the settings match (ltl, ltl-nosplit), postproc-l1 recomputes its own."""
    ev, _ = report
    ds = LtIDataset(tiny, "test", keys=("f_vis", "sinogram"))
    f_vis = torch.stack([ds[i]["f_vis"] for i in range(4)])
    y = torch.stack([ds[i]["sinogram"] for i in range(4)])
    ds.close()
    rec = ev.reconstructions
    assert torch.equal(rec["l1"], f_vis)
    for m in ("ltl", "ltl-nosplit"):
        model = load_model(ckpts[m]).eval()
        coeffs = model.frame.forward(f_vis)
        with torch.no_grad():
            want = model.combine(f_vis, model.predict(f_vis, coeffs), coeffs=coeffs)
        torch.testing.assert_close(rec[m], want, atol=1e-5, rtol=1e-5)
    for m in ("postproc-fbp", "postproc-l1"):
        torch.testing.assert_close(rec[m], load_model(ckpts[m]).reconstruct(y), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(rec["ltl"], rec["l1"], atol=1e-3)  # the network did something
    methods = ev.record["methods"]
    assert "read from the dataset" in methods["ltl"]["settings"]["f_vis"]
    assert methods["postproc-l1"]["settings"]["f_vis"] == "computed"
    assert methods["l1"]["timing"].startswith("not measured") and ev.per_image["l1"]["seconds"] == [None] * 4
    assert methods["postproc-l1"]["timing"].startswith("end to end")
    assert methods["ltl"]["timing"].startswith("network only")


def test_recomputed_fvis_is_timed_and_equals_the_stored_one(tiny):
    ev = evaluate(tiny, "l1", split="test", device="cpu", progress=False, recompute_fvis=True)
    ds = LtIDataset(tiny, "test")
    f_vis = torch.stack([ds[i]["f_vis"] for i in range(4)])
    ds.close()
    torch.testing.assert_close(ev.reconstructions["l1"], f_vis, atol=1e-5, rtol=1e-4)
    assert all(s is not None and s > 0 for s in ev.per_image["l1"]["seconds"])
    assert ev.record["methods"]["l1"]["timing"].startswith("end to end")


def test_existing_report_is_kept(report):
    ev, out = report
    before = (out / "results.json").read_bytes()
    with pytest.raises(FileExistsError, match="already holds a report.*--overwrite"):
        write_report(ev, out)
    assert (out / "results.json").read_bytes() == before
    (out.parent / "afile").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        write_report(ev, out.parent / "afile")


def test_scan_without_truth_reports_residual_and_time(tmp_path, geom):
    scan = simulate_phantoms("ellipses", geom, count=2, noise=0.01, seed=20000)
    path = save_scan(tmp_path / "scan.npz", Scan(scan.sinogram, geom, None, {"noise": 0.01}))
    ev = evaluate(path, ["fbp", "tv"], device="cpu", progress=False, settings={"tv": {"iters": 5}})
    assert ev.truth is None and ev.angular is None
    for m in ("fbp", "tv"):
        assert ev.per_image[m]["re"] == [None, None]
        assert all(r > 0 for r in ev.per_image[m]["residual"]) and all(s > 0 for s in ev.per_image[m]["seconds"])
    assert ev.summary["tv"]["residual"]["mean"] < ev.summary["fbp"]["residual"]["mean"]
    out = write_report(ev, tmp_path / "rep", overwrite=False, montage=1)
    assert (out / "montage.png").exists() and not (out / "angular_error.png").exists()
    md = (out / "report.md").read_text()
    assert "No ground truth" in md and "| RE |" not in md and "‖Af−y‖/‖y‖" in md
    rows = _csv(out)
    assert rows[0]["re"] == "" and float(rows[0]["residual"]) > 0
    assert set(QUANTITIES) <= set(rows[0])
