"""Peak memory and time of ``ltl reconstruct`` on a projection stack, by slice batch size.

Writes a seeded volume of random-ellipse slices as a TIFF stack of counts (views × rows ×
detector, float32) with flat and dark fields, then runs ``ltl reconstruct`` on it once per batch
size, each in a fresh process, and reports the process's peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and its wall time. A batch as large as the
volume is the whole stack at once (what ``ltl reconstruct`` did before it read in batches); a
run on one slice gives the fixed cost (Python, torch, ASTRA). Peak memory above that fixed cost
should grow with the batch, not with the volume.

Prints a table and writes JSON (``--out``), with the machine.

    python scripts/bench_volume.py [--slices 512] [--size 128] [--views 180] [--batches 8,64,512]
        [--method fbp] [--out results/bench_volume.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe, machine  # noqa: E402

_CHILD = ("import resource, sys\n"
          "from ltl.cli import main\n"
          "rc = main(sys.argv[1:])\n"
          "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)\n"
          "sys.exit(rc)\n")


def make_stack(folder: Path, slices: int, size: int, views: int, seed: int = 0) -> tuple[Path, Path, Path, float]:
    """A (views, slices, size) TIFF stack of counts with flats and darks; returns the paths and the step."""
    import tifffile

    from ltl import Geometry, RadonOperator
    from ltl.data import random_ellipses

    step = 180.0 / views
    g = Geometry.limited_angle(size, angular_range_deg=180.0, step_deg=step, center_deg=90.0 - step / 2,
                               det_count=size)
    A = RadonOperator(g)
    i0, dark = 4000.0, 100.0
    proj = np.empty((views, slices, size), np.float32)
    for a in range(0, slices, 64):  # simulate in chunks, so the script itself stays small
        b = min(slices, a + 64)
        y = A(random_ellipses(b - a, size, seed=seed + a).float() * (2.0 / size)).numpy()
        proj[:, a:b] = (i0 * np.exp(-y) + dark).transpose(1, 0, 2)
    grey = {"photometric": "minisblack"}
    paths = folder / "proj.tif", folder / "flat.tif", folder / "dark.tif"
    tifffile.imwrite(paths[0], proj, **grey)
    tifffile.imwrite(paths[1], np.full((4, slices, size), i0 + dark, np.float32), **grey)
    tifffile.imwrite(paths[2], np.full((2, slices, size), dark, np.float32), **grey)
    return (*paths, step)


def run_case(paths, step: float, batch: int, method: str, rows: str | None, out: Path) -> dict:
    proj, flat, dark = paths
    cmd = [sys.executable, "-c", _CHILD, "reconstruct", str(proj), "--flats", str(flat), "--darks", str(dark),
           "--start", "0", "--step", f"{step!r}", "--method", method, "--batch-slices", str(batch),
           "--no-progress", "--overwrite", "--out", str(out)]
    if rows:
        cmd += ["--rows", rows]
    if method in ("tv", "sirt", "cgls", "l1"):
        cmd += ["--iters", "10"]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"ltl reconstruct failed ({r.returncode}): {r.stderr.strip()}")
    kb = int(next(line.split()[1] for line in r.stdout.splitlines() if line.startswith("MAXRSS_KB")))
    return {"batch_slices": batch, "rows": rows, "method": method, "peak_rss_mib": kb / 1024, "wall_s": wall}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--slices", type=int, default=512)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--views", type=int, default=180)
    p.add_argument("--batches", default="8,64,512")
    p.add_argument("--method", default="fbp")
    p.add_argument("--out", default="results/bench_volume.json")
    a = p.parse_args(argv)
    info = machine()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        *paths, step = make_stack(folder, a.slices, a.size, a.views)
        data_mib = a.views * a.slices * a.size * 4 / 2**20
        out_mib = a.slices * a.size ** 2 * 4 / 2**20
        cases = [run_case(paths, step, 1, a.method, "0:1", folder / "one.tif")]
        for b in [int(x) for x in a.batches.split(",")]:
            cases.append(run_case(paths, step, b, a.method, None, folder / f"rec{b}.tif"))
    base = cases[0]["peak_rss_mib"]
    print(f"# {describe(info)}")
    print(f"# {a.slices} slices of {a.size}², {a.views} views: projections {data_mib:.1f} MiB float32, "
          f"volume {out_mib:.1f} MiB; method {a.method}")
    print(f"{'batch':>6} {'slices':>7} {'peak RSS MiB':>13} {'above 1 slice':>14} {'wall s':>8}")
    for c in cases:
        n = 1 if c["rows"] else a.slices
        print(f"{c['batch_slices']:>6} {n:>7} {c['peak_rss_mib']:>13.1f} {c['peak_rss_mib'] - base:>14.1f} "
              f"{c['wall_s']:>8.2f}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": info, "slices": a.slices, "size": a.size, "views": a.views,
                               "projections_mib": data_mib, "volume_mib": out_mib, "cases": cases}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
