"""ltl's CPU solver loops against ODL's PDHG and ASTRA's SIRT, idle and with a competing process.

One run, interleaved: for every repetition, first idle, then with a busy-loop process pinned to
one core (``os.sched_setaffinity``), each case runs ltl and its baseline back to back (in
alternating order), so both see the same machine. Cases, on the standard limited-angle task
(ellipse phantoms from seed ``--seed``, 120° in 1° steps, η = 1%):

* ``tv-1`` / ``tv-B``: :func:`ltl.solvers.tv` with ``tol=0`` against ODL 1.0's ``pdhg`` with the
  same steps (ltl's τ, σ_A, σ_∇, through the rescaled operator ``[A; √(σ_∇/σ_A)∇]``), on one
  slice and on a batch of ``--batch`` (ODL one slice after another). Both use the same ASTRA CPU
  projector (``linear``), ODL on numpy arrays, so the difference is the loop.
* ``sirt-1`` / ``sirt-B``: :func:`ltl.solvers.sirt` against ASTRA's own CPU ``SIRT``
  (``MinConstraint=0``), slice by slice.
* ``l1-1``: :func:`ltl.solvers.l1_shearlet` with ``tol=0``, time per iteration (no baseline).
* ``*-torch``: the same ltl solve with torch's own thread count in the loop
  (``LTL_SOLVER_THREADS``), i.e. without :func:`ltl.runtime.solver_threads`' policy.

Prints a table of medians (seconds per iteration) and the ltl/baseline ratio of every
repetition, and writes JSON with the machine, load averages, settings, seeds and raw times to
``benchmarks/results/bench_cpu_solvers.json``. ODL is a benchmark-only dependency
(``pip install odl``).

``--sweep`` instead times the torch part of one TV and one l1-shearlet iteration (no projection)
for growing tensors with one thread and with torch's count, idle and loaded, which is how
:data:`ltl.runtime.SMALL_NUMEL` was chosen (``benchmarks/results/bench_cpu_threads_sweep.json``).

    python scripts/bench_cpu_solvers.py [--size 256] [--iters 50] [--batch 4] [--repeats 3]
        [--cases tv-1,tv-B,sirt-1,sirt-B,l1-1,tv-1-torch,sirt-1-torch,l1-1-torch] [--out ...] [--sweep]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe, machine  # noqa: E402

from ltl import Geometry, RadonOperator  # noqa: E402
from ltl.data import simulate_phantoms  # noqa: E402
from ltl.operators.gradient import Gradient  # noqa: E402
from ltl.shearlets import ShearletFrame  # noqa: E402
from ltl.solvers import default_lambda_tv, l1_shearlet, sirt, tv  # noqa: E402
from ltl.solvers.pdhg import pdhg_steps  # noqa: E402
from ltl.solvers.total_variation import TV_BALANCE, TV_PRIMAL_STEP  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CASES = ("tv-1", "tv-B", "sirt-1", "sirt-B", "l1-1", "tv-1-torch", "sirt-1-torch", "l1-1-torch")
BASELINE = {"tv": "ODL pdhg", "sirt": "ASTRA SIRT", "l1": "–"}


# --------------------------------------------------------------------------------------------
# load: a busy loop pinned to one core
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def competing_process(active: bool):
    """A Python busy loop pinned to the last usable core while the block runs (when ``active``)."""
    if not active:
        yield None
        return
    core = max(os.sched_getaffinity(0))
    proc = subprocess.Popen([sys.executable, "-c",
                             f"import os\nos.sched_setaffinity(0, {{{core}}})\nwhile True:\n    pass\n"])
    time.sleep(0.3)  # let it start spinning
    try:
        yield core
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def solver_threads_env(value: int | None):
    """Set ``LTL_SOLVER_THREADS`` (None: leave the policy on) for the block."""
    old = os.environ.get("LTL_SOLVER_THREADS")
    if value is not None:
        os.environ["LTL_SOLVER_THREADS"] = str(value)
    try:
        yield
    finally:
        if value is not None:
            if old is None:
                os.environ.pop("LTL_SOLVER_THREADS", None)
            else:
                os.environ["LTL_SOLVER_THREADS"] = old


# --------------------------------------------------------------------------------------------
# baselines
# --------------------------------------------------------------------------------------------


class OdlTV:
    """ODL 1.0's ``pdhg`` for min_{f≥0} ½‖Af − y‖² + λ TV(f) with ltl's step sizes.

    ltl's block steps (σ_A for the data dual, σ_∇ for the gradient dual) are one scalar σ = σ_A
    for the operator ``L = [A; b∇]`` with ``b = √(σ_∇/σ_A)`` and the functional
    ``½‖u − y‖² + (λ/b)‖v‖_{2,1}``: then ODL's dual ``v`` is ltl's ``q/b`` and the iterates are the
    same. ODL's loop starts with a dual step, so its dual starts at ``(σ_A y, 0)``, whose prox is
    ltl's zero start.
    """

    def __init__(self, geometry: Geometry, op_norm_A):
        import astra
        import astra.experimental as exp
        import odl

        self.odl = odl
        n = geometry.image_size
        v, d = geometry.sino_shape
        self.space = odl.uniform_discr([-n / 2, -n / 2], [n / 2, n / 2], (n, n), dtype="float32")
        self.ran = odl.uniform_discr([0, 0], [v, d], (v, d), dtype="float32")
        pid = astra.create_projector("linear", geometry.astra_proj_geom(), geometry.astra_vol_geom())
        space, ran = self.space, self.ran

        class Ray(odl.Operator):  # ASTRA's CPU kernel on the elements' numpy arrays
            def __init__(self, adjoint=False):
                super().__init__(ran if adjoint else space, space if adjoint else ran, linear=True)
                self._adj = adjoint

            def _call(self, x, out):
                if self._adj:
                    exp.direct_BP2D(pid, out.asarray(), np.ascontiguousarray(x.asarray()))
                else:
                    exp.direct_FP2D(pid, np.ascontiguousarray(x.asarray()), out.asarray())

            @property
            def adjoint(self):
                return Ray(not self._adj)

        self.R = Ray()
        self.G = odl.Gradient(self.space, pad_mode="symmetric")  # forward differences, Neumann
        _, self.tau, self.sig_a, self.sig_d = op_norm_A

    def solve(self, y: np.ndarray, lam: float, iters: int) -> np.ndarray:
        odl = self.odl
        f = odl.functionals
        b = (self.sig_d / self.sig_a) ** 0.5
        L = odl.BroadcastOperator(self.R, b * self.G)
        data = 0.5 * f.L2NormSquared(self.ran).translated(self.ran.element(y))
        g = f.SeparableSum(data, (lam / b) * f.GroupL1Norm(self.G.range))
        x = self.space.zero()
        dual = L.range.element([self.sig_a * self.ran.element(y), self.G.range.zero()])
        odl.solvers.pdhg(x, f.IndicatorNonnegativity(self.space), g, L, iters, self.tau, self.sig_a, y=dual)
        return np.asarray(x.asarray()).copy()


def astra_sirt(geometry: Geometry, pid: int, y: np.ndarray, iters: int) -> np.ndarray:
    """ASTRA's CPU SIRT with ``MinConstraint=0`` on one sinogram ``(V, D)``."""
    import astra

    vol = astra.data2d.create("-vol", geometry.astra_vol_geom(), 0)
    sino = astra.data2d.create("-sino", geometry.astra_proj_geom(), y)
    cfg = astra.astra_dict("SIRT")
    cfg.update(ProjectorId=pid, ProjectionDataId=sino, ReconstructionDataId=vol, option={"MinConstraint": 0})
    alg = astra.algorithm.create(cfg)
    try:
        astra.algorithm.run(alg, iters)
        return astra.data2d.get(vol)
    finally:
        astra.algorithm.delete(alg)
        astra.data2d.delete([vol, sino])


# --------------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------------


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _rel(a, b) -> float:
    a = torch.as_tensor(np.asarray(a), dtype=torch.float64)
    b = torch.as_tensor(np.asarray(b), dtype=torch.float64)
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


class Task:
    def __init__(self, args):
        self.g = Geometry.limited_angle(args.size, angular_range_deg=120, step_deg=1.0)
        scan = simulate_phantoms("ellipses", self.g, count=args.batch, noise=0.01, seed=args.seed)
        self.y = scan.sinogram.contiguous()  # (B, V, D) float32
        self.A = RadonOperator(self.g)
        self.A.norm()  # cached before any timing
        self.lam = default_lambda_tv(self.A, self.y)  # (B,)
        self.steps = pdhg_steps(self.A, Gradient(self.A.domain_shape), TV_PRIMAL_STEP, TV_BALANCE)
        self.frame = ShearletFrame(args.size)
        self.iters = args.iters
        self._odl = None
        self._pid = None

    @property
    def odl(self) -> OdlTV:
        if self._odl is None:
            self._odl = OdlTV(self.g, self.steps)
        return self._odl

    @property
    def pid(self) -> int:
        if self._pid is None:
            import astra

            self._pid = astra.create_projector("linear", self.g.astra_proj_geom(), self.g.astra_vol_geom())
        return self._pid

    def run(self, case: str, which: str) -> tuple[float, np.ndarray]:
        """Seconds and the result of ``which`` ('ltl' or 'base') for ``case``."""
        kind, size = case.split("-")[:2]
        torch_threads = case.endswith("-torch")
        b = 1 if size == "1" else self.y.shape[0]
        y, lam, it = self.y[:b], self.lam[:b], self.iters
        if which == "ltl":
            with solver_threads_env(torch.get_num_threads() if torch_threads else None):
                if kind == "tv":
                    sec, (x, _) = _timed(lambda: tv(self.A, y, lam, iters=it, tol=0))
                elif kind == "sirt":
                    sec, (x, _) = _timed(lambda: sirt(self.A, y, it, tol=0))
                else:
                    sec, (x, _) = _timed(lambda: l1_shearlet(self.A, self.frame, y, iters=it, tol=0))
            return sec, x.numpy()
        yn = y.numpy()
        if kind == "tv":
            return _timed(lambda: np.stack([self.odl.solve(yn[i], float(lam[i]), it) for i in range(b)]))
        return _timed(lambda: np.stack([astra_sirt(self.g, self.pid, yn[i], it) for i in range(b)]))


def run_benchmark(args, info) -> dict:
    task = Task(args)
    cases = args.cases
    # warm-up: projector creation, FFT plans, ODL's imports
    warm_it, task.iters = task.iters, 2
    for c in cases:
        task.run(c, "ltl")
        if not c.startswith("l1") and not c.endswith("-torch"):
            task.run(c, "base")
    task.iters = warm_it
    rows = {(c, cond): {"ltl": [], "base": [], "agreement": None} for c in cases for cond in args.conditions}
    for rep in range(args.repeats):
        for cond in args.conditions:
            with competing_process(cond == "load"):
                load = os.getloadavg()[0]
                for c in cases:
                    has_base = not c.startswith("l1") and not c.endswith("-torch")
                    order = ("ltl", "base") if rep % 2 == 0 else ("base", "ltl")
                    out = {}
                    for w in order:
                        if w == "base" and not has_base:
                            continue
                        sec, out[w] = task.run(c, w)
                        rows[(c, cond)][w].append(sec)
                    if has_base and rows[(c, cond)]["agreement"] is None:
                        rows[(c, cond)]["agreement"] = _rel(out["ltl"], out["base"])
                    r = rows[(c, cond)]
                    msg = f"[rep {rep + 1} {cond:4s} load {load:.1f}] {c}: ltl {r['ltl'][-1]:.2f} s"
                    if has_base:
                        msg += f", {BASELINE[c.split('-')[0]]} {r['base'][-1]:.2f} s, ratio {r['ltl'][-1] / r['base'][-1]:.2f}"
                    print(msg, flush=True)
    result = []
    for (c, cond), r in rows.items():
        b = 1 if c.split("-")[1] == "1" else args.batch
        per_it = args.iters
        row = {"case": c, "condition": cond, "batch": b, "iters": per_it,
               "ltl_seconds": r["ltl"], "ltl_ms_per_iter_median": 1e3 * statistics.median(r["ltl"]) / per_it}
        if r["base"]:
            ratios = [a / bb for a, bb in zip(r["ltl"], r["base"])]
            row.update(baseline=BASELINE[c.split("-")[0]], baseline_seconds=r["base"],
                       baseline_ms_per_iter_median=1e3 * statistics.median(r["base"]) / per_it,
                       ratio_per_repetition=ratios, ratio_median=statistics.median(ratios),
                       rel_difference=r["agreement"])
        result.append(row)
    return {"rows": result}


def table(rows) -> str:
    lines = ["| case | condition | ltl ms/iter | baseline | baseline ms/iter | ltl ÷ baseline per repetition | median | rel. diff |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if "baseline" in r:
            rs = ", ".join(f"{v:.2f}" for v in r["ratio_per_repetition"])
            lines.append(f"| {r['case']} | {r['condition']} | {r['ltl_ms_per_iter_median']:.1f} | {r['baseline']} | "
                         f"{r['baseline_ms_per_iter_median']:.1f} | {rs} | {r['ratio_median']:.2f} | "
                         f"{r['rel_difference']:.1e} |")
        else:
            lines.append(f"| {r['case']} | {r['condition']} | {r['ltl_ms_per_iter_median']:.1f} | – | – | – | – | – |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# threshold sweep
# --------------------------------------------------------------------------------------------


def _tv_part(x, q, lam_b, tau=0.01, s=0.5):
    """The torch part of one TV iteration of ltl.solvers.pdhg (gradient, divergence, updates)."""
    from ltl.operators.gradient import divergence, gradient

    x_new = torch.add(x, -divergence(q), alpha=-tau).clamp_(min=0)
    g_new, g = gradient(x_new), gradient(x)
    q.add_(g_new, alpha=2 * s).sub_(g, alpha=s)
    mag = q.square().sum(dim=1).sqrt_()
    q.div_(mag.div_(lam_b).clamp_(min=1.0).unsqueeze(1))
    return x_new


def run_sweep(args) -> dict:
    threads = torch.get_num_threads()
    configs = [("tv", b, n) for b, n in ((1, 128), (1, 256), (4, 256), (1, 512), (16, 256), (64, 256), (16, 512))]
    configs += [("l1", b, n) for b, n in ((1, 64), (1, 128), (1, 256), (4, 256), (1, 512), (8, 256))]
    rows = []
    frames = {}
    for rep in range(args.repeats):
        for cond in args.conditions:
            with competing_process(cond == "load"):
                for kind, b, n in configs:
                    gen = torch.Generator().manual_seed(0)
                    x = torch.rand(b, n, n, generator=gen)
                    if kind == "tv":
                        q = torch.zeros(b, 2, n, n)
                        lam_b = torch.full((b, 1, 1), 0.05)
                        fn, numel, reps = (lambda: _tv_part(x, q, lam_b)), b * 2 * n * n, 20
                    else:
                        fr = frames.setdefault(n, ShearletFrame(n))
                        fn, numel, reps = (lambda: fr.adjoint(fr(x)).clamp_(min=0)), b * fr.num_channels * n * n, 5
                    times = {}
                    for k in ((1, threads) if rep % 2 == 0 else (threads, 1)):
                        torch.set_num_threads(k)
                        try:
                            fn()
                            ts = []
                            for _ in range(reps):
                                t0 = time.perf_counter()
                                fn()
                                ts.append(time.perf_counter() - t0)
                        finally:
                            torch.set_num_threads(threads)
                        times[k] = statistics.median(ts)
                    rows.append({"kind": kind, "batch": b, "N": n, "numel": numel, "condition": cond, "repetition": rep,
                                 "ms_1_thread": 1e3 * times[1], f"ms_{threads}_threads": 1e3 * times[threads],
                                 "speedup_of_threads": times[1] / times[threads]})
                    print(f"[sweep rep {rep + 1} {cond}] {kind} B={b} N={n} numel={numel}: 1 thread "
                          f"{1e3 * times[1]:.2f} ms, {threads} threads {1e3 * times[threads]:.2f} ms", flush=True)
    return {"threads": threads, "rows": rows}


def sweep_table(res) -> str:
    th = res["threads"]
    agg: dict = {}
    for r in res["rows"]:
        agg.setdefault((r["kind"], r["batch"], r["N"], r["numel"], r["condition"]), []).append(r["speedup_of_threads"])
    lines = [f"| kind | batch | N | largest tensor (elements) | condition | 1-thread time ÷ {th}-thread time (median) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for (k, b, n, numel, cond), v in sorted(agg.items(), key=lambda kv: (kv[0][0], kv[0][3], kv[0][4])):
        lines.append(f"| {k} | {b} | {n} | {numel} | {cond} | {statistics.median(v):.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=256, help="image side N (default 256; 120 views)")
    p.add_argument("--iters", type=int, default=50, help="iterations per solve (default 50; times are per iteration)")
    p.add_argument("--batch", type=int, default=4, help="slices of the batched cases (default 4)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved repetitions (default 3)")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated among {','.join(CASES)}")
    p.add_argument("--conditions", default="idle,load", help="idle and/or load (a busy process on one core)")
    p.add_argument("--seed", type=int, default=20_000, help="phantom seed (default 20000)")
    p.add_argument("--sweep", action="store_true", help="time the torch part of an iteration by size and threads")
    p.add_argument("--out", default=None, help="JSON output (default benchmarks/results/bench_cpu_solvers.json, "
                                                "or bench_cpu_threads_sweep.json with --sweep)")
    args = p.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    if any(c not in CASES for c in args.cases):
        p.error(f"--cases: choose among {','.join(CASES)}")
    if any(c not in ("idle", "load") for c in args.conditions):
        p.error("--conditions: idle and/or load")
    if min(args.size, args.iters, args.batch, args.repeats) < 1 or args.size < 16:
        p.error("--size must be >= 16 and --iters, --batch, --repeats >= 1")
    info = machine()
    info["torch_threads"] = torch.get_num_threads()
    print(f"machine: {describe(info)}; torch threads {info['torch_threads']}", flush=True)
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    if args.sweep:
        res = run_sweep(args)
        out = Path(args.out or ROOT / "benchmarks" / "results" / "bench_cpu_threads_sweep.json")
    else:
        res = run_benchmark(args, info)
        out = Path(args.out or ROOT / "benchmarks" / "results" / "bench_cpu_solvers.json")
    from ltl.runtime import SMALL_NUMEL

    res.update(machine=info, load_average_start=load_start, load_average_end=os.getloadavg(),
               seconds=time.perf_counter() - t0, small_numel=SMALL_NUMEL,
               settings={"size": args.size, "views": 120, "angular_range_deg": 120, "step_deg": 1.0,
                         "iters": args.iters, "tol": 0, "batch": args.batch, "repeats": args.repeats,
                         "cases": args.cases, "conditions": args.conditions, "seed": args.seed, "noise": 0.01,
                         "phantoms": "ellipses", "tv_steps": f"primal_step {TV_PRIMAL_STEP}, balance {TV_BALANCE}",
                         "lam": "ltl's default per slice (estimated noise)",
                         "load": "a Python busy loop pinned to the last usable core",
                         "statistic": "median over the repetitions; ratio = ltl time / baseline time per repetition"})
    print()
    print(f"Machine: {describe(info)}; torch threads {info['torch_threads']}; load average "
          f"{load_start[0]:.1f} → {res['load_average_end'][0]:.1f}")
    print(sweep_table(res) if args.sweep else table(res["rows"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
