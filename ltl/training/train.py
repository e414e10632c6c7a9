"""Training LtI's U-Net: loss on the invisible shearlet coefficients, validation on the combined image.

The same loop, data and options train the learned baselines (``TrainConfig.model``):
``'ltl-nosplit'`` (LtI without the split: all coefficients predicted from all of SH(f_vis)),
``'postproc-l1'`` and ``'postproc-fbp'`` (:class:`~ltl.models.PostProc`, a residual U-Net on f_vis or
on the FBP; the FBP of each batch's sinograms is computed on the training device). For those the
loss is on the network's own target (all coefficients, or the residual image), and the log's
``fvis_*`` columns hold the metrics of the network's input (f_vis, or the FBP).

Run directory (``TrainConfig.out``)
-----------------------------------
``checkpoint.pt``  the training state after the last finished epoch (model state and metadata,
                   optimizer, LR schedule, AMP scaler, RNG states, epoch, history, config),
                   written atomically; loaded with ``torch.load(weights_only=True)``
``model/``         the LtI model after the last epoch (:meth:`ltl.models.LtI.save`)
``best/``          the LtI model with the lowest validation loss so far
``log.csv``, ``log.json``, ``curves.png``, ``config.json``

Determinism: every random choice of an epoch (the sampler's permutation, the patch crops) is
drawn from generators seeded by ``(seed, epoch[, rank])``, and the RNG states are saved, so a run
resumed from a checkpoint ends with the same weights as one that was never interrupted (on the
CPU; cuDNN kernels may be non-deterministic on the GPU).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from . import distributed as D
from .runlog import atomic_bytes, plot_history, write_logs

__all__ = ["TrainConfig", "TrainResult", "NonFiniteLossError", "train", "training_pair", "load_checkpoint",
           "CHECKPOINT_NAME", "LOSSES", "MODELS", "loss_weights"]

CHECKPOINT_NAME = "checkpoint.pt"
#: What a run writes in its directory besides the checkpoint (a fresh run refuses a directory holding any).
RUN_FILES = ("model", "best", "log.csv", "log.json", "curves.png", "config.json")
CHECKPOINT_FORMAT = "ltl-train-checkpoint"
# settings that must agree between a run and its resumption
_RESUME_KEYS = ("data", "val_data", "batch_size", "lr", "weight_decay", "schedule", "width", "depth", "norm",
                "use_fvis", "predict_lowpass", "residual", "loss", "threshold", "amp", "seed", "patch", "grad_clip",
                "norm_samples", "model")
# values of resume keys that checkpoints written before the key existed had
_RESUME_DEFAULTS = {"model": "ltl"}
LOSSES = ("mixed", "coefficients", "normalized")
#: What ``train`` can train: LtI, and the learned baselines (see the module notes).
MODELS = ("ltl", "postproc-fbp", "postproc-l1", "ltl-nosplit")


class NonFiniteLossError(FloatingPointError, ValueError):
    """The training loss became NaN or inf; the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    """Settings of a training run.

    Attributes
    ----------
    data : str
        Dataset file (:func:`ltl.data.dataset.make_dataset`); its ``train`` split is used.
    out : str
        Run directory.
    val_data : str, optional
        Validation dataset file (its ``val`` split); default the ``val`` split of ``data``.
    epochs, batch_size, lr, weight_decay
        Adam with ``lr`` and ``weight_decay``; ``batch_size`` per process.
    schedule : {'cosine', 'constant'}
        Learning-rate schedule over ``epochs`` (default cosine annealing to 0).
    width, depth, norm, use_fvis, predict_lowpass, residual, threshold
        U-Net width and depth, its normalisation layers, whether f_vis is an extra input, whether
        the low-pass is predicted too and as a correction of f_vis's (see :class:`~ltl.models.LtI`),
        and the visibility threshold of the mask.
    loss : {'mixed', 'coefficients', 'normalized'}
        ``'coefficients'``: mean squared error of the predicted coefficients on their raw scale
        (the frame is Parseval, so this bounds the image-domain squared error of the network's
        part; it is dominated by the coarse channels); ``'normalized'``: every channel
        standardised, so each weighs the same (fine edges count as much as the low-pass);
        ``'mixed'`` (default): the mean of the two.
    amp : bool
        Mixed precision (float16 autocast and GradScaler) on CUDA; ignored on the CPU.
    seed : int
        Seeds the initial weights, the sampler and the crops.
    patch : int, optional
        Train on random ``patch × patch`` crops of the coefficient maps (default whole images).
    num_workers : int
        DataLoader worker processes.
    device : str, optional
        Default: ``cuda:LOCAL_RANK`` when available, else CPU.
    resume : bool
        Continue from ``out/checkpoint.pt`` (a fresh run if there is none).
    grad_clip : float, optional
        Clip the gradient norm.
    norm_samples : int
        Training samples used to fit the per-channel normalisation (default 256).
    max_train_samples, max_val_samples : int, optional
        Use only the first samples of each split (quick runs, tests).
    progress : bool
        tqdm bar over each epoch's batches (rank 0).
    preload : bool
        Read the training split into memory on the training device once instead of through a
        DataLoader (fast for datasets that fit; the batches and their order are the same).
    model : {'ltl', 'postproc-fbp', 'postproc-l1', 'ltl-nosplit'}
        The model to train (default LtI; see the module notes). ``use_fvis``, ``predict_lowpass``,
        ``residual`` and ``threshold`` concern LtI (``use_fvis`` and ``residual`` also the model
        without the split); the post-processing U-Nets are always residual.
    """

    data: str
    out: str
    val_data: str | None = None
    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    width: int = 32
    depth: int = 4
    norm: str = "batch"
    use_fvis: bool = True
    predict_lowpass: bool = True
    residual: bool = True
    loss: str = "mixed"
    threshold: float = 0.5
    amp: bool = False
    seed: int = 0
    patch: int | None = None
    num_workers: int = 0
    device: str | None = None
    resume: bool = False
    grad_clip: float | None = None
    norm_samples: int = 256
    max_train_samples: int | None = None
    max_val_samples: int | None = None
    progress: bool = True
    preload: bool = False
    model: str = "ltl"

    def validate(self) -> None:
        def pos_int(name, lo=1, optional=False):
            v = getattr(self, name)
            if optional and v is None:
                return
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")

        for name in ("epochs", "batch_size", "width", "norm_samples"):
            pos_int(name)
        pos_int("depth", 0)
        pos_int("num_workers", 0)
        pos_int("seed", 0)
        pos_int("patch", 8, optional=True)
        pos_int("max_train_samples", 1, optional=True)
        pos_int("max_val_samples", 1, optional=True)
        for name in ("lr",):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.grad_clip is not None and not (math.isfinite(self.grad_clip) and self.grad_clip > 0):
            raise ValueError(f"grad_clip must be a positive number, got {self.grad_clip!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """What :func:`train` returns (on every rank)."""

    run_dir: Path
    model: Any  # LtI, unwrapped, on the training device
    history: list = field(default_factory=list)
    checkpoint: Path | None = None


# --------------------------------------------------------------------------------------------
# pieces
# --------------------------------------------------------------------------------------------


def _coeffs(model, f_vis: torch.Tensor) -> torch.Tensor | None:
    """SH(f_vis) for an LtI model (shared by its input, target and combination), None for PostProc."""
    return model.analysis(f_vis) if hasattr(model, "analysis") else None


def training_pair(model, f_vis: torch.Tensor, truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw network input and raw target (the invisible coefficients of the truth).

    ``f_vis, truth`` ``(B, N, N)`` → ``x (B, C_vis[+1], N, N)``, ``t (B, C_inv, N, N)``; ``t`` is
    :meth:`~ltl.models.LtI.network_target` (a correction of f_vis's coefficients for a residual model).
    For a :class:`~ltl.models.PostProc` model ``f_vis`` is its input image (f_vis or the FBP) and
    ``x, t`` are ``(B, 1, N, N)``: the image and the residual ``truth − image``.
    """
    coeffs = _coeffs(model, f_vis)
    return model.network_input(f_vis, coeffs), model.network_target(f_vis, truth, coeffs)


def data_keys(model: str) -> tuple[str, ...]:
    """The dataset arrays a model trains on: the truth, and f_vis or (for ``'postproc-fbp'``) the sinogram."""
    return ("sinogram", "truth") if model == "postproc-fbp" else ("f_vis", "truth")


def network_start(model, batch: dict, dev: torch.device, non_blocking: bool = False) -> torch.Tensor:
    """The image a batch's network input is made from, on ``dev``: f_vis, or for a post-processed
    FBP the FBP of the batch's sinograms (computed on ``dev``)."""
    if getattr(model, "source", None) == "fbp":
        with torch.no_grad():
            return model.initial(batch["sinogram"].to(dev, non_blocking=non_blocking))
    return batch["f_vis"].to(dev, non_blocking=non_blocking)


def _new_model(config: "TrainConfig", data, provenance: dict):
    from ..models import LtI, PostProc

    if config.model.startswith("postproc"):
        l1 = config.model == "postproc-l1"
        return PostProc(data.geometry, source="l1" if l1 else "fbp",
                        solver_settings=data.solver_settings if l1 else None,
                        frame_settings=data.frame_settings if l1 else None, width=config.width, depth=config.depth,
                        norm=config.norm, provenance=provenance)
    return LtI(data.geometry, frame_settings=data.frame_settings, solver_settings=data.solver_settings,
               threshold=config.threshold, width=config.width, depth=config.depth, norm=config.norm,
               use_fvis=config.use_fvis, predict_lowpass=config.predict_lowpass, residual=config.residual,
               nosplit=config.model == "ltl-nosplit", provenance=provenance)


def loss_weights(net, kind: str) -> torch.Tensor | None:
    """Per-channel weights of the squared error in normalised space (None: all equal).

    ``'coefficients'`` weighs channel c by ``out_std_c² / mean(out_std²)`` (the raw-scale error),
    ``'mixed'`` by the mean of that and 1."""
    if kind not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {kind!r}")
    if kind == "normalized":
        return None
    v = net.out_std.double() ** 2
    w = v / v.mean()
    if kind == "mixed":
        w = 0.5 * (w + 1.0)
    return w.float().view(1, -1, 1, 1)


def _loss(z: torch.Tensor, target: torch.Tensor, w: torch.Tensor | None, per_sample: bool = False) -> torch.Tensor:
    e = (z.float() - target) ** 2
    if w is not None:
        e = e * w
    return e.mean(dim=(1, 2, 3)) if per_sample else e.mean()


def _crop(x: torch.Tensor, t: torch.Tensor, p: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    b, _, h, w = x.shape
    if p >= h and p >= w:
        return x, t
    p = min(p, h, w)
    i = torch.randint(0, h - p + 1, (b,), generator=gen).tolist()
    j = torch.randint(0, w - p + 1, (b,), generator=gen).tolist()
    xs = torch.stack([x[k, :, i[k]:i[k] + p, j[k]:j[k] + p] for k in range(b)])
    ts = torch.stack([t[k, :, i[k]:i[k] + p, j[k]:j[k] + p] for k in range(b)])
    return xs, ts


def _epoch_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _rng_state(device: torch.device) -> dict:
    st = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state(device)
    return st


def _set_rng_state(st: dict, device: torch.device) -> None:
    torch.set_rng_state(st["torch"])
    random.setstate(st["python"])
    if device.type == "cuda" and "cuda" in st:
        torch.cuda.set_rng_state(st["cuda"], device)


def load_checkpoint(path: str | Path) -> dict:
    """Read a training checkpoint (``weights_only=True``) with clear errors."""
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


def _subset(ds, limit: int | None):
    if limit is None or limit >= len(ds):
        return ds
    return torch.utils.data.Subset(ds, range(limit))


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------


def train(config: TrainConfig, *, callback: Callable[[int, dict], Any] | None = None) -> TrainResult:
    """Train LtI's U-Net on a dataset file; see :class:`TrainConfig` and the module notes.

    Under ``torchrun --nproc_per_node=K`` every process runs this function: the data are sharded
    with a ``DistributedSampler``, the network is wrapped in ``DistributedDataParallel`` (NCCL on
    GPUs, gloo on the CPU), and rank 0 writes the run directory. With one process the same code
    runs without the wrapper.

    Parameters
    ----------
    config : TrainConfig
    callback : callable, optional
        ``callback(epoch, row)`` after each epoch's checkpoint is written (``epoch`` counts from 1;
        ``row`` the logged values). Raising in it stops training (the checkpoint stays).

    Returns
    -------
    TrainResult

    Raises
    ------
    FileNotFoundError, ValueError
        Missing/corrupt data or checkpoint, incompatible resume, bad settings.
    NonFiniteLossError
        The loss became NaN/inf (a ``ValueError``); the last good checkpoint is kept.
    """
    from ..data.dataset import LtIDataset, check_disjoint
    from ..metrics import all_metrics
    from ..models import model_from_metadata

    config.validate()
    run_dir = Path(config.out)
    ckpt_path = run_dir / CHECKPOINT_NAME
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--out {run_dir} is a file; pass a directory for the run")
    if ckpt_path.exists() and not config.resume:
        raise ValueError(f"{run_dir} already holds a training run; pass --resume to continue it or choose another --out")
    if not ckpt_path.exists():
        clash = sorted(n for n in RUN_FILES if (run_dir / n).exists())
        if clash:
            raise ValueError(f"{run_dir} holds {', '.join(clash)} but no training checkpoint; a new run would overwrite "
                             "them: choose another --out")

    info = D.setup(config.device)
    opened: list = []
    try:
        dev = info.device
        keys = data_keys(config.model)
        train_full = LtIDataset(config.data, split="train", keys=keys)
        opened.append(train_full)
        val_full = LtIDataset(config.val_data or config.data, split="val", keys=keys)
        opened.append(val_full)
        if val_full.geometry != train_full.geometry:
            raise ValueError(f"the validation data ({val_full.geometry.describe()}) and the training data "
                             f"({train_full.geometry.describe()}) have different geometries")
        for key in ("frame", "solver", "noise", "phantom"):
            if val_full.settings[key] != train_full.settings[key]:
                raise ValueError(f"the validation data differ from the training data in {key!r}: "
                                 f"{val_full.settings[key]} vs {train_full.settings[key]}")
        check_disjoint(train_full, val_full)
        train_ds = _subset(train_full, config.max_train_samples)
        val_ds = _subset(val_full, config.max_val_samples)

        ck = None
        if config.resume and ckpt_path.exists():
            ck = load_checkpoint(ckpt_path)
            old = ck["config"]
            for k in _RESUME_KEYS + (("epochs",) if config.schedule == "cosine" else ()):
                a, b = old.get(k, _RESUME_DEFAULTS.get(k)), getattr(config, k)
                if k in ("data", "val_data") and a is not None and b is not None:
                    a, b = str(Path(a).resolve()), str(Path(b).resolve())
                if a != b:
                    raise ValueError(f"cannot resume {run_dir}: it was run with {k}={a!r}, now {k}={getattr(config, k)!r}; "
                                     "resume with the same settings or choose another --out")
        elif config.resume and info.main:
            print(f"ltl train: no checkpoint in {run_dir}; starting a new run")

        torch.manual_seed(config.seed)
        random.seed(config.seed)
        if ck is not None:
            model = model_from_metadata(ck["model_meta"])
            model.check_geometry(train_full.geometry, "training data")
            model.load_state_dict(ck["model"])
        else:
            prov = {"train_data": train_full.provenance(), "val_data": val_full.provenance(),
                    "train_config": {k: (Path(v).name if k in ("data", "val_data", "out") and v else v)
                                     for k, v in config.to_dict().items()}}
            model = _new_model(config, train_full, prov)
        model.to(dev)
        net = model.net

        if ck is None:
            _fit_normalization(model, train_ds, config, dev)
        weights = loss_weights(net, config.loss)
        if weights is not None:
            weights = weights.to(dev)
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True
            net.to(memory_format=torch.channels_last)

        params = list(net.parameters())
        opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
        if config.schedule == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
        else:
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)
        use_amp = bool(config.amp and dev.type == "cuda")
        if config.amp and not use_amp and info.main:
            print("ltl train: --amp has no effect on the CPU; training in float32")
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        start_epoch = 0
        history: list[dict] = []
        best = math.inf
        baseline = None
        if ck is not None:
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            scaler.load_state_dict(ck["scaler"])
            start_epoch = int(ck["epoch"])
            history = list(ck["history"])
            best = float(ck.get("best", math.inf))
            baseline = ck.get("baseline")
            _set_rng_state(ck["rng"], dev)

        if info.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ddp_net = DDP(net, device_ids=[dev.index] if dev.type == "cuda" else None)
        else:
            ddp_net = net

        sampler = torch.utils.data.DistributedSampler(train_ds, num_replicas=info.world_size, rank=info.rank,
                                                      shuffle=True, seed=config.seed)
        if config.preload:
            loader = _PreloadedBatches(train_ds, sampler, config.batch_size, dev)
        else:
            loader = torch.utils.data.DataLoader(train_ds, batch_size=config.batch_size, sampler=sampler,
                                                 num_workers=config.num_workers, pin_memory=dev.type == "cuda",
                                                 persistent_workers=False)
        val_idx = list(range(info.rank, len(val_ds), info.world_size))
        val_loader = torch.utils.data.DataLoader(torch.utils.data.Subset(val_ds, val_idx), batch_size=config.batch_size,
                                                 shuffle=False, num_workers=config.num_workers)

        if info.main:
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_bytes(run_dir / "config.json", json.dumps(config.to_dict(), indent=1).encode())

        for epoch in range(start_epoch, config.epochs):
            t0 = time.perf_counter()
            sampler.set_epoch(epoch)
            gen = torch.Generator().manual_seed(_epoch_seed(config.seed, epoch, info.rank))
            net.train()
            loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
            steps = seen = 0
            bar = None
            if config.progress and info.main:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(loader), desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                           dynamic_ncols=True, leave=False)
            for batch in loader:
                f_vis = network_start(model, batch, dev, non_blocking=True)
                truth = batch["truth"].to(dev, non_blocking=True)
                with torch.no_grad():
                    x, t = training_pair(model, f_vis, truth)
                    if config.patch is not None:
                        x, t = _crop(x, t, config.patch, gen)
                    target = net.normalize_target(t)
                    if dev.type == "cuda":
                        x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=use_amp):
                    z = ddp_net(x)
                loss = _loss(z, target, weights)
                bad = not bool(torch.isfinite(loss))
                if D.any_flag(bad, info):
                    last = f"{ckpt_path} (after epoch {start_epoch if not history else history[-1]['epoch']})" \
                        if ckpt_path.exists() else "none (no epoch finished yet)"
                    seeds = batch["seed"].tolist()
                    raise NonFiniteLossError(
                        f"training stopped: the loss is {'not finite on another rank' if not bad else float(loss.detach())} "
                        f"at epoch {epoch + 1}, step {steps + 1} (batch seeds {seeds[:8]}{'...' if len(seeds) > 8 else ''}); "
                        f"the last good checkpoint is {last}. Check the data for NaN/inf, lower --lr or set a "
                        "gradient clip, then --resume"
                    )
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if config.grad_clip is not None:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
                scaler.step(opt)
                scaler.update()
                loss_sum += loss.detach().double()
                steps += 1
                seen += x.shape[0]
                if bar is not None:
                    bar.update(1)
                    if steps % 10 == 0:
                        bar.set_postfix(loss=f"{float(loss):.4g}")
            if bar is not None:
                bar.close()
            lr = opt.param_groups[0]["lr"]
            sched.step()
            train_seconds = time.perf_counter() - t0
            tot = D.all_reduce_sum(torch.stack([loss_sum.cpu(), torch.tensor(float(steps), dtype=torch.float64),
                                                torch.tensor(float(seen), dtype=torch.float64)]), info)
            train_loss = float(tot[0] / max(tot[1], 1))

            D.broadcast_buffers(net, info)
            val, base = _validate(model, val_loader, dev, info, all_metrics, need_baseline=baseline is None,
                                  weights=weights)
            if baseline is None:
                baseline = base
            row = {"epoch": epoch + 1, "steps": int(tot[1]) // info.world_size, "train_loss": train_loss,
                   "val_loss": val["loss"], "val_re": val["re"], "val_psnr": val["psnr"], "val_ssim": val["ssim"],
                   "val_haarpsi": val["haarpsi"], **{f"fvis_{k}": v for k, v in baseline.items()},
                   "lr": lr, "seconds": time.perf_counter() - t0,
                   "samples_per_s": float(tot[2]) / train_seconds if train_seconds > 0 else float("nan")}
            history.append(row)
            improved = val["loss"] < best
            best = min(best, val["loss"])
            if info.main:
                model.provenance = dict(model.provenance, epochs_trained=epoch + 1, last_epoch=row)
                state = {
                    "format": CHECKPOINT_FORMAT, "epoch": epoch + 1, "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                    "model_meta": model.metadata(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "scaler": scaler.state_dict(), "rng": _rng_state(dev), "history": history, "best": best,
                    "baseline": baseline, "config": config.to_dict(), "world_size": info.world_size,
                }
                _save_checkpoint(ckpt_path, state)
                model.save(run_dir / "model")
                if improved:
                    model.save(run_dir / "best")
                extra = {"config": config.to_dict(), "data": model.provenance.get("train_data"),
                         "world_size": info.world_size, "device": str(dev)}
                write_logs(run_dir, history, extra)
                plot_history(run_dir / "curves.png", history)
                start = "FBP" if config.model == "postproc-fbp" else "f_vis"
                print(f"epoch {epoch + 1}/{config.epochs}: train loss {train_loss:.4g}, val loss {val['loss']:.4g}, "
                      f"PSNR {val['psnr']:.2f} dB ({start} {baseline['psnr']:.2f}), SSIM {val['ssim']:.3f}, "
                      f"HaarPSI {val['haarpsi']:.3f}, RE {val['re']:.4f}, {row['samples_per_s']:.1f} samples/s")
            D.barrier(info)
            if callback is not None:
                callback(epoch + 1, row)
        return TrainResult(run_dir, model, history, ckpt_path)
    finally:
        for ds in opened:
            ds.close()
        D.teardown(info)


class _PreloadedBatches:
    """The batches a DataLoader over ``ds`` with ``sampler`` would give, from tensors read once
    into memory on ``device`` (``len`` and iteration like a DataLoader without workers)."""

    def __init__(self, ds, sampler, batch_size: int, device: torch.device):
        self.sampler, self.batch_size = sampler, int(batch_size)
        items = [ds[i] for i in range(len(ds))]
        self.data = {k: torch.stack([it[k] for it in items]).to(device) for k in items[0]}

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    def __iter__(self):
        idx = list(self.sampler)
        for a in range(0, len(idx), self.batch_size):
            sel = torch.as_tensor(idx[a:a + self.batch_size])
            yield {k: v[sel.to(v.device)] for k, v in self.data.items()}


def _save_checkpoint(path: Path, state: dict) -> None:
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_bytes(path, buf.getvalue())


@torch.no_grad()
def _fit_normalization(model, ds, config: TrainConfig, dev: torch.device) -> None:
    from ..models import channel_stats

    k = min(config.norm_samples, len(ds))
    sub = torch.utils.data.Subset(ds, range(k))
    loader = torch.utils.data.DataLoader(sub, batch_size=config.batch_size, shuffle=False, num_workers=0)
    xs, ts = [], []
    for batch in loader:
        x, t = training_pair(model, network_start(model, batch, dev), batch["truth"].to(dev))
        xs.append(x.cpu())
        ts.append(t.cpu())
    in_mean, in_std = channel_stats(xs)
    out_mean, out_std = channel_stats(ts)
    model.net.set_normalization(in_mean, in_std, out_mean, out_std)


@torch.no_grad()
def _validate(model, loader, dev, info, all_metrics, need_baseline: bool, weights=None):
    net = model.net
    net.eval()
    keys = ("re", "psnr", "ssim", "haarpsi")
    acc = torch.zeros(2 + 2 * len(keys), dtype=torch.float64)  # loss_sum, count, metrics, baseline metrics
    for batch in loader:
        f_vis = network_start(model, batch, dev)
        truth = batch["truth"].to(dev)
        coeffs = _coeffs(model, f_vis)
        x = model.network_input(f_vis, coeffs)
        t = model.network_target(f_vis, truth, coeffs)
        z = net(x)
        loss = _loss(z, net.normalize_target(t), weights, per_sample=True)
        pred = model.prediction_from_output(net.denormalize(z.float()), f_vis, coeffs)
        f_ltl = model.combine(f_vis, pred, coeffs=coeffs)
        m = all_metrics(f_ltl.clamp(0, 1).float(), truth)
        acc[0] += loss.double().sum().cpu()
        acc[1] += f_vis.shape[0]
        for i, k in enumerate(keys):
            acc[2 + i] += m[k].double().sum().cpu()
        if need_baseline:
            mb = all_metrics(f_vis.clamp(0, 1).float(), truth)
            for i, k in enumerate(keys):
                acc[2 + len(keys) + i] += mb[k].double().sum().cpu()
    acc = D.all_reduce_sum(acc, info)
    n = max(float(acc[1]), 1.0)
    val = {"loss": float(acc[0]) / n, **{k: float(acc[2 + i]) / n for i, k in enumerate(keys)}}
    base = {k: float(acc[2 + len(keys) + i]) / n for i, k in enumerate(keys)} if need_baseline else None
    return val, base


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def _cmd_train(args) -> int:
    cfg = TrainConfig(data=args.data, out=args.out, val_data=args.val_data, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, width=args.width, depth=args.depth, amp=args.amp,
                      seed=args.seed, patch=args.patch, num_workers=args.num_workers, device=args.device,
                      resume=args.resume, schedule=args.schedule, grad_clip=args.grad_clip,
                      use_fvis=not args.no_fvis, predict_lowpass=not args.no_lowpass, residual=not args.no_residual,
                      loss=args.loss, preload=args.preload, progress=not args.no_progress, model=args.model)
    res = train(cfg)
    if res.history and int(os.environ.get("RANK", 0)) == 0:
        print(f"wrote {res.run_dir}/model ({cfg.model} checkpoint), checkpoint.pt, log.csv, log.json, curves.png")
    return 0


def add_cli(subparsers) -> None:
    """Register ``ltl train`` on an argparse subparsers object."""
    d = TrainConfig(data="", out="")
    s = subparsers.add_parser("train", help="train LtI's U-Net (or a learned baseline) on a dataset file "
                                            "(torchrun for several GPUs)")
    s.add_argument("--data", required=True, help="dataset file (.h5) from `ltl dataset make`; its train split is used")
    s.add_argument("--val-data", default=None, help="validation dataset file [the val split of --data]")
    s.add_argument("--out", required=True, help="run directory (checkpoint, model, logs)")
    s.add_argument("--model", default=d.model, choices=MODELS,
                   help="ltl: LtI; ltl-nosplit: LtI without the split (all coefficients predicted); postproc-fbp: "
                        "a residual U-Net on the FBP (FBPConvNet); postproc-l1: the same on f_vis [ltl]")
    s.add_argument("--epochs", type=int, default=d.epochs, help=f"epochs [{d.epochs}]")
    s.add_argument("--batch-size", type=int, default=d.batch_size, help=f"batch size per process [{d.batch_size}]")
    s.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate [{d.lr:g}]")
    s.add_argument("--schedule", default=d.schedule, choices=["cosine", "constant"], help=f"LR schedule [{d.schedule}]")
    s.add_argument("--width", type=int, default=d.width, help=f"U-Net channels at the first level [{d.width}]")
    s.add_argument("--depth", type=int, default=d.depth, help=f"U-Net downsamplings [{d.depth}]")
    s.add_argument("--patch", type=int, default=None, help="train on random PATCH×PATCH crops [whole images]")
    s.add_argument("--amp", action="store_true", help="mixed precision on CUDA")
    s.add_argument("--grad-clip", type=float, default=None, help="clip the gradient norm [off]")
    s.add_argument("--no-fvis", action="store_true", help="do not feed f_vis as an extra input channel")
    s.add_argument("--no-lowpass", action="store_true",
                   help="keep f_vis's low-pass channel instead of predicting it (its missing wedge stays empty)")
    s.add_argument("--no-residual", action="store_true",
                   help="predict the coefficients themselves, not corrections of f_vis's")
    s.add_argument("--loss", default=d.loss, choices=LOSSES,
                   help="coefficients: raw-scale MSE (≈ image MSE); normalized: every channel weighs the same; "
                        f"mixed: their mean [{d.loss}]")
    s.add_argument("--preload", action="store_true", help="read the training split into device memory once")
    s.add_argument("--seed", type=int, default=d.seed, help=f"seed [{d.seed}]")
    s.add_argument("--num-workers", type=int, default=d.num_workers, help=f"DataLoader workers [{d.num_workers}]")
    s.add_argument("--device", default=None, help="torch device [cuda:LOCAL_RANK if available, else cpu]")
    s.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd_train)
