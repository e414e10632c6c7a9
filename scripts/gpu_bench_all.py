#!/usr/bin/env python
"""Every GPU measurement of the speed issue in one run (under 10 minutes on one H100/H200).

Runs the benchmark scripts one after another, each figure against its baseline in the same run,
each writing its JSON (with the machine) under ``--out`` (default ``benchmarks/results/``):

==================  ====================================================================  ======================
step                what                                                                  target
==================  ====================================================================  ======================
operator            ``bench_operator.py``: batch 1 vs one raw ``direct_FP2D/BP2D`` call;   ltl ≤ 1.1× raw;
                    batch 64 vs the per-slice loop, 256²/120 and 512²/360 views           512² stack ≥ 2.5× loop
shearlets           ``bench_shearlets.py``: forward, adjoint, both, at batch 8, 512²       ≤ 1.5 ms (fwd + adj)
                    (and 16 × 256²) vs a per-channel complex-FFT reference
solvers             ``bench_solvers.py --speed-only``: l1-shearlet and TV on one 512²      l1 < 1 s; ≥ 10 slices/s
                    slice with 360 views; batch 16 at 256² vs the 16 slices one by one     (l1, batch 16)
pipeline            ``bench_pipeline.py``: FBP, TV, l1, LtI (the demo model) end to end,   LtI ≥ 10 slices/s
                    256², batch 1 and 16; every method's time over TV's                   at batch 16
rde                 ``rde_areas.py --count 1``: one explanation of the demo model with     RDE < 5 s
                    the default RDE settings (RDE's own seconds, and the baselines')
tests               ``pytest -m gpu`` (CPU/GPU agreement of operators, solvers, models,    all pass
                    training and the explanation)
==================  ====================================================================  ======================

A failing step is recorded and the next one runs. At the end a table of the key figures against
the targets is printed and ``<prefix>_bench_all.json`` lists each step's command, exit status,
seconds and output file (prefix ``gpu`` on CUDA, else the device; ``_small`` with ``--small``).
ASTRA with CUDA must be importable.

``--small --device cpu`` runs every step at toy size on the CPU (the test of this script):

    python scripts/gpu_bench_all.py                       # the real run, on cuda
    python scripts/gpu_bench_all.py --small --device cpu --out /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: Per-step limits (seconds, 10 minutes in all; three times as much with ``--small``): a hung step
#: cannot take the whole run's time.
LIMITS = {"operator": 75, "shearlets": 45, "solvers": 120, "pipeline": 90, "rde": 90, "tests": 180}


def steps(device: str, small: bool, out: Path, prefix: str) -> list[tuple[str, list[str], Path | None]]:
    py = sys.executable
    f = {name: out / f"{prefix}_{name}.json" for name in ("operator", "shearlets", "solvers", "pipeline", "rde")}
    if small:
        op = ["--cases", "32x30", "--batches", "1,4", "--repeats", "2"]
        sh = ["--configs", "2x32", "--repeats", "2", "--warmup", "1"]
        so = ["--speed-sizes", "32", "16", "--speed-batch", "2", "--iters", "5"]
        pi = ["--sizes", "32", "--batches", "1,2", "--repeats", "1", "--untimed", "0", "--l1-iters", "3",
              "--tv-iters", "3", "--sirt-iters", "3"]
        rd = ["--checkpoint", str(ROOT / "tests" / "golden" / "models" / "ltl"), "--steps", "3", "--samples", "2",
              "--points", "3"]
    else:
        op = ["--cases", "256x120,512x360", "--batches", "1,64", "--repeats", "20"]
        sh = ["--configs", "8x512,16x256", "--repeats", "50", "--warmup", "5"]
        so = []
        pi = ["--sizes", "256", "--batches", "1,16", "--repeats", "3", "--untimed", "1",
              "--checkpoint", f"ltl={ROOT / 'data' / 'demo-model'}"]
        rd = []
    out_list = [
        ("operator", [py, str(HERE / "bench_operator.py"), "--device", device, *op, "--out", str(f["operator"])],
         f["operator"]),
        ("shearlets", [py, str(HERE / "bench_shearlets.py"), "--devices", device, *sh, "--out", str(f["shearlets"])],
         f["shearlets"]),
        ("solvers", [py, str(HERE / "bench_solvers.py"), "--speed-only", "--methods", "l1,tv", "--device", device,
                     *so, "--out", str(f["solvers"])], f["solvers"]),
        ("pipeline", [py, str(HERE / "bench_pipeline.py"), "--devices", device.split(":")[0], "--methods",
                      "fbp,tv,l1,ltl", *pi, "--out", str(f["pipeline"])], f["pipeline"]),
        ("rde", [py, str(HERE / "rde_areas.py"), "--count", "1", "--device", device, *rd, "--out", str(f["rde"])],
         f["rde"]),
    ]
    return out_list


def run_step(name: str, cmd: list[str], log: Path, limit: float) -> dict:
    print(f"== {name}: {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        try:
            proc = subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, timeout=limit)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    sec = time.perf_counter() - t0
    tail = log.read_text(errors="replace").splitlines()[-25:]
    print("\n".join(tail), flush=True)
    print(f"== {name}: exit {rc}, {sec:.0f} s", flush=True)
    return {"step": name, "command": cmd, "exit": rc, "seconds": sec, "log": str(log)}


def _load(path: Path | None):
    try:
        return json.loads(path.read_text()) if path is not None and path.is_file() else None
    except (OSError, ValueError):
        return None


def key_figures(files: dict) -> list[dict]:
    """The issue's targets, read from the JSON files that exist."""
    rows = []

    def add(what, value, unit, target, ok):
        met = None if value is None else ok(value)  # None: no target for this figure
        rows.append({"figure": what, "value": value, "unit": unit, "target": target,
                     "met": None if met is None else bool(met)})

    op = _load(files.get("operator"))
    for r in (op or {}).get("rows", []):
        if r["batch"] == 1 and "raw_fp" in r:
            add(f"operator {r['N']}²/{r['V']} batch 1: ltl FP ÷ raw direct_FP2D", r["ltl_fp"] / r["raw_fp"], "×",
                "≤ 1.10", lambda v: v <= 1.10)
        elif r["batch"] > 1:
            add(f"operator {r['N']}²/{r['V']} batch {r['batch']}: loop FP ÷ ltl FP", r["speedup_fp"], "×",
                "≥ 2.5", lambda v: v >= 2.5)
    sh = _load(files.get("shearlets"))
    for r in (sh or {}).get("results", []):
        add(f"shearlets batch {r['batch']}, {r['N']}² ({r['device']}): forward + adjoint",
            1e3 * r["ours_s_median"], "ms", "≤ 1.5 (batch 8, 512²)",
            lambda v, r=r: v <= 1.5 if (r["batch"], r["N"]) == (8, 512) else None)
    so = _load(files.get("solvers"))
    for k, r in ((so or {}).get("speed") or {}).items():
        if "single" in k:
            add(f"{k.split('_')[0]} {r['size']}²/{r['views']} one slice", r["seconds"], "s",
                "< 1" if k.startswith("l1") else "–", lambda v, k=k: v < 1.0 if k.startswith("l1") else None)
        else:
            add(f"{k.split('_')[0]} {r['size']}² batch {r['batch']} (one by one: {r['loop_slices_per_second']:.3g} slices/s)",
                r["slices_per_second"], "slices/s", "≥ 10" if k.startswith("l1") else "–",
                lambda v, k=k: v >= 10 if k.startswith("l1") else None)
    pi = _load(files.get("pipeline"))
    for r in (pi or {}).get("results", []):
        if r["method"] == "ltl":
            add(f"LtI end to end {r['size']}² batch {r['batch']} ({r['device']})", r["slices_per_second"],
                "slices/s", "≥ 10 (batch 16)", lambda v, r=r: v >= 10 if r["batch"] >= 16 else None)
    rd = _load(files.get("rde"))
    for s in (rd or {}).get("per_scan", [])[:1]:
        add("one RDE explanation (defaults), RDE alone", s["rde_seconds"], "s", "< 5", lambda v: v < 5)
        add("the same explanation with baselines and ordering curves", s["seconds"], "s", "–", lambda v: None)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", help="torch device of the measurements (default cuda)")
    p.add_argument("--small", action="store_true", help="toy sizes (a test of this script, e.g. on the CPU)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder of the JSON files")
    p.add_argument("--tests", action=argparse.BooleanOptionalAction, default=None,
                   help="run pytest -m gpu at the end (default: yes, unless --small)")
    p.add_argument("--only", default=None, help="comma-separated steps to run (default all)")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = a.device
    prefix = ("gpu" if dev.startswith("cuda") else dev.replace(":", "")) + ("_small" if a.small else "")
    tests = (not a.small) if a.tests is None else a.tests
    todo = steps(dev, a.small, out, prefix)
    if a.only:
        keep = {s.strip() for s in a.only.split(",")}
        unknown = keep - {n for n, _, _ in todo} - {"tests"}
        if unknown:
            p.error(f"--only: unknown step(s) {sorted(unknown)}")
        todo = [s for s in todo if s[0] in keep]
        tests = tests and "tests" in keep if a.tests is None else tests
    t0 = time.perf_counter()
    results, files = [], {}
    for name, cmd, path in todo:
        r = run_step(name, cmd, out / f"{prefix}_{name}.log", LIMITS[name] * (3 if a.small else 1))
        r["output"] = str(path) if path is not None and path.is_file() else None
        results.append(r)
        files[name] = path
    if tests:
        cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider"]
        results.append(run_step("tests", cmd, out / f"{prefix}_pytest_gpu.log", LIMITS["tests"]))
    figures = key_figures(files)
    sys.path.insert(0, str(HERE))
    from _machine import machine

    summary = {"machine": machine(), "device": dev, "small": a.small, "seconds": time.perf_counter() - t0,
               "steps": results, "key_figures": figures}
    (out / f"{prefix}_bench_all.json").write_text(json.dumps(summary, indent=1, default=str))
    print()
    print("| figure | value | target | met |\n| --- | --- | --- | --- |")
    for f in figures:
        v = "–" if f["value"] is None else f"{f['value']:.3g} {f['unit']}"
        print(f"| {f['figure']} | {v} | {f['target']} | {'–' if f['met'] is None else ('yes' if f['met'] else 'NO')} |")
    print("\n| step | exit | seconds |\n| --- | --- | --- |")
    for r in results:
        print(f"| {r['step']} | {r['exit']} | {r['seconds']:.0f} |")
    print(f"total {summary['seconds']:.0f} s; wrote {out / f'{prefix}_bench_all.json'}")
    return 0 if all(r["exit"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
