"""``ltl dataset make|merge|info``: HDF5 training sets of phantoms, sinograms and f_vis."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..data.dataset import (DATASET_PHANTOMS, TEST_SEEDS, VAL_SEEDS, dataset_info, make_dataset, merge_shards)
from ..data.phantoms import FAMILIES
from ..data.dataset.writer import DEFAULT_CHUNK
from ..geometry import Geometry
from ..shearlets.settings import FrameSettings
from ..solvers.settings import L1Settings
from .common import add_scan_options, device_of, geometry_from_args

__all__ = ["add_parser", "run_make", "run_merge", "run_info"]

PHANTOM_HELP = (f"a phantom family ({', '.join(FAMILIES)}); 'shepp-logan' (fixed); crops:FOLDER (crops of your "
                "images); or a mix, e.g. mix:ellipses=1,polygons=1 (NAME=WEIGHT, weight 1 if omitted; 'all' for every "
                "family, '-NAME' to leave one out: mix:all,-vessels), each sample's family drawn from its seed "
                f"[{DATASET_PHANTOMS[0]}]")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _print_estimate(info: dict) -> None:
    print(f"ltl dataset: estimated {_duration(info['seconds'])} for {info['samples']} samples "
          f"({info['seconds_per_sample']:.2f} s per sample, {info['iterations']} solver iterations; {info['how']})",
          flush=True)


def run_make(args) -> int:
    """``ltl dataset make``: write (or resume) a dataset file; prints a one-line summary."""
    out = Path(args.out)
    if out.suffix not in (".h5", ".hdf5"):
        raise ValueError(f"--out must end in .h5 or .hdf5, got {out.name}")
    device = device_of(args.device)
    g = geometry_from_args(args)
    solver = {k: v for k, v in (("lam", args.lam), ("iters", args.iters), ("tol", args.tol)) if v is not None}
    frame = {"scales": args.scales} if args.scales is not None else None
    t0 = time.perf_counter()
    res = make_dataset(out, phantom=args.phantom, count=args.count, geometry=g, noise=args.noise,
                       photons=args.photons, seed=args.seed, val_count=args.val_count, test_count=args.test_count,
                       chunk=args.chunk, solver_settings=solver, frame_settings=frame, device=device,
                       progress=not args.no_progress, overwrite=args.overwrite,
                       estimate=None if args.no_progress else _print_estimate)
    dt = time.perf_counter() - t0
    if res != out:
        print(f"wrote shard {res} ({dt:.1f} s); run `ltl dataset merge {out} --world-size W` when all ranks finished")
    elif int(os.environ.get("RANK", 0)) == 0:
        info = dataset_info(out)
        print(f"wrote {out}: {info['done']}/{info['samples']} samples ({', '.join(f'{k} {v}' for k, v in info['splits'].items())}), "
              f"{g.describe()}, phantom {info['phantom']}, noise η={args.noise:g} ({dt:.1f} s)")
    return 0


def run_merge(args) -> int:
    """``ltl dataset merge``: merge the rank shards into the dataset file."""
    done = merge_shards(args.path, args.world_size)
    print(f"merged shards into {args.path}: {done} samples done")
    return 0


def run_info(args) -> int:
    """``ltl dataset info``: print a dataset's settings and progress (``--json``: as JSON)."""
    info = dataset_info(args.path)
    if args.json:
        print(json.dumps(info))
    else:
        g = Geometry.from_dict(info["geometry"])
        print(f"{info['path']}: {info['done']}/{info['samples']} samples done, splits {info['splits']}")
        print(f"geometry   {g.describe()}")
        print(f"phantom    {info['phantom']}, noise η={info['noise']:g}, seeds {info['seed_ranges']}")
        if info.get("mix"):
            mix = info["mix"]
            total = sum(mix["weights"])
            print("mix        " + ", ".join(f"{f} {w:g} ({w / total:.0%})"
                                            for f, w in zip(mix["families"], mix["weights"])))
        fams = info["families"]
        width = max(len(f) for f in fams)
        print("families   " + "\n           ".join(
            f"{f:<{width}}  {sum(c.values())} samples ({', '.join(f'{k} {v}' for k, v in c.items())})"
            for f, c in fams.items()))
        print(f"solver     {info['solver']}")
        print(f"frame      {info['frame']}")
        print(f"ltl        {info['ltl_version']}")
    return 0


def add_parser(subparsers) -> None:
    """Register ``ltl dataset make|merge|info``."""
    p = subparsers.add_parser("dataset", help="make and inspect HDF5 training sets (phantoms, sinograms, f_vis)")
    sub = p.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")

    s = sub.add_parser("make", help="simulate scans, reconstruct with l1-shearlet, write (or resume) an HDF5 file")
    s.add_argument("--out", required=True, help="dataset file to write (.h5); an unfinished one is resumed")
    s.add_argument("--phantom", default=DATASET_PHANTOMS[0], help=PHANTOM_HELP)
    s.add_argument("--count", type=int, required=True, help="samples with seeds SEED..SEED+COUNT-1")
    s.add_argument("--val-count", type=int, default=0, help=f"extra validation samples, seeds from {VAL_SEEDS.start} [0]")
    s.add_argument("--test-count", type=int, default=0, help=f"extra test samples, seeds from {TEST_SEEDS.start} [0]")
    s.add_argument("--seed", type=int, default=0, help="first seed [0]")
    add_scan_options(s)
    lam = "per slice" if L1Settings.lam is None else f"{L1Settings.lam:g}"
    s.add_argument("--lam", type=float, default=None,
                   help=f"l1-shearlet λ [{lam}: {L1Settings.lam_factor:g}·σ·κ, σ the sinogram's noise level]")
    s.add_argument("--iters", type=int, default=None, help=f"l1-shearlet iterations [{L1Settings.iters}]")
    s.add_argument("--tol", type=float, default=None,
                   help=f"l1-shearlet relative-change tolerance, 0 runs all iterations [{L1Settings.tol:g}]")
    scales = "the frame's default for N, 4 for N >= 128" if FrameSettings.scales is None else FrameSettings.scales
    s.add_argument("--scales", type=int, default=None, help=f"shearlet detail scales [{scales}]")
    s.add_argument("--chunk", type=int, default=DEFAULT_CHUNK,
                   help=f"samples per batch and per resumable chunk [{DEFAULT_CHUNK}]")
    s.add_argument("--device", default=None, help="torch device [cuda if torch and ASTRA see it, else cpu]")
    s.add_argument("--no-progress", action="store_true",
                   help="no progress bar and no time estimate (which times one extra sample before the start)")
    s.add_argument("--overwrite", action="store_true", help="replace a file made with other settings")
    s.set_defaults(func=run_make)

    s = sub.add_parser("merge", help="merge the rank shards of a sharded run into one file")
    s.add_argument("path", help="dataset file (.h5)")
    s.add_argument("--world-size", type=int, required=True, help="number of ranks that wrote shards")
    s.set_defaults(func=run_merge)

    s = sub.add_parser("info", help="print a dataset's settings and progress")
    s.add_argument("path", help="dataset file (.h5)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=run_info)
