"""Measure ways to clean LtI's visible part, tune them on validation phantoms, report on test phantoms.

LtI keeps the visible shearlet coefficients of the l1-shearlet reconstruction f_vis, with their
fine-scale noise. This script compares, on the shipped model (256², 120° in 1° steps, η = 1%):

``tv``, ``l1``, ``ltl``  TV, l1-shearlet (f_vis) and LtI as shipped
``a-l1tv``   a better visible solver: l1-shearlet plus a TV term, warm-started at f_vis; its visible
             coefficients replace f_vis's (the network still sees f_vis, as in training)
``b-rw``     reweighted l1 (Candès, Wakin, Boyd 2008) for the visible part, two reweighting rounds
``c-prior``  a data-consistent final step from f_ltl (:func:`ltl.solvers.refine.refine`):
             ``min_{f≥0} ½‖Af−y‖² + λ TV(f) + μ/2 ‖P_inv SH(f) − c_net‖²``
``c-warm``   the same without the prior (μ = 0): a short TV run warm-started at f_ltl
``d-shrink`` soft thresholding of the finest visible scales of f_vis, then a Tikhonov
             data-consistency step towards the shrunk image

Phantoms are simulated as ``ltl evaluate --phantom`` does (:func:`ltl.evaluation.shifted_scans`:
data from the 2× grid, 1% Gaussian noise seeded by the phantom seed): validation seeds from
10 000 for tuning, test seeds from 20 000 for the table. f_vis, the network's prediction, f_ltl
and TV are computed once per split and cached in an ``.npz``; every candidate starts from the cache.
Scores: RE, PSNR, SSIM, HaarPSI of the reconstruction clipped to [0, 1], per family mean ± std,
and paired wins against TV.

    python scripts/visible_part.py [--small] [--cache-dir DIR] [--out benchmarks/results/visible_part_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe, machine  # noqa: E402

from ltl.data.dataset import TEST_SEEDS, VAL_SEEDS  # noqa: E402
from ltl.evaluation.shift import shifted_scans  # noqa: E402
from ltl.metrics import all_metrics  # noqa: E402
from ltl.models import LtI  # noqa: E402
from ltl.models.shipped import default_checkpoint  # noqa: E402
from ltl.solvers import default_lambda_l1, shearlet_weights, tv  # noqa: E402
from ltl.solvers.refine import RefineSettings, refine, refine_parameters  # noqa: E402

FAMILIES = ("ellipses", "polygons", "anatomy", "low-contrast", "shepp-logan-variants", "natural")
METRICS = ("re", "psnr", "ssim", "haarpsi")
NOISE = 0.01


# --------------------------------------------------------------------------------------------
# the cache: f_vis, prediction, f_ltl, TV per split
# --------------------------------------------------------------------------------------------


def build_cache(model: LtI, split: str, families, count: int, path: Path, log=print) -> dict:
    """Simulate ``count`` scans per family of ``split`` and store everything the candidates need."""
    seed = VAL_SEEDS.start if split == "val" else TEST_SEEDS.start
    out = {k: [] for k in ("truth", "sino", "f_vis", "pred", "f_ltl", "tv")}
    fams, seeds, secs = [], [], {"f_vis": 0.0, "net": 0.0, "tv": 0.0}
    A = model.operator
    for fam in families:
        scan = shifted_scans(fam, model.geometry, count=count, noise=NOISE, seed=seed)
        y = scan.sinogram.float()
        t = time.perf_counter()
        f_vis = model.solve(y)
        secs["f_vis"] += time.perf_counter() - t
        t = time.perf_counter()
        with torch.no_grad():
            coeffs = model.frame.forward(f_vis)
            pred = model.predict(f_vis, coeffs)
            f_ltl = model.combine(f_vis, pred, coeffs=coeffs)
        secs["net"] += time.perf_counter() - t
        t = time.perf_counter()
        f_tv, _ = tv(A, y)
        secs["tv"] += time.perf_counter() - t
        for k, v in (("truth", scan.images), ("sino", y), ("f_vis", f_vis), ("pred", pred), ("f_ltl", f_ltl),
                     ("tv", f_tv)):
            out[k].append(v.float().cpu().numpy())
        fams += list(scan.meta["families"])
        seeds += list(scan.meta["seeds"])
        log(f"  {split} {fam}: {count} scans, f_vis/net/TV so far {secs['f_vis']:.0f}/{secs['net']:.0f}/"
            f"{secs['tv']:.0f} s", flush=True)
    arrays = {k: np.concatenate(v) for k, v in out.items()}
    np.savez(path, families=np.array(fams), seeds=np.array(seeds), seconds=json.dumps(secs), **arrays)
    return load_cache(path)


def load_cache(path: Path) -> dict:
    z = np.load(path)
    d = {k: torch.from_numpy(z[k]) for k in ("truth", "sino", "f_vis", "pred", "f_ltl", "tv")}
    d["families"] = [str(f) for f in z["families"]]
    d["seeds"] = [int(s) for s in z["seeds"]]
    d["seconds"] = json.loads(str(z["seconds"]))
    return d


# --------------------------------------------------------------------------------------------
# candidates: each maps (model, cache slice, parameters) to images (B, N, N)
# --------------------------------------------------------------------------------------------


def _l1_lam(model, y):
    return default_lambda_l1(model.operator, y, factor=model.solver_settings.get("lam_factor", 0.0625))


def cand_l1tv(model, c, *, tv, iters):
    """(a) l1-shearlet + α·TV from f_vis; its visible coefficients with the network's prediction."""
    y = c["sino"]
    lam_tv, _ = refine_parameters(model.operator, y, RefineSettings(lam_factor=tv, prior_factor=0.0))
    f, _ = refine(model.operator, y, c["f_vis"], tv_lam=lam_tv, frame=model.frame, l1_lam=_l1_lam(model, y),
                  iters=iters)
    return model.combine(f, c["pred"])


def cand_reweighted(model, c, *, gain, eps, rounds, iters):
    """(b) reweighted l1 from f_vis: w = gain·w_c·ε_c/(|SH f| + ε_c), ε_c = eps·RMS of SH(f_vis)'s channel c."""
    y, f = c["sino"], c["f_vis"]
    sh = model.frame.forward(f)
    e = eps * sh.square().mean(dim=(-2, -1), keepdim=True).sqrt().clamp_min(1e-12)
    wc = shearlet_weights(model.frame).view(1, -1, 1, 1)
    lam = _l1_lam(model, y)
    for _ in range(rounds):
        w = gain * wc * e / (model.frame.forward(f).abs() + e)
        f, _ = refine(model.operator, y, f, frame=model.frame, l1_lam=lam, l1_weights=w, iters=iters)
    return model.combine(f, c["pred"])


def cand_prior(model, c, *, reg="tv", lam, prior, iters):
    """(c) the data-consistent final step from f_ltl (LtI.refine); prior = 0: a warm-started TV run."""
    s = RefineSettings(reg=reg, lam_factor=lam, prior_factor=prior, iters=iters)
    return model.refine(c["sino"], c["f_ltl"], c["pred"], settings=s)


def _cg_tikhonov(A, y, f0, mu, iters):
    """argmin_f ½‖Af − y‖² + μ/2‖f − f0‖² by conjugate gradients from f0, batched."""
    b = y.shape[0]
    x = f0.clone()
    r = A.T(y - A(x))  # μ(f0 − x) = 0 at the start
    p = r.clone()
    rr = r.reshape(b, -1).square().sum(1)
    for _ in range(iters):
        q = A.T(A(p)) + mu * p
        alpha = rr / (p * q).reshape(b, -1).sum(1).clamp_min(1e-30)
        x += alpha.view(b, 1, 1) * p
        r -= alpha.view(b, 1, 1) * q
        rr_new = r.reshape(b, -1).square().sum(1)
        p = r + (rr_new / rr.clamp_min(1e-30)).view(b, 1, 1) * p
        rr = rr_new
    return x


def cand_shrink(model, c, *, t, dc, iters=15, min_scale=3):
    """(d) soft-threshold the visible channels of scale >= min_scale at t·σ̂_c (σ̂_c = MAD/0.6745 of the
    channel), combine with the prediction, then min ½‖Af−y‖² + μ/2‖f − f_d‖² (μ = dc·κ²), clipped."""
    coeffs = model.frame.forward(c["f_vis"])
    scales = torch.tensor([ch.scale for ch in model.frame.channels])
    sel = [int(i) for i in model.vis_index if int(scales[i]) >= min_scale]
    s = coeffs[:, sel]
    sig = s.abs().flatten(2).median(dim=2).values[..., None, None] / 0.6745
    coeffs[:, sel] = torch.sign(s) * (s.abs() - t * sig).clamp_min(0)
    coeffs[:, model.inv_index] = c["pred"]
    f_d = model.frame.adjoint(coeffs)
    kappa2 = float(model.operator.norm()) ** 2 / model.geometry.image_size  # κ² = ‖A‖²/N
    return _cg_tikhonov(model.operator, c["sino"], f_d, dc * kappa2, iters).clamp_min(0)


CANDIDATES = {"a-l1tv": cand_l1tv, "b-rw": cand_reweighted, "c-prior": cand_prior, "c-warm": cand_prior,
              "d-shrink": cand_shrink}
LABELS = {"tv": "TV", "l1": "l1-shearlet (f_vis)", "ltl": "LtI (as shipped)",
          "a-l1tv": "(a) l1 + TV visible solver", "b-rw": "(b) reweighted l1 visible",
          "c-prior": "(c) final step: TV + prior on predicted channels", "c-warm": "(c0) final step: TV warm start, no prior",
          "d-shrink": "(d) shrink fine visible scales + data consistency"}


#: A one-off check on 4 validation slices (seeds 10000 ellipses, 10000 polygons, 10000 anatomy,
#: 10000 natural) of the chosen step (λ factor 1, μ factor 0.3): relative distance to the
#: 300-iteration result and mean PSNR/SSIM after 30/60/100/300 iterations.
CONVERGENCE_NOTE = {
    "iterations": [30, 60, 100, 300], "distance_to_300": [0.0372, 0.0177, 0.0078, 0.0],
    "psnr": [31.86, 32.34, 32.51, 32.58], "ssim": [0.9144, 0.9227, 0.9260, 0.9278],
    "why": "the minimiser beats the early-stopped iterate; 100 iterations reach it to within 1% (0.07 dB); "
           "the test run uses 100 iterations, the default of RefineSettings"}


def grids(small: bool) -> dict:
    """Tuning grids per candidate (stage 2 of c-prior refines λ at the best μ)."""
    if small:
        return {"a-l1tv": [dict(tv=0.5, iters=20)], "b-rw": [dict(gain=2.0, eps=1.0, rounds=1, iters=20)],
                "c-prior": [dict(lam=1.0, prior=3.0, iters=20)], "c-warm": [dict(lam=1.0, prior=0.0, iters=20)],
                "d-shrink": [dict(t=2.0, dc=1.0)]}
    return {"c-prior": [dict(lam=lam, prior=m, iters=60) for lam, m in ((1.0, 0.3), (1.0, 3.0), (1.0, 0.1), (2.0, 0.3))],
            "c-warm": [dict(lam=1.0, prior=0.0, iters=60)],
            "d-shrink": [dict(t=t, dc=m) for t, m in ((1.0, 1.0), (2.0, 1.0), (2.0, 30.0))],
            "a-l1tv": [dict(tv=0.5, iters=40)],
            "b-rw": [dict(gain=2.0, eps=1.0, rounds=2, iters=20)]}


# --------------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------------


def score(x: torch.Tensor, truth: torch.Tensor) -> dict:
    m = all_metrics(x.clamp(0, 1), truth)
    return {k: [float(v) for v in m[k]] for k in METRICS}


def run_candidate(model, cache, name, params, batch) -> tuple[dict, float]:
    fn = CANDIDATES[name]
    outs, t = [], time.perf_counter()
    n = cache["sino"].shape[0]
    with torch.no_grad():
        for a in range(0, n, batch):
            c = {k: cache[k][a:a + batch] for k in ("sino", "f_vis", "pred", "f_ltl")}
            outs.append(fn(model, c, **params))
    x = torch.cat(outs)
    return score(x, cache["truth"]), (time.perf_counter() - t) / n


def mean(v):
    return float(np.mean(v))


def summarise(scores: dict, families: list) -> dict:
    """Per family and over all: mean ± std (ddof 1) of every metric."""
    out = {}
    for fam in [*dict.fromkeys(families), "all"]:
        idx = [i for i, f in enumerate(families) if fam == "all" or f == fam]
        out[fam] = {k: {"mean": mean([scores[k][i] for i in idx]),
                        "std": float(np.std([scores[k][i] for i in idx], ddof=1)) if len(idx) > 1 else 0.0,
                        "n": len(idx)} for k in METRICS}
    return out


def wins(scores: dict, ref: dict, families: list) -> dict:
    """Paired wins against ``ref`` per family and over all (RE: lower wins)."""
    out = {}
    for fam in [*dict.fromkeys(families), "all"]:
        idx = [i for i, f in enumerate(families) if fam == "all" or f == fam]
        out[fam] = {k: int(sum((scores[k][i] < ref[k][i]) if k == "re" else (scores[k][i] > ref[k][i]) for i in idx))
                    for k in METRICS} | {"n": len(idx)}
    return out


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------


def tune(model, cache, grid, state_dir: Path, prefix: str, batch: int, log=print) -> dict:
    """Every grid point of every candidate on the validation cache; resumes from one JSON file per
    candidate in ``state_dir`` (so that candidates can be tuned by parallel runs)."""
    state = {}
    for name in grid:
        f = state_dir / f"{prefix}-{name}.json"
        state[name] = json.loads(f.read_text()) if f.exists() else {}

    def one(name, params):
        key = json.dumps(params, sort_keys=True)
        if key not in state[name]:
            sc, sec = run_candidate(model, cache, name, params, batch)
            state[name][key] = {"name": name, "params": params, "scores": sc, "seconds_per_slice": sec}
            (state_dir / f"{prefix}-{name}.json").write_text(json.dumps(state[name], indent=1))
        r = state[name][key]
        log(f"  val {name:9s} {json.dumps(params, sort_keys=True):55s} PSNR {mean(r['scores']['psnr']):6.2f}  SSIM "
            f"{mean(r['scores']['ssim']):.4f}  RE {mean(r['scores']['re']):.4f}  ({r['seconds_per_slice']:.1f} s/slice)",
            flush=True)
        return r

    best = {}
    for name, points in grid.items():
        rs = [one(name, p) for p in points]
        if name == "c-prior" and len(points) > 1:  # stage 2: a smaller λ at the best μ
            m = max(rs, key=lambda r: mean(r["scores"]["psnr"]))["params"]
            rs += [one(name, dict(m, lam=0.5))]
        best[name] = max(rs, key=lambda r: mean(r["scores"]["psnr"]))
    return {"points": [r for v in state.values() for r in v.values()], "best": {k: v["params"] for k, v in best.items()}}


def table(summary: dict, win: dict, families: list) -> str:
    rows = ["| family | method | RE | PSNR (dB) | SSIM | HaarPSI | wins vs TV (PSNR / SSIM) |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for fam in [*dict.fromkeys(families), "all"]:
        for name, s in summary.items():
            v = s[fam]
            w = win[name][fam]
            cell = "—" if name == "tv" else f"{w['psnr']}/{w['n']} · {w['ssim']}/{w['n']}"
            rows.append(f"| {fam} | {LABELS[name]} | {v['re']['mean']:.4f} ± {v['re']['std']:.4f} | "
                        f"{v['psnr']['mean']:.2f} ± {v['psnr']['std']:.2f} | {v['ssim']['mean']:.4f} ± "
                        f"{v['ssim']['std']:.4f} | {v['haarpsi']['mean']:.4f} ± {v['haarpsi']['std']:.4f} | {cell} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", action="store_true", help="a quick run: 2 families, 1 image each, one point per grid")
    p.add_argument("--val-count", type=int, default=None, help="validation images per family (default 2; 1 small)")
    p.add_argument("--test-count", type=int, default=None, help="test images per family (default 3; 1 small)")
    p.add_argument("--families", default=None, help=f"comma-separated (default {','.join(FAMILIES)})")
    p.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "ltl-visible-part"))
    p.add_argument("--only-cache", choices=("val", "test"), help="only build one split's cache (to run in parallel)")
    p.add_argument("--only-tune", action="store_true", help="only tune on the validation cache")
    p.add_argument("--candidates", default=None, help=f"comma-separated subset of {','.join(CANDIDATES)}")
    p.add_argument("--test-candidates", default=None,
                   help="candidates to score on the test phantoms (default all tuned ones)")
    p.add_argument("--batch", type=int, default=6, help="slices per solver call")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="JSON output (default benchmarks/results/visible_part_cpu.json; "
                   "visible_part_small.json with --small)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    fams = (a.families.split(",") if a.families else (["ellipses", "polygons"] if a.small else list(FAMILIES)))
    nval = a.val_count or (1 if a.small else 2)
    ntest = a.test_count or (1 if a.small else 3)
    d = Path(a.cache_dir)
    d.mkdir(parents=True, exist_ok=True)
    tag = f"{'-'.join(fams)}"
    model = LtI.load(default_checkpoint())
    caches = {}
    for split, count in (("val", nval), ("test", ntest)):
        if a.only_cache not in (None, split) or (a.only_tune and split == "test"):
            continue
        path = d / (f"{split}-{count}.npz" if fams == list(FAMILIES) else f"{split}-{count}-{tag}.npz")
        if path.exists():
            caches[split] = load_cache(path)
        else:
            print(f"building the {split} cache ({count} per family) in {path}", flush=True)
            caches[split] = build_cache(model, split, fams, count, path)
    if a.only_cache:
        return 0
    info = machine()
    print(f"machine: {describe(info)}; torch threads {a.threads}", flush=True)
    grid = grids(a.small)
    if a.candidates:
        grid = {k: v for k, v in grid.items() if k in a.candidates.split(",")}
    prefix = f"tune-{nval}" + ("" if fams == list(FAMILIES) else f"-{tag}") + ("-small" if a.small else "")
    tuned = tune(model, caches["val"], grid, d, prefix, a.batch)
    if a.only_tune:
        return 0
    test = caches["test"]
    scores = {"tv": score(test["tv"], test["truth"]), "l1": score(test["f_vis"], test["truth"]),
              "ltl": score(test["f_ltl"], test["truth"])}
    seconds = {"cache": test["seconds"]}
    for name, params in tuned["best"].items():
        if a.test_candidates is not None and name not in a.test_candidates.split(","):
            continue
        if name == "c-prior":  # the implemented default runs longer than the tuning runs (see the notes)
            params = dict(params, iters=RefineSettings().iters)
        print(f"test {name} {params}", flush=True)
        scores[name], seconds[name] = run_candidate(model, test, name, params, a.batch)
    fam = test["families"]
    summary = {k: summarise(v, fam) for k, v in scores.items()}
    win = {k: wins(v, scores["tv"], fam) for k, v in scores.items()}
    print(table(summary, win, fam))
    from ltl import __version__

    res = {"what": "visible part of LtI: candidates tuned on validation phantoms, scored on test phantoms",
           "machine": info, "torch_threads": a.threads, "ltl_version": __version__,
           "geometry": model.geometry.to_dict(), "geometry_description": model.geometry.describe(),
           "model": {"checkpoint": "data/demo-model", "solver": model.solver_settings,
                     "trained_on": model.provenance.get("train_data", {}).get("settings", {}).get("phantom")},
           "noise": NOISE, "families": fams, "oversample": 2,
           "val": {"seeds": caches["val"]["seeds"], "families": caches["val"]["families"]},
           "test": {"seeds": test["seeds"], "families": fam},
           "selection": "per candidate, the grid point with the best mean validation PSNR",
           "grid": grid, "tuning": tuned, "labels": LABELS,
           "refine_defaults": RefineSettings().to_dict(),
           "tested_params": {k: (dict(v, iters=RefineSettings().iters) if k == "c-prior" else v)
                             for k, v in tuned["best"].items()},
           "notes": CONVERGENCE_NOTE,
           "test_scores": scores, "summary": summary, "wins_vs_tv": win, "seconds_per_slice": seconds}
    out = Path(a.out or ("benchmarks/results/visible_part_small.json" if a.small
                         else "benchmarks/results/visible_part_cpu.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
