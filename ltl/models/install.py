"""Putting a trained checkpoint into a shipped-model index (:mod:`ltl.models.shipped`) in the
compact form: half-precision convolution kernels in a pickle-free ``model.npz``, the metadata with
the weights' hashes, the evaluation record (the model card) and a new manifest hash; the compact
model is loaded back and compared with the original before the folder is kept.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from ..geometry import Geometry
from ..runtime.files import atomic_write
from .checkpoint import COMPACT_WEIGHTS_NAME, META_NAME, kind_of, manifest_hash, read_meta, sha256
from .shipped import CARD_KEY, ShippedModel, model_name, read_shipped

__all__ = ["install_model"]


def _compact_state(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Half precision for float tensors of two or more dimensions (convolution kernels), the rest as is."""
    out = {}
    for k, v in state.items():
        v = v.detach().cpu()
        if v.is_floating_point() and v.ndim >= 2:
            h = v.to(torch.float16)
            if not torch.isfinite(h).all():
                raise ValueError(f"weight {k} does not fit half precision (|w| up to {float(v.abs().max()):.3g})")
            v = h
        out[k] = v.numpy()
    return out


def install_model(checkpoint: str | Path, index: str | Path, *, name: str | None = None, scores: dict | None = None,
                  card: dict | None = None, overwrite: bool = False) -> ShippedModel:
    """Copy a trained checkpoint into a shipped-model index in the compact form.

    Writes ``index/<name>/model.npz`` (half-precision kernels, pickle-free; see
    :mod:`ltl.models.checkpoint`) and ``model.json``: the checkpoint's metadata with ``weights``,
    ``weights_dtype``, ``weights_sha256``, the original weights' hash (``compacted_from``), the
    card (``shipped``: ``scores`` and ``card``'s entries) and a new manifest hash. The model is
    loaded back and its outputs compared with the original's before the folder is kept.

    Parameters
    ----------
    checkpoint : str or Path
        A checkpoint folder (``RUN_DIR/model``).
    index : str or Path
        The index folder (``data/models``).
    name : str, optional
        The folder name (default :func:`model_name` of its kind and geometry).
    scores : dict, optional
        The evaluation to record (see :attr:`ShippedModel.scores`).
    card : dict, optional
        Further JSON-safe entries for the card (how it was made, the report it came from).
    overwrite : bool
        Replace an existing folder of that name.

    Returns
    -------
    ShippedModel
    """
    from .checkpoint import load_model

    meta, weights_p, _ = read_meta(checkpoint)
    kind = kind_of(meta)
    geometry = Geometry.from_dict(meta["geometry"])
    name = name or model_name(kind, geometry)
    dest = Path(index) / name
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} exists; pass overwrite=True to replace it")
    original = load_model(checkpoint).eval()
    tmp = Path(index) / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        arrays = _compact_state(original.state_dict())
        atomic_write(tmp / COMPACT_WEIGHTS_NAME, lambda f: np.savez_compressed(f, **arrays))
        new = {k: v for k, v in meta.items() if k != "manifest_sha256"}
        new.update(weights=COMPACT_WEIGHTS_NAME, weights_dtype="float16 kernels (ndim >= 2), others as trained",
                   weights_sha256=sha256(tmp / COMPACT_WEIGHTS_NAME),
                   compacted_from={"weights": weights_p.name, "weights_sha256": meta.get("weights_sha256")},
                   **{CARD_KEY: dict(card or {}, name=name, scores=scores)})
        new["manifest_sha256"] = manifest_hash(new)
        atomic_write(tmp / META_NAME, lambda f: f.write(json.dumps(new, indent=1).encode()))
        _check_compact(original, load_model(tmp).eval())
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return read_shipped(dest, name)


def _check_compact(original, compact, tol: float = 2e-2) -> None:
    """The compact model's network gives the original's outputs to ``tol`` relative (L2) on a
    seeded random input; ``ValueError`` otherwise."""
    net_a, net_b = original.net, compact.net
    g = torch.Generator().manual_seed(0)
    n = original.geometry.image_size
    x = torch.randn(2, net_a.in_channels, n, n, generator=g)
    with torch.no_grad():
        a, b = net_a(x), net_b(x)
    rel = float((a - b).norm() / a.norm().clamp_min(1e-12))
    if not rel <= tol:
        raise ValueError(f"the half-precision weights change the network's output by {rel:.2%} (more than "
                         f"{tol:.0%}); keep the model.pt checkpoint")
