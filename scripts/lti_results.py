"""LtI against the model-based methods on held-out phantoms: a results table (mean ± std).

    python scripts/lti_results.py [--checkpoint data/demo-model] [--count 50] [--out results/lti_results.json]

Two test sets, both simulated with the checkpoint's geometry from a 2× finer grid (no inverse
crime) with the noise level of its training data:

* ``ellipses``: random ellipse phantoms with seeds 20000.. (the test range; training uses seeds
  below 10000 and validation 10000..19999, so none of these was seen in training);
* ``shepp-logan``: the Shepp–Logan phantom rotated by 0°, 30°, ..., 150° (rotation moves
  different edges into the missing wedge); never in training.

Methods: FBP (Hann), TV (default λ), l1-shearlet (the model's own f_vis step) and LtI, run through
:class:`ltl.evaluation.Pipeline` (times per slice include LtI's l1 step). Prints
Markdown tables of RE, PSNR, SSIM and HaarPSI (mean ± std over the images) and seconds per slice,
and writes JSON with the per-image values, the checkpoint's provenance and the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _lti import load_lti  # noqa: E402
from _machine import machine  # noqa: E402

KEYS = ("re", "psnr", "ssim", "haarpsi")


def rotated_shepp_logan(n: int, oversample: int, angles_deg) -> torch.Tensor:
    """Shepp–Logan on the fine grid, rotated by each angle (linear interpolation), ``(K, kN, kN)``."""
    from skimage.transform import rotate

    from ltl.data import shepp_logan

    base = shepp_logan(n, oversample=oversample)[0].numpy()
    out = [np.clip(rotate(base, float(a), order=1, mode="constant", cval=0.0), 0, 1) for a in angles_deg]
    return torch.from_numpy(np.stack(out).astype(np.float32))


#: Report rows → registry methods (run through ltl.evaluation.Pipeline, the code `ltl evaluate` runs).
ROWS = {"FBP": "fbp", "TV": "tv", "l1-shearlet": "l1", "LtI": "ltl"}


def run_set(name, scan, model, noise, batch):
    from ltl.evaluation import Pipeline
    from ltl.metrics import all_metrics

    y_all, truth = scan.sinogram, scan.images
    pipe = Pipeline(model.geometry, list(ROWS.values()), models={"ltl": model}, settings={"tv": {"noise": noise}},
                    device=model.device)
    pipe.warm_up(y_all[:1])
    recs = {k: [] for k in ROWS}
    secs = {k: 0.0 for k in ROWS}
    for a in range(0, y_all.shape[0], batch):
        res = pipe.run(y_all[a:a + batch])
        for k, m in ROWS.items():
            x, dt = res[m]
            recs[k].append(x.cpu())
            secs[k] += dt
        print(f"  {name}: {min(a + batch, y_all.shape[0])}/{y_all.shape[0]}", flush=True)
    m = y_all.shape[0]
    out = {}
    for k, v in recs.items():
        rec = torch.cat(v).clamp(0, 1)
        met = {mk: mv.double().numpy() for mk, mv in all_metrics(rec, truth).items()}
        out[k] = {"per_image": {mk: mv.tolist() for mk, mv in met.items()},
                  "mean": {mk: float(mv.mean()) for mk, mv in met.items()},
                  "std": {mk: float(mv.std(ddof=1)) if m > 1 else 0.0 for mk, mv in met.items()},
                  "seconds_per_slice": secs[k] / m}
    return out


def table(res) -> str:
    lines = ["| method | RE | PSNR (dB) | SSIM | HaarPSI | s/slice |", "|---|---|---|---|---|---|"]
    for k, v in res.items():
        cells = [f"{v['mean'][mk]:.4f} ± {v['std'][mk]:.4f}" if mk != "psnr" else f"{v['mean'][mk]:.2f} ± {v['std'][mk]:.2f}"
                 for mk in KEYS]
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {v['seconds_per_slice']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None, help="LtI model directory [the shipped demo model]")
    p.add_argument("--count", type=int, default=50, help="test ellipse phantoms [50]")
    p.add_argument("--first-seed", type=int, default=20000)
    p.add_argument("--rotations", default="0,30,60,90,120,150", help="Shepp–Logan rotations in degrees")
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--device", default=None)
    p.add_argument("--out", default="results/lti_results.json")
    a = p.parse_args(argv)

    from ltl import __version__
    from ltl.data import random_ellipses, simulate

    model, ckpt, dev, data = load_lti(a.checkpoint, a.device)
    g = model.geometry
    noise = float(data.get("noise", 0.01))
    over = int(data.get("oversample", 2))
    print(f"checkpoint {ckpt}: {g.describe()}, noise {noise}, device {dev}")
    sets = {
        "ellipses": simulate(random_ellipses(a.count, g.image_size, seed=a.first_seed, oversample=over), g,
                             oversample=over, noise=noise, seed=a.first_seed),
        "shepp-logan": simulate(rotated_shepp_logan(g.image_size, over, [float(r) for r in a.rotations.split(",")]),
                                g, oversample=over, noise=noise, seed=1),
    }
    report = {"checkpoint": str(ckpt), "ltl_version": __version__, "machine": machine(), "device": str(dev),
              "geometry": g.to_dict(), "noise": noise, "ellipse_seeds": [a.first_seed, a.first_seed + a.count],
              "shepp_logan_rotations_deg": a.rotations, "noise_seeds": {"ellipses": a.first_seed, "shepp-logan": 1},
              "model_provenance": model.provenance, "sets": {}}
    for name, scan in sets.items():
        res = run_set(name, scan, model, noise, a.batch)
        report["sets"][name] = res
        print(f"\n{name} ({scan.sinogram.shape[0]} images)\n{table(res)}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
