"""Training LtI's U-Net: loss on the invisible shearlet coefficients, validation on the combined image.

The same loop, data and options train the learned baselines (``TrainConfig.model``):
``'ltl-nosplit'`` (LtI without the split: all coefficients predicted from all of SH(f_vis)),
``'postproc-l1'`` and ``'postproc-fbp'`` (:class:`~ltl.models.PostProc`, a residual U-Net on f_vis or
on the FBP; the FBP of each batch's sinograms is computed on the training device). For those the
loss is on the network's own target (all coefficients, or the residual image), and the log's
``fvis_*`` columns hold the metrics of the network's input (f_vis, or the FBP).

Run directory (``TrainConfig.out``)
-----------------------------------
``checkpoint.pt``  the training state after the last finished epoch (:mod:`ltl.training.state`)
``model/``         the model after the last epoch (:meth:`ltl.models.LtI.save`)
``best/``          the model with the lowest validation loss so far
``log.csv``, ``log.json``, ``curves.png``, ``config.json``  (:mod:`ltl.training.runlog`)

Resuming (``resume=True``) continues from ``checkpoint.pt`` with the settings the run was started
with (:func:`ltl.training.state.resume_config` builds them from the saved ones); a larger ``epochs``
extends a finished or interrupted run, and under the cosine schedule the learning rate from then on
is the one a run planned for the new length has at that epoch (:func:`ltl.training.state.extend_schedule`).
The data paths are stored resolved (absolute), so a run resumes from any working directory.

Determinism: every random choice of an epoch (the sampler's permutation, the patch crops) is
drawn from generators seeded by ``(seed, epoch[, rank])``, and the RNG states are saved, so a run
resumed from a checkpoint ends with the same weights as one that was never interrupted (on the
CPU; cuDNN kernels may be non-deterministic on the GPU).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..runtime import distributed as D
from ..runtime.files import atomic_bytes
from ..runtime.progress import bar as progress_bar
from . import losses, state
from .config import TrainConfig
from .runlog import plot_history, write_logs

__all__ = ["TrainResult", "NonFiniteLossError", "train"]

log = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError, ValueError):
    """The training loss became NaN or inf; the last good checkpoint is kept."""


@dataclass
class TrainResult:
    """What :func:`train` returns (on every rank)."""

    run_dir: Path
    model: Any  # the trained model, unwrapped, on the training device
    history: list = field(default_factory=list)
    checkpoint: Path | None = None


@dataclass
class _Run:
    """What one epoch of training works with."""

    config: TrainConfig
    info: D.DistInfo
    model: Any
    ddp_net: torch.nn.Module
    params: list
    weights: torch.Tensor | None
    opt: torch.optim.Optimizer
    sched: Any
    scaler: torch.amp.GradScaler
    use_amp: bool
    ckpt_path: Path
    data_fingerprint: dict | None = None

    @property
    def dev(self) -> torch.device:
        return self.info.device


def train(config: TrainConfig, *, callback: Callable[[int, dict], Any] | None = None) -> TrainResult:
    """Train LtI's U-Net (or a learned baseline) on a dataset file; see :class:`TrainConfig` and the module notes.

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
    from ..metrics import all_metrics

    if not isinstance(config, TrainConfig):
        raise TypeError(f"train needs a TrainConfig, got {type(config).__name__}")
    config = config.replace(**{k: str(Path(v).resolve()) for k in ("data", "val_data")
                               if (v := getattr(config, k)) is not None})
    run_dir = state.check_run_dir(config)
    ckpt_path = run_dir / state.CHECKPOINT_NAME
    info = D.setup(config.device, need_astra=config.model == "postproc-fbp")
    opened: list = []
    try:
        dev = info.device
        train_full, val_full = _open_data(config, opened)
        train_ds = _subset(train_full, config.max_train_samples)
        val_ds = _subset(val_full, config.max_val_samples)

        fingerprint = {"train": train_full.fingerprint(), "val": val_full.fingerprint()}
        ck = None
        if config.resume and ckpt_path.exists():
            ck = state.load_checkpoint(ckpt_path)
            state.check_resume(ck["config"], config, run_dir, dev)
            state.check_data(ck.get("data_fingerprint"), fingerprint, run_dir, config)
            done = int(ck["epoch"])
            if config.epochs < done:
                raise ValueError(f"{run_dir} has trained {done} epochs already; epochs={config.epochs} would "
                                 f"shorten it: give more than {done} to extend it, or leave the option out")
            if info.main:
                was = ck["config"]["epochs"]
                log.info(f"ltl train: resuming {run_dir} after epoch {done} of {config.epochs}"
                         + (f" (extended from {was})" if config.epochs != was else ""))
        elif config.resume and info.main:
            log.info(f"ltl train: no checkpoint in {run_dir}; starting a new run")

        torch.manual_seed(config.seed)
        random.seed(config.seed)
        model = state.start_model(config, ck, train_full, val_full)
        model.to(dev)
        net = model.net
        if ck is None:
            _fit_normalization(model, train_ds, config, dev)
        weights = losses.loss_weights(net, config.loss)
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
            log.info("ltl train: --amp has no effect on the CPU; training in float32")
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        start_epoch, history, best, baseline = 0, [], math.inf, None
        if ck is not None:
            start_epoch, history, best, baseline = state.restore_state(ck, opt, sched, scaler, dev)
            if state.extend_schedule(sched, opt, config.epochs) and info.main:
                log.info(f"ltl train: cosine schedule stretched to {config.epochs} epochs; the learning rate of "
                         f"epoch {start_epoch + 1} is {opt.param_groups[0]['lr']:.3g}")
            if start_epoch >= config.epochs and info.main:
                log.info(f"ltl train: {run_dir} has finished its {config.epochs} epochs; pass --epochs with more "
                         "to train on")

        if info.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ddp_net = DDP(net, device_ids=[dev.index] if dev.type == "cuda" else None)
        else:
            ddp_net = net
        run = _Run(config, info, model, ddp_net, params, weights, opt, sched, scaler, use_amp, ckpt_path, fingerprint)

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
            last_done = start_epoch if not history else history[-1]["epoch"]
            loss_sum, steps, seen = _train_epoch(run, loader, epoch, last_done)
            lr = opt.param_groups[0]["lr"]
            sched.step()
            train_seconds = time.perf_counter() - t0
            tot = D.all_reduce_sum(torch.stack([loss_sum.cpu(), torch.tensor(float(steps), dtype=torch.float64),
                                                torch.tensor(float(seen), dtype=torch.float64)]), info)
            train_loss = float(tot[0] / max(tot[1], 1))

            D.broadcast_buffers(net, info)
            val, base = _validate(model, val_loader, dev, info, all_metrics, need_baseline=baseline is None,
                                  weights=weights, progress=config.progress and info.main)
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
                _write_epoch(run, run_dir, row, history, best, baseline, improved)
            D.barrier(info)
            if callback is not None:
                callback(epoch + 1, row)
        return TrainResult(run_dir, model, history, ckpt_path)
    finally:
        for ds in opened:
            ds.close()
        D.teardown(info)


def _open_data(config: TrainConfig, opened: list):
    """The training and validation datasets (appended to ``opened`` as they open), checked to
    share geometry and settings and to be disjoint."""
    from ..data.dataset import LtIDataset, check_disjoint

    keys = losses.data_keys(config.model)
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
    return train_full, val_full


def _subset(ds, limit: int | None):
    if limit is None or limit >= len(ds):
        return ds
    return torch.utils.data.Subset(ds, range(limit))


def _train_epoch(run: _Run, loader, epoch: int, last_done: int) -> tuple[torch.Tensor, int, int]:
    """One epoch of optimiser steps; returns the summed batch losses (float64 on the device), the
    number of steps and of samples. ``last_done``: the last finished epoch (for the NaN message)."""
    config, info, dev, net = run.config, run.info, run.dev, run.model.net
    gen = torch.Generator().manual_seed(state.epoch_seed(config.seed, epoch, info.rank))
    net.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
    steps = seen = 0
    bar = None
    if config.progress and info.main:
        bar = progress_bar(total=len(loader), desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False)
    for batch in loader:
        f_vis = losses.network_start(run.model, batch, dev, non_blocking=True)
        truth = batch["truth"].to(dev, non_blocking=True)
        x, target = losses.network_batch(run.model, f_vis, truth, patch=config.patch, gen=gen)
        with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=run.use_amp):
            z = run.ddp_net(x)
        batch_loss = losses.loss(z, target, run.weights)
        bad = not bool(torch.isfinite(batch_loss))
        if D.any_flag(bad, info):
            last = f"{run.ckpt_path} (after epoch {last_done})" if run.ckpt_path.exists() \
                else "none (no epoch finished yet)"
            seeds = batch["seed"].tolist()
            value = "not finite on another rank" if not bad else float(batch_loss.detach())
            raise NonFiniteLossError(
                f"training stopped: the loss is {value} "
                f"at epoch {epoch + 1}, step {steps + 1} (batch seeds {seeds[:8]}{'...' if len(seeds) > 8 else ''}); "
                f"the last good checkpoint is {last}. Check the data for NaN/inf, lower --lr or set a "
                "gradient clip, then --resume"
            )
        losses.optimizer_step(batch_loss, run.opt, run.scaler, run.params, config.grad_clip)
        loss_sum += batch_loss.detach().double()
        steps += 1
        seen += x.shape[0]
        if bar is not None:
            bar.update(1)
            if steps % 10 == 0:
                bar.set_postfix(loss=f"{float(batch_loss):.4g}")
    if bar is not None:
        bar.close()
    return loss_sum, steps, seen


def _write_epoch(run: _Run, run_dir: Path, row: dict, history: list, best: float, baseline: dict,
                 improved: bool) -> None:
    """Rank 0 after an epoch: checkpoint, ``model/`` (and ``best/``), logs, curves, one printed line."""
    config, model, epoch = run.config, run.model, row["epoch"]
    model.provenance = dict(model.provenance, epochs_trained=epoch, last_epoch=row)
    ck = state.checkpoint_state(epoch=epoch, model=model, opt=run.opt, sched=run.sched, scaler=run.scaler,
                                device=run.dev, history=history, best=best, baseline=baseline, config=config,
                                world_size=run.info.world_size, data_fingerprint=run.data_fingerprint)
    state.save_checkpoint(run.ckpt_path, ck)
    model.save(run_dir / "model")
    if improved:
        model.save(run_dir / "best")
    extra = {"config": config.to_dict(), "data": model.provenance.get("train_data"),
             "world_size": run.info.world_size, "device": str(run.dev)}
    write_logs(run_dir, history, extra)
    plot_history(run_dir / "curves.png", history)
    start = "FBP" if config.model == "postproc-fbp" else "f_vis"
    left = (config.epochs - epoch) * row["seconds"]
    eta = f", about {_duration(left)} left" if left > 0 else ""
    log.info(f"epoch {epoch}/{config.epochs}: train loss {row['train_loss']:.4g}, val loss {row['val_loss']:.4g}, "
             f"PSNR {row['val_psnr']:.2f} dB ({start} {baseline['psnr']:.2f}), SSIM {row['val_ssim']:.3f}, "
             f"HaarPSI {row['val_haarpsi']:.3f}, RE {row['val_re']:.4f}, {row['samples_per_s']:.1f} samples/s, "
             f"{row['seconds']:.1f} s{eta}")


def _duration(seconds: float) -> str:
    """``'40 s'``, ``'12 min'`` or ``'3.5 h'``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


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


@torch.no_grad()
def _fit_normalization(model, ds, config: TrainConfig, dev: torch.device) -> None:
    """Set the network's per-channel input and target means and standard deviations from the
    first ``config.norm_samples`` training samples."""
    from ..models import channel_stats

    k = min(config.norm_samples, len(ds))
    sub = torch.utils.data.Subset(ds, range(k))
    loader = torch.utils.data.DataLoader(sub, batch_size=config.batch_size, shuffle=False, num_workers=0)
    xs, ts = [], []
    for batch in loader:
        x, t = losses.training_pair(model, losses.network_start(model, batch, dev), batch["truth"].to(dev))
        xs.append(x.cpu())
        ts.append(t.cpu())
    in_mean, in_std = channel_stats(xs)
    out_mean, out_std = channel_stats(ts)
    model.net.set_normalization(in_mean, in_std, out_mean, out_std)


@torch.no_grad()
def _validate(model, loader, dev, info, all_metrics, need_baseline: bool, weights=None, progress: bool = False):
    """Validation loss and the combined image's RE, PSNR, SSIM, HaarPSI (means over every rank's
    samples), and, with ``need_baseline``, those of the start image (f_vis or the FBP), else None."""
    net = model.net
    net.eval()
    keys = ("re", "psnr", "ssim", "haarpsi")
    acc = torch.zeros(2 + 2 * len(keys), dtype=torch.float64)  # loss_sum, count, metrics, baseline metrics
    for batch in progress_bar(iterable=loader, desc="validation", unit="batch", leave=False, disable=not progress):
        f_vis = losses.network_start(model, batch, dev)
        truth = batch["truth"].to(dev)
        coeffs = losses.coefficients(model, f_vis)
        x = model.network_input(f_vis, coeffs)
        t = model.network_target(f_vis, truth, coeffs)
        z = net(x)
        sample_loss = losses.loss(z, net.normalize_target(t), weights, per_sample=True)
        pred = model.prediction_from_output(net.denormalize(z.float()), f_vis, coeffs)
        f_ltl = model.combine(f_vis, pred, coeffs=coeffs)
        m = all_metrics(f_ltl.clamp(0, 1).float(), truth)
        acc[0] += sample_loss.double().sum().cpu()
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
