"""``ltl simulate``: limited-angle scans of phantoms, projected from a finer grid (no inverse crime).

``--phantom`` takes a phantom family (:data:`ltl.data.phantoms.FAMILIES`), a mix
(``mix:ellipses=1,polygons=1``: each scan's family drawn from its seed), ``crops:FOLDER``,
``shepp-logan`` or a user's image file or folder.
"""

from __future__ import annotations

import time
from pathlib import Path

from .common import UsageError, add_scan_options, check_out, check_scan_options, check_seed, geometry_from_args, input_paths

__all__ = ["add_parser", "run"]


def run(args) -> int:
    from ..data import save_scan, simulate_phantoms

    out = Path(args.out)
    check_out(out, args.overwrite, inputs=input_paths(args.phantom), suffixes={".npz"})
    if args.count < 1:
        raise UsageError(f"--count must be >= 1, got {args.count}")
    check_seed(args.seed)
    check_scan_options(args)
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


def add_parser(sub) -> None:
    s = sub.add_parser("simulate", help="simulate limited-angle scans of phantoms (no inverse crime)")
    from ..data.phantoms import FAMILIES

    s.add_argument("--phantom", default="ellipses",
                   help=f"a phantom family ({', '.join(FAMILIES)}), 'shepp-logan' (fixed), a mix "
                        "(mix:ellipses=1,polygons=1, each scan's family drawn from its seed), crops:FOLDER (crops of "
                        "your images), or an image file/folder (.npy, .npz, PNG, TIFF) [ellipses]")
    s.add_argument("--count", type=int, default=1, help="number of phantoms, seeds SEED..SEED+COUNT-1 [1]")
    add_scan_options(s)
    s.add_argument("--seed", type=int, default=0, help="seed of phantoms and noise [0]")
    s.add_argument("--out", required=True, help="scan file to write (.npz)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output")
    s.set_defaults(func=run)
