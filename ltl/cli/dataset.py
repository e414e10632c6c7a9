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
from .common import (UsageError, add_scan_options, check_scan_options, check_seed, check_writable, device_of,
                     geometry_from_args)

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
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a dataset file name (.h5)")
    if out.is_symlink():
        raise UsageError(f"--out {out} is a link (to {os.readlink(out)}); ltl writes a dataset to a plain file only, "
                         "give its real path")
    check_writable(out)
    check_seed(args.seed)
    check_scan_options(args)
    check_split_seeds(args.seed, args.count)
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


def check_split_seeds(seed: int, count: int) -> None:
    """Refuse main seeds ``seed .. seed+count−1`` that span two splits (or leave the last one): a
    sample's split follows from its seed (:func:`ltl.data.split_of`), so ``--seed 9999 --count 2``
    would put a training sample's neighbour into the validation split."""
    from ..data.dataset import SPLITS, split_of

    if count < 1 or seed < 0:
        return
    first, last = split_of(seed), split_of(seed + count - 1)
    if first != last:
        r = SPLITS[first] if first else None
        names = {"train": "training", "val": "validation", "test": "test"}
        into = f"into the {names[last]} seeds ({SPLITS[last].start}..)" if last else \
            f"past {max(r.stop for r in SPLITS.values()) - 1}, the last seed of any split"
        raise UsageError(f"--seed {seed} --count {count}: seeds {seed}..{seed + count - 1} run from the "
                         f"{names.get(first, first)} seeds {into}; a sample's split follows from its seed, so keep "
                         f"seed+count <= {r.stop if r else 0} (use --val-count / --test-count for the other splits)")


def run_merge(args) -> int:
    """``ltl dataset merge``: merge the rank shards into the dataset file."""
    if args.world_size < 1:
        raise UsageError(f"--world-size must be an integer >= 1 (the ranks that wrote shards), got {args.world_size}")
    done = merge_shards(args.path, args.world_size)
    print(f"merged shards into {args.path}: {done} samples done")
    return 0


def run_info(args) -> int:
    """``ltl dataset info``: print a dataset's settings and progress (``--json``: as JSON)."""
    try:
        info = dataset_info(args.path)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # settings of the wrong JSON type
        raise ValueError(f"{args.path}: its settings are not what `ltl dataset make` writes ({type(exc).__name__}: "
                         f"{exc}); re-create the file") from None
    if args.json:
        print(json.dumps(info))
    else:
        g = _checked(info, args.path)
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


def _checked(info: dict, path) -> Geometry:
    """The geometry of :func:`dataset_info`'s summary after checking the values ``run_info``
    prints; ``ValueError`` naming the first that is not what ``ltl dataset make`` writes."""
    def bad(key, v, want):
        return ValueError(f"{path}: its settings' {key!r} is {v!r}, expected {want}; the file was not written by "
                          "`ltl dataset make` or was edited: re-create it")

    try:
        g = Geometry.from_dict(info["geometry"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise bad("geometry", info.get("geometry"), f"a geometry ({exc})") from None
    v = info.get("noise")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
        raise bad("noise", v, "a number >= 0")
    for key, kind in (("done", int), ("samples", int), ("splits", dict), ("families", dict), ("phantom", str)):
        if isinstance(info.get(key), bool) or not isinstance(info.get(key), kind):
            raise bad(key, info.get(key), kind.__name__)
    mix = info.get("mix")
    if mix and not (isinstance(mix, dict) and isinstance(mix.get("weights"), list)
                    and all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in mix["weights"])
                    and isinstance(mix.get("families"), list)):
        raise bad("mix", mix, "families and numeric weights")
    return g


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
