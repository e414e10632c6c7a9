"""Benchmark ltl's model-based solvers on the standard limited-angle task, and tune their λ.

Standard task: N×N random-ellipse phantoms (test seeds ``--seed`` .. ``--seed+count−1``, default
20 000..), 120° in 1° steps, η = 1% relative Gaussian noise (σ = η·max|y|), data projected from
the 2× finer grid (no inverse crime). Methods: FBP (Hann), SIRT, TV, l1-shearlet, each with its
defaults (λ from the data). Prints a markdown table of RE, PSNR, SSIM, HaarPSI (mean ± std,
reconstruction clipped to [0, 1]) and seconds per slice, states the machine, and writes JSON with
the settings, seeds and iteration counts.

Speed section (``--speed``, on by default; ``--speed-only`` for it alone): l1-shearlet and TV
(``--methods``) on one 512² slice with 360 views (180° in 0.5° steps) to the default tolerance
(or ``--iters``/``--tol``), and slices/s for a batch of 16 at 256² (120 views) against the same 16
slices solved one at a time in the same run.

``--tune`` instead sweeps the λ factor c (λ = c·σ·κ, see ``ltl.solvers``) of TV and l1-shearlet
and the shearlet weight growth β on the validation seeds (``--tune-seed``, default 10 000..,
``--tune-count`` 20), disjoint from the test seeds, and writes ``results/tune_solvers.json``.

    python scripts/bench_solvers.py [--count 50] [--size 256] [--batch 1] [--device cpu|cuda]
                                    [--out results/bench_solvers.json] [--no-speed] [--tune]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe, machine  # noqa: E402

from ltl import Geometry, RadonOperator, fbp  # noqa: E402
from ltl.data import simulate_phantoms  # noqa: E402
from ltl.metrics import all_metrics  # noqa: E402
from ltl.shearlets import ShearletFrame  # noqa: E402
from ltl.solvers import l1_shearlet, shearlet_weights, sirt, tv  # noqa: E402
from ltl.solvers.l1 import L1_LAMBDA_FACTOR, L1_WEIGHT_GROWTH  # noqa: E402
from ltl.solvers.total_variation import TV_LAMBDA_FACTOR  # noqa: E402

METHODS = ("fbp", "sirt", "tv", "l1")
NAMES = {"fbp": "FBP (Hann)", "sirt": "SIRT", "tv": "TV", "l1": "l1-shearlet"}
METRICS = ("re", "psnr", "ssim", "haarpsi")


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def standard_geometry(n: int) -> Geometry:
    return Geometry.limited_angle(n, angular_range_deg=120, step_deg=1.0)


def simulate(n: int, count: int, seed: int, noise: float):
    g = standard_geometry(n)
    scan = simulate_phantoms("ellipses", g, count=count, noise=noise, seed=seed)
    return g, scan


def reconstruct(method: str, A, frame, y: torch.Tensor, batch: int, opts: dict):
    """Run ``method`` over ``y`` (M, V, D) in chunks of ``batch``; returns (rec (M, N, N) on CPU,
    per-call records)."""
    device = y.device
    recs, calls = [], []
    for s in range(0, y.shape[0], batch):
        yb = y[s:s + batch]
        _sync(device)
        t0 = time.perf_counter()
        info = None
        if method == "fbp":
            x = fbp(A, yb, filter="hann")
        elif method == "sirt":
            x, info = sirt(A, yb, opts.get("sirt_iters", 100))
        elif method == "tv":
            x, info = tv(A, yb, opts.get("lam"), noise=opts.get("noise_known"),
                         **{k: opts[k] for k in ("iters", "tol") if k in opts})
        elif method == "l1":
            x, info = l1_shearlet(A, frame, yb, opts.get("lam"), noise=opts.get("noise_known"),
                                  weights=opts.get("weights"),
                                  **{k: opts[k] for k in ("iters", "tol") if k in opts})
        else:
            raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
        _sync(device)
        sec = time.perf_counter() - t0
        rec = {"slices": int(yb.shape[0]), "seconds": sec}
        if info is not None:
            rec.update(iterations=info.iterations, converged=info.converged,
                       lam=list(info.params.get("lam", ())))
        calls.append(rec)
        recs.append(x.detach().cpu())
    return torch.cat(recs), calls


def score(rec: torch.Tensor, truth: torch.Tensor) -> dict:
    m = all_metrics(rec.clamp(0, 1), truth)
    return {k: [float(v) for v in m[k]] for k in METRICS}


def summarise(per_image: dict, calls: list) -> dict:
    out = {}
    for k in METRICS:
        v = np.asarray(per_image[k])
        out[k] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0}
    slices = sum(c["slices"] for c in calls)
    out["seconds_per_slice"] = sum(c["seconds"] for c in calls) / slices
    its = [c["iterations"] for c in calls if "iterations" in c]
    if its:
        out["iterations"] = {"mean": float(np.mean(its)), "min": int(min(its)), "max": int(max(its))}
        out["converged_calls"] = int(sum(c["converged"] for c in calls))
    return out


def table(rows: dict) -> str:
    lines = ["| method | RE | PSNR (dB) | SSIM | HaarPSI | s / slice | iterations |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for m, r in rows.items():
        its = r.get("iterations")
        it_s = "–" if its is None else f"{its['mean']:.0f} ({its['min']}–{its['max']})"
        lines.append(
            f"| {NAMES.get(m, m)} | {r['re']['mean']:.4f} ± {r['re']['std']:.4f} | "
            f"{r['psnr']['mean']:.2f} ± {r['psnr']['std']:.2f} | {r['ssim']['mean']:.4f} ± {r['ssim']['std']:.4f} | "
            f"{r['haarpsi']['mean']:.4f} ± {r['haarpsi']['std']:.4f} | {r['seconds_per_slice']:.2f} | {it_s} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------


def run_benchmark(args, device, info) -> dict:
    t_sim = time.perf_counter()
    g, scan = simulate(args.size, args.count, args.seed, args.noise)
    t_sim = time.perf_counter() - t_sim
    A = RadonOperator(g)
    A.norm()  # cache the norm outside the timings
    frame = ShearletFrame(args.size, device=device)
    y = scan.sinogram.to(device)
    truth = scan.images
    opts = {"sirt_iters": args.sirt_iters}
    if args.iters is not None:
        opts["iters"] = args.iters
    if args.tol is not None:
        opts["tol"] = args.tol
    # warm up (ASTRA projector creation, FFT plans) on one slice
    for m in args.methods:
        reconstruct(m, A, frame, y[:1], 1, dict(opts, iters=2, sirt_iters=2))
    rows, per_image, calls_all = {}, {}, {}
    for m in args.methods:
        print(f"[{m}] {args.count} slices, batch {args.batch} ...", flush=True)
        rec, calls = reconstruct(m, A, frame, y, args.batch, opts)
        per_image[m] = score(rec, truth)
        calls_all[m] = calls
        rows[m] = summarise(per_image[m], calls)
        print(f"[{m}] done: PSNR {rows[m]['psnr']['mean']:.2f} dB, "
              f"{rows[m]['seconds_per_slice']:.2f} s/slice", flush=True)
    return {
        "task": {"size": args.size, "count": args.count, "seeds": [args.seed, args.seed + args.count - 1],
                 "angular_range_deg": 120, "step_deg": 1.0, "views": g.num_angles, "det_count": g.det_count,
                 "noise": args.noise, "oversample": 2, "simulation_seconds": t_sim},
        "settings": {"batch": args.batch, "device": str(device), "fbp_filter": "hann",
                     "sirt_iters": args.sirt_iters, "solver_iters": args.iters, "solver_tol": args.tol,
                     "tv_lambda": f"default: {TV_LAMBDA_FACTOR}·σ̂·‖A‖/√N",
                     "l1_lambda": f"default: {L1_LAMBDA_FACTOR}·σ̂·‖A‖/√N",
                     "l1_weights": f"0 on low-pass, 2^({L1_WEIGHT_GROWTH}(j−1)) on scale j",
                     "op_norm": A.norm()},
        "results": rows,
        "per_image": per_image,
        "calls": calls_all,
    }


def _solve(method: str, A, frame, y, args):
    opts = {k: v for k, v in (("iters", args.iters), ("tol", args.tol)) if v is not None}
    if method == "tv":
        return tv(A, y, **opts)
    return l1_shearlet(A, frame, y, **opts)


def _warm_up(method, A, frame, y):
    """Two iterations: ASTRA projectors, FFT plans and CUDA kernels are made outside the timings."""
    if method == "tv":
        tv(A, y, iters=2, tol=0)
    else:
        l1_shearlet(A, frame, y, iters=2, tol=0)


def _timed_solve(method, A, frame, y, args, device):
    _sync(device)
    t0 = time.perf_counter()
    x, info = _solve(method, A, frame, y, args)
    _sync(device)
    return time.perf_counter() - t0, x, info


def run_speed(args, device) -> dict:
    """l1-shearlet and TV on one N1² slice with 360 views, and on a batch at N2² (120 views) against
    the same slices solved one by one in the same run (each to its own stopping point)."""
    out = {}
    big, small = args.speed_sizes
    methods = [m for m in ("l1", "tv") if m in args.methods] or ["l1"]
    g = Geometry.limited_angle(big, angular_range_deg=180, step_deg=0.5)
    scan = simulate_phantoms("ellipses", g, count=1, noise=args.noise, seed=args.seed)
    A = RadonOperator(g)
    A.norm()
    frame = ShearletFrame(big, device=device)
    y = scan.sinogram.to(device)
    for m in methods:
        _warm_up(m, A, frame, y)
        sec, x, info = _timed_solve(m, A, frame, y, args, device)
        q = score(x.cpu(), scan.images)
        out[f"{m}_single_360views"] = {"size": big, "views": g.num_angles, "seconds": sec,
                                       "iterations": info.iterations, "ms_per_iteration": 1e3 * sec / info.iterations,
                                       "converged": info.converged, "psnr": q["psnr"][0], "ssim": q["ssim"][0]}
        print(f"[speed] {NAMES[m]} {big}², {g.num_angles} views: {sec:.2f} s, {info.iterations} iterations",
              flush=True)
    g = standard_geometry(small)
    nb = args.speed_batch
    scan = simulate_phantoms("ellipses", g, count=nb, noise=args.noise, seed=args.seed)
    A = RadonOperator(g)
    A.norm()
    frame = ShearletFrame(small, device=device)
    y = scan.sinogram.to(device)
    for m in methods:
        _warm_up(m, A, frame, y)
        sec, _, info = _timed_solve(m, A, frame, y, args, device)
        loop_sec, loop_its = 0.0, []
        for i in range(nb):  # the baseline: the same slices one at a time
            s1, _, inf1 = _timed_solve(m, A, frame, y[i], args, device)
            loop_sec += s1
            loop_its.append(inf1.iterations)
        key = f"{m}_batch{nb}"
        out[key] = {"size": small, "views": g.num_angles, "batch": nb, "seconds": sec, "slices_per_second": nb / sec,
                    "iterations": info.iterations, "converged": info.converged,
                    "loop_seconds": loop_sec, "loop_slices_per_second": nb / loop_sec,
                    "loop_iterations": loop_its, "speedup_vs_loop": loop_sec / sec}
        print(f"[speed] {NAMES[m]} {small}², batch {nb}: {sec:.2f} s, {nb / sec:.2f} slices/s, "
              f"{info.iterations} iterations; one by one {loop_sec:.2f} s ({nb / loop_sec:.2f} slices/s)", flush=True)
    return out


def speed_table(s: dict) -> str:
    lines = ["| speed | seconds | iterations | ms / iteration | rate | one slice at a time |",
             "| --- | --- | --- | --- | --- | --- |"]
    for k, r in s.items():
        m = NAMES[k.split("_")[0]]
        if "single" in k:
            lines.append(f"| {m} {r['size']}², {r['views']} views, 1 slice | {r['seconds']:.2f} | {r['iterations']} | "
                         f"{r['ms_per_iteration']:.1f} | – | – |")
        else:
            lines.append(f"| {m} {r['size']}², {r['views']} views, batch {r['batch']} | {r['seconds']:.2f} | "
                         f"{r['iterations']} | {1e3 * r['seconds'] / r['iterations']:.1f} | "
                         f"{r['slices_per_second']:.2f} slices/s | {r['loop_slices_per_second']:.2f} slices/s |")
    return "\n".join(lines)


def run_tune(args, device) -> dict:
    """Sweep λ = c·σ·κ for TV and l1-shearlet (and β of the l1 weights) on validation seeds."""
    g, scan = simulate(args.size, args.tune_count, args.tune_seed, args.noise)
    A = RadonOperator(g)
    A.norm()
    frame = ShearletFrame(args.size, device=device)
    y = scan.sinogram.to(device)
    truth = scan.images
    res = {"tv": [], "l1": []}

    def one(method, c, beta=None):
        from ltl.solvers import default_lambda_l1, default_lambda_tv

        lam_fn = default_lambda_tv if method == "tv" else default_lambda_l1
        opts = {"lam": lam_fn(A, y, factor=c)}
        if beta is not None:
            opts["weights"] = shearlet_weights(frame, growth=beta)
        # λ per slice: reconstruct one slice at a time with its own λ
        recs, calls = [], []
        for s in range(0, y.shape[0], args.batch):
            o = dict(opts, lam=opts["lam"][s:s + args.batch])
            r, cl = reconstruct(method, A, frame, y[s:s + args.batch], args.batch, o)
            recs.append(r)
            calls += cl
        per = score(torch.cat(recs), truth)
        row = summarise(per, calls)
        row.update(c=c, beta=beta)
        res[method].append(row)
        print(f"[tune] {method} c={c:g}" + ("" if beta is None else f" β={beta:g}") +
              f": PSNR {row['psnr']['mean']:.2f}, SSIM {row['ssim']['mean']:.4f}, "
              f"HaarPSI {row['haarpsi']['mean']:.4f}, {row['iterations']['mean']:.0f} it", flush=True)
        return row

    if "tv" in args.methods:
        for c in [float(c) for c in args.tune_factors_tv.split(",")]:
            one("tv", c)
    if "l1" in args.methods:
        betas = [float(b) for b in args.tune_betas.split(",")]
        for c in [float(c) for c in args.tune_factors_l1.split(",")]:
            one("l1", c, betas[0])
        best = max((r for r in res["l1"]), key=lambda r: r["psnr"]["mean"])
        for b in betas[1:]:
            for c in sorted({best["c"] / 2, best["c"], best["c"] * 2}):
                one("l1", c, b)
    return {"validation": {"size": args.size, "count": args.tune_count,
                           "seeds": [args.tune_seed, args.tune_seed + args.tune_count - 1],
                           "noise": args.noise, "angular_range_deg": 120, "step_deg": 1.0},
            "sweep": res}


def tune_table(res: dict) -> str:
    lines = ["| method | c | β | PSNR (dB) | SSIM | HaarPSI | RE | iterations |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m, rows in res.items():
        for r in rows:
            beta = "" if r["beta"] is None else f"{r['beta']:g}"
            lines.append(f"| {NAMES[m]} | {r['c']:g} | {beta} | "
                         f"{r['psnr']['mean']:.2f} | {r['ssim']['mean']:.4f} | {r['haarpsi']['mean']:.4f} | "
                         f"{r['re']['mean']:.4f} | {r['iterations']['mean']:.0f} |")
    return "\n".join(lines)


def _clean(o):
    """JSON-safe copy: non-finite floats become null."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=50, help="test phantoms (default 50)")
    p.add_argument("--size", type=int, default=256, help="image side N (default 256)")
    p.add_argument("--batch", type=int, default=1, help="slices per solver call (default 1)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=None,
                   help="JSON output (default results/bench_solvers.json, or results/tune_solvers.json with --tune)")
    p.add_argument("--seed", type=int, default=20_000, help="first test seed (default 20000)")
    p.add_argument("--noise", type=float, default=0.01, help="relative Gaussian noise η (default 0.01)")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--sirt-iters", type=int, default=100, help="SIRT iterations (default 100)")
    p.add_argument("--iters", type=int, default=None, help="max iterations of TV/l1 (default: solver default)")
    p.add_argument("--tol", type=float, default=None, help="tolerance of TV/l1 (default: solver default)")
    p.add_argument("--speed", action=argparse.BooleanOptionalAction, default=True,
                   help="also run the speed section (512²/360 views; batch 16 at 256²)")
    p.add_argument("--speed-sizes", type=int, nargs=2, default=(512, 256), metavar=("N1", "N2"),
                   help="sizes of the speed section: one N1² slice at 360 views, a batch of 16 at N2² (default 512 256)")
    p.add_argument("--speed-only", action="store_true", help="run only the speed section")
    p.add_argument("--speed-batch", type=int, default=16, help="batch of the speed section at N2² (default 16)")
    p.add_argument("--tune", action="store_true", help="run the λ sweep on the validation seeds instead")
    p.add_argument("--tune-seed", type=int, default=10_000, help="first validation seed (default 10000)")
    p.add_argument("--tune-count", type=int, default=20, help="validation phantoms (default 20)")
    p.add_argument("--tune-factors-tv", default="1,2,4,8", help="TV λ factors c to sweep")
    p.add_argument("--tune-factors-l1", default="0.03125,0.0625,0.125,0.25,0.5",
                   help="l1 λ factors c to sweep with the first β")
    p.add_argument("--tune-betas", default="0.5,0,1",
                   help="l1 weight growths β: the first with all c, the others at c/2, c, 2c around the best")
    args = p.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in args.methods if m not in METHODS]
    if bad:
        p.error(f"unknown method(s) {bad}; choose from {','.join(METHODS)}")
    if args.count < 1 or args.batch < 1 or args.size < 16:
        p.error("--count and --batch must be >= 1 and --size >= 16")
    if args.tune and args.tune_seed + args.tune_count > args.seed and args.seed + args.count > args.tune_seed:
        p.error("validation seeds overlap the test seeds; change --tune-seed or --seed")
    device = torch.device(args.device)
    info = machine()
    print(f"machine: {describe(info)}; device {device}", flush=True)
    t0 = time.perf_counter()
    if args.tune:
        out = Path(args.out or "results/tune_solvers.json")
        res = run_tune(args, device)
        res["machine"] = info
        res["device"] = str(device)
        res["seconds"] = time.perf_counter() - t0
        print()
        print(tune_table(res["sweep"]))
    else:
        out = Path(args.out or "results/bench_solvers.json")
        res = {"machine": info, "device": str(device)}
        if not args.speed_only:
            res.update(run_benchmark(args, device, info))
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(_clean(res), indent=1))  # the main results, before the speed section
        if args.speed or args.speed_only:
            res["speed"] = run_speed(args, device)
        res["seconds"] = time.perf_counter() - t0
        print()
        print(f"Machine: {describe(info)}; device {device}; batch {args.batch}")
        if not args.speed_only:
            print(f"Task: {args.count} ellipse phantoms {args.size}², seeds {args.seed}–{args.seed + args.count - 1}, "
                  f"120° in 1° steps, η = {args.noise:g}, data from the 2× grid")
            print()
            print(table(res["results"]))
        if "speed" in res:
            print()
            print(speed_table(res["speed"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_clean(res), indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
