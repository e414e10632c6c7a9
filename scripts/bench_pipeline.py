"""End-to-end speed of every reconstruction method: slices per second from sinogram to image.

For each device (the CPU, and CUDA when torch and ASTRA can use it), image size N and batch size,
a batch of random-ellipse test scans (seeds ``--seed``.., 120° in 1° steps, η = 1%) is
reconstructed by each method (FBP, SIRT, TV, l1-shearlet, LtI, the post-processing U-Nets and
LtI without the split) through :class:`ltl.evaluation.Pipeline`, the code ``ltl evaluate`` runs.
Each method is timed on its own, its l1-shearlet solve included: one untimed run, then the median
of ``--repeats`` runs. A learned method uses a trained checkpoint when one is given for that
geometry (``--checkpoint ltl=RUN/best``), else an untrained model of the demo architecture (U-Net
width 16, depth 4), which the table says: the speed does not depend on the weights.

Prints one table and the machine, and writes JSON with the settings.

    python scripts/bench_pipeline.py [--sizes 256,512] [--batches 1,16] [--devices cpu,cuda]
        [--methods fbp,sirt,tv,l1,ltl,postproc-fbp,postproc-l1] [--repeats 3] [--checkpoint ltl=RUN/best]
        [--l1-iters 300] [--tv-iters 500] [--sirt-iters 100] [--out results/bench_pipeline.json]

A small run: ``--sizes 64 --batches 1,4 --repeats 1 --l1-iters 20 --tv-iters 20 --sirt-iters 20``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe, machine  # noqa: E402

from ltl import Geometry  # noqa: E402
from ltl.data import simulate_phantoms  # noqa: E402
from ltl.evaluation import LEARNED, METHODS, NAMES, Pipeline, parse_methods  # noqa: E402
from ltl.models import LtI, PostProc, load_model  # noqa: E402

DEFAULT_METHODS = "fbp,sirt,tv,l1,ltl,postproc-fbp,postproc-l1"
#: The demo model's U-Net (scripts/train_demo_model.py).
DEMO_WIDTH, DEMO_DEPTH = 16, 4


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _ints(text: str, name: str) -> list[int]:
    try:
        out = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"bench_pipeline: {name} must be comma-separated integers, got {text!r}")
    if not out or min(out) < 1:
        raise SystemExit(f"bench_pipeline: {name} must be positive integers, got {text!r}")
    return out


def _models(methods, g: Geometry, checkpoints: dict, l1: dict, device) -> tuple[dict, dict]:
    """Trained models where a checkpoint fits ``g``, else untrained ones of the demo architecture."""
    models, notes = {}, {}
    for m in methods:
        if m not in LEARNED:
            continue
        ck = checkpoints.get(m)
        if ck is not None:
            model = load_model(ck, map_location=device)
            if model.kind != m:
                raise SystemExit(f"bench_pipeline: {ck} holds a {model.kind!r} model, not {m!r}")
            if model.geometry == g:
                models[m], notes[m] = model.eval(), f"trained ({ck})"
                continue
        torch.manual_seed(0)
        kw = dict(width=DEMO_WIDTH, depth=DEMO_DEPTH)
        if m in ("ltl", "ltl-nosplit"):
            model = LtI(g, solver_settings=l1, nosplit=m == "ltl-nosplit", **kw)
        else:
            model = PostProc(g, source=m.split("-")[1], solver_settings=l1 if m == "postproc-l1" else None, **kw)
        models[m] = model.to(device).eval()
        notes[m] = f"untrained (width {DEMO_WIDTH}, depth {DEMO_DEPTH})"
    return models, notes


def bench_one(device: torch.device, n: int, batch: int, methods, args, checkpoints: dict) -> list[dict]:
    g = Geometry.limited_angle(n, angular_range_deg=120, step_deg=1.0)
    scan = simulate_phantoms("ellipses", g, count=batch, noise=args.noise, seed=args.seed)
    l1 = {"iters": args.l1_iters, "tol": args.tol}
    models, notes = _models(methods, g, checkpoints, l1, device)
    settings = {"sirt": {"iters": args.sirt_iters}, "tv": {"iters": args.tv_iters, "tol": args.tol}, "l1": l1}
    pipe = Pipeline(g, methods, models=models, settings=settings, device=device)
    y = scan.sinogram.to(device)
    pipe.warm_up(y)
    rows = []
    for m in methods:
        for _ in range(args.untimed):  # first-call costs (cuDNN autotuning, allocations)
            pipe.run(y, methods=[m])
        times = []
        for _ in range(args.repeats):
            _sync(device)
            t0 = time.perf_counter()
            pipe.run(y, methods=[m])
            _sync(device)
            times.append(time.perf_counter() - t0)
        sec = statistics.median(times)
        rows.append({"device": device.type, "size": n, "batch": batch, "method": m, "name": NAMES[m],
                     "model": notes.get(m, "–"), "seconds_per_batch": sec, "slices_per_second": batch / sec,
                     "times": times, "views": g.num_angles})
        print(f"[{device.type} N={n} batch {batch}] {m}: {batch / sec:.3g} slices/s ({sec:.3g} s per batch)",
              flush=True)
    return rows


def add_ratios(rows: list[dict], reference: str = "tv") -> None:
    """``time_vs_<reference>``: each row's time per batch over the reference method's in the same
    device, size and batch (None where the reference was not run)."""
    ref = {(r["device"], r["size"], r["batch"]): r["seconds_per_batch"] for r in rows if r["method"] == reference}
    for r in rows:
        t = ref.get((r["device"], r["size"], r["batch"]))
        r[f"time_vs_{reference}"] = r["seconds_per_batch"] / t if t else None


def table(rows: list[dict], reference: str = "tv") -> str:
    lines = [f"| device | N | batch | method | model | slices/s | s / batch | time ÷ {NAMES[reference]} |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ratio = r.get(f"time_vs_{reference}")
        lines.append(f"| {r['device']} | {r['size']} | {r['batch']} | {r['name']} | {r['model']} | "
                     f"{r['slices_per_second']:.3g} | {r['seconds_per_batch']:.3g} | "
                     f"{'–' if ratio is None else f'{ratio:.3g}'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="256,512", help="image sizes N (default 256,512)")
    p.add_argument("--batches", default="1,16", help="slices per call (default 1,16)")
    p.add_argument("--devices", default=None, help="cpu and/or cuda (default: cpu, and cuda when available)")
    p.add_argument("--methods", default=DEFAULT_METHODS, help=f"comma-separated among {','.join(METHODS)} "
                                                              f"(default {DEFAULT_METHODS})")
    p.add_argument("--checkpoint", action="append", default=[], metavar="METHOD=DIR",
                   help="a trained model for a learned method, used at its own geometry (repeatable)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per method, median reported (default 3)")
    p.add_argument("--untimed", type=int, default=1,
                   help="untimed runs per method before the timed ones (default 1; 0 for slow CPU runs, where "
                        "the pipeline's warm-up already covers the one-time costs)")
    p.add_argument("--l1-iters", type=int, default=300, help="l1-shearlet iterations at most (default 300)")
    p.add_argument("--tv-iters", type=int, default=500, help="TV iterations at most (default 500)")
    p.add_argument("--sirt-iters", type=int, default=100, help="SIRT iterations (default 100)")
    p.add_argument("--tol", type=float, default=1e-3, help="relative-change tolerance of TV and l1 (default 1e-3)")
    p.add_argument("--noise", type=float, default=0.01, help="relative Gaussian noise η (default 0.01)")
    p.add_argument("--seed", type=int, default=20_000, help="first test seed (default 20000)")
    p.add_argument("--out", default="results/bench_pipeline.json", help="JSON output")
    args = p.parse_args(argv)
    try:
        methods = parse_methods(args.methods)
    except ValueError as exc:
        p.error(str(exc))
    sizes, batches = _ints(args.sizes, "--sizes"), _ints(args.batches, "--batches")
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    if args.untimed < 0:
        p.error("--untimed must be >= 0")
    checkpoints = {}
    for item in args.checkpoint:
        m, sep, path = item.partition("=")
        if not sep or m not in LEARNED:
            p.error(f"--checkpoint takes METHOD=DIR with METHOD among {', '.join(LEARNED)}, got {item!r}")
        checkpoints[m] = path
    from ltl.runtime import cuda_usable

    cuda = cuda_usable()
    devices = args.devices.split(",") if args.devices else (["cpu", "cuda"] if cuda else ["cpu"])
    skipped = []
    if "cuda" in devices and not cuda:
        devices = [d for d in devices if d != "cuda"]
        skipped.append("cuda (not available to both torch and ASTRA)")
    info = machine()
    print(f"machine: {describe(info)}", flush=True)
    rows: list[dict] = []
    t0 = time.perf_counter()
    for dev in devices:
        for n in sizes:
            for b in batches:
                rows += bench_one(torch.device(dev), n, b, methods, args, checkpoints)
    add_ratios(rows)
    res = {"machine": info, "devices": devices, "skipped": skipped, "seconds": time.perf_counter() - t0,
           "settings": {"geometry": "120° in 1° steps (standard limited-angle task)", "noise": args.noise,
                        "seeds": [args.seed, args.seed + max(batches) - 1], "repeats": args.repeats,
                        "statistic": f"median of the timed runs, after {args.untimed} untimed run(s)",
                        "ratio": "time_vs_tv: seconds per batch over TV's, same device, size and batch", "sirt_iters": args.sirt_iters,
                        "tv_iters": args.tv_iters, "l1_iters": args.l1_iters, "tol": args.tol,
                        "fbp_filter": "hann", "checkpoints": checkpoints,
                        "untrained_models": f"U-Net width {DEMO_WIDTH}, depth {DEMO_DEPTH}, random weights"},
           "results": rows}
    print()
    print(f"Machine: {describe(info)}")
    print(f"Task: random ellipses, 120° in 1° steps, η = {args.noise:g}; l1 ≤ {args.l1_iters} and TV ≤ {args.tv_iters} "
          f"iterations (tol {args.tol:g}), SIRT {args.sirt_iters}; median of {args.repeats} run(s) after {args.untimed} "
          "untimed; each method end to end, its own l1 solve included; last column: time over TV's (same device, N, "
          "batch)")
    if skipped:
        print(f"Skipped: {', '.join(skipped)}")
    print()
    print(table(rows))
    print("\nUntrained models have random weights: speed does not depend on the weights.")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=lambda o: None if isinstance(o, float) and not math.isfinite(o)
                              else str(o)))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
