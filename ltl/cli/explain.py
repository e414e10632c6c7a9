"""``ltl explain``: a rate-distortion explanation of what LtI's network adds to a reconstruction.

Writes into ``--out DIR``: ``explanation.png`` (f_ltl, the network's contribution, the RDE mask on
f_vis, the kept visible coefficients as an image, the mask per channel, the ordering curves),
``relevance.png`` (per-pixel relevance of RDE and the baselines), ``rate_distortion.png``
(ordering curves and RDE's optimisation), ``explanation.json`` (settings, seed, ltl version,
geometry, areas and times per method) and ``explanation.npz`` (the mask, the relevance maps and
the images). Existing outputs are kept unless ``--overwrite`` is given.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from ..explain.settings import DOMAINS, NOISES, RDESettings
from .common import UsageError

__all__ = ["add_parser", "run", "parse_roi", "settings_of", "OUTPUTS"]

log = logging.getLogger(__name__)

#: The files ``ltl explain`` writes into ``--out``.
OUTPUTS = ("explanation.png", "relevance.png", "rate_distortion.png", "explanation.json", "explanation.npz")


def parse_roi(text: str) -> tuple[int, int, int, int]:
    """``"r0,c0,r1,c1"`` → four ints (rows r0:r1, columns c0:c1); ``ValueError`` otherwise."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        if len(parts) != 4:
            raise ValueError
        return tuple(int(p) for p in parts)  # type: ignore[return-value]
    except ValueError:
        raise ValueError(f"--roi must be four integers r0,c0,r1,c1 (rows r0:r1, columns c0:c1), "
                         f"got {text!r}") from None


def settings_of(args) -> RDESettings:
    """The :class:`~ltl.explain.RDESettings` of parsed ``ltl explain`` arguments; a bad value is a
    :class:`UsageError` naming its option (``--steps must be an integer >= 1, got 0``)."""
    try:
        return RDESettings(domain=args.domain, lam=args.lam, steps=args.steps, samples=args.samples,
                           noise=args.noise, lr=args.lr, seed=args.seed, points=args.points)
    except ValueError as exc:  # every message starts with the field's name, which is the option's
        raise UsageError(f"--{exc}") from None


def solver_warning(info, settings: dict, what: str) -> str | None:
    """The warning for an l1-shearlet solve that stopped at its iteration limit before its
    tolerance (None when it converged, or ran a fixed number of iterations with ``tol`` 0)."""
    tol = float(settings.get("tol") or 0)
    if info.converged or tol <= 0:
        return None
    rel = max(info.rel_change) if info.rel_change else float("nan")
    return (f"{what} stopped at its iteration limit ({info.iterations}) with relative change {rel:.2g}, above its "
            f"tolerance {tol:g}: it has not converged, and may still change with more iterations")


def run(args) -> int:
    """Run ``ltl explain`` with parsed arguments (see :func:`add_parser`); returns the exit status 0."""
    import torch

    from ..data import load_scan
    from ..explain import check_region, explain_lti
    from ..models import LtI
    from ..models.shipped import default_checkpoint
    from .common import check_out_dir, device_of, removed_on_failure

    out = Path(args.out)
    check_out_dir(out, args.overwrite, OUTPUTS, inputs=[args.scan])
    settings = settings_of(args)
    roi = parse_roi(args.roi) if args.roi is not None else None
    ckpt = args.checkpoint or default_checkpoint()
    if ckpt is None:
        raise UsageError("no LtI model to explain: no demo model was found (set LTL_DEMO_MODEL or ship "
                         "data/demo-model); pass --checkpoint RUN_DIR/model from `ltl train`")
    device = device_of(args.device)
    scan = load_scan(args.scan)
    m = scan.sinogram.shape[0]
    if not 0 <= args.index < m:
        raise UsageError(f"--index {args.index} is out of range: {args.scan} holds {m} scan(s), index 0..{m - 1}")
    model = LtI.load(ckpt, map_location=device)
    model.check_geometry(scan.geometry)
    if roi is not None:  # before the reconstruction, which takes seconds
        n = model.geometry.image_size
        check_region(roi, n, n, what="image")
    progress = not args.no_progress
    log.info(f"ltl explain: scan {args.index} of {args.scan}, {scan.geometry.describe()}, on {device.type}; "
             f"RDE in the {settings.domain} domain, λ={settings.lam:g}, {settings.steps} steps × {settings.samples} "
             f"samples, seed {settings.seed}")
    if device.type == "cpu" and scan.geometry.image_size >= 128:
        log.info("  note: on the CPU each RDE step takes seconds at this size (one U-Net forward and backward per "
                 "noise draw); use a GPU (--device cuda) or fewer --steps/--samples for a first look")
    t0 = time.perf_counter()
    model.eval()
    with torch.no_grad():
        f_vis, l1_info = model.solve(scan.sinogram[args.index].to(device), progress=progress, return_info=True)
    t_rec = time.perf_counter() - t0
    log.info(f"  l1-shearlet step (f_vis): {l1_info.iterations} iterations, {t_rec:.1f} s")
    warning = solver_warning(l1_info, model.solver_settings, "the l1-shearlet step (f_vis)")
    if warning:
        log.warning(warning)
    expl = explain_lti(model, f_vis, settings, roi=roi, progress=progress)
    seconds = time.perf_counter() - t0
    with removed_on_failure(out) as written:
        _write(out, args, expl, model, scan, ckpt, device, settings, l1_info, t_rec, seconds, written)
    best = min(expl.areas, key=expl.areas.get)
    print("  area under the ordering curve (lower is better): "
          + ", ".join(f"{k} {v:.4f}" for k, v in expl.areas.items()) + f"; best: {best}")
    print(f"  RDE kept {expl.rde.history['rate'][-1]:.1%} of the components at distortion "
          f"{expl.rde.history['distortion'][-1]:.4f} ({expl.seconds['rde']:.1f} s); total {seconds:.1f} s")
    print(f"wrote {', '.join(str(out / n) for n in OUTPUTS)}")
    return 0


def _write(out: Path, args, expl, model, scan, ckpt, device, settings, l1_info, t_rec: float, seconds: float,
           written: list) -> None:
    """Write :data:`OUTPUTS` into ``out`` (replacing earlier ones only with ``--overwrite``); each
    file written is appended to ``written``."""
    import numpy as np

    from ..data.scanfile import atomic_savez
    from ..explain.figures import save_explanation, save_rate_distortion, save_relevance_maps
    from ..runtime.files import atomic_write
    from ..version import __version__

    replace = args.overwrite
    out.mkdir(parents=True, exist_ok=True)
    r0, c0, r1, c1 = expl.roi
    title = (f"{Path(args.scan).name} [{args.index}]: what LtI's network adds in rows {r0}:{r1}, columns {c0}:{c1}, "
             f"and what it uses (RDE, {settings.domain})")
    written.append(save_explanation(out / "explanation.png", expl, title=title, replace=replace))
    written.append(save_relevance_maps(out / "relevance.png", expl, replace=replace))
    written.append(save_rate_distortion(out / "rate_distortion.png", expl.curves, history=expl.rde.history,
                                        replace=replace))
    arrays = {"mask": expl.rde.mask.numpy(), "f_vis": expl.f_vis.numpy(), "f_ltl": expl.f_ltl.numpy(),
              "contribution": expl.contribution.numpy(), "masked_visible": expl.masked_visible.numpy(),
              "network_input": expl.network_input.numpy(),
              **{f"relevance_{k}": v.numpy() for k, v in expl.relevance.items()},
              **{f"pixel_relevance_{k}": v.numpy() for k, v in expl.pixel_relevance.items()}}
    written.append(atomic_savez(out / "explanation.npz", overwrite=replace,
                                **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}))
    report = {
        "command": "explain", "ltl_version": __version__, "scan": str(args.scan), "index": args.index,
        "checkpoint": str(ckpt), "device": device.type, "seed": settings.seed,
        "geometry": scan.geometry.to_dict(), "geometry_description": scan.geometry.describe(),
        "settings": expl.settings,
        "model": {"residual": model.residual, "use_fvis": model.use_fvis, "predict_lowpass": model.predict_lowpass,
                  "visible_channels": model.num_visible, "predicted_channels": model.num_invisible},
        "channels": expl.channel_labels,
        "areas": expl.areas,
        "curves": {k: v.to_dict() for k, v in expl.curves.items()},
        "rde": {"rate": expl.rde.history["rate"][-1], "distortion": expl.rde.history["distortion"][-1],
                "objective": expl.rde.history["objective"][-1], "channel_mask": expl.channel_relevance.tolist(),
                "history": expl.rde.history, "params": expl.rde.params},
        "l1": {"iterations": l1_info.iterations, "converged": l1_info.converged, "rel_change": l1_info.rel_change[0],
               "seconds": t_rec},
        "seconds": dict(expl.seconds, reconstruction=t_rec, total=seconds),
        "outputs": list(OUTPUTS),
    }
    written.append(atomic_write(out / "explanation.json", lambda f: f.write(json.dumps(report, indent=1).encode()),
                                replace=replace))


def add_parser(subparsers) -> None:
    """Register ``ltl explain``; its option defaults are those of :class:`~ltl.explain.RDESettings`."""
    d = RDESettings
    s = subparsers.add_parser("explain", help="explain what LtI's network adds to a reconstruction (rate-distortion "
                                              "explanation of its use of the visible coefficients, with baselines)")
    s.add_argument("scan", help="scan file (.npz)")
    s.add_argument("--checkpoint", default=None, help="LtI model directory [the shipped demo model]")
    s.add_argument("--index", type=int, default=0, help="which scan of the file [0]")
    s.add_argument("--roi", default=None, metavar="r0,c0,r1,c1",
                   help="region of the image to explain: rows r0:r1, columns c0:c1 in pixels [the whole image]")
    s.add_argument("--domain", default=d.domain, choices=DOMAINS,
                   help=f"mask per visible coefficient, per pixel (all channels) or per channel [{d.domain}]")
    s.add_argument("--lam", type=float, default=d.lam,
                   help=f"λ, the weight of the kept fraction; larger gives sparser masks [{d.lam:g}]")
    s.add_argument("--steps", type=int, default=d.steps, help=f"Adam steps [{d.steps}]")
    s.add_argument("--samples", type=int, default=d.samples,
                   help=f"noise draws per step and per point of the ordering curves [{d.samples}]")
    s.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate [{d.lr:g}]")
    s.add_argument("--noise", default=d.noise, choices=NOISES,
                   help=f"obfuscating noise, with the training statistics per channel [{d.noise}]")
    s.add_argument("--points", type=int, default=d.points, help=f"points of the ordering curves [{d.points}]")
    s.add_argument("--seed", type=int, default=d.seed, help=f"seed of the noise and the baselines [{d.seed}]")
    s.add_argument("--device", default=None, help="cpu or cuda [cuda when available]")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier run in --out")
    s.set_defaults(func=run)
