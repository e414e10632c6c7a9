"""Reading a dataset: its summary, the split-disjointness check and the torch ``Dataset``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ...geometry import Geometry
from .schema import h5py_module, open_dataset, read_settings, sample_families
from .seeds import SPLITS, seed_ranges

__all__ = ["dataset_info", "family_counts", "check_disjoint", "LtIDataset"]


def _split_mask(seeds: np.ndarray, r: range) -> np.ndarray:
    return (seeds >= r.start) & (seeds < r.stop)


def family_counts(families: np.ndarray, seeds: np.ndarray, order=()) -> dict:
    """Samples per family and split: ``{family: {'train': n, 'val': n, 'test': n}}``, the families
    of ``order`` first (with zero counts where they have no sample), then the others as they come."""
    out = {}
    for fam in dict.fromkeys(list(order) + families.tolist()):
        sel = families == fam
        out[fam] = {name: int((sel & _split_mask(seeds, r)).sum()) for name, r in SPLITS.items()}
    return out


def dataset_info(path: str | Path) -> dict:
    """The settings of a dataset file plus ``path``, ``samples`` (M), ``done`` (finished samples),
    ``splits`` (samples per split name) and ``families`` (samples per family and split, see
    :func:`family_counts`; one family unless the file holds a mix, whose weights are in ``mix``).

    Raises ``FileNotFoundError`` / ``ValueError`` for a missing or unreadable file.
    """
    path = Path(path)
    with open_dataset(path, "r") as f:
        s = read_settings(f, path)
        seeds = f["seed"][:]
        done = f["done"][:]
        families = sample_families(f, s)
    counts = {name: int(_split_mask(seeds, r).sum()) for name, r in SPLITS.items()}
    return dict(s, path=str(path), samples=int(seeds.size), done=int(done.sum()), splits=counts,
                families=family_counts(families, seeds, (s.get("mix") or {}).get("families", ())))


def check_disjoint(*datasets: "LtIDataset") -> None:
    """Refuse datasets that share a phantom: a sample seed of the same family in both (``ValueError``).

    A phantom is determined by its family and its seed, so two files of one family (or two mixes
    that give a seed the same family) must not share seeds.
    """
    for i, a in enumerate(datasets):
        for b in datasets[i + 1:]:
            common = np.intersect1d(a.sample_seeds, b.sample_seeds)
            if common.size:
                fa = dict(zip(a.sample_seeds.tolist(), a.families.tolist()))
                fb = dict(zip(b.sample_seeds.tolist(), b.families.tolist()))
                common = np.asarray([s for s in common.tolist() if fa[s] == fb[s]], dtype=np.int64)
            if common.size:
                raise ValueError(
                    f"{a.path} ({a.split or 'all'}) and {b.path} ({b.split or 'all'}) share {common.size} "
                    f"phantom seed(s), e.g. {int(common[0])}; training and validation data must not overlap"
                )


class LtIDataset(torch.utils.data.Dataset):
    """A dataset file as a ``torch.utils.data.Dataset`` of dicts of tensors.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`~ltl.data.dataset.make_dataset`.
    split : {'train', 'val', 'test'} or None
        Keep the samples whose seed lies in :data:`TRAIN_SEEDS` / :data:`VAL_SEEDS` /
        :data:`TEST_SEEDS`; None keeps all.
    keys : sequence of str
        Arrays to return among ``'f_vis'``, ``'truth'``, ``'sinogram'`` (default the first two).
    allow_incomplete : bool
        Use the finished samples of an unfinished file (default: refuse it).

    Items are ``{'f_vis': (N, N), 'truth': (N, N), 'seed': int64 (), 'index': int64 ()}`` float32
    CPU tensors; :attr:`families` names the phantom family of each kept sample. The HDF5 file is
    opened lazily in each process (DataLoader workers included), never in ``__init__``, so the
    dataset pickles and forks safely.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is unreadable or not an ltl dataset, unfinished, or holds no sample of ``split``.
    """

    def __init__(self, path: str | Path, split: str | None = None, *, keys: Sequence[str] = ("f_vis", "truth"),
                 allow_incomplete: bool = False):
        self.path = Path(path)
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)} or None, got {split!r}")
        bad = [k for k in keys if k not in ("f_vis", "truth", "sinogram")]
        if bad or not keys:
            raise ValueError(f"keys must be a non-empty subset of 'f_vis', 'truth', 'sinogram', got {list(keys)}")
        self.keys = tuple(keys)
        self.split = split
        with open_dataset(self.path, "r") as f:
            self.settings = read_settings(f, self.path)
            seeds = f["seed"][:]
            done = f["done"][:]
            families = sample_families(f, self.settings)
            shapes = {k: f[k].shape for k in ("truth", "f_vis", "sinogram")}
        self.geometry = Geometry.from_dict(self.settings["geometry"])
        n = self.geometry.image_size
        m = seeds.size
        want = {"truth": (m, n, n), "f_vis": (m, n, n), "sinogram": (m, *self.geometry.sino_shape)}
        for k, shp in want.items():
            if tuple(shapes[k]) != shp:
                raise ValueError(f"{self.path}: array {k!r} has shape {tuple(shapes[k])}, expected {shp}; re-create the file")
        if not done.all() and not allow_incomplete:
            raise ValueError(
                f"{self.path} is unfinished ({int(done.sum())} of {m} samples done); resume it by running the same "
                "`ltl dataset make` command again (or pass allow_incomplete=True)"
            )
        keep = done.copy()
        if split is not None:
            r = SPLITS[split]
            keep &= (seeds >= r.start) & (seeds < r.stop)
        self.indices = np.flatnonzero(keep)
        self.sample_seeds = seeds[self.indices]
        #: ``(len(self),)`` str: the phantom family of each kept sample.
        self.families = families[self.indices]
        if self.indices.size == 0:
            what = f"{split} samples (seeds {SPLITS[split].start}..{SPLITS[split].stop - 1})" if split else "finished samples"
            ranges = ", ".join(f"{a}..{b - 1}" for a, b in self.settings.get("seed_ranges", []))
            hint = {"train": "", "val": " (make one with --val-count, or --seed 10000)",
                    "test": " (make one with --test-count, or --seed 20000)"}.get(split or "", "")
            raise ValueError(f"{self.path} holds no {what}; its seeds are {ranges}{hint}")
        self._h5 = None
        self._pid = None

    # -- metadata
    @property
    def frame_settings(self) -> dict:
        """The stored frame settings (``N``, ``scales``, ``shears``, ``num_channels``)."""
        return dict(self.settings["frame"])

    @property
    def solver_settings(self) -> dict:
        """The stored l1-shearlet settings (the form of :meth:`L1Settings.to_dict`)."""
        return {k: v for k, v in self.settings["solver"].items() if k != "method"}

    def provenance(self) -> dict:
        """JSON-safe description of the data (for model metadata)."""
        s = {k: v for k, v in self.settings.items() if k not in ("geometry",)}
        return {"file": self.path.name, "split": self.split, "samples": int(len(self)),
                "seed_ranges": seed_ranges(np.sort(self.sample_seeds)), "settings": s,
                "families": {str(k): int(v) for k, v in zip(*np.unique(self.families, return_counts=True))}}

    def fingerprint(self, block: int = 64) -> str:
        """SHA-256 of what training reads from this split: the settings, the kept samples' seeds
        and the bytes of their ``keys`` arrays (read in blocks of ``block`` samples). A re-made or
        edited file with the same name gives another value, so ``train --resume`` can tell.
        Reads the split once (about a second per GB)."""
        import hashlib
        import json

        h = hashlib.sha256(json.dumps(self.settings, sort_keys=True).encode())
        h.update(np.ascontiguousarray(self.sample_seeds, dtype=np.int64).tobytes())
        with open_dataset(self.path, "r") as f:
            for key in self.keys:
                h.update(key.encode())
                for a in range(0, self.indices.size, block):
                    idx = self.indices[a:a + block]
                    lo, hi = int(idx[0]), int(idx[-1]) + 1
                    rows = f[key][lo:hi]
                    h.update(np.ascontiguousarray(rows[idx - lo], dtype=np.float32).tobytes())
        return h.hexdigest()

    # -- data
    def __len__(self) -> int:
        return int(self.indices.size)

    def _file(self):
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py_module().File(self.path, "r")
            self._pid = os.getpid()
        return self._h5

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        i = int(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} samples")
        j = int(self.indices[i])
        f = self._file()
        out = {k: torch.from_numpy(np.asarray(f[k][j], dtype=np.float32)) for k in self.keys}
        out["seed"] = torch.tensor(int(self.sample_seeds[i]), dtype=torch.int64)
        out["index"] = torch.tensor(j, dtype=torch.int64)
        return out

    def close(self) -> None:
        """Close this process's handle of the file (reopened on the next item)."""
        if self._h5 is not None and self._pid == os.getpid():
            try:
                self._h5.close()
            except Exception:  # pragma: no cover
                pass
        self._h5 = None

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_h5"] = None
        d["_pid"] = None
        return d

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"LtIDataset({str(self.path)!r}, split={self.split!r}, samples={len(self)}, {self.geometry.describe()})"
