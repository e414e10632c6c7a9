"""A run's saved state: the run directory's rules, the training checkpoint, RNG states and per-epoch
seeds, and resumption (the settings that must agree, the model and optimiser state to continue from).

``checkpoint.pt`` (:data:`CHECKPOINT_NAME`) holds everything a resumed run needs to continue as if
never interrupted: model state and metadata, optimizer, LR schedule, AMP scaler, RNG states, epoch,
history, best validation loss, the start image's metrics and the config. It is written atomically
and read with ``torch.load(weights_only=True)``.

Resuming (``TrainConfig.resume``) reads the run's own settings back (:func:`saved_config`, the
checkpoint's or else ``config.json``); :func:`resume_config` builds the config of the resumed run
from them and the options given again. Options that only say where or how fast the run goes
(:data:`MACHINE`, and ``amp`` on the CPU, where it does nothing) may change; ``epochs`` may grow
(:func:`extend_schedule` stretches the cosine schedule to the new length); every other setting
must agree (:func:`check_resume`).
"""

from __future__ import annotations

import io
import json
import math
import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..runtime.files import atomic_bytes
from .config import TrainConfig

__all__ = ["CHECKPOINT_NAME", "CHECKPOINT_FORMAT", "RUN_FILES", "MACHINE", "RESUME_FREE", "check_run_dir",
           "load_checkpoint", "save_checkpoint", "epoch_seed", "rng_state", "set_rng_state", "resume_keys",
           "check_resume", "saved_config", "resume_config", "extend_schedule", "new_model", "start_model",
           "checkpoint_state", "restore_state", "check_data"]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "ltl-train-checkpoint"
#: What a run writes in its directory besides the checkpoint (a fresh run refuses a directory holding any).
RUN_FILES = ("model", "best", "log.csv", "log.json", "curves.png", "config.json")
#: Settings that only say where and how fast a run goes: a resumed run takes them from the options
#: given again, or their defaults, never from the saved run (whose device may be another machine's).
MACHINE = ("device", "num_workers", "progress", "preload")
#: Settings a resumed run may change; every other :class:`TrainConfig` field must agree with the
#: saved run's (``amp`` too, except on the CPU where it does nothing). ``epochs`` may only grow.
RESUME_FREE = ("out", "epochs", "resume", "max_train_samples", "max_val_samples") + MACHINE
# values of resume keys that checkpoints written before the key existed had
_RESUME_DEFAULTS = {"model": "ltl"}


def check_run_dir(config: TrainConfig) -> Path:
    """The run directory ``config.out``, checked before anything is read or written.

    Raises ``ValueError`` when it is a file, holds a checkpoint and ``config.resume`` is off, or
    holds any of :data:`RUN_FILES` without a checkpoint (a new run would overwrite them).
    """
    run_dir = Path(config.out)
    ckpt_path = run_dir / CHECKPOINT_NAME
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--out {run_dir} is a file; pass a directory for the run")
    if ckpt_path.exists() and not config.resume:
        raise ValueError(f"{run_dir} already holds a training run; pass --resume to continue it or choose another --out")
    if not ckpt_path.exists():  # --resume of a run that finished no epoch starts it again from its config.json
        clash = sorted(n for n in RUN_FILES if (run_dir / n).exists() and not (config.resume and n == "config.json"))
        if clash:
            raise ValueError(f"{run_dir} holds {', '.join(clash)} but no training checkpoint; a new run would overwrite "
                             "them: choose another --out")
    return run_dir


def load_checkpoint(path: str | Path) -> dict:
    """Read a training checkpoint (a run directory or its ``checkpoint.pt``) with ``weights_only=True``.

    Raises
    ------
    FileNotFoundError
        No checkpoint at ``path``.
    ValueError
        The file is unreadable or not an ltl training checkpoint.
    """
    p = Path(path)
    if p.is_dir():
        p = p / CHECKPOINT_NAME
    if not p.exists():
        raise FileNotFoundError(f"training checkpoint {p} not found")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{p} is not a readable training checkpoint ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}); delete it to start over") from exc
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{p} is not an ltl training checkpoint")
    return ck


def save_checkpoint(path: Path, state: dict) -> None:
    """``torch.save(state)`` to ``path`` atomically (a crash keeps the previous checkpoint)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_bytes(path, buf.getvalue())


def epoch_seed(*parts: int) -> int:
    """A 63-bit seed determined by ``parts`` (e.g. ``(seed, epoch, rank)``), independent across parts."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def rng_state(device: torch.device) -> dict:
    """The torch CPU, Python and (on CUDA) ``device``'s RNG states."""
    st = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state(device)
    return st


def set_rng_state(st: dict, device: torch.device) -> None:
    """Restore the states of :func:`rng_state` (the CUDA one only on a CUDA ``device``)."""
    torch.set_rng_state(st["torch"])
    random.setstate(st["python"])
    if device.type == "cuda" and "cuda" in st:
        torch.cuda.set_rng_state(st["cuda"], device)


def resume_keys(config: TrainConfig | None = None, device: torch.device | str | None = None) -> tuple[str, ...]:
    """The settings that must agree between a run and its resumption on ``device``, in field order:
    every field but :data:`RESUME_FREE`, and not ``amp`` on a CPU ``device`` (``config`` is unused,
    kept for callers that pass it)."""
    cpu = device is not None and torch.device(device).type == "cpu"
    return tuple(k for k in TrainConfig.field_names() if k not in RESUME_FREE and not (cpu and k == "amp"))


def _same_path(a, b) -> bool:
    return str(Path(a).resolve()) == str(Path(b).resolve())


def check_resume(saved: Mapping[str, Any], config: TrainConfig, run_dir: Path,
                 device: torch.device | str | None = None) -> None:
    """``ValueError`` naming the first of :func:`resume_keys` (on ``device``) in which ``config``
    differs from the saved run's config ``saved`` (data paths compared resolved)."""
    for k in resume_keys(config, device):
        a, b = saved.get(k, _RESUME_DEFAULTS.get(k)), getattr(config, k)
        if a == b or (k in ("data", "val_data") and a is not None and b is not None and _same_path(a, b)):
            continue
        raise ValueError(f"cannot resume {run_dir}: it was run with {k}={a!r}, not {k}={b!r}; leave the option out "
                         "to continue with the run's own settings, or start a new run in another --out")


def check_data(saved: Mapping[str, Any] | None, now: Mapping[str, str], run_dir: Path, config: TrainConfig) -> None:
    """``ValueError`` when the content of a run's training or validation data changed since the
    checkpoint (fingerprints ``saved`` of :func:`checkpoint_state` against ``now``). Checkpoints
    from before fingerprints were kept (``saved`` None) are not checked."""
    if not saved:
        return
    for split, path in (("train", config.data), ("val", config.val_data or config.data)):
        if saved.get(split) is not None and saved.get(split) != now.get(split):
            raise ValueError(f"cannot resume {run_dir}: the {split} data in {path} changed since the run was "
                             "checkpointed (its content differs); resume with the original file, or start a new "
                             "run in another --out")


def saved_config(run_dir: str | Path) -> dict | None:
    """The settings a run directory was started with: its checkpoint's config, else (no epoch
    finished yet) its ``config.json``; None when it holds neither.

    Raises ``ValueError`` for an unreadable checkpoint or ``config.json``.
    """
    run_dir = Path(run_dir)
    if (run_dir / CHECKPOINT_NAME).exists():
        return dict(load_checkpoint(run_dir)["config"])
    p = run_dir / "config.json"
    if not p.exists():
        return None
    try:
        saved = json.loads(p.read_text())
        TrainConfig.from_dict(saved)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{p} is not a readable training config ({str(exc).splitlines()[0]}); delete the run "
                         "directory to start over") from exc
    return saved


def resume_config(out: str | Path, given: Mapping[str, Any] | None = None) -> TrainConfig:
    """The config that resumes the run in ``out``: its saved settings (:func:`saved_config`), the
    :data:`MACHINE` settings at their defaults, then the values in ``given`` (the options written on
    the command line, by :class:`TrainConfig` field name).

    Given settings that must agree and differ from the saved ones are refused when the run starts
    (:func:`check_resume`); a larger ``epochs`` extends the run.

    Raises
    ------
    FileNotFoundError
        ``out`` holds no run to resume.
    ValueError
        An unknown field in ``given``, or an unreadable saved config.
    """
    saved = saved_config(out)
    if saved is None:
        raise FileNotFoundError(f"{out} holds no training run to resume (no {CHECKPOINT_NAME} or config.json); "
                                "start one with --data and without --resume")
    given = dict(given or {})
    unknown = sorted(set(given) - set(TrainConfig.field_names()))
    if unknown:
        raise ValueError(f"unknown training setting(s): {', '.join(unknown)}")
    defaults = TrainConfig.defaults()
    values = {**saved, **{k: defaults[k] for k in MACHINE}, **given, "out": str(out), "resume": True}
    return TrainConfig.from_dict(values)


def extend_schedule(sched, opt, epochs: int) -> bool:
    """Stretch a restored cosine schedule to ``epochs`` in all; True when it changed.

    The learning rate from the next epoch on is the one a run planned for ``epochs`` from the start
    has there, ``lr·½(1 + cos(π·e/epochs))``: a finished run's rate, annealed to 0, rises again to
    that value and anneals to 0 at the new last epoch. The constant schedule has nothing to stretch.
    """
    if not isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR) or sched.T_max == epochs:
        return False
    sched.T_max = int(epochs)
    e = sched.last_epoch
    for group, base in zip(opt.param_groups, sched.base_lrs):
        group["lr"] = sched.eta_min + (base - sched.eta_min) * (1 + math.cos(math.pi * e / epochs)) / 2
    sched._last_lr = [g["lr"] for g in opt.param_groups]
    return True


def new_model(config: TrainConfig, data, provenance: dict):
    """A new, untrained model of kind ``config.model`` for dataset ``data`` (its geometry and
    settings), built through :func:`ltl.models.class_of_kind`."""
    from ..models import class_of_kind

    cls = class_of_kind(config.model)
    if config.model.startswith("postproc"):
        l1 = config.model == "postproc-l1"
        return cls(data.geometry, source="l1" if l1 else "fbp", solver_settings=data.solver_settings if l1 else None,
                   frame_settings=data.frame_settings if l1 else None, width=config.width, depth=config.depth,
                   norm=config.norm, provenance=provenance)
    return cls(data.geometry, frame_settings=data.frame_settings, solver_settings=data.solver_settings,
               threshold=config.threshold, width=config.width, depth=config.depth, norm=config.norm,
               use_fvis=config.use_fvis, predict_lowpass=config.predict_lowpass, residual=config.residual,
               nosplit=config.model == "ltl-nosplit", provenance=provenance)


def start_model(config: TrainConfig, ck: dict | None, train_data, val_data):
    """The model a run starts from (on the CPU): the checkpoint's ``ck`` (checked against the
    training data's geometry), or a new one whose provenance records both datasets and the config
    (file names only)."""
    from ..models import model_from_metadata

    if ck is not None:
        model = model_from_metadata(ck["model_meta"])
        model.check_geometry(train_data.geometry, "training data")
        model.load_state_dict(ck["model"])
        return model
    prov = {"train_data": train_data.provenance(), "val_data": val_data.provenance(),
            "train_config": {k: (Path(v).name if k in ("data", "val_data", "out") and v else v)
                             for k, v in config.to_dict().items()}}
    return new_model(config, train_data, prov)


def checkpoint_state(*, epoch: int, model, opt, sched, scaler, device: torch.device, history: list, best: float,
                     baseline: dict | None, config: TrainConfig, world_size: int,
                     data_fingerprint: dict | None = None) -> dict:
    """The checkpoint after ``epoch`` finished epochs (the RNG states are read now);
    ``data_fingerprint`` ({'train': sha, 'val': sha}, :meth:`LtIDataset.fingerprint`) lets a resume
    check that the data are still those of the run."""
    return {"data_fingerprint": data_fingerprint,
        "format": CHECKPOINT_FORMAT, "epoch": epoch, "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_meta": model.metadata(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
        "scaler": scaler.state_dict(), "rng": rng_state(device), "history": history, "best": best,
        "baseline": baseline, "config": config.to_dict(), "world_size": world_size,
    }


def restore_state(ck: dict, opt, sched, scaler, device: torch.device) -> tuple[int, list, float, dict | None]:
    """Load a checkpoint's optimizer, schedule, scaler and RNG states; returns ``(epoch, history,
    best, baseline)`` to continue from."""
    opt.load_state_dict(ck["optimizer"])
    sched.load_state_dict(ck["scheduler"])
    scaler.load_state_dict(ck["scaler"])
    set_rng_state(ck["rng"], device)
    return int(ck["epoch"]), list(ck["history"]), float(ck.get("best", math.inf)), ck.get("baseline")
