"""Rate–distortion areas of RDE and the baselines over held-out scans, with the demo model.

    python scripts/rde_areas.py [--checkpoint data/demo-model] [--count 20] [--steps 300] [--samples 16]
                                [--roi r0,c0,r1,c1] [--device cuda] [--out results/rde_areas.json]

Simulates ``--count`` random ellipse scans with test seeds (20000..) at the model's geometry and
noise level, reconstructs f_vis with the model's l1 step, and explains the network's contribution
with :func:`ltl.explain.explain_lti`: RDE and every baseline, each scored by the area under its
relevance-ordering curve (lower is better). Prints a table (mean ± std of the areas, how often each
method has the lowest area, seconds per explanation) and writes JSON with the per-scan areas,
the settings and the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ltl import __version__
from ltl.cli.explain import parse_roi
from ltl.data import simulate_phantoms
from ltl.explain import DOMAINS, RDESettings, explain_lti

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _lti import load_lti  # noqa: E402
from _machine import machine  # noqa: E402


def main(argv=None) -> int:
    d = RDESettings
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None, help="LtI model directory [the shipped demo model]")
    p.add_argument("--count", type=int, default=20, help="number of scans [20]")
    p.add_argument("--first-seed", type=int, default=20000, help="seed of the first scan [20000]")
    p.add_argument("--steps", type=int, default=d.steps, help=f"RDE's Adam steps [{d.steps}]")
    p.add_argument("--samples", type=int, default=d.samples, help=f"noise draws per step and point [{d.samples}]")
    p.add_argument("--points", type=int, default=d.points, help=f"points of the ordering curves [{d.points}]")
    p.add_argument("--domain", default=d.domain, choices=DOMAINS, help=f"RDE's mask domain [{d.domain}]")
    p.add_argument("--lam", type=float, default=d.lam, help=f"RDE's λ [{d.lam:g}]")
    p.add_argument("--roi", default=None, help="r0,c0,r1,c1 [the whole image]")
    p.add_argument("--device", default=None, help="torch device [cpu]")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed of the noise and the baselines [{d.seed}]")
    p.add_argument("--out", default="results/rde_areas.json", help="JSON output [results/rde_areas.json]")
    a = p.parse_args(argv)
    if a.count < 1:
        p.error(f"--count must be >= 1, got {a.count}")
    try:
        rde_settings = RDESettings(domain=a.domain, lam=a.lam, steps=a.steps, samples=a.samples, seed=a.seed,
                                   points=a.points)
        roi = parse_roi(a.roi) if a.roi else None
    except ValueError as exc:
        p.error(str(exc))

    model, ckpt, dev, data = load_lti(a.checkpoint, a.device)
    noise = float(data.get("noise", 0.01))
    settings = {"count": a.count, "first_seed": a.first_seed, **rde_settings.to_dict(), "roi": roi}
    per_scan, seconds = [], []
    for i in range(a.count):
        s = a.first_seed + i
        scan = simulate_phantoms("ellipses", model.geometry, count=1, noise=noise, seed=s)
        with torch.no_grad():
            f_vis = model.solve(scan.sinogram.to(dev))[0]
        t0 = time.perf_counter()
        ex = explain_lti(model, f_vis, rde_settings, roi=roi)
        seconds.append(time.perf_counter() - t0)
        areas = {k: float(c.area) for k, c in ex.curves.items()}
        per_scan.append({"seed": s, "areas": areas, "rde_seconds": ex.rde.seconds, "seconds": seconds[-1]})
        print(f"seed {s}: " + ", ".join(f"{k} {v:.4f}" for k, v in areas.items()) + f" ({seconds[-1]:.1f} s)", flush=True)
    methods = list(per_scan[0]["areas"])
    table = {}
    for m in methods:
        v = np.array([r["areas"][m] for r in per_scan])
        wins = sum(1 for r in per_scan if min(r["areas"], key=r["areas"].get) == m)
        table[m] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "lowest_on": wins}
    print("\n| method | area (mean ± std) | lowest on |\n|---|---|---|")
    for m, t in table.items():
        print(f"| {m} | {t['mean']:.4f} ± {t['std']:.4f} | {t['lowest_on']}/{len(per_scan)} |")
    print(f"seconds per explanation: {np.mean(seconds):.1f} (RDE {np.mean([r['rde_seconds'] for r in per_scan]):.1f}) on {dev}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"checkpoint": str(ckpt), "ltl_version": __version__, "machine": machine(),
                               "device": str(dev), "settings": settings, "summary": table,
                               "per_scan": per_scan}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
