"""``ltl demo``: 120° scans of a held-out ellipse phantom and Shepp–Logan, reconstructed with FBP, TV,
l1-shearlet, LtI (the shipped model) and LtI with its data-consistent final step, with a figure and metrics."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from .common import UsageError, check_noise, check_out_dir, check_seed, device_of, geometry, removed_on_failure

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def _demo_model(args, geometry, device):
    """The LtI model for the demo, or (None, reason) when it cannot take part."""
    from ..models import LtI, default_checkpoint

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


def run(args) -> int:
    import torch

    from .. import methods
    from ..data import Scan, simulate_phantoms
    from ..metrics import all_metrics
    from ..operators import RadonOperator

    out = Path(args.out)
    names = ["scan.npz", "reconstructions.npz", "demo.png", "metrics.json"]
    check_out_dir(out, args.overwrite, names, inputs=[args.checkpoint])
    check_seed(args.seed)
    check_seed(args.phantom_seed, "--phantom-seed")
    check_noise(args.noise, None)
    device = device_of(args.device)
    g = geometry(args.size, args.range, 1.0, 0.0)
    model, model_note = _demo_model(args, g, device)
    phantoms = [f"ellipses (seed {args.phantom_seed})", "Shepp–Logan"]
    log.info(f"ltl demo: {phantoms[0]} and {phantoms[1]}, {g.describe()}, noise η={args.noise:g}, on {device.type}")
    if model is None:
        log.warning(f"LtI skipped: {model_note}")
    ell = simulate_phantoms("ellipses", g, count=1, noise=args.noise, seed=args.phantom_seed)
    sl = simulate_phantoms("shepp-logan", g, noise=args.noise, seed=args.seed)
    scan = Scan(torch.cat([ell.sinogram, sl.sinogram]), g, torch.cat([ell.images, sl.images]),
                {"phantoms": phantoms, "noise": args.noise, "noise_seeds": [args.phantom_seed, args.seed],
                 "oversample": ell.meta["oversample"], "ellipse_seed": args.phantom_seed})
    y = scan.sinogram.to(device)
    A = RadonOperator(g)
    results: dict = {}
    extra: dict = {}

    def record(name, rec, dt, settings, info=None):
        rec = rec.detach().cpu().clamp(0, 1)
        m = {k: v.tolist() for k, v in all_metrics(rec, scan.images).items()}
        results[name] = {"images": rec, "metrics": m, "seconds": dt, "settings": settings}
        log.info(f"  {name}: {dt:.1f} s" + (f", {info['iterations']} iterations" if info else ""))
        if info and not info.get("converged", True) and float(info.get("tol") or 0) > 0:
            rel = max(info.get("rel_change") or [float("nan")])
            log.warning(f"{name} stopped at its iteration limit ({info['iterations']}) with relative change "
                        f"{rel:.2g}, above its tolerance {info['tol']:g}: it has not converged")

    progress = not args.no_progress

    def run(name, settings=None, model=None, f_vis=None):
        t0 = time.perf_counter()
        rec = methods.create(name, settings, model=model).reconstruct(A, y, f_vis=f_vis, progress=progress)
        return rec, time.perf_counter() - t0

    rec, dt = run("fbp", {"filter": "hann"})
    record("FBP", rec.image, dt, rec.info)
    rec, dt = run("tv", {"noise": args.noise})
    record("TV", rec.image, dt, {"iterations": rec.info["iterations"], **rec.info}, _solver(rec.info))
    if model is None:
        rec, dt = run("l1", {"solver": {"noise": args.noise}})
        record("l1-shearlet", rec.image, dt, {"iterations": rec.info["iterations"], **rec.info}, _solver(rec.info))
    else:
        with torch.no_grad():
            t0 = time.perf_counter()
            f_vis, info = model.solve(y, progress=progress, return_info=True)
            t_l1 = time.perf_counter() - t0
            done = {"iterations": info.iterations, "converged": info.converged, "rel_change": list(info.rel_change),
                    "tol": model.solver_settings.get("tol")}
            record("l1-shearlet", f_vis, t_l1, dict(model.solver_settings, **done,
                                                    note="the LtI model's l1 step (f_vis)"), done)
            rec, t_net = run("ltl", model=model, f_vis=f_vis)
            record("LtI", rec.image, t_l1 + t_net, {"checkpoint": model_note, "network_seconds": t_net})
            extra = {"f_vis": f_vis.cpu(), "contribution": rec.parts["contribution"].cpu()}
            rec, t_ref = run("ltl-refined", model=model, f_vis=f_vis)
            record("LtI + final step", rec.image, t_l1 + t_ref,
                   {"checkpoint": model_note, "refine": rec.info.get("refine"), "seconds_after_f_vis": t_ref})
    with removed_on_failure(out) as written:
        _write(out, args, scan, results, extra, phantoms, g, model, model_note, device, written)
    for i, ph in enumerate(phantoms):
        print(f"\n{ph}")
        print(f"{'method':<18}{'RE':>8}{'PSNR':>8}{'SSIM':>8}{'HaarPSI':>9}{'s (both)':>10}")
        for k, v in results.items():
            m = {mk: mv[i] for mk, mv in v["metrics"].items()}
            print(f"{k:<18}{m['re']:>8.3f}{m['psnr']:>8.2f}{m['ssim']:>8.3f}{m['haarpsi']:>9.3f}{v['seconds']:>10.2f}")
    print(f"\nwrote {out / 'demo.png'}, {out / 'metrics.json'}, {out / 'scan.npz'}, {out / 'reconstructions.npz'}")
    return 0


def _write(out: Path, args, scan, results: dict, extra: dict, phantoms: list, g, model, model_note: str, device,
           written: list):
    """Write the demo's four files into ``out`` (replacing earlier ones only with ``--overwrite``);
    each file written is appended to ``written``."""
    import torch

    from ..data import save_reconstruction, save_scan
    from ..plotting import save_comparison
    from ..runtime.files import atomic_write
    from ..version import __version__

    out.mkdir(parents=True, exist_ok=True)
    written.append(save_scan(out / "scan.npz", scan, overwrite=args.overwrite))
    shown = list(results)
    stack = torch.stack([v["images"] for v in results.values()], dim=1)  # (phantom, method, N, N)
    rec_meta = {"layout": "phantom-major: index = phantom * len(methods) + method", "methods": shown,
                "phantoms": phantoms, "settings": {k: v["settings"] for k, v in results.items()}}
    written.append(save_reconstruction(out / "reconstructions.npz", stack.reshape(-1, g.image_size, g.image_size), g,
                                       rec_meta, overwrite=args.overwrite, **extra))
    cases = [{"name": ph, "truth": scan.images[i], "images": {k: v["images"][i] for k, v in results.items()},
              "metrics": {k: {mk: mv[i] for mk, mv in v["metrics"].items()} for k, v in results.items()}}
             for i, ph in enumerate(phantoms)]
    title = (f"{g.angular_range_deg:.0f}° limited-angle scans, {g.num_angles} views, η={args.noise:g}: edges whose "
             f"normals lie in the {180 - g.angular_range_deg:.0f}° missing wedge are not measured")
    written.append(save_comparison(out / "demo.png", cases, geometry=g, title=title, replace=args.overwrite))
    report = {"geometry": g.to_dict(), "noise": args.noise, "seed": args.seed, "ellipse_seed": args.phantom_seed,
              "phantoms": phantoms, "ltl_version": __version__, "device": device.type,
              "lti": model_note if model is not None else f"skipped: {model_note}",
              "methods": {k: dict(v["metrics"], seconds=v["seconds"], settings=v["settings"])
                          for k, v in results.items()}}
    written.append(atomic_write(out / "metrics.json", lambda f: f.write(json.dumps(report, indent=2).encode()),
                                replace=args.overwrite))


def _solver(info: dict) -> dict:
    """What :func:`run`'s convergence check needs from a method's ``rec.info``."""
    settings = info.get("settings") or info
    return {"iterations": info.get("iterations"), "converged": info.get("converged", True),
            "rel_change": info.get("rel_change"), "tol": info.get("tol", settings.get("tol"))}


def add_parser(sub) -> None:
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
    s.set_defaults(func=run)
