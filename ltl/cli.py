"""The ``ltl`` command: info, simulate, reconstruct, dataset, train, evaluate, explain, demo.

User errors (bad arguments, missing or corrupt files, shapes that do not fit) print one line
``ltl: error: ...`` and exit with status 2, without a traceback (set ``LTL_DEBUG=1`` to see it),
and never overwrite an existing output unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

__all__ = ["main"]


class UsageError(Exception):
    """An error the user can fix; printed in one line, exit status 2."""


def _cmd_info(args) -> int:
    import platform

    import numpy as np
    import torch

    from . import __version__
    from .operators import _astra

    try:
        import astra

        astra_version = astra.__version__
    except ImportError:
        astra_version = "not installed"
    cuda = _astra.cuda_available()
    rows = {
        "ltl": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "astra-toolbox": astra_version,
        "ASTRA CUDA": "yes" if cuda else "no",
        "torch CUDA": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no",
        "device": "cuda" if cuda and torch.cuda.is_available() else "cpu",
        "CPU threads": str(_astra.num_workers()),
    }
    if args.json:
        print(json.dumps(rows))
    else:
        width = max(map(len, rows))
        for k, v in rows.items():
            print(f"{k:<{width}}  {v}")
    return 0


def _geometry(size: int, range_deg: float, step: float, center: float):
    from .geometry import Geometry

    return Geometry.limited_angle(size, angular_range_deg=range_deg, step_deg=step, center_deg=center)


def add_scan_options(s: argparse.ArgumentParser) -> None:
    """The options of a simulated limited-angle scan: --size --range --step --center --noise --photons."""
    s.add_argument("--size", type=int, default=256, help="image size N in pixels [256]")
    s.add_argument("--range", type=float, default=120.0, help="angular range in degrees [120]")
    s.add_argument("--step", type=float, default=1.0, help="angular step in degrees [1]")
    s.add_argument("--center", type=float, default=0.0, help="centre of the angular range in degrees [0]")
    s.add_argument("--noise", type=float, default=0.01, help="relative Gaussian noise η, σ = η·max|y| [0.01]")
    s.add_argument("--photons", type=float, default=None, help="Poisson noise with I0 photons per ray [off]")


def geometry_from_args(args):
    """The Geometry of :func:`add_scan_options`' arguments."""
    return _geometry(args.size, args.range, args.step, args.center)


def _check_out(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists; choose another --out or pass --overwrite")


def _cmd_simulate(args) -> int:
    from .data import save_scan, simulate_phantoms

    out = Path(args.out)
    _check_out(out, args.overwrite)
    if args.count < 1:
        raise UsageError(f"--count must be >= 1, got {args.count}")
    g = geometry_from_args(args)
    t0 = time.perf_counter()
    scan = simulate_phantoms(args.phantom, g, count=args.count, noise=args.noise, photons=args.photons,
                             seed=args.seed)
    save_scan(out, scan, overwrite=args.overwrite)
    m = scan.sinogram.shape[0]
    print(f"wrote {out}: {m} scan(s), {g.describe()}, noise η={args.noise:g}"
          f"{f', I0={args.photons:g}' if args.photons else ''}, seed {args.seed} "
          f"({time.perf_counter() - t0:.1f} s)")
    return 0


def _device(name: str | None):
    """The torch device for --device: CUDA when ASTRA and torch can use it, unless told otherwise."""
    import torch

    from .operators import _astra

    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() and _astra.cuda_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise UsageError(f"--device {name!r} is not a torch device; use cpu or cuda") from exc
    if dev.type == "cuda" and not (torch.cuda.is_available() and _astra.cuda_available()):
        raise UsageError(f"--device {name}: CUDA is not available to both torch and ASTRA here; use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"--device {name}: ltl runs on cpu or cuda")
    return dev


def _reconstruct(method: str, scan, args):
    """Run one method on a scan; returns (reconstruction (M, N, N), settings)."""
    from .operators import RadonOperator, fbp

    device = _device(getattr(args, "device", None))
    y = scan.sinogram.to(device)
    A = RadonOperator(scan.geometry)
    if method == "fbp":
        return fbp(A, y, filter=args.filter), {"method": "fbp", "filter": args.filter}
    if method == "ltl":
        from .models import LtI

        ckpt = args.checkpoint or default_checkpoint() or DEFAULT_CHECKPOINT
        if not Path(ckpt).exists():
            raise UsageError(f"checkpoint {ckpt} not found; train one with `ltl train` and pass --checkpoint RUN_DIR/model"
                             if args.checkpoint else
                             "no demo model ships with this version of ltl yet; train one with `ltl train` and pass "
                             "--checkpoint RUN_DIR/model")
        model = LtI.load(ckpt, map_location=y.device)
        parts = model.reconstruct(y, geometry=scan.geometry, return_parts=True)
        args._extra = {"f_vis": parts["f_vis"].cpu(), "contribution": parts["contribution"].cpu()}
        return parts["f_ltl"], {"method": "ltl", "checkpoint": str(ckpt)}
    from . import solvers

    common = {"progress": not args.no_progress}
    if args.iters is not None:
        common["iters"] = args.iters
    if method in ("sirt", "cgls"):
        fn = solvers.sirt if method == "sirt" else solvers.cgls
        x, info = fn(A, y, **common)
    elif method == "tv":
        x, info = solvers.tv(A, y, args.lam, noise=args.noise, tol=args.tol, **common)
    elif method == "l1":
        from .shearlets import ShearletFrame

        frame = ShearletFrame(scan.geometry.image_size, scales=args.scales, device=y.device)
        x, info = solvers.l1_shearlet(A, frame, y, args.lam, noise=args.noise, tol=args.tol, **common)
        info.params["scales"] = frame.scales
    else:
        raise UsageError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    settings = {**info.params, "method": method, "solver": info.params.get("method", method),
                "iterations": info.iterations, "converged": info.converged, "objective": list(info.objective)}
    return x, settings


METHODS = ("fbp", "sirt", "cgls", "tv", "l1", "ltl")
#: Where the shipped demo model will live (``ltl reconstruct --method ltl`` without --checkpoint).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "data" / "demo-model"


def _cmd_reconstruct(args) -> int:
    from .data import load_scan, save_reconstruction
    from .metrics import all_metrics

    out = Path(args.out)
    _check_out(out, args.overwrite)
    png = Path(args.png) if args.png else None
    if png is not None:
        _check_out(png, args.overwrite)
    if args.method not in METHODS:
        raise UsageError(f"unknown method {args.method!r}; valid methods: {', '.join(METHODS)}")
    scan = load_scan(args.scan)
    if args.noise is None and isinstance((scan.meta or {}).get("noise"), (int, float)) and scan.meta["noise"] > 0:
        args.noise = float(scan.meta["noise"])
    t0 = time.perf_counter()
    rec, settings = _reconstruct(args.method, scan, args)
    seconds = time.perf_counter() - t0
    rec = rec.cpu()
    settings["seconds"] = seconds
    settings["scan"] = str(args.scan)
    save_reconstruction(out, rec, scan.geometry, settings, overwrite=args.overwrite, **getattr(args, "_extra", {}))
    msg = f"wrote {out}: {args.method} of {rec.shape[0]} scan(s) in {seconds:.2f} s"
    if scan.images is not None:
        m = all_metrics(rec.clamp(0, 1), scan.images)
        msg += " | " + ", ".join(f"{k.upper()} {float(v.mean()):.4f}" for k, v in m.items())
    print(msg)
    if png is not None:
        from .plotting import save_montage

        truth = scan.images[0] if scan.images is not None else None
        save_montage(png, {args.method.upper(): rec[0]}, truth=truth, title=f"{Path(args.scan).name}")
        print(f"wrote {png}")
    return 0


def default_checkpoint() -> Path | None:
    """The shipped demo model: ``$LTL_DEMO_MODEL``, else ``data/demo-model`` of a source checkout, else
    ``<prefix>/share/ltl/demo-model`` of an installed wheel; None when none exists."""
    env = os.environ.get("LTL_DEMO_MODEL")
    if env:
        return Path(env)
    for p in (DEFAULT_CHECKPOINT, Path(sys.prefix) / "share" / "ltl" / "demo-model"):
        if (p / "model.json").exists():
            return p
    return None


def _demo_model(args, geometry, device):
    """The LtI model for the demo, or (None, reason) when it cannot take part."""
    from .models import LtI

    ckpt = args.checkpoint or default_checkpoint()
    if ckpt is None:
        return None, "no demo model found (set LTL_DEMO_MODEL or pass --checkpoint)"
    try:
        model = LtI.load(ckpt, map_location=device)
    except (FileNotFoundError, ValueError) as exc:
        if args.checkpoint:
            raise UsageError(str(exc)) from exc
        return None, f"the demo model could not be read ({exc})"
    if model.geometry != geometry:
        if args.checkpoint:
            raise UsageError(f"the checkpoint {ckpt} is for {model.geometry.describe()}, the demo scan has "
                             f"{geometry.describe()}; pass a matching --size/--range or another --checkpoint")
        return None, f"the demo model is for {model.geometry.describe()}, not {geometry.describe()}"
    return model, str(ckpt)


def _cmd_demo(args) -> int:
    import torch

    from . import __version__, solvers
    from .data import Scan, save_reconstruction, save_scan, simulate_phantoms
    from .metrics import all_metrics
    from .operators import RadonOperator, fbp
    from .plotting import save_comparison
    from .shearlets import ShearletFrame

    out = Path(args.out)
    names = ["scan.npz", "reconstructions.npz", "demo.png", "metrics.json"]
    existing = [n for n in names if (out / n).exists()]
    if existing and not args.overwrite:
        raise UsageError(f"{out} already holds {', '.join(existing)}; choose another --out or pass --overwrite")
    device = _device(args.device)
    g = _geometry(args.size, args.range, 1.0, 0.0)
    model, model_note = _demo_model(args, g, device)
    phantoms = [f"ellipses (seed {args.phantom_seed})", "Shepp–Logan"]
    print(f"ltl demo: {phantoms[0]} and {phantoms[1]}, {g.describe()}, noise η={args.noise:g}, on {device.type}")
    if model is None:
        print(f"  LtI skipped: {model_note}")
    ell = simulate_phantoms("ellipses", g, count=1, noise=args.noise, seed=args.phantom_seed)
    sl = simulate_phantoms("shepp-logan", g, noise=args.noise, seed=args.seed)
    scan = Scan(torch.cat([ell.sinogram, sl.sinogram]), g, torch.cat([ell.images, sl.images]),
                {"phantoms": phantoms, "noise": args.noise, "noise_seeds": [args.phantom_seed, args.seed],
                 "oversample": ell.meta["oversample"], "ellipse_seed": args.phantom_seed})
    y = scan.sinogram.to(device)
    A = RadonOperator(g)
    results: dict = {}
    extra: dict = {}

    def record(name, rec, dt, settings):
        rec = rec.detach().cpu().clamp(0, 1)
        m = {k: v.tolist() for k, v in all_metrics(rec, scan.images).items()}
        results[name] = {"images": rec, "metrics": m, "seconds": dt, "settings": settings}
        print(f"  {name}: {dt:.1f} s")

    t0 = time.perf_counter()
    record("FBP", fbp(A, y, filter="hann"), time.perf_counter() - t0, {"filter": "hann"})
    t0 = time.perf_counter()
    rec, info = solvers.tv(A, y, noise=args.noise, progress=not args.no_progress)
    record("TV", rec, time.perf_counter() - t0, {"iterations": info.iterations, **info.params})
    if model is None:
        t0 = time.perf_counter()
        frame = ShearletFrame(g.image_size, device=device)
        rec, info = solvers.l1_shearlet(A, frame, y, noise=args.noise, progress=not args.no_progress)
        record("l1-shearlet", rec, time.perf_counter() - t0, {"iterations": info.iterations, **info.params})
    else:
        with torch.no_grad():
            t0 = time.perf_counter()
            f_vis = model.solve(y)
            t_l1 = time.perf_counter() - t0
            record("l1-shearlet", f_vis, t_l1, dict(model.solver_settings, note="the LtI model's l1 step (f_vis)"))
            t0 = time.perf_counter()
            coeffs = model.frame.forward(f_vis)
            pred = model.eval().predict(f_vis, coeffs)
            f_ltl = model.combine(f_vis, pred, coeffs=coeffs)
            t_net = time.perf_counter() - t0
            record("LtI", f_ltl, t_l1 + t_net, {"checkpoint": model_note, "network_seconds": t_net})
            extra = {"f_vis": f_vis.cpu(), "contribution": model.contribution(pred).cpu()}
    out.mkdir(parents=True, exist_ok=True)
    save_scan(out / "scan.npz", scan, overwrite=True)
    methods = list(results)
    stack = torch.stack([v["images"] for v in results.values()], dim=1)  # (phantom, method, N, N)
    save_reconstruction(out / "reconstructions.npz", stack.reshape(-1, g.image_size, g.image_size), g,
                        {"layout": "phantom-major: index = phantom * len(methods) + method", "methods": methods,
                         "phantoms": phantoms, "settings": {k: v["settings"] for k, v in results.items()}},
                        overwrite=True, **extra)
    cases = [{"name": ph, "truth": scan.images[i], "images": {k: v["images"][i] for k, v in results.items()},
              "metrics": {k: {mk: mv[i] for mk, mv in v["metrics"].items()} for k, v in results.items()}}
             for i, ph in enumerate(phantoms)]
    save_comparison(out / "demo.png", cases,
                    title=f"{g.angular_range_deg:.0f}° limited-angle scans, {g.num_angles} views, η={args.noise:g}")
    report = {"geometry": g.to_dict(), "noise": args.noise, "seed": args.seed, "ellipse_seed": args.phantom_seed,
              "phantoms": phantoms, "ltl_version": __version__, "device": device.type,
              "lti": model_note if model is not None else f"skipped: {model_note}",
              "methods": {k: dict(v["metrics"], seconds=v["seconds"], settings=v["settings"])
                          for k, v in results.items()}}
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    for i, ph in enumerate(phantoms):
        print(f"\n{ph}")
        print(f"{'method':<14}{'RE':>8}{'PSNR':>8}{'SSIM':>8}{'HaarPSI':>9}{'s (both)':>10}")
        for k, v in results.items():
            m = {mk: mv[i] for mk, mv in v["metrics"].items()}
            print(f"{k:<14}{m['re']:>8.3f}{m['psnr']:>8.2f}{m['ssim']:>8.3f}{m['haarpsi']:>9.3f}{v['seconds']:>10.2f}")
    print(f"\nwrote {out / 'demo.png'}, {out / 'metrics.json'}, {out / 'scan.npz'}, {out / 'reconstructions.npz'}")
    return 0


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="ltl", description="Limited-angle CT: learn only what the data cannot see.")
    p.add_argument("--version", action="version", version=f"ltl {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("info", help="versions, ASTRA CUDA support and the device ltl will use")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=_cmd_info)

    s = sub.add_parser("simulate", help="simulate limited-angle scans of phantoms (no inverse crime)")
    s.add_argument("--phantom", default="ellipses",
                   help="'ellipses', 'shepp-logan', or an image file/folder (.npy, .npz, PNG, TIFF) [ellipses]")
    s.add_argument("--count", type=int, default=1, help="number of random phantoms [1]")
    add_scan_options(s)
    s.add_argument("--seed", type=int, default=0, help="seed of phantoms and noise [0]")
    s.add_argument("--out", required=True, help="scan file to write (.npz)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output")
    s.set_defaults(func=_cmd_simulate)

    s = sub.add_parser("reconstruct", help="reconstruct a scan file")
    s.add_argument("scan", help="scan file (.npz)")
    s.add_argument("--method", default="fbp", help=f"one of {', '.join(METHODS)} [fbp]")
    s.add_argument("--filter", default="ram-lak", choices=["ram-lak", "shepp-logan", "cosine", "hann"],
                   help="FBP filter window [ram-lak]")
    s.add_argument("--lam", type=float, default=None,
                   help="λ of tv and l1 [a default that scales with the noise level]")
    s.add_argument("--noise", type=float, default=None,
                   help="relative noise η of the data, for the default λ [from the scan file, else estimated]")
    s.add_argument("--iters", type=int, default=None, help="maximal iterations of sirt, cgls, tv, l1 [the solver's]")
    s.add_argument("--tol", type=float, default=1e-3, help="relative-change tolerance of tv and l1 [1e-3]")
    s.add_argument("--scales", type=int, default=None, help="shearlet scales of l1 [chosen for N]")
    s.add_argument("--checkpoint", default=None,
                   help="LtI model directory for --method ltl (RUN_DIR/model or RUN_DIR/best from ltl train)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--device", default=None, help="cpu or cuda [cuda when available]")
    s.add_argument("--out", required=True, help="reconstruction file to write (.npz)")
    s.add_argument("--png", default=None, help="also write a picture of the first slice")
    s.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    s.set_defaults(func=_cmd_reconstruct)

    from .data.dataset import add_cli as add_dataset_cli
    from .evaluation import add_cli as add_evaluate_cli
    from .explain.cli import add_cli as add_explain_cli
    from .training import add_cli as add_train_cli

    add_dataset_cli(sub)
    add_train_cli(sub)
    add_evaluate_cli(sub)
    add_explain_cli(sub)

    s = sub.add_parser("demo", help="simulate 120° scans of a held-out ellipse phantom and Shepp–Logan, reconstruct "
                                           "with FBP, TV, l1-shearlet and LtI (the shipped model), write a figure and metrics")
    s.add_argument("--out", default="ltl-demo", help="output folder [ltl-demo]")
    s.add_argument("--size", type=int, default=256, help="image size N [256]")
    s.add_argument("--range", type=float, default=120.0, help="angular range in degrees [120]")
    s.add_argument("--noise", type=float, default=0.01, help="relative Gaussian noise η [0.01]")
    s.add_argument("--seed", type=int, default=0, help="noise seed of the Shepp–Logan scan [0]")
    s.add_argument("--phantom-seed", type=int, default=20000,
                   help="seed of the ellipse phantom and its noise; 20000.. is the test range, never trained on [20000]")
    s.add_argument("--checkpoint", default=None, help="LtI model directory [the shipped demo model]")
    s.add_argument("--device", default=None, help="cpu or cuda [cuda when available]")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")
    s.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier demo")
    s.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ValueError, FileNotFoundError, FileExistsError, IsADirectoryError) as exc:
        if os.environ.get("LTL_DEBUG"):
            raise
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"ltl: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ltl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
