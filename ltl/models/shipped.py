"""The models and sample scans shipped with ltl, and the choice of a model for a scan's geometry.

Where they live: ``data/`` of a source checkout, ``<prefix>/share/ltl`` of an installed wheel
(:func:`ltl.data.samples.share_dirs`):

``models/<name>/``  the shipped-model index: one checkpoint folder per model (``model.json`` and
                    compact ``model.npz`` weights, :mod:`ltl.models.checkpoint`), found by scanning;
                    ``<name>`` is ``<kind>-<range>deg-<N>``, e.g. ``ltl-90deg-256``
``demo-model/``     the first model, LtI for 256², 120° in 1° steps (``$LTL_DEMO_MODEL`` replaces it)

``$LTL_MODELS`` (folders separated by ``os.pathsep``) replaces the whole search: each folder is a
checkpoint or holds checkpoint folders.

:func:`shipped_models` lists them with their geometry, training data and recorded held-out scores
(``ltl models`` prints the table); :func:`model_for` picks the one made for a scan's geometry
(image size, angles and detector, i.e. range, step and centre; a fan-beam scan gets the widest
parallel-beam model its rebinned rays cover) and refuses a scan none fits with the list of what
exists and the commands that train one. :func:`ltl.models.install.install_model` puts a trained
checkpoint into an index in the compact form, with its evaluation record.

>>> from ltl.models import LtI, model_for
>>> from ltl.models.shipped import sample_path
>>> scan = load_scan(sample_path("ellipses-120deg-256"))    # doctest: +SKIP
>>> model = LtI.load(model_for(scan.geometry))              # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..geometry import Geometry
from .checkpoint import KINDS, META_NAME, kind_of, read_meta

__all__ = ["DEFAULT_CHECKPOINT", "DEMO_MODEL", "MODELS_DIR", "MODELS_ENV", "TRAIN_PHANTOM", "ShippedModel",
           "NoModelForGeometry", "default_checkpoint", "shipped_models", "model_for", "load_for", "model_name",
           "read_shipped", "describe_geometry", "train_commands", "samples", "sample_path"]

log = logging.getLogger(__name__)

#: The demo model's folder name, in ``data/`` of a checkout and in ``share/ltl/`` of an install.
DEMO_MODEL = "demo-model"
#: The folder of the shipped-model index, in ``data/`` of a checkout and in ``share/ltl/`` of an install.
MODELS_DIR = "models"
#: Folders (``os.pathsep``-separated) searched instead of the shipped index and the demo model.
MODELS_ENV = "LTL_MODELS"
#: The training data of the shipped models: every phantom family but the two held out for evaluation.
TRAIN_PHANTOM = "mix:all,-vessels,-natural"
#: The demo model of a source checkout (``ltl reconstruct --method ltl`` without --checkpoint).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent.parent / "data" / DEMO_MODEL
#: The key of a checkpoint's metadata that :func:`ltl.models.install.install_model` fills (name, evaluation record).
CARD_KEY = "shipped"


def _data_roots() -> list[Path]:
    """``data/`` of a source checkout (when this is one), then the ``share/ltl`` folders of an install."""
    from ..data.samples import checkout_data_dir, share_dirs

    checkout = checkout_data_dir()
    return ([checkout] if checkout is not None else []) + share_dirs()


def _model_dirs(name: str) -> list[Path]:
    from ..data.samples import share_dirs

    return [DEFAULT_CHECKPOINT.parent / name] + [d / name for d in share_dirs()]


def default_checkpoint() -> Path | None:
    """The shipped demo model (LtI for 256², 120° in 1° steps, 1% noise): ``$LTL_DEMO_MODEL``, else
    ``data/demo-model`` of a source checkout, else ``<prefix>/share/ltl/demo-model`` of an installed
    wheel; None when none exists. :func:`model_for` chooses by geometry among all shipped models."""
    env = os.environ.get("LTL_DEMO_MODEL")
    if env:
        return Path(env)
    for p in _model_dirs(DEMO_MODEL):
        if (p / META_NAME).exists():
            return p
    return None


# ---------------------------------------------------------------------------------------------- records
def _angles_deg(g: Geometry) -> tuple[float, float, float, bool]:
    """``(range, step, centre, regular)`` in degrees of a geometry's angles (sorted): the step is the
    mean spacing, the range V·step, the centre first + range/2 (so ``Geometry.limited_angle`` with
    them gives the same angles when ``regular``)."""
    a = np.sort(np.rad2deg(np.asarray(g.angles, dtype=np.float64)))
    step = float(np.mean(np.diff(a))) if a.size > 1 else 180.0
    regular = a.size < 2 or bool(np.allclose(np.diff(a), step, rtol=0, atol=1e-6))
    rng = step * a.size
    return rng, step, float(a[0] + rng / 2.0), regular


def _num(x: float) -> str:
    return f"{x:.4g}" if abs(x - round(x)) > 1e-6 else str(int(round(x)))


def _round(x: float) -> float:
    return round(float(x), 6) + 0.0


def describe_geometry(g: Geometry) -> str:
    """``'256², 120° in 1° steps, centre 0°, parallel beam'`` (or the views when irregular)."""
    rng, step, centre, regular = _angles_deg(g)
    beam = "fan beam" if g.is_fan else "parallel beam"
    if not regular:
        return f"{g.image_size}², {g.num_angles} irregular views, {beam}"
    return f"{g.image_size}², {_num(rng)}° in {_num(step)}° steps, centre {_num(centre)}°, {beam}"


@dataclass(frozen=True)
class ShippedModel:
    """One shipped model: where it is, what it is for, what it was trained on and how it scored.

    Attributes
    ----------
    name : str
        The folder name (``'ltl-90deg-256'``, ``'demo-model'``).
    path : Path
        The checkpoint folder; :func:`ltl.models.load_model` (or ``LtI.load``) reads it.
    kind : str
        One of :data:`ltl.models.KINDS`.
    geometry : Geometry
        The scan geometry the model reconstructs (it refuses any other).
    noise : float or None
        Relative Gaussian noise level η of its training data.
    train_data : str or None
        The phantom of its training data (a family or a mix such as :data:`TRAIN_PHANTOM`).
    families : tuple of str or None
        The phantom families it was trained on.
    train_samples : int or None
        Training samples.
    scores : dict or None
        The evaluation recorded by :func:`install_model`: ``held_out`` / ``in_distribution`` →
        ``families`` and method → quantity → ``[mean, std]`` (``psnr`` in dB, ``ssim``), the scans
        per family and how they were made; None when none was recorded.
    weights : str
        The weight file (``model.npz`` compact, ``model.pt``) and ``size_bytes`` its size.
    """

    name: str
    path: Path
    kind: str
    geometry: Geometry
    noise: float | None = None
    train_data: str | None = None
    families: tuple[str, ...] | None = None
    train_samples: int | None = None
    scores: dict | None = None
    weights: str = ""
    size_bytes: int = 0
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def range_deg(self) -> float:
        """Angular range in degrees (V·step)."""
        return _round(_angles_deg(self.geometry)[0])

    @property
    def step_deg(self) -> float:
        """Angular step in degrees."""
        return _round(_angles_deg(self.geometry)[1])

    @property
    def center_deg(self) -> float:
        """Centre of the angular range in degrees."""
        return _round(_angles_deg(self.geometry)[2])

    def describe(self) -> str:
        """``'ltl-90deg-256 (ltl: 256², 90° in 1° steps, centre 0°, parallel beam)'``."""
        return f"{self.name} ({self.kind}: {describe_geometry(self.geometry)})"

    def load(self, map_location: str | torch.device | None = "cpu"):
        """The model (hash-checked, :func:`ltl.models.load_model`)."""
        from .checkpoint import load_model

        return load_model(self.path, map_location=map_location)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe record (``ltl models --json``)."""
        g = self.geometry
        return {"name": self.name, "kind": self.kind, "path": str(self.path), "image_size": g.image_size,
                "range_deg": self.range_deg, "step_deg": self.step_deg, "center_deg": self.center_deg,
                "views": g.num_angles, "det_count": g.det_count, "beam": g.beam, "geometry": describe_geometry(g),
                "noise": self.noise, "train_data": self.train_data,
                "families": list(self.families) if self.families is not None else None,
                "train_samples": self.train_samples, "scores": self.scores, "weights": self.weights,
                "size_bytes": self.size_bytes}


def _train_settings(meta: dict) -> dict:
    try:
        s = meta["provenance"]["train_data"]["settings"]
    except (KeyError, TypeError):
        return {}
    return s if isinstance(s, dict) else {}


def _families(settings: dict) -> tuple[str, ...] | None:
    """The trained families from the training data's settings (a mix's positive weights)."""
    from ..data.phantoms import is_mix, parse_mix

    mix = settings.get("mix")
    if isinstance(mix, dict) and mix.get("families"):
        weights = mix.get("weights") or [1.0] * len(mix["families"])
        return tuple(f for f, w in zip(mix["families"], weights) if w > 0)
    phantom = settings.get("phantom")
    if not isinstance(phantom, str):
        return None
    if is_mix(phantom):
        try:
            return tuple(parse_mix(phantom).families)
        except ValueError:
            return None
    return (phantom,)


def read_shipped(path: str | Path, name: str | None = None) -> ShippedModel:
    """The :class:`ShippedModel` of a checkpoint folder (its metadata and weights hash-checked).

    Raises ``FileNotFoundError`` / ``ValueError`` for a missing or corrupt checkpoint.
    """
    path = Path(path)
    meta, weights_p, meta_p = read_meta(path)
    try:
        kind = kind_of(meta)
        geometry = Geometry.from_dict(meta["geometry"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{meta_p}: not a usable model record ({exc})") from exc
    settings = _train_settings(meta)
    card = meta.get(CARD_KEY) if isinstance(meta.get(CARD_KEY), dict) else {}
    prov = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    samples = prov.get("train_data", {}).get("samples") if isinstance(prov.get("train_data"), dict) else None
    noise = settings.get("noise")
    return ShippedModel(name=name or path.name, path=path, kind=kind, geometry=geometry,
                        noise=float(noise) if isinstance(noise, (int, float)) else None,
                        train_data=settings.get("phantom"), families=_families(settings),
                        train_samples=int(samples) if isinstance(samples, int) else None,
                        scores=card.get("scores"), weights=weights_p.name, size_bytes=weights_p.stat().st_size,
                        extra={k: v for k, v in card.items() if k != "scores"})


def _candidates() -> list[tuple[str, Path]]:
    """``(name, folder)`` of every checkpoint on the search path, in order of preference."""
    out: list[tuple[str, Path]] = []

    def scan(folder: Path) -> None:
        if (folder / META_NAME).exists():
            out.append((folder.name, folder))
        elif folder.is_dir():
            out.extend((p.name, p) for p in sorted(folder.iterdir()) if (p / META_NAME).exists())

    env = os.environ.get(MODELS_ENV)
    if env:
        for part in env.split(os.pathsep):
            if part:
                scan(Path(part))
        return out
    for root in _data_roots():
        scan(root / MODELS_DIR)
    demo = default_checkpoint()
    if demo is not None and (demo / META_NAME).exists():
        out.append((DEMO_MODEL, demo))
    return out


def shipped_models(kind: str | None = None, *, strict: bool = False) -> list[ShippedModel]:
    """The shipped models, in order of preference: the index (``data/models/*`` of a checkout, then
    ``share/ltl/models/*`` of an install, each by name), then the demo model; a name found twice
    keeps its first folder. ``$LTL_MODELS`` replaces the search path (see the module notes).

    Parameters
    ----------
    kind : str, optional
        Only models of this kind (one of :data:`ltl.models.KINDS`).
    strict : bool
        Raise on a corrupt checkpoint instead of leaving it out with a warning.

    Returns
    -------
    list of ShippedModel
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"model kind {kind!r} is not one of {', '.join(KINDS)}")
    seen: set[str] = set()
    out = []
    for name, path in _candidates():
        if name in seen:
            continue
        seen.add(name)
        try:
            rec = read_shipped(path, name)
        except (FileNotFoundError, ValueError) as exc:
            if strict:
                raise
            log.warning(f"shipped model {path} left out: {str(exc).splitlines()[0]}")
            continue
        if kind is None or rec.kind == kind:
            out.append(rec)
    return out


# ---------------------------------------------------------------------------------------------- choice
class NoModelForGeometry(ValueError):
    """No shipped model fits a scan's geometry (the message lists those there are and how to train one)."""


def model_name(kind: str, geometry: Geometry) -> str:
    """The index name of a model: ``<kind>-<range>deg-<N>`` (``'ltl-90deg-256'``), with ``-s<step>``
    and ``-c<centre>`` when they are not 1° and 0°."""
    rng, step, centre, _ = _angles_deg(geometry)
    name = f"{kind}-{_num(rng)}deg-{geometry.image_size}"
    if abs(step - 1.0) > 1e-6:
        name += f"-s{_num(step)}"
    if abs(centre) > 1e-6:
        name += f"-c{_num(centre)}"
    return name


def train_commands(geometry: Geometry, kind: str = "ltl", *, noise: float = 0.01) -> str:
    """The ``ltl dataset make`` and ``ltl train`` commands that make a model for ``geometry``
    (for a fan beam: a parallel-beam model of the range the rebinned scan covers)."""
    rng, step, centre, regular = _angles_deg(geometry)
    if geometry.is_fan:
        rng = max(step, rng - geometry.fan_angle_deg)
    if not regular:
        return ("train one with ltl.data.make_dataset(geometry=...) and `ltl train` (ltl dataset make makes evenly "
                "spaced views)")
    model = "" if kind == "ltl" else f" --model {kind}"
    return (f"`ltl dataset make --out train.h5 --phantom {TRAIN_PHANTOM} --count 4096 --val-count 128 "
            f"--size {geometry.image_size} --range {_num(rng)} --step {_num(step)} --center {_num(centre)} "
            f"--noise {noise:g}` then `ltl train --data train.h5 --out run{model} --amp` and pass "
            "--checkpoint run/model")


def _fan_coverage(model_geometry: Geometry, scan: Geometry) -> float:
    """The share of a parallel-beam model's rays through the image that a fan scan covers once rebinned."""
    from ..operators.rebin import rebin_fan_to_parallel

    if model_geometry.image_size != scan.image_size or model_geometry.is_fan:
        return 0.0
    y = torch.zeros(scan.sino_shape)
    try:
        _, mask = rebin_fan_to_parallel(y, scan, model_geometry, return_mask=True)
    except ValueError:
        return 0.0
    t = (np.arange(model_geometry.det_count) - (model_geometry.det_count - 1) / 2.0) * model_geometry.det_spacing
    through = np.abs(t) < model_geometry.image_size / np.sqrt(2.0) - 1.0
    return float(mask.cpu().numpy().reshape(model_geometry.sino_shape)[:, through].mean())


def model_for(geometry: Geometry, kind: str = "ltl", *, models: list[ShippedModel] | None = None) -> Path:
    """The folder of the shipped model of ``kind`` made for a scan of ``geometry``.

    A parallel-beam scan needs a model of exactly its geometry (image size, angles and detector:
    range, step and centre); the first in :func:`shipped_models` order wins (the index before the
    demo model). A fan-beam scan gets the parallel-beam model of the widest range whose rays its
    rebinned sinogram covers (99.5%, as ``ltl reconstruct`` requires).

    Parameters
    ----------
    geometry : Geometry
        The scan's geometry.
    kind : str
        The model kind (default ``'ltl'``; ``'postproc-fbp'``, ``'postproc-l1'``, ``'ltl-nosplit'``).
    models : list of ShippedModel, optional
        Choose among these instead of :func:`shipped_models`.

    Returns
    -------
    Path
        A checkpoint folder for ``LtI.load`` / :func:`ltl.models.load_model`.

    Raises
    ------
    NoModelForGeometry
        (a ``ValueError``) when none fits: the message lists the shipped models and the commands
        that train one for the scan.
    """
    if not isinstance(geometry, Geometry):
        raise TypeError(f"model_for needs a Geometry, got {type(geometry).__name__}")
    if kind not in KINDS:
        raise ValueError(f"model kind {kind!r} is not one of {', '.join(KINDS)}")
    found = shipped_models() if models is None else list(models)
    fits = [m for m in found if m.kind == kind]
    if not geometry.is_fan:
        for m in fits:
            if m.geometry == geometry:
                return m.path
    else:
        covered = [m for m in fits if not m.geometry.is_fan and _fan_coverage(m.geometry, geometry) >= 0.995]
        if covered:
            return max(covered, key=lambda m: m.range_deg).path
    have = "; ".join(m.describe() for m in found) if found else "none found"
    raise NoModelForGeometry(f"no shipped {kind} model fits the scan ({describe_geometry(geometry)}, "
                             f"{geometry.num_angles} views, {geometry.det_count} detectors); shipped models: {have}; "
                             f"{train_commands(geometry, kind)}")


def load_for(geometry: Geometry, kind: str = "ltl", *, map_location: str | torch.device | None = "cpu"):
    """The shipped model of ``kind`` for ``geometry``, loaded (:func:`model_for`, then
    :func:`ltl.models.load_model`, which checks its hashes and its geometry)."""
    from .checkpoint import load_model

    return load_model(model_for(geometry, kind), map_location=map_location, geometry=None if geometry.is_fan
                      else geometry)


def samples() -> dict[str, Path]:
    """The shipped sample scans, name → path (:func:`ltl.data.samples.samples`)."""
    from ..data.samples import samples as found

    return found()


def sample_path(name: str) -> Path:
    """The path of shipped sample scan ``name`` (:func:`ltl.data.samples.sample_path`);
    ``FileNotFoundError`` listing the samples there are."""
    from ..data.samples import sample_path as find

    return find(name)
