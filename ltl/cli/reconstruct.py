"""``ltl reconstruct``: one method of the registry (:mod:`ltl.methods`) on a scan file."""

from __future__ import annotations

import time
from pathlib import Path

from .. import methods
from ..solvers.settings import L1Settings, TVSettings
from .common import UsageError, check_out, device_of

__all__ = ["add_parser", "run", "method_settings"]


def method_settings(name: str, args) -> dict:
    """The settings of method ``name`` from the command line (unset options keep the defaults)."""
    common = {k: v for k, v in (("iters", args.iters),) if v is not None}
    if name == "fbp":
        return {"filter": args.filter}
    if name in ("sirt", "cgls"):
        return common
    reg = dict(common, lam=args.lam, noise=args.noise, **({"tol": args.tol} if args.tol is not None else {}))
    if name == "tv":
        return reg
    if name == "l1":
        return {"solver": reg, "frame": {"scales": args.scales}}
    return {}


def _model(args, device):
    from ..models import LtI, default_checkpoint

    ckpt = args.checkpoint or default_checkpoint()
    if ckpt is None or not Path(ckpt).exists():
        raise UsageError(f"checkpoint {ckpt} not found; train one with `ltl train` and pass --checkpoint RUN_DIR/model"
                         if args.checkpoint else
                         "no demo model ships with this version of ltl yet; train one with `ltl train` and pass "
                         "--checkpoint RUN_DIR/model")
    return LtI.load(ckpt, map_location=device), str(ckpt)


def reconstruct(name: str, scan, args):
    """Run one method on a scan; returns (reconstruction (M, N, N), settings, extra arrays)."""
    from ..operators import RadonOperator

    device = device_of(getattr(args, "device", None))
    y = scan.sinogram.to(device)
    A = RadonOperator(scan.geometry)
    if methods.get(name).learned:
        model, ckpt = _model(args, y.device)
        model.check_geometry(scan.geometry)
        rec = methods.create(name, model=model).reconstruct(A, y)
        return rec.image, {"method": name, "checkpoint": ckpt}, {k: v.cpu() for k, v in rec.parts.items()}
    method = methods.create(name, method_settings(name, args))
    rec = method.reconstruct(A, y, progress=not args.no_progress)
    settings = {**rec.info, "method": name, "solver": rec.info.get("method", name)}
    return rec.image, settings, {}


def run(args) -> int:
    from ..data import load_scan, save_reconstruction
    from ..metrics import all_metrics

    out = Path(args.out)
    check_out(out, args.overwrite)
    png = Path(args.png) if args.png else None
    if png is not None:
        check_out(png, args.overwrite)
    if args.method not in CHOICES:
        raise UsageError(f"unknown method {args.method!r}; valid methods: {', '.join(CHOICES)}")
    scan = load_scan(args.scan)
    if args.noise is None and isinstance((scan.meta or {}).get("noise"), (int, float)) and scan.meta["noise"] > 0:
        args.noise = float(scan.meta["noise"])
    t0 = time.perf_counter()
    try:
        rec, settings, extra = reconstruct(args.method, scan, args)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    seconds = time.perf_counter() - t0
    rec = rec.cpu()
    settings["seconds"] = seconds
    settings["scan"] = str(args.scan)
    save_reconstruction(out, rec, scan.geometry, settings, overwrite=args.overwrite, **extra)
    msg = f"wrote {out}: {args.method} of {rec.shape[0]} scan(s) in {seconds:.2f} s"
    if scan.images is not None:
        m = all_metrics(rec.clamp(0, 1), scan.images)
        msg += " | " + ", ".join(f"{k.upper()} {float(v.mean()):.4f}" for k, v in m.items())
    print(msg)
    if png is not None:
        from ..plotting import save_montage

        truth = scan.images[0] if scan.images is not None else None
        save_montage(png, {args.method.upper(): rec[0]}, truth=truth, title=f"{Path(args.scan).name}")
        print(f"wrote {png}")
    return 0


#: What ``ltl reconstruct`` runs: the model-based methods and LtI (the learned baselines run in ``ltl evaluate``).
CHOICES = methods.names(learned=False) + ("ltl",)


def add_parser(sub) -> None:
    s = sub.add_parser("reconstruct", help="reconstruct a scan file")
    s.add_argument("scan", help="scan file (.npz)")
    s.add_argument("--method", default="fbp", help=f"one of {', '.join(CHOICES)} [fbp]")
    s.add_argument("--filter", default=methods.FBPSettings.filter, choices=["ram-lak", "shepp-logan", "cosine", "hann"],
                   help=f"FBP filter window [{methods.FBPSettings.filter}]")
    s.add_argument("--lam", type=float, default=None,
                   help="λ of tv and l1 [a default that scales with the noise level]")
    s.add_argument("--noise", type=float, default=None,
                   help="relative noise η of the data, for the default λ [from the scan file, else estimated]")
    s.add_argument("--iters", type=int, default=None, help="maximal iterations of sirt, cgls, tv, l1 [the solver's]")
    s.add_argument("--tol", type=float, default=None,
                   help=f"relative-change tolerance of tv and l1 [{TVSettings.tol:g}, {L1Settings.tol:g}]")
    s.add_argument("--scales", type=int, default=None, help="shearlet scales of l1 [chosen for N]")
    s.add_argument("--checkpoint", default=None,
                   help="LtI model directory for --method ltl (RUN_DIR/model or RUN_DIR/best from ltl train)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--device", default=None, help="cpu or cuda [cuda when available]")
    s.add_argument("--out", required=True, help="reconstruction file to write (.npz)")
    s.add_argument("--png", default=None, help="also write a picture of the first slice")
    s.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    s.set_defaults(func=run)
