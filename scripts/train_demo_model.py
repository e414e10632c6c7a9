"""Make LtI's demo model in one go, inside a fixed time budget: data, training, checkpoint.

    python scripts/train_demo_model.py --out RUN_DIR [--budget-minutes 12] [--device cuda]

The standard task: 256×256, 120° in 1° steps, 1% relative Gaussian noise, random ellipses.
Steps, each timed:

1. a self-check of the Radon operator on the device against the CPU (on CUDA: the batched 3D
   stack is replaced by per-slice 2D calls when they disagree);
2. the validation set (``--val`` samples, seeds 10000..) with ``ltl.data.make_dataset``; its
   rate (samples/s, warm-up included, so an underestimate) sizes the training set to the data
   share of the budget (``--data-share``, default 40%);
3. a throughput probe of the training step (``--probe-steps``) that sizes the number of epochs to
   the training share of what is left;
4. ``ltl.training.train`` (AMP on CUDA, data preloaded on the device);
5. the run directory keeps only the model (``model/``, ``best/``), ``checkpoint.pt``, the logs and
   ``summary.json`` (timings, sizes, rates, machine, final metrics); the dataset files are written
   to ``--data-dir`` (default a temporary folder) and deleted unless ``--keep-data``.

Every number the script chooses is written to ``summary.json``, so a run can be repeated with the
same ``--count`` and ``--epochs`` instead of the budget.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def operator_self_check(geometry, device: torch.device) -> dict:
    """Relative difference of the device's batched projection from the CPU's on random images."""
    from ltl import RadonOperator

    if device.type != "cuda":
        return {"device": str(device), "checked": False}
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, geometry.image_size, geometry.image_size, generator=g)
    ref = RadonOperator(geometry)(x)
    out = {}
    for stack in ("1", "0"):
        os.environ["LTL_CUDA_STACK"] = stack
        got = RadonOperator(geometry, device=device)(x.to(device)).cpu()
        out["stack" if stack == "1" else "slices"] = float((got - ref).norm() / ref.norm())
    use_stack = out["stack"] < 1e-2
    os.environ["LTL_CUDA_STACK"] = "1" if use_stack else "0"
    return {"device": str(device), "checked": True, "rel_diff": out, "stack_used": use_stack}


def probe_throughput(model, f_vis: torch.Tensor, truth: torch.Tensor, *, batch_size: int, steps: int,
                     amp: bool, patch: int | None = None) -> float:
    """Training samples/s of ``model``'s step (pair + forward + backward + Adam) on a fixed batch."""
    from ltl.runtime import sync
    from ltl.training.losses import loss, loss_weights, network_batch, optimizer_step

    dev = model.device
    net = model.net.train()
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        net.to(memory_format=torch.channels_last)
    reps = math.ceil(batch_size / f_vis.shape[0])
    fv = f_vis.repeat(reps, 1, 1)[:batch_size].to(dev)
    tr = truth.repeat(reps, 1, 1)[:batch_size].to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=amp and dev.type == "cuda")
    w = loss_weights(net, "mixed")

    gen = torch.Generator().manual_seed(0)

    def step():  # the training loop's own step (ltl.training.losses)
        x, target = network_batch(model, fv, tr, patch=patch, gen=gen)
        with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=amp and dev.type == "cuda"):
            z = net(x)
        optimizer_step(loss(z, target, None if w is None else w.to(dev)), opt, scaler, list(net.parameters()))

    for _ in range(3):
        step()
    sync(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(dev)
    return steps * batch_size / (time.perf_counter() - t0)


def main(argv=None) -> int:
    from ltl.training import LOSSES, MODELS, TrainConfig, train

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="run directory (new or empty)")
    p.add_argument("--budget-minutes", type=float, default=12.0, help="total time for data and training [12]")
    p.add_argument("--data-share", type=float, default=0.4, help="share of the budget for training data [0.4]")
    p.add_argument("--count", type=int, default=None, help="training samples [sized by the budget]")
    p.add_argument("--epochs", type=int, default=None, help="epochs [sized by the budget]")
    p.add_argument("--val", type=int, default=128, help="validation samples [128]")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--range", type=float, default=120.0, dest="range_deg")
    p.add_argument("--step", type=float, default=1.0, dest="step_deg")
    p.add_argument("--noise", type=float, default=0.01)
    p.add_argument("--chunk", type=int, default=64, help="samples per batched l1 solve [64]")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--loss", default=TrainConfig.loss, choices=LOSSES, help=f"training loss [{TrainConfig.loss}]")
    p.add_argument("--model", default=TrainConfig.model, choices=MODELS,
                   help="ltl, or a learned baseline: postproc-fbp, postproc-l1, ltl-nosplit (with --data-dir, "
                        "--keep-data and a fixed --count several models train on one dataset; the epoch estimate "
                        f"probes LtI's step) [{TrainConfig.model}]")
    p.add_argument("--patch", type=int, default=None, help="train on patches (CPU runs)")
    p.add_argument("--probe-steps", type=int, default=20)
    p.add_argument("--probe-widths", default="", help="extra widths to probe for the record, e.g. 32")
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--keep-data", action="store_true")
    p.add_argument("--max-epochs", type=int, default=200)
    p.add_argument("--epoch-overhead", type=float, default=1.0,
                   help="seconds per epoch for validation and checkpoints, in the epoch estimate [1]")
    args = p.parse_args(argv)

    from ltl import Geometry
    from ltl.data.dataset import LtIDataset, make_dataset
    from ltl.models import LtI
    from ltl.version import __version__

    t_start = time.perf_counter()
    budget = args.budget_minutes * 60.0
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(f"{out} exists and is not an empty folder; choose another --out (nothing was written)", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(args.device) if args.device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    geometry = Geometry.limited_angle(args.size, angular_range_deg=args.range_deg, step_deg=args.step_deg)
    summary: dict = {"ltl_version": __version__, "machine": machine(), "device": str(dev),
                     "geometry": geometry.to_dict(), "geometry_description": geometry.describe(),
                     "args": vars(args), "budget_s": budget}
    if dev.type == "cuda":
        summary["gpu"] = torch.cuda.get_device_name(dev)

    def save_summary():
        (out / "summary.json").write_text(json.dumps(summary, indent=1))

    summary["operator_check"] = operator_self_check(geometry, dev)
    _log(f"operator check: {summary['operator_check']}")
    tmp = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="ltl-demo-data-"))
    tmp.mkdir(parents=True, exist_ok=True)
    val_path, train_path = tmp / "val.h5", tmp / "train.h5"
    common = dict(geometry=geometry, noise=args.noise, chunk=args.chunk, device=dev, progress=False)
    try:
        stamps = []
        t0 = time.perf_counter()
        make_dataset(val_path, count=0, val_count=args.val, callback=lambda k, a, b: stamps.append((time.perf_counter(), b - a)),
                     **common)
        t_val = time.perf_counter() - t0
        # the rate of the chunks after the first (which pays for cuFFT plans, projectors, ‖A‖)
        if len(stamps) > 1:
            rate = sum(c for _, c in stamps[1:]) / (stamps[-1][0] - stamps[0][0])
        else:
            rate = args.val / t_val
        summary["val"] = {"samples": args.val, "seconds": t_val, "samples_per_s_warm": rate}
        _log(f"validation set: {args.val} samples in {t_val:.1f} s ({rate:.1f} samples/s after the first chunk)")
        save_summary()

        count = args.count
        if count is None:
            left = args.data_share * budget - (time.perf_counter() - t_start)
            count = max(args.chunk, int(left * rate * 0.9) // args.chunk * args.chunk)
        t0 = time.perf_counter()
        make_dataset(train_path, count=count, seed=args.seed, **common)
        t_train_data = time.perf_counter() - t0
        summary["train_data"] = {"samples": count, "seconds": t_train_data, "samples_per_s": count / t_train_data}
        _log(f"training set: {count} samples in {t_train_data:.1f} s ({count / t_train_data:.1f} samples/s)")
        save_summary()

        vds = LtIDataset(val_path, "val")
        items = [vds[i] for i in range(min(8, len(vds)))]
        vds.close()
        fv = torch.stack([it["f_vis"] for it in items])
        tr = torch.stack([it["truth"] for it in items])
        probes = {}
        for w in [args.width] + [int(v) for v in args.probe_widths.split(",") if v.strip()]:
            m = LtI(geometry, width=w, depth=args.depth).to(dev)
            probes[w] = probe_throughput(m, fv, tr, batch_size=args.batch_size, steps=args.probe_steps,
                                         amp=dev.type == "cuda", patch=args.patch)
            _log(f"throughput probe: width {w}, batch {args.batch_size}: {probes[w]:.1f} samples/s")
            del m
        summary["probe_samples_per_s"] = probes
        epochs = args.epochs
        if epochs is None:
            left = budget - (time.perf_counter() - t_start) - 20.0  # saving and validation
            per_epoch = count / probes[args.width] + args.epoch_overhead
            epochs = int(max(1, min(args.max_epochs, left // per_epoch)))
        summary["epochs"] = epochs
        _log(f"training {epochs} epochs of {count} samples")
        save_summary()

        t0 = time.perf_counter()
        cfg = TrainConfig(data=str(train_path), val_data=str(val_path), out=str(out), epochs=epochs,
                          batch_size=args.batch_size, lr=args.lr, width=args.width, depth=args.depth,
                          loss=args.loss, amp=dev.type == "cuda", seed=args.seed, patch=args.patch,
                          device=str(dev), preload=True, progress=False, model=args.model)
        res = train(cfg)
        t_train = time.perf_counter() - t0
        last = res.history[-1]
        summary["training"] = {"seconds": t_train, "epochs": epochs,
                               "samples_per_s_mean": sum(r["samples_per_s"] for r in res.history) / len(res.history),
                               "last": last}
        summary["total_seconds"] = time.perf_counter() - t_start
        _log(f"trained in {t_train:.1f} s; validation PSNR {last['val_psnr']:.2f} dB (f_vis {last['fvis_psnr']:.2f}), "
             f"RE {last['val_re']:.4f} (f_vis {last['fvis_re']:.4f}); total {summary['total_seconds']:.1f} s")
        save_summary()
    finally:
        if not args.keep_data:
            for q in (val_path, train_path):
                q.unlink(missing_ok=True)
            if not args.data_dir:
                shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
