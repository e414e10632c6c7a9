"""Model checkpoints shared by every ltl model: a directory with ``model.pt`` and ``model.json``.

``model.pt``    ``torch.save(state_dict)``, loaded with ``torch.load(..., weights_only=True)``; or
``model.npz``   the compact, pickle-free form of shipped models (:data:`COMPACT_WEIGHTS_NAME`): one
                array per state-dict entry, read with ``numpy.load(..., allow_pickle=False)``; float
                tensors of two or more dimensions (convolution kernels) in half precision, the rest
                (biases, normalisation statistics, counters) as they were; each entry is cast back to
                the dtype of the model's own entry on loading. The metadata's ``weights`` names the
                file (``model.pt`` when absent) and ``weights_dtype`` records the storage
                (:func:`ltl.models.install.install_model` writes it)
``model.json``  metadata (``format``, ``kind``, ltl version, geometry, settings, provenance), the
                SHA-256 of ``model.pt`` and a manifest hash, the SHA-256 of the metadata's canonical
                JSON (sorted keys, no spaces) without the manifest entry itself: it covers the weights
                through their hash and every metadata value, so an edited geometry or solver setting
                is refused on loading (``manifest_sha256``; checkpoints written before it existed have
                none and are read as before)
Each file is written to a temporary file and moved into place with ``os.replace``; the weights go
first, so a metadata file always describes complete weights (the hash catches a mismatch).

:func:`load_model` reads any of them and returns the model class its metadata names (``format`` and
``kind``), looked up in :mod:`ltl.models.registry`; this module imports no model class.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ..runtime.files import atomic_write
from . import registry

__all__ = ["WEIGHTS_NAME", "COMPACT_WEIGHTS_NAME", "WEIGHT_FILES", "META_NAME", "KINDS", "manifest_hash", "save_dir",
           "read_meta", "read_compact_state", "load_state", "read_kind", "load_model", "model_from_metadata"]

WEIGHTS_NAME = "model.pt"
#: The compact, pickle-free weights of shipped models (half-precision kernels in a NumPy ``.npz``).
COMPACT_WEIGHTS_NAME = "model.npz"
#: The weight files a checkpoint's metadata may name (``weights``).
WEIGHT_FILES = (WEIGHTS_NAME, COMPACT_WEIGHTS_NAME)
META_NAME = "model.json"
#: Model kinds: LtI, LtI without the split, and the post-processing U-Nets on FBP and on f_vis.
KINDS = ("ltl", "ltl-nosplit", "postproc-fbp", "postproc-l1")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest_hash(meta: dict) -> str:
    """SHA-256 of ``meta``'s canonical JSON (sorted keys, compact), without ``manifest_sha256``."""
    body = {k: v for k, v in meta.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def save_dir(model: torch.nn.Module, path: str | Path, meta: dict, what: str) -> Path:
    """Write ``path/model.pt`` (the model's state dict) and ``path/model.json`` (``meta`` + hash)."""
    d = Path(path)
    if d.exists() and not d.is_dir():
        raise ValueError(f"{d} exists and is not a directory; an {what} checkpoint is a directory")
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_write(d / WEIGHTS_NAME, lambda f: torch.save(state, f))
    meta = dict(meta, weights=WEIGHTS_NAME, weights_sha256=sha256(d / WEIGHTS_NAME))
    meta["manifest_sha256"] = manifest_hash(meta)
    atomic_write(d / META_NAME, lambda f: f.write(json.dumps(meta, indent=1).encode()))
    return d


def read_meta(path: str | Path, what: str = "model", hint: str = "`ltl train` (RUN_DIR/model)") -> tuple[dict, Path, Path]:
    """Metadata, weights path and metadata path of a checkpoint directory (or its ``model.json`` /
    weights file); checks that both files exist, the JSON, the manifest hash over the metadata and
    the weights' hash. The weights are the file the metadata's ``weights`` names (``model.pt`` or
    the compact ``model.npz``; ``model.pt`` when absent).

    Raises ``FileNotFoundError`` for a missing checkpoint, ``ValueError`` for a corrupt one.
    """
    p = Path(path)
    d = p.parent if p.name in (META_NAME,) + WEIGHT_FILES else p
    meta_p = d / META_NAME
    if not meta_p.exists():
        raise FileNotFoundError(f"{what} checkpoint {d}: {META_NAME} not found; pass a directory written by {hint}")
    try:
        meta = json.loads(meta_p.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{meta_p} is not valid JSON ({exc}); the checkpoint is corrupt, re-save it") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_p} does not hold {what} metadata")
    name = meta.get("weights") or WEIGHTS_NAME
    if name not in WEIGHT_FILES:
        raise ValueError(f"{meta_p} names weights {name!r}; ltl reads {' or '.join(WEIGHT_FILES)}")
    weights_p = d / name
    if not weights_p.exists():
        raise FileNotFoundError(f"{what} checkpoint {d}: {name} not found; pass a directory written by {hint}")
    manifest = meta.get("manifest_sha256")
    if manifest is not None and manifest != manifest_hash(meta):
        raise ValueError(f"{meta_p} was changed after the model was saved (its manifest hash does not match its "
                         "contents); restore the file or re-save the model")
    want = meta.get("weights_sha256")
    if want and sha256(weights_p) != want:
        raise ValueError(f"{weights_p} does not match the hash in {meta_p} (a partial or mixed checkpoint); "
                         "re-save the model")
    return meta, weights_p, meta_p


def read_compact_state(weights_p: Path) -> dict[str, torch.Tensor]:
    """The state dict of compact weights (``model.npz``), as stored (half-precision kernels);
    pickle-free: object arrays are refused."""
    import numpy as np

    with np.load(weights_p, allow_pickle=False) as z:
        return {k: torch.from_numpy(np.array(z[k])) for k in z.files}


def load_state(model: torch.nn.Module, weights_p: Path, meta_p: Path) -> None:
    """Load ``weights_p`` into ``model`` with clear errors for unreadable or mismatched weights."""
    compact = Path(weights_p).name == COMPACT_WEIGHTS_NAME
    try:
        if compact:
            state = read_compact_state(weights_p)
            own = model.state_dict()
            state = {k: v.to(own[k].dtype) if k in own else v for k, v in state.items()}
        else:
            state = torch.load(weights_p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{weights_p} is not a readable {'compact' if compact else 'torch'} state dict "
                         f"({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}); re-save the model") from exc
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ValueError(f"{weights_p} does not fit the architecture in {meta_p} ({str(exc).splitlines()[0]})") from exc


def kind_of(meta: dict) -> str:
    """The model kind of checkpoint metadata (LtI checkpoints written before kinds existed are 'ltl')."""
    cls = registry.class_of_format(meta.get("format"))
    kind = cls.kind_of(meta)
    if kind not in KINDS:
        raise ValueError(f"model kind {kind!r} is not one of {', '.join(KINDS)}")
    return kind


def read_kind(path: str | Path) -> str:
    """The kind of the checkpoint at ``path`` (one of :data:`KINDS`), without loading its weights."""
    meta, _, meta_p = read_meta(path)
    try:
        return kind_of(meta)
    except ValueError as exc:
        raise ValueError(f"{meta_p}: {exc}") from exc


def model_from_metadata(meta: dict):
    """An untrained model of the class and architecture that ``meta`` describes."""
    kind_of(meta)
    return registry.class_of_format(meta.get("format")).from_metadata(meta)


def load_model(path: str | Path, *, map_location: str | torch.device | None = "cpu", geometry=None):
    """Load any ltl model checkpoint: an :class:`~ltl.models.LtI` (``ltl``, ``ltl-nosplit``) or a
    :class:`~ltl.models.PostProc` (``postproc-fbp``, ``postproc-l1``), as its metadata says.

    Parameters
    ----------
    path : str or Path
        A checkpoint directory (or its ``model.json`` / ``model.pt``).
    map_location : str or torch.device, optional
        Device to move the model to (default CPU).
    geometry : Geometry, optional
        Refuse the model unless it was made for this geometry (``ValueError`` naming both).

    Raises
    ------
    FileNotFoundError, ValueError
        A missing, corrupt or unknown checkpoint, or another geometry.
    """
    meta, _, meta_p = read_meta(path)
    try:
        kind = kind_of(meta)
    except ValueError as exc:
        raise ValueError(f"{meta_p}: {exc}") from exc
    return registry.class_of_kind(kind).load(path, map_location=map_location, geometry=geometry)
