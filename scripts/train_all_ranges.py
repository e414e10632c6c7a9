"""Make the shipped models for every standard wedge in one resumable run: data, training, evaluation, install.

    python scripts/train_all_ranges.py --dry-run                  # the plan and its time estimate
    python scripts/train_all_ranges.py [--out out/train-all-ranges] [--stop-after-minutes 9] [--export DIR]
    python scripts/train_all_ranges.py --small --out /tmp/small     # the whole chain on the CPU, tiny sizes

What it does, in this order (each step skipped when the run's ``summary.json`` marks it done):

1. per range (120°, 90°, 60°, 150°; 256², 1° steps, centre 0°, 1% noise): the training set of
   mixed phantoms, every family but the two held out (``ltl dataset make --phantom
   mix:all,-vessels,-natural --count 1280 --val-count 64 --chunk 64``; seeds 0.., validation
   10000..), then LtI on it (``ltl train --amp --preload --width 16 --depth 4 --batch-size 32
   --lr 2e-3 --epochs 20``);
2. the equal-budget baselines at 120° and 90°, on the same data with the same loop, settings and
   epochs: LtI without the split (``--model ltl-nosplit``), FBPConvNet (``postproc-fbp``) and
   l1 + U-Net (``postproc-l1``);
3. per range, ``ltl evaluate`` on scans of every family (6 of each, test seeds 20000..):
   FBP, TV, l1-shearlet, LtI and (at 120°, 90°) the baselines; the report splits the families
   into those the models saw and the held-out vessels and natural images, with paired wins
   against TV; the script adds paired wins of LtI against l1 + U-Net;
4. installs the LtI models (``--ship``: more kinds) into the shipped-model index (``data/models``
   of this checkout; ``ltl.models.install_model``: compact half-precision ``model.npz``, hashes,
   held-out scores), where ``ltl.models.model_for`` and ``ltl models`` find them.

Everything runs in this one process (the library calls behind the commands above, which are
written to ``summary.json`` as the equivalent command lines), so CUDA and ASTRA start once.

Budget (13 minutes on one GPU, in one or two calls of at most 10 minutes)
--------------------------------------------------------------------------
Rates assumed from the demo model's run on one H100 (``data/demo-model/summary.json``; an H200 is
assumed at least as fast): data 37.3 samples/s (l1-shearlet, 300 iterations at most, 120 views,
chunks of 64; fewer views are cheaper), training 1552 samples/s (width 16, batch 32, AMP, data on
the device) plus 1.1 s per epoch for validation and checkpoints (its 53 epochs took 272 s, 212 s
of them in steps). Hence:

=================  ====================================================  =========
data               4 × ((1280 + 64) / 37.3 s + 5 s set-up)               2.7 min
training           10 models × (20 × (1280 / 1552 + 1.1) s + 5 s)        7.3 min
evaluation         4 × ~30 s (48 scans, 8 methods; TV and l1 on the GPU)  2.0 min
start, install     CUDA/ASTRA start, operator check, compaction          0.6 min
total                                                                   12.6 min
=================  ====================================================  =========

The evaluation time is a guess (no GPU figure for TV on 48 scans of 256² was at hand); the rest
follows from measured rates. Sizes that fit a smaller budget: ``--count 1024 --epochs 16`` (about
10.1 min by ``--dry-run``).

``--dry-run`` prints this estimate for the options given; the run records the measured rates
(samples/s of data making and of training, minutes per model) in ``summary.json`` next to the
assumed ones, so the next run can be sized from them.

Resuming: every call continues where the last stopped. A step that would not finish before
``--stop-after-minutes`` (default 9, under a 10-minute command limit) is not started; a running
data step stops after its last chunk that fits and a training run after its last epoch that fits
(``ltl train --resume`` semantics: the checkpoint of each epoch, the cosine schedule of the planned
length), and the script exits with status 3: run the same command again. Status 0: all done.
The run folder (default ``out/train-all-ranges``, ignored by git) holds ``data/`` (the HDF5
sets, ~0.7 GB per range at 256²), ``runs/<kind>-<range>/`` (``ltl train`` run folders),
``eval/<range>/`` (``ltl evaluate`` reports) and ``summary.json``. ``--export DIR`` copies what is
worth keeping (summary, reports without the reconstructions, training logs, installed models) to
DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Rates the plan is sized by (the demo model's H100 run, data/demo-model/summary.json).
ASSUMED = {"data_samples_per_s": 37.3, "train_samples_per_s": 1552.0, "epoch_overhead_s": 1.1,
           "step_setup_s": 5.0, "eval_s_per_range": 30.0, "start_s": 30.0,
           "source": "data/demo-model/summary.json: one NVIDIA H100, 256², 120 views, width 16, batch 32, AMP"}
#: Rates for --small on a CPU (2 cores), only to size the deadline checks.
ASSUMED_SMALL = {"data_samples_per_s": 20.0, "train_samples_per_s": 200.0, "epoch_overhead_s": 0.5,
                 "step_setup_s": 1.0, "eval_s_per_range": 10.0, "start_s": 2.0, "source": "--small, CPU"}
BASELINES = ("ltl-nosplit", "postproc-fbp", "postproc-l1")
HELD_OUT = ("vessels", "natural")
EXIT_UNFINISHED = 3


@dataclass(frozen=True)
class Plan:
    """The sizes of a run; stored in ``summary.json`` and checked on every later call."""

    size: int = 256
    step: float = 1.0
    ranges: tuple = (120.0, 90.0, 60.0, 150.0)
    baseline_ranges: tuple = (120.0, 90.0)
    noise: float = 0.01
    phantom: str = "mix:all,-vessels,-natural"
    count: int = 1280
    val_count: int = 64
    chunk: int = 64
    l1: dict | None = None  # l1-shearlet settings of the data (None: the solver's defaults)
    epochs: int = 20
    width: int = 16
    depth: int = 4
    batch_size: int = 32
    lr: float = 2e-3
    seed: int = 0
    eval_count: int = 6
    eval_iters: int | None = None  # TV/SIRT iterations in the evaluation (None: the solvers' defaults)
    montage: int = 3

    def to_json(self) -> dict:
        return json.loads(json.dumps(asdict(self)))


SMALL = dict(size=32, step=3.0, count=16, val_count=4, chunk=8, l1={"iters": 10, "tol": 0.0}, epochs=2, width=4,
             depth=2, batch_size=4, eval_count=1, eval_iters=10, montage=1)


class OutOfTime(Exception):
    """The next unit of work would not finish before the call's deadline."""


@dataclass
class Deadline:
    """The end of this call's time: ``should_stop(unit_s)`` when less than 1.3 units (+ 2 s) are left."""

    end: float
    clock: object = time.monotonic

    def left(self) -> float:
        return self.end - self.clock()

    def should_stop(self, unit_s: float) -> bool:
        return self.left() < 1.3 * unit_s + 2.0


@dataclass
class Step:
    name: str
    kind: str  # data | train | eval | install
    range_deg: float | None = None
    model: str | None = None
    needs: list = field(default_factory=list)


def _fmt(x: float) -> str:
    return f"{x:g}"


def steps_of(plan: Plan, ship: tuple[str, ...]) -> list[Step]:
    """The steps in order: per range data then LtI, the baselines, the evaluations, the install."""
    out = []
    for r in plan.ranges:
        data = f"data-{_fmt(r)}"
        out += [Step(data, "data", r), Step(f"train-ltl-{_fmt(r)}", "train", r, "ltl", [data])]
    for r in plan.baseline_ranges:
        out += [Step(f"train-{m}-{_fmt(r)}", "train", r, m, [f"data-{_fmt(r)}"]) for m in BASELINES]
    for r in plan.ranges:
        models = ["ltl"] + (list(BASELINES) if r in plan.baseline_ranges else [])
    # LtI as the paper has it and with ltl's data-consistent final step (same model, same --checkpoint)
        out.append(Step(f"eval-{_fmt(r)}", "eval", r, None, [f"train-{m}-{_fmt(r)}" for m in models]))
    out.append(Step("install", "install", None, None, [s.name for s in out if s.kind == "eval"]))
    return out


def estimate(plan: Plan, step: Step, rates: dict) -> float:
    """Seconds a step is expected to take at ``rates``."""
    if step.kind == "data":
        return (plan.count + plan.val_count) / rates["data_samples_per_s"] + rates["step_setup_s"]
    if step.kind == "train":
        epoch = plan.count / rates["train_samples_per_s"] + rates["epoch_overhead_s"]
        return plan.epochs * epoch + rates["step_setup_s"]
    if step.kind == "eval":
        return rates["eval_s_per_range"]
    return 5.0


def first_unit(plan: Plan, step: Step, rates: dict) -> float:
    """Seconds before a step has done its first resumable unit (a chunk, an epoch; a whole evaluation)."""
    if step.kind == "data":
        return plan.chunk / rates["data_samples_per_s"] + rates["step_setup_s"]
    if step.kind == "train":
        return plan.count / rates["train_samples_per_s"] + rates["epoch_overhead_s"] + rates["step_setup_s"]
    return estimate(plan, step, rates)


# ---------------------------------------------------------------------------------------------- paths
def geometry_of(plan: Plan, r: float):
    from ltl import Geometry

    return Geometry.limited_angle(plan.size, angular_range_deg=r, step_deg=plan.step)


def data_path(out: Path, r: float) -> Path:
    return out / "data" / f"{_fmt(r)}deg.h5"


def run_path(out: Path, model: str, r: float) -> Path:
    return out / "runs" / f"{model}-{_fmt(r)}"


def eval_path(out: Path, r: float) -> Path:
    return out / "eval" / f"{_fmt(r)}deg"


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------- steps
def run_data(plan: Plan, out: Path, r: float, device, deadline: Deadline, rates: dict) -> dict:
    """The training set of range ``r`` (resumed chunk by chunk); returns its record."""
    from ltl.data.dataset import make_dataset

    path = data_path(out, r)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamps: list = []
    per_chunk = plan.chunk / rates["data_samples_per_s"]

    def callback(k, a, b):
        stamps.append((time.perf_counter(), b - a))
        unit = (stamps[-1][0] - stamps[-2][0]) if len(stamps) > 1 else per_chunk
        if deadline.should_stop(unit):
            raise OutOfTime(f"data {r:g}°: stopped after chunk {k}")

    t0 = time.perf_counter()
    rec = {"file": str(path.relative_to(out)), "samples_planned": plan.count + plan.val_count,
           "command": (f"ltl dataset make --out {path} --phantom '{plan.phantom}' --count {plan.count} --val-count "
                       f"{plan.val_count} --size {plan.size} --range {_fmt(r)} --step {_fmt(plan.step)} --noise "
                       f"{plan.noise:g} --chunk {plan.chunk}"
                       + "".join(f" --{k} {v:g}" for k, v in (plan.l1 or {}).items()))}
    try:
        make_dataset(path, phantom=plan.phantom, count=plan.count, val_count=plan.val_count, seed=plan.seed,
                     geometry=geometry_of(plan, r), noise=plan.noise, chunk=plan.chunk, solver_settings=plan.l1,
                     device=device, progress=False, callback=callback)
        rec["done"] = True
    except OutOfTime:
        rec["done"] = False
    rec["seconds"] = time.perf_counter() - t0
    rec["samples_this_call"] = sum(n for _, n in stamps)
    rec["samples_per_s"] = rec["samples_this_call"] / rec["seconds"] if rec["seconds"] > 0 else None
    if len(stamps) > 1:  # after the first chunk (which pays for FFT plans, projectors, ‖A‖)
        rec["samples_per_s_warm"] = sum(n for _, n in stamps[1:]) / (stamps[-1][0] - stamps[0][0])
    return rec


def train_config(plan: Plan, out: Path, model: str, r: float, device):
    from ltl.training import TrainConfig

    return TrainConfig(data=str(data_path(out, r)), out=str(run_path(out, model, r)), model=model, epochs=plan.epochs,
                       batch_size=plan.batch_size, lr=plan.lr, width=plan.width, depth=plan.depth, amp=True,
                       preload=True, seed=plan.seed, progress=False, device=str(device), resume=True)


def run_train(plan: Plan, out: Path, model: str, r: float, device, deadline: Deadline, rates: dict) -> dict:
    """Train (or resume) one model; stops after the last epoch that fits before the deadline."""
    from ltl.training import train

    cfg = train_config(plan, out, model, r, device)
    rows: list = []
    unit = plan.count / rates["train_samples_per_s"] + rates["epoch_overhead_s"]

    def callback(epoch, row):
        rows.append(row)
        if epoch < plan.epochs and deadline.should_stop(row.get("seconds") or unit):
            raise OutOfTime(f"{model} {r:g}°: stopped after epoch {epoch}")

    t0 = time.perf_counter()
    rec = {"run": str(run_path(out, model, r).relative_to(out)),
           "command": (f"ltl train --data {cfg.data} --out {cfg.out} --model {model} --epochs {plan.epochs} "
                       f"--batch-size {plan.batch_size} --lr {plan.lr:g} --width {plan.width} --depth {plan.depth} "
                       f"--amp --preload --seed {plan.seed}  (again with --resume to continue)")}
    try:
        res = train(cfg, callback=callback)
        rec["done"] = bool(res.history) and res.history[-1]["epoch"] >= plan.epochs
        history = res.history
    except OutOfTime:
        rec["done"] = False
        history = rows
    rec["seconds"] = time.perf_counter() - t0
    rec["epochs_this_call"] = len(rows)
    if rows:
        rec["samples_per_s"] = sum(x["samples_per_s"] for x in rows) / len(rows)
        rec["epoch_seconds"] = sum(x["seconds"] for x in rows) / len(rows)
    if history:
        last = history[-1]
        rec["epochs_done"] = last["epoch"]
        rec["last"] = {k: last[k] for k in ("epoch", "train_loss", "val_loss", "val_psnr", "val_ssim", "fvis_psnr",
                                            "fvis_ssim") if k in last}
    return rec


def _mean_std(s: dict) -> list | None:
    return None if s.get("mean") is None else [s["mean"], s["std"]]


def paired_wins(per_image: list, method: str, reference: str, families: set | None = None) -> dict | None:
    """Images where ``method`` beats ``reference`` in PSNR and in SSIM (strictly), among ``families``."""
    by = {}
    for row in per_image:
        if families is None or row.get("family") in families:
            by.setdefault(row["image"], {})[row["method"]] = row
    pairs = [(v[method], v[reference]) for v in by.values() if method in v and reference in v]
    if not pairs:
        return None
    wins = {q: sum(a[q] is not None and b[q] is not None and a[q] > b[q] for a, b in pairs) for q in ("psnr", "ssim")}
    return dict(wins, n=len(pairs))


def scores_of(results: dict) -> dict:
    """The held-out and in-distribution scores of an ``ltl evaluate`` report (results.json), per method:
    ``[mean, std]`` of PSNR (dB), SSIM and RE; paired wins against TV and LtI's against l1 + U-Net."""
    fam = results.get("families") or {}
    groups = fam.get("groups") or {}
    out = {}
    for key in ("held_out", "in_distribution"):
        g = groups.get(key)
        if not g:
            continue
        chosen = set(g["families"])
        rec = {"families": g["families"], "images": g["images"],
               "methods": {m: {q: _mean_std(s) for q, s in qs.items() if q in ("psnr", "ssim", "re")}
                           for m, qs in g["summary"].items()},
               "wins_vs_tv": g.get("wins_vs_tv")}
        for lti in ("ltl", "ltl-refined"):
            wins = paired_wins(results.get("per_image") or [], lti, "postproc-l1", chosen)
            if wins is not None:
                rec[f"{lti}_wins_vs_postproc_l1"] = wins
        out[key] = rec
    out["by_family"] = {f: {m: {q: _mean_std(s) for q, s in qs.items() if q in ("psnr", "ssim")}
                            for m, qs in b["summary"].items()} for f, b in (fam.get("by_family") or {}).items()}
    return out


def run_eval(plan: Plan, out: Path, r: float, device) -> dict:
    """``ltl evaluate`` of range ``r``'s models on every family; returns the scores."""
    from ltl.cli import main as ltl
    from ltl.data.phantoms import FAMILIES

    models = ["ltl"] + (list(BASELINES) if r in plan.baseline_ranges else [])
    # LtI as the paper has it and with ltl's data-consistent final step (same model, same --checkpoint)
    flags = {"ltl": "--checkpoint", "postproc-fbp": "--checkpoint-postproc-fbp",
             "postproc-l1": "--checkpoint-postproc-l1", "ltl-nosplit": "--checkpoint-nosplit"}
    argv = ["evaluate", "--phantom", ",".join(FAMILIES), "--count", str(plan.eval_count),
            "--methods", ",".join(["fbp", "tv", "l1", "ltl-refined"] + models), "--out", str(eval_path(out, r)),
            "--overwrite",
            "--device", str(device.type), "--no-progress", "--montage", str(plan.montage), "--noise", f"{plan.noise:g}"]
    for m in models:
        argv += [flags[m], str(run_path(out, m, r) / "model")]
    if plan.eval_iters is not None:
        argv += ["--iters", str(plan.eval_iters)]
    t0 = time.perf_counter()
    rc = ltl(argv)
    if rc != 0:
        raise RuntimeError(f"ltl {' '.join(argv)} failed with status {rc}")
    results = json.loads((eval_path(out, r) / "results.json").read_text())
    return {"done": True, "seconds": time.perf_counter() - t0, "command": "ltl " + " ".join(argv),
            "report": str(eval_path(out, r).relative_to(out)), "scans": len({x["image"] for x in results["per_image"]}),
            "scores": scores_of(results)}


def run_install(plan: Plan, out: Path, index: Path, ship: tuple[str, ...], summary: dict) -> dict:
    """Put the trained models of the kinds in ``ship`` into the shipped-model index."""
    from ltl.models import install_model

    installed = []
    for r in plan.ranges:
        scores = summary["steps"].get(f"eval-{_fmt(r)}", {}).get("scores")
        for m in ship:
            run = run_path(out, m, r)
            if not (run / "model" / "model.json").exists():
                continue
            card = {"made_by": "scripts/train_all_ranges.py", "plan": plan.to_json(),
                    "data": summary["steps"].get(f"data-{_fmt(r)}", {}).get("command"),
                    "training": {k: v for k, v in summary["steps"].get(f"train-{m}-{_fmt(r)}", {}).items()
                                 if k in ("command", "epochs_done", "last", "samples_per_s", "minutes")},
                    "evaluation": summary["steps"].get(f"eval-{_fmt(r)}", {}).get("command"),
                    "device": summary.get("device"), "gpu": summary.get("gpu")}
            rec = install_model(run / "model", index, scores=scores, card=card, overwrite=True)
            installed.append({"name": rec.name, "path": str(rec.path), "size_bytes": rec.size_bytes})
            _log(f"installed {rec.describe()} ({rec.size_bytes / 1e6:.1f} MB)")
    return {"done": True, "index": str(index), "models": installed,
            "total_bytes": sum(x["size_bytes"] for x in installed)}


def export(out: Path, dest: Path, summary: dict) -> None:
    """Copy the summary, the reports (without reconstructions), the training logs and the installed models."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(out / "summary.json", dest / "summary.json")
    for p in sorted((out / "eval").glob("*/")) if (out / "eval").exists() else []:
        for name in ("results.json", "results.csv", "report.md", "montage.png", "angular_error.png"):
            if (p / name).exists():
                (dest / "eval" / p.name).mkdir(parents=True, exist_ok=True)
                shutil.copy(p / name, dest / "eval" / p.name / name)
    for p in sorted((out / "runs").glob("*/")) if (out / "runs").exists() else []:
        for name in ("log.csv", "config.json", "curves.png"):
            if (p / name).exists():
                (dest / "runs" / p.name).mkdir(parents=True, exist_ok=True)
                shutil.copy(p / name, dest / "runs" / p.name / name)
    for m in (summary["steps"].get("install") or {}).get("models", []):
        shutil.copytree(m["path"], dest / "models" / m["name"], dirs_exist_ok=True)


def throughput(summary: dict) -> dict:
    """The measured figures of the steps done so far: samples/s of data making (after the first
    chunk) and of training (mean over epochs), minutes per step, and the device."""
    st = summary["steps"]
    data = {k: v.get("samples_per_s_warm", v.get("samples_per_s")) for k, v in st.items() if k.startswith("data-")}
    train = {k[len("train-"):]: v.get("samples_per_s") for k, v in st.items() if k.startswith("train-")}
    minutes = {k: round(v.get("minutes", 0.0), 3) for k, v in st.items()}
    return {"device": summary.get("device"), "gpu": summary.get("gpu"),
            "data_samples_per_s": data, "train_samples_per_s": train, "minutes": minutes,
            "minutes_per_model": {k[len("train-"):]: m for k, m in minutes.items() if k.startswith("train-")},
            "minutes_total": round(sum(minutes.values()), 3),
            "calls_seconds": [round(c.get("seconds", 0.0), 1) for c in summary["calls"]]}


# ---------------------------------------------------------------------------------------------- main
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=None, help="run folder [out/train-all-ranges, --small: out/train-all-ranges-small]")
    p.add_argument("--small", action="store_true", help="tiny sizes on the CPU: the whole chain in a few minutes")
    p.add_argument("--stop-after-minutes", type=float, default=9.0,
                   help="start no work that would end later than this; exit 3 to be run again [9]")
    p.add_argument("--device", default=None, help="torch device [cuda when available; cpu with --small]")
    p.add_argument("--ship", default="ltl", help="kinds to install, comma-separated (ltl, ltl-nosplit, postproc-fbp, "
                                                 "postproc-l1; the baselines add ~23 MB) [ltl]")
    p.add_argument("--index", default=None, help="shipped-model index to install into [data/models of this checkout; "
                                                 "--small: OUT/models]")
    p.add_argument("--export", default=None, help="copy the summary, reports, logs and installed models here")
    p.add_argument("--max-steps", type=int, default=None, help="run at most this many steps in this call")
    p.add_argument("--dry-run", action="store_true", help="print the plan and its time estimate, run nothing")
    for name in ("count", "val_count", "epochs", "eval_count", "width", "batch_size", "size"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=None, help=f"plan: {name} [see the docstring]")
    p.add_argument("--ranges", default=None, help="plan: angular ranges in degrees, comma-separated [120,90,60,150]")
    p.add_argument("--baseline-ranges", default=None, help="plan: ranges with baselines [120,90]")
    return p


def plan_of(args) -> Plan:
    plan = Plan(**SMALL) if args.small else Plan()
    over = {k: getattr(args, k) for k in ("count", "val_count", "epochs", "eval_count", "width", "batch_size", "size")
            if getattr(args, k) is not None}
    for k in ("ranges", "baseline_ranges"):
        if getattr(args, k):
            over[k] = tuple(float(v) for v in getattr(args, k).split(","))
    return replace(plan, **over)


def main(argv=None, *, deadline: Deadline | None = None) -> int:
    args = parser().parse_args(argv)
    t_call = time.monotonic()
    plan = plan_of(args)
    rates = dict(ASSUMED_SMALL if args.small else ASSUMED)
    ship = tuple(k.strip() for k in args.ship.split(",") if k.strip())
    from ltl.models import KINDS

    bad = [k for k in ship if k not in KINDS]
    if bad:
        print(f"--ship: unknown kind(s) {', '.join(bad)}; choose among {', '.join(KINDS)}", file=sys.stderr)
        return 2
    steps = steps_of(plan, ship)
    if args.dry_run:
        total = rates["start_s"]
        for s in steps:
            e = estimate(plan, s, rates)
            total += e
            print(f"{s.name:<24} {e / 60:5.2f} min")
        print(f"{'total':<24} {total / 60:5.2f} min (rates assumed: {rates['source']})")
        return 0

    import torch

    from _machine import machine
    from ltl.version import __version__

    out = Path(args.out or ROOT / "out" / ("train-all-ranges-small" if args.small else "train-all-ranges"))
    index = Path(args.index) if args.index else (out / "models" if args.small else ROOT / "data" / "models")
    device = torch.device(args.device or ("cpu" if args.small or not torch.cuda.is_available() else "cuda"))
    deadline = deadline or Deadline(t_call + 60.0 * args.stop_after_minutes)
    out.mkdir(parents=True, exist_ok=True)
    summary_p = out / "summary.json"
    if summary_p.exists():
        summary = json.loads(summary_p.read_text())
        if summary.get("plan") != plan.to_json():
            print(f"{out} holds a run with another plan ({summary_p}); use another --out or the same options",
                  file=sys.stderr)
            return 2
    else:
        summary = {"ltl_version": __version__, "plan": plan.to_json(), "assumed_rates": rates, "steps": {}, "calls": []}
    summary.update(device=str(device), gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None)
    rates.update(summary.get("rates_now") or {})  # what the last call measured
    call = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "steps": []}
    summary["calls"].append(call)

    def save():
        tmp = summary_p.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary, indent=1))
        os.replace(tmp, summary_p)

    if device.type == "cuda":
        from train_demo_model import operator_self_check

        call["operator_check"] = operator_self_check(geometry_of(plan, plan.ranges[0]), device)
    save()
    status, ran = 0, 0
    for s in steps:
        done = summary["steps"].get(s.name, {})
        if done.get("done"):
            continue
        missing = [n for n in s.needs if not summary["steps"].get(n, {}).get("done")]
        if missing:
            _log(f"{s.name}: waits for {', '.join(missing)}")
            status = EXIT_UNFINISHED
            continue
        if args.max_steps is not None and ran >= args.max_steps:
            status = EXIT_UNFINISHED
            break
        # measured rates replace the assumed ones as soon as there are any
        if deadline.should_stop(first_unit(plan, s, rates)):
            _log(f"{s.name}: not started, {deadline.left():.0f} s left this call; run the command again")
            status = EXIT_UNFINISHED
            break
        _log(f"{s.name}: start (about {estimate(plan, s, rates) / 60:.1f} min)")
        if s.kind == "data":
            rec = run_data(plan, out, s.range_deg, device, deadline, rates)
            if rec.get("samples_per_s_warm"):
                rates["data_samples_per_s"] = rec["samples_per_s_warm"]
        elif s.kind == "train":
            rec = run_train(plan, out, s.model, s.range_deg, device, deadline, rates)
            if rec.get("samples_per_s"):
                rates["train_samples_per_s"] = rec["samples_per_s"]
        elif s.kind == "eval":
            rec = run_eval(plan, out, s.range_deg, device)
            rates["eval_s_per_range"] = rec["seconds"]
        else:
            t0 = time.perf_counter()
            rec = run_install(plan, out, index, ship, summary)
            rec["seconds"] = time.perf_counter() - t0
        prev = summary["steps"].get(s.name, {})
        rec["seconds_total"] = prev.get("seconds_total", 0.0) + rec["seconds"]
        rec["minutes"] = rec["seconds_total"] / 60.0
        if s.kind == "data" and rec["done"]:
            rec["samples_per_s_overall"] = (plan.count + plan.val_count) / rec["seconds_total"]
        summary["steps"][s.name] = rec
        call["steps"].append({"step": s.name, "seconds": rec["seconds"], "done": rec["done"]})
        summary["rates_now"] = {k: rates[k] for k in ("data_samples_per_s", "train_samples_per_s", "eval_s_per_range")}
        summary["throughput"] = throughput(summary)
        save()
        ran += 1
        _log(f"{s.name}: {'done' if rec['done'] else 'stopped'} in {rec['seconds']:.1f} s")
        if not rec["done"]:
            status = EXIT_UNFINISHED
            break
    call["seconds"] = time.monotonic() - t_call
    summary["throughput"] = throughput(summary)
    summary["all_done"] = all(summary["steps"].get(s.name, {}).get("done") for s in steps)
    if summary["all_done"]:
        status = 0
    save()
    if args.export:
        export(out, Path(args.export), summary)
    _log(f"{'all steps done' if status == 0 else 'unfinished: run the same command again'} "
         f"({call['seconds']:.0f} s this call)")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
