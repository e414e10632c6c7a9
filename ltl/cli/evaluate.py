"""``ltl evaluate``: every method on a test set or on simulated scans of any phantom families, and a report.

The scores are broken down by phantom family and split into the families the learned models were
trained on (read from their provenance) and those held out.
"""

from __future__ import annotations

import time
from pathlib import Path

from .common import UsageError, check_noise, check_seed, check_writable, device_of, geometry, input_paths

__all__ = ["add_parser"]

_DEFAULT_METHODS = "fbp,sirt,tv,l1,ltl"
#: Command-line flag of each learned method's checkpoint.
CHECKPOINT_FLAGS = {"ltl": "--checkpoint", "ltl-refined": "--checkpoint", "postproc-fbp": "--checkpoint-postproc-fbp",
                    "postproc-l1": "--checkpoint-postproc-l1", "ltl-nosplit": "--checkpoint-nosplit"}
_GEOMETRY_DEFAULTS = {"size": 256, "range": 120.0, "step": 1.0, "center": 0.0}


def _checkpoints(args, methods: list[str], usage) -> dict:
    from ..models.shipped import default_checkpoint
    from ..evaluation import LEARNED

    given = {"ltl": args.checkpoint, "ltl-refined": args.checkpoint, "postproc-fbp": args.checkpoint_postproc_fbp,
             "postproc-l1": args.checkpoint_postproc_l1, "ltl-nosplit": args.checkpoint_nosplit}
    out = {}
    for m in methods:
        if m not in LEARNED:
            continue
        ck = given[m]
        if ck is None and m in ("ltl", "ltl-refined") and args.data is None and \
                any(getattr(args, k) is not None for k in _GEOMETRY_DEFAULTS):
            from ..models import model_for  # the shipped model made for the scans the options describe

            try:
                ck = model_for(_options_geometry(args))
            except ValueError as exc:
                raise usage(f"{exc} (or leave {m} out of --methods)") from None
        if ck is None and m in ("ltl", "ltl-refined"):
            ck = default_checkpoint()
            if ck is None:
                raise usage(f"method {m!r} needs a model and no demo model was found: pass --checkpoint RUN_DIR/model "
                            f"(from `ltl train`), set LTL_DEMO_MODEL, or leave {m} out of --methods")
        if ck is None:
            raise usage(f"method {m!r} needs a model: pass {CHECKPOINT_FLAGS[m]} RUN_DIR/model (from `ltl train "
                        f"--model {m}`) or leave {m} out of --methods")
        out[m] = Path(ck)
    unused = sorted({CHECKPOINT_FLAGS[m] for m, v in given.items() if v is not None} -
                    {CHECKPOINT_FLAGS[m] for m in methods if m in CHECKPOINT_FLAGS})
    if unused:
        print(f"ltl evaluate: {', '.join(unused)} given but the method is not in --methods; ignored")
    return out


def _scan_geometry(args, checkpoints: dict):
    """--size/--range/--step/--center when any is given, else the first checkpoint's, else the defaults."""
    from ..geometry import Geometry
    from ..models import read_meta

    opts = {k: getattr(args, k) for k in _GEOMETRY_DEFAULTS}
    if all(v is None for v in opts.values()) and checkpoints:
        meta = read_meta(next(iter(checkpoints.values())))[0]
        try:
            return Geometry.from_dict(meta["geometry"]), "the checkpoint's"
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{next(iter(checkpoints.values()))}: its metadata has no usable geometry ({exc})") from exc
    return _options_geometry(args), "the options'"


def _options_geometry(args):
    """The geometry of --size/--range/--step/--center, each left out taking its default."""
    o = {k: _GEOMETRY_DEFAULTS[k] if getattr(args, k) is None else getattr(args, k) for k in _GEOMETRY_DEFAULTS}
    return geometry(o["size"], o["range"], o["step"], o["center"])


def _warn_training_seeds(seed: int, count: int, learned: list) -> None:
    """Warn when simulated phantoms use training seeds: the learned models may have seen them."""
    from ..data.dataset import TEST_SEEDS, TRAIN_SEEDS

    if learned and seed < TRAIN_SEEDS.stop:
        import logging

        logging.getLogger(__name__).warning(
            f"--seed {seed}: phantoms {seed}.. use training seeds (below {TRAIN_SEEDS.stop}), which "
            f"{', '.join(learned)} may have been trained on; test seeds start at {TEST_SEEDS.start}")


def run(args) -> int:
    from ..evaluation import (check_report_dir, evaluate, family_tables, markdown_table, parse_methods, shifted_scans,
                              write_report)

    try:
        methods = parse_methods(args.methods)
    except ValueError as exc:
        raise UsageError(f"--methods: {exc}") from exc
    for name, v, lo in (("--limit", args.limit, 1), ("--batch-size", args.batch_size, 1), ("--count", args.count, 1),
                        ("--montage", args.montage, 0), ("--iters", args.iters, 1)):
        if v is not None and v < lo:
            raise UsageError(f"{name} must be >= {lo}, got {v}")
    out = Path(args.out)
    try:
        check_report_dir(out, args.overwrite)
    except FileExistsError as exc:
        raise UsageError(str(exc)) from exc
    check_writable(out / "report.md")
    from ..runtime.files import same_file

    for inp in input_paths(args.data, args.phantom):
        if same_file(out, inp) or same_file(out / "reconstructions.npz", inp):
            raise UsageError(f"--out {out} would replace the input {inp}; choose another --out")
    checkpoints = _checkpoints(args, methods, UsageError)
    device = device_of(args.device)
    settings = {"sirt": {"iters": args.iters}, "tv": {"iters": args.iters}} if args.iters is not None else None
    if args.data is not None:
        data, what = args.data, args.data
        if Path(args.data).suffix.lower() in (".h5", ".hdf5"):
            what += f" ({args.split} split)"
    else:
        check_seed(args.seed)
        check_noise(args.noise, args.photons)
        if args.size is not None and args.size < 2:
            raise UsageError(f"--size must be an integer >= 2 (pixels), got {args.size}")
        g, whose = _scan_geometry(args, checkpoints)
        _warn_training_seeds(args.seed, args.count, [m for m in methods if m in checkpoints])
        from ..runtime.memory import check_fits

        scans = args.count * max(1, len(str(args.phantom).split(","))) if not str(args.phantom).startswith("mix:") \
            else args.count
        n = g.image_size
        check_fits(4.0 * scans * (4 * n * n * 5 + n * n + 2 * g.num_angles * g.det_count),
                   f"{scans} simulated scan(s) of {n}² images", hint="use a smaller --count or --size")
        data = shifted_scans(args.phantom, g, count=args.count, noise=args.noise, photons=args.photons, seed=args.seed)
        what = (f"{data.sinogram.shape[0]} simulated scans of {data.meta['phantom']} (seeds from {args.seed}, noise "
                f"η={args.noise:g}), {whose} geometry")
    t0 = time.perf_counter()
    print(f"ltl evaluate: {', '.join(methods)} on {what}, on {device.type}")
    ev = evaluate(data, methods, checkpoints=checkpoints, settings=settings,
                  split=None if args.split == "all" else args.split, limit=args.limit, device=device,
                  batch_size=args.batch_size, progress=not args.no_progress, recompute_fvis=args.recompute_fvis)
    write_report(ev, out, overwrite=args.overwrite, montage=args.montage)
    print()
    print(markdown_table(ev))
    by_family = family_tables(ev)
    if by_family:
        print()
        print(by_family.rstrip())
    print(f"\nwrote {out}/report.md, results.json, results.csv, reconstructions.npz and the figures "
          f"({len(ev.ids)} images, {time.perf_counter() - t0:.1f} s)")
    return 0


def add_parser(subparsers) -> None:
    """Register ``ltl evaluate``."""
    from ..data.dataset import TEST_SEEDS
    from ..evaluation import METHODS, SHIFT_PHANTOMS

    s = subparsers.add_parser("evaluate", help="run FBP, SIRT, TV, l1-shearlet, LtI and the learned baselines on a "
                                                "test set and write a report (metrics, figures)")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="dataset file (.h5) from `ltl dataset make`, or a scan file (.npz)")
    src.add_argument("--phantom", help="simulate scans instead: FAMILY[,FAMILY...] (--count scans of each; families: "
                                       f"{', '.join(SHIFT_PHANTOMS)}, crops:FOLDER), a mix (mix:NAME=W,...), or a "
                                       "file/folder of images (PNG, TIFF, NPY)")
    s.add_argument("--split", default="test", choices=["train", "val", "test", "all"],
                   help="samples of a dataset file [test]")
    s.add_argument("--methods", default=_DEFAULT_METHODS, help=f"comma-separated, among {','.join(METHODS)} "
                                                               f"[{_DEFAULT_METHODS}]")
    s.add_argument("--checkpoint", default=None, help="LtI model for ltl (RUN_DIR/model or RUN_DIR/best) "
                                                      "[the shipped demo model]")
    s.add_argument("--checkpoint-postproc-fbp", default=None, help="model for postproc-fbp "
                                                                   "(ltl train --model postproc-fbp)")
    s.add_argument("--checkpoint-postproc-l1", default=None, help="model for postproc-l1 "
                                                                  "(ltl train --model postproc-l1)")
    s.add_argument("--checkpoint-nosplit", default=None, help="model for ltl-nosplit (ltl train --model ltl-nosplit)")
    g = s.add_argument_group("simulated scans (--phantom)")
    g.add_argument("--count", type=int, default=8, help="scans per family, or of a mix [8]")
    g.add_argument("--seed", type=int, default=TEST_SEEDS.start,
                   help=f"first phantom seed; each scan's noise uses its phantom's seed [{TEST_SEEDS.start}, the first "
                        "test seed]")
    g.add_argument("--size", type=int, default=None, help="image size N [the checkpoint's, else 256]")
    g.add_argument("--range", type=float, default=None, help="angular range in degrees [the checkpoint's, else 120]")
    g.add_argument("--step", type=float, default=None, help="angular step in degrees [the checkpoint's, else 1]")
    g.add_argument("--center", type=float, default=None, help="centre of the angular range in degrees "
                                                              "[the checkpoint's, else 0]")
    g.add_argument("--noise", type=float, default=0.01, help="relative Gaussian noise η [0.01]")
    g.add_argument("--photons", type=float, default=None, help="Poisson noise with I0 photons per ray [off]")
    s.add_argument("--limit", type=int, default=None, help="evaluate only the first K images [all]")
    s.add_argument("--iters", type=int, default=None, help="maximal iterations of sirt and tv [the solvers']")
    s.add_argument("--recompute-fvis", action="store_true",
                   help="recompute f_vis even where the dataset stores it with the same settings (end-to-end times)")
    s.add_argument("--batch-size", type=int, default=8, help="scans per call of each method [8]")
    s.add_argument("--montage", type=int, default=3, help="images in montage.png [3]")
    s.add_argument("--device", default=None, help="cpu or cuda [cuda when available]")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--out", required=True, help="report directory")
    s.add_argument("--overwrite", action="store_true", help="replace an existing report")
    s.set_defaults(func=run)
