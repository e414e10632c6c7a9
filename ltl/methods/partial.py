"""The partial result of a volume run (:mod:`ltl.methods.volume`): the folder ``.NAME.partial/``
beside the output ``NAME`` with ``state.json`` (the fingerprint of the inputs and settings, and the
global preprocessing values resolved once) and one ``batch-NNNNN.npz`` per finished batch, each
written atomically, so that the files present are the done-mask a resumed run continues from.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..runtime.files import atomic_bytes, atomic_write, json_safe

__all__ = ["PartialStore"]


def _digest(d: dict) -> str:
    return hashlib.sha256(json.dumps(json_safe(d), sort_keys=True).encode()).hexdigest()


class PartialStore:
    """The partial result of a volume run: the folder ``.NAME.partial/`` beside the output ``NAME``
    (module notes). Methods do no collective work; :func:`reconstruct_volume` orders them."""

    STATE = "state.json"

    def __init__(self, out: str | Path):
        out = Path(out)
        self.out = out
        self.dir = out.parent / f".{out.name}.partial"

    # ---------------------------------------------------------------- state
    def state(self) -> dict | None:
        """The stored state (fingerprint, resolved values), or None without a partial result."""
        p = self.dir / self.STATE
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text())
        except ValueError:
            return None

    def check(self, key: dict, *, restart: bool = False) -> str:
        """``'new'`` (nothing stored, or ``restart``), ``'resume'`` (stored by the same command);
        ``ValueError`` naming what differs when the stored result is of another command."""
        st = self.state()
        if st is None or restart:
            return "new"
        if st.get("digest") == _digest(key):
            return "resume"
        old = st.get("key", {})
        diff = sorted(k for k in set(old) | set(key) if json_safe(old.get(k)) != json_safe(key.get(k)))
        raise ValueError(f"{self.dir.name}/ holds a partial result of a different command ({', '.join(diff)} "
                         f"differ); rerun that command to finish it, or pass --restart to discard it")

    def create(self, key: dict) -> None:
        """Start a partial result for ``key`` (removing any old one)."""
        self.remove()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_state({"digest": _digest(key), "key": json_safe(key), "resolved": None})

    def _write_state(self, st: dict) -> None:
        atomic_bytes(self.dir / self.STATE, json.dumps(json_safe(st), indent=1).encode())

    def resolved(self) -> dict | None:
        """The global preprocessing values stored by the first run (floor, centre), or None."""
        st = self.state()
        return None if st is None else st.get("resolved")

    def set_resolved(self, values: dict) -> None:
        st = self.state() or {}
        st["resolved"] = values
        self._write_state(st)

    # ---------------------------------------------------------------- batches
    def _batch(self, j: int) -> Path:
        return self.dir / f"batch-{j:05d}.npz"

    def done(self) -> set[int]:
        """Indices of the stored batches."""
        if not self.dir.is_dir():
            return set()
        out = set()
        for name in os.listdir(self.dir):
            if name.startswith("batch-") and name.endswith(".npz"):
                try:
                    out.add(int(name[6:-4]))
                except ValueError:
                    pass
        return out

    def save(self, j: int, image: np.ndarray, info: dict, parts: dict[str, np.ndarray]) -> None:
        """Store batch ``j`` (images ``(K, N, N)``, its JSON-safe record and extra arrays), atomically."""
        arrays = {f"part_{k}": np.asarray(v) for k, v in parts.items()}
        arrays["image"] = np.asarray(image, dtype=np.float32)
        arrays["info"] = np.array(json.dumps(json_safe(info)))
        atomic_write(self._batch(j), lambda f: np.savez(f, **arrays), suffix=".tmp")

    def load(self, j: int, *, parts: bool = False) -> tuple[np.ndarray, dict, dict]:
        """Batch ``j``: ``(images (K, N, N), record, extra arrays if parts)``."""
        with np.load(self._batch(j), allow_pickle=False) as z:
            info = json.loads(str(z["info"]))
            extra = {k[5:]: np.asarray(z[k]) for k in z.files if k.startswith("part_")} if parts else {}
            return np.asarray(z["image"]), info, extra

    def load_info(self, j: int) -> dict:
        """The record of batch ``j`` (without reading its images)."""
        with np.load(self._batch(j), allow_pickle=False) as z:
            return json.loads(str(z["info"]))

    def remove(self) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
