"""Benchmark ltl's Radon operator against a plain per-slice ASTRA loop, in the same run.

For N=256/V=120 and N=512/V=360, at batch 1 and 64, it times forward and back projection per
slice:
* ``ltl``: ``RadonOperator`` on a stack (CPU: slices spread over the cores; GPU: one parallel3d
  stack through DLPack);
* ``loop``: the way ODL, tomosipo and DeepInverse call ASTRA, one slice at a time. On the CPU:
  ``astra.create_sino`` / ``create_backprojection`` on numpy copies, one thread. On the GPU:
  ``astra.experimental.direct_FP2D/BP2D`` per slice on CUDA tensors (zero-copy, the fastest loop);
* ``raw``: at batch 1, one bare ``astra.experimental.direct_FP2D/BP2D`` call on the same tensors
  (the GPU's ``cuda`` or the CPU's ``linear`` projector), the floor for ltl's per-call overhead.

Prints a table and writes JSON (``--out``), with the machine.

    python scripts/bench_operator.py [--device cpu|cuda] [--repeats 5] [--out results/bench_operator.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe, machine  # noqa: E402

from ltl import Geometry, RadonOperator  # noqa: E402


def _timer(fn, device, repeats):
    fn()  # warm up (projector creation, caches)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_case(n, views, batch, device, repeats):
    import astra
    import astra.experimental as exp

    # 120 views: the standard 120° scan in 1° steps; otherwise 180° at 180/V degrees per view.
    g = (Geometry.limited_angle(n, angular_range_deg=120, step_deg=1.0) if views == 120
         else Geometry.limited_angle(n, angular_range_deg=180, step_deg=180 / views))
    A = RadonOperator(g)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, n, n, generator=gen).to(device)
    y = torch.rand(batch, *g.sino_shape, generator=gen).to(device)
    row = {"N": n, "V": views, "batch": batch, "device": device.type}
    row["ltl_fp"] = _timer(lambda: A(x), device, repeats) / batch
    row["ltl_bp"] = _timer(lambda: A.T(y), device, repeats) / batch
    if device.type == "cuda":
        pid = astra.create_projector("cuda", g.astra_proj_geom(), g.astra_vol_geom())
        outy = torch.empty(g.sino_shape, device=device)
        outx = torch.empty(g.image_shape, device=device)

        def loop_fp():
            for i in range(batch):
                exp.direct_FP2D(pid, x[i], outy)

        def loop_bp():
            for i in range(batch):
                exp.direct_BP2D(pid, outx, y[i])
    else:
        pid = astra.create_projector("linear", g.astra_proj_geom(), g.astra_vol_geom())
        xs, ys = x.numpy(), y.numpy()

        def loop_fp():
            for i in range(batch):
                sid, s = astra.create_sino(xs[i], pid)
                astra.data2d.delete(sid)
                torch.from_numpy(s)

        def loop_bp():
            for i in range(batch):
                bid, b = astra.create_backprojection(ys[i], pid)
                astra.data2d.delete(bid)
                torch.from_numpy(b)
    row["loop_fp"] = _timer(loop_fp, device, repeats) / batch
    row["loop_bp"] = _timer(loop_bp, device, repeats) / batch
    if batch == 1:  # one bare ASTRA call on the same tensors: the floor of ltl's per-call overhead
        outy = torch.empty(g.sino_shape, device=device)
        outx = torch.empty(g.image_shape, device=device)
        row["raw_fp"] = _timer(lambda: exp.direct_FP2D(pid, x[0], outy), device, repeats)
        row["raw_bp"] = _timer(lambda: exp.direct_BP2D(pid, outx, y[0]), device, repeats)
    astra.projector.delete(pid)
    row["speedup_fp"] = row["loop_fp"] / row["ltl_fp"]
    row["speedup_bp"] = row["loop_bp"] / row["ltl_bp"]
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per case (median) [5]")
    p.add_argument("--batches", default="1,64", help="batch sizes [1,64]")
    p.add_argument("--cases", default="256x120,512x360", help="NxV cases [256x120,512x360]")
    p.add_argument("--out", default="results/bench_operator.json")
    a = p.parse_args(argv)
    device = torch.device(a.device)
    info = machine()
    print(f"# Radon operator benchmark on {describe(info)}; device {device.type}")
    rows = []
    for case in a.cases.split(","):
        n, v = map(int, case.split("x"))
        for b in map(int, a.batches.split(",")):
            reps = a.repeats if device.type == "cuda" or n * b <= 256 * 64 else max(1, a.repeats // 3)
            rows.append(bench_case(n, v, b, device, reps))
            print(f"  done N={n} V={v} B={b}", file=sys.stderr)
    hdr = "| N | V | batch | ltl FP ms/slice | loop FP ms/slice | FP ratio | ltl BP ms/slice | loop BP ms/slice | BP ratio |"
    hdr += " raw FP ms | raw BP ms | ltl ÷ raw FP |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for r in rows:
        line = (f"| {r['N']} | {r['V']} | {r['batch']} | {1e3 * r['ltl_fp']:.2f} | {1e3 * r['loop_fp']:.2f} | "
                f"{r['speedup_fp']:.2f}× | {1e3 * r['ltl_bp']:.2f} | {1e3 * r['loop_bp']:.2f} | {r['speedup_bp']:.2f}× |")
        line += (f" {1e3 * r['raw_fp']:.3f} | {1e3 * r['raw_bp']:.3f} | {r['ltl_fp'] / r['raw_fp']:.2f} |"
                 if "raw_fp" in r else " | | |")
        print(line)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": info, "device": device.type, "rows": rows,
                               "ratio": "loop time / ltl time per slice (higher is better for ltl)"}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
