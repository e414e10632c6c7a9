"""The prepared GPU benchmark run (scripts/gpu_bench_all.py) and the CPU solver benchmark, at toy size
on the CPU: every step runs, writes its JSON with the machine, and the figures are read back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


@pytest.mark.slow
def test_gpu_bench_all_runs_small_on_the_cpu(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPTS / "gpu_bench_all.py"), "--small", "--device", "cpu",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "cpu_small_bench_all.json").read_text())
    assert summary["small"] and summary["device"] == "cpu"
    assert [s["step"] for s in summary["steps"]] == ["operator", "shearlets", "solvers", "pipeline", "rde"]
    assert all(s["exit"] == 0 for s in summary["steps"])
    for name in ("operator", "shearlets", "solvers", "pipeline", "rde"):
        data = json.loads((tmp_path / f"cpu_small_{name}.json").read_text())
        assert data["machine"]["ltl"] and "cpu" in data["machine"], name
    figures = {f["figure"] for f in summary["key_figures"]}
    # one figure per target the issue names: operator batch 1 and batched, shearlets, solvers, LtI, RDE
    assert any("batch 1: ltl FP ÷ raw" in f for f in figures)
    assert any(f.startswith("operator") and "loop FP ÷ ltl FP" in f for f in figures)
    assert any(f.startswith("shearlets") for f in figures)
    assert any(f.startswith("l1 32²/360 one slice") for f in figures)
    assert any(f.startswith("tv 16² batch 2") for f in figures)
    assert any(f.startswith("LtI end to end 32² batch 2") for f in figures)
    assert any(f.startswith("one RDE explanation") for f in figures)
    assert all(f["value"] is not None and f["value"] > 0 for f in summary["key_figures"])
    solvers = json.loads((tmp_path / "cpu_small_solvers.json").read_text())["speed"]
    assert set(solvers) == {"l1_single_360views", "tv_single_360views", "l1_batch2", "tv_batch2"}
    assert solvers["l1_batch2"]["loop_iterations"] == [5, 5]


def test_gpu_bench_all_rejects_an_unknown_step(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPTS / "gpu_bench_all.py"), "--small", "--device", "cpu",
                           "--only", "nonsense", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "unknown step" in proc.stderr
    assert not list(tmp_path.glob("*.json"))


def _cpu_bench(tmp_path, cases):
    out = tmp_path / "cpu.json"
    proc = subprocess.run([sys.executable, str(SCRIPTS / "bench_cpu_solvers.py"), "--size", "32", "--iters", "3",
                           "--batch", "2", "--repeats", "1", "--conditions", "idle", "--cases", cases,
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["machine"]["ltl"] and res["settings"]["seed"] == 20_000 and res["small_numel"] > 0
    return {(r["case"], r["condition"]): r for r in res["rows"]}


def test_cpu_solver_benchmark_small_sirt_against_astra(tmp_path):
    rows = _cpu_bench(tmp_path, "sirt-B,l1-1,sirt-1-torch")
    assert set(rows) == {("sirt-B", "idle"), ("l1-1", "idle"), ("sirt-1-torch", "idle")}
    # ltl's SIRT and ASTRA's own SIRT solve the same problem to float rounding
    assert rows[("sirt-B", "idle")]["rel_difference"] < 1e-4
    assert len(rows[("sirt-B", "idle")]["ratio_per_repetition"]) == 1
    assert "baseline" not in rows[("l1-1", "idle")]


def test_cpu_solver_benchmark_small_tv_against_odl(tmp_path):
    pytest.importorskip("odl")  # a benchmark-only dependency (pip install odl)
    rows = _cpu_bench(tmp_path, "tv-1")
    # ODL's PDHG with ltl's steps gives ltl's iterates
    assert rows[("tv-1", "idle")]["rel_difference"] < 1e-4
