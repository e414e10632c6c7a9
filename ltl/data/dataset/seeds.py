"""Sample seeds and the train/validation/test splits they define.

A sample's seed is both its phantom seed and its noise seed. The three splits are disjoint seed
ranges, so a sample's split follows from its seed alone and splits never overlap, within one file
or across files.
"""

from __future__ import annotations

import numpy as np

from ...runtime.memory import check_fits

__all__ = ["TRAIN_SEEDS", "VAL_SEEDS", "TEST_SEEDS", "SPLITS", "split_of", "sample_seeds", "seed_ranges"]

#: Seeds of training phantoms.
TRAIN_SEEDS = range(0, 10_000)
#: Seeds of validation phantoms.
VAL_SEEDS = range(10_000, 20_000)
#: Seeds of test phantoms.
TEST_SEEDS = range(20_000, 30_000)
#: The splits by name.
SPLITS = {"train": TRAIN_SEEDS, "val": VAL_SEEDS, "test": TEST_SEEDS}


def split_of(seed: int) -> str | None:
    """``'train'``, ``'val'``, ``'test'`` or None: the split whose seed range holds ``seed``."""
    for name, r in SPLITS.items():
        if int(seed) in r:
            return name
    return None


def sample_seeds(seed: int, count: int, val_count: int, test_count: int) -> np.ndarray:
    """The seeds of a dataset's samples, in file order.

    Parameters
    ----------
    seed : int
        First seed of the ``count`` main samples (``seed .. seed+count−1``).
    count, val_count, test_count : int
        Main samples, then samples from ``VAL_SEEDS.start`` and from ``TEST_SEEDS.start``.

    Returns
    -------
    ndarray
        ``(count + val_count + test_count,)`` int64, all distinct.

    Raises
    ------
    ValueError
        A negative or non-integer count or seed, an empty dataset, more validation/test samples
        than their range holds, or main seeds that overlap the requested validation/test seeds.
    """
    for name, v in (("count", count), ("val_count", val_count), ("test_count", test_count)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if count + val_count + test_count < 1:
        raise ValueError("the dataset would be empty: pass count (and/or val_count, test_count) >= 1")
    if val_count > len(VAL_SEEDS) or test_count > len(TEST_SEEDS):
        raise ValueError(f"val_count and test_count may be at most {len(VAL_SEEDS)}")
    for name, r in (("validation", VAL_SEEDS), ("test", TEST_SEEDS)):
        if count and seed < r.start < seed + count:
            raise ValueError(f"seeds {seed}..{seed + count - 1} run into the {name} seeds ({r.start}..): the samples "
                             f"from {r.start} on would be {name} images; keep seed + count <= {r.start}, or start "
                             f"at {r.start} for a set of {name} images only")
    check_fits(8.0 * 4 * (count + val_count + test_count), f"the seeds of {count + val_count + test_count} samples",
               hint="use a smaller count")
    parts = [np.arange(seed, seed + count), np.arange(VAL_SEEDS.start, VAL_SEEDS.start + val_count),
             np.arange(TEST_SEEDS.start, TEST_SEEDS.start + test_count)]
    seeds = np.concatenate(parts).astype(np.int64)
    if np.unique(seeds).size != seeds.size:
        raise ValueError(
            f"seeds {seed}..{seed + count - 1} overlap the validation/test seeds "
            f"({VAL_SEEDS.start}.., {TEST_SEEDS.start}..) also requested; choose seed and count so "
            "that the ranges are disjoint"
        )
    return seeds


def seed_ranges(seeds: np.ndarray) -> list[list[int]]:
    """Contiguous runs of ``seeds`` (in their order) as JSON-safe ``[start, stop)`` pairs."""
    out: list[list[int]] = []
    for s in np.asarray(seeds).tolist():
        if out and out[-1][1] == s:
            out[-1][1] = s + 1
        else:
            out.append([s, s + 1])
    return out
