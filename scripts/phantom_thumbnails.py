"""Thumbnails of every phantom family and the time to make one phantom of each.

    python scripts/phantom_thumbnails.py --out data/phantom-families.png --json phantom-timing.json

The figure has one row per family of :data:`ltl.data.phantoms.FAMILIES` and one column per seed
(the test seeds ``--seed`` .. by default), each phantom made on the 2× grid and block-averaged to
N×N, as the training data see it. The timing (``--size``, 2× grid, ``--repeats`` phantoms per
family on one CPU thread after one warm-up phantom) is printed as a Markdown table and written as
JSON with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ltl.data.phantoms import FAMILIES, block_mean, generate  # noqa: E402
from ltl.runtime.files import atomic_path, atomic_write  # noqa: E402


def thumbnails(out: Path, *, size: int, seeds: list[int], oversample: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(FAMILIES)
    cell = 1.1
    fig, axes = plt.subplots(len(names), len(seeds), figsize=(cell * len(seeds) + 1.4, cell * len(names)),
                             squeeze=False)
    for r, name in enumerate(names):
        for c, s in enumerate(seeds):
            img = block_mean(generate(name, 1, size, seed=s, oversample=oversample), oversample)[0]
            ax = axes[r, c]
            ax.imshow(img.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
            if r == 0:
                ax.set_title(f"seed {s}", fontsize=7)
    fig.subplots_adjust(left=0.2, right=0.99, top=0.97, bottom=0.01, wspace=0.04, hspace=0.04)
    with atomic_path(out, ".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def timing(*, size: int, oversample: int, repeats: int, seed: int) -> dict:
    torch.set_num_threads(1)
    rows = {}
    for name in FAMILIES:
        generate(name, 1, size, seed=seed, oversample=oversample)  # warm-up: imports, cached source images
        t = []
        for i in range(repeats):
            t0 = time.perf_counter()
            generate(name, 1, size, seed=seed + 1 + i, oversample=oversample)
            t.append(time.perf_counter() - t0)
        rows[name] = {"mean_s": float(np.mean(t)), "max_s": float(np.max(t)), "repeats": repeats}
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="thumbnail PNG to write [none]")
    p.add_argument("--json", default=None, help="timing JSON to write [none]")
    p.add_argument("--thumb-size", type=int, default=96, help="N of the thumbnails [96]")
    p.add_argument("--columns", type=int, default=6, help="seeds per family in the figure [6]")
    p.add_argument("--seed", type=int, default=20_000, help="first seed [20000, the test seeds]")
    p.add_argument("--size", type=int, default=256, help="N of the timing [256]")
    p.add_argument("--oversample", type=int, default=2, help="grid refinement k [2]")
    p.add_argument("--repeats", type=int, default=10, help="phantoms timed per family [10]")
    p.add_argument("--no-timing", action="store_true", help="only the figure")
    a = p.parse_args(argv)
    if a.out:
        thumbnails(Path(a.out), size=a.thumb_size, seeds=list(range(a.seed, a.seed + a.columns)),
                   oversample=a.oversample)
        print(f"wrote {a.out} ({Path(a.out).stat().st_size / 1024:.0f} KB)")
    if a.no_timing:
        return 0
    rows = timing(size=a.size, oversample=a.oversample, repeats=a.repeats, seed=a.seed)
    print(f"\n{a.size}² phantoms on the {a.oversample}× grid ({a.size * a.oversample}²), one CPU thread, "
          f"{a.repeats} each:\n")
    print("| family | s / phantom (mean) | max |\n| --- | --- | --- |")
    for name, r in rows.items():
        print(f"| {name} | {r['mean_s']:.3f} | {r['max_s']:.3f} |")
    if a.json:
        doc = {"size": a.size, "oversample": a.oversample, "threads": 1, "machine": platform.processor() or
               platform.machine(), "python": platform.python_version(), "numpy": np.__version__, "families": rows}
        atomic_write(Path(a.json), lambda f: f.write(json.dumps(doc, indent=1).encode()))
        print(f"\nwrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
