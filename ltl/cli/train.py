"""``ltl train``: train LtI's U-Net (or a learned baseline) on a dataset file; torchrun for several GPUs.

Every option's default is the :class:`~ltl.training.TrainConfig` field of the same name (the
``--no-*`` switches clear a field that defaults to True); :func:`run` passes each option to that field.

``ltl train --out RUN --resume`` needs no other option: the run's own settings are read back from
its checkpoint (or ``config.json``). ``--epochs N`` extends it; ``--device``, ``--num-workers``,
``--no-progress``, ``--preload`` (and ``--amp`` on the CPU) may change; any other option given
with a value the run was not started with is refused in one line.
"""

from __future__ import annotations

import logging
import os

from ..training import LOSSES, MODELS, TrainConfig, train
from ..training.config import SCHEDULES
from ..training.state import resume_config, saved_config
from .common import UsageError, check_writable, device_of

__all__ = ["add_parser", "run", "config_of"]

log = logging.getLogger(__name__)


def config_of(args) -> TrainConfig:
    """The :class:`TrainConfig` of parsed ``ltl train`` arguments.

    A new run takes every option. ``--resume`` of a run in ``--out`` takes the run's saved settings
    and only the options written on the command line (``args.given_options``, which
    :func:`ltl.cli.main` sets; without it, the options that differ from their defaults).
    """
    names = TrainConfig.field_names()
    values = {k: v for k, v in vars(args).items() if k in names}
    given = getattr(args, "given_options", None)
    if given is None:
        defaults = TrainConfig.defaults()
        given = {k for k, v in values.items() if (k in ("data", "out") and v is not None) or
                 (k not in ("data", "out") and v != defaults[k])}
    if args.resume and saved_config(args.out) is not None:
        return resume_config(args.out, {k: values[k] for k in given if k in names and k not in ("out", "resume")})
    if args.data is None:
        raise UsageError(f"--data is required: a dataset file from `ltl dataset make` (only --resume of a run in "
                         f"--out reads it from the run, and {args.out} holds none)")
    return TrainConfig(**values)


def run(args) -> int:
    """Run ``ltl train``: check ``--device``, then train with :func:`config_of`'s :class:`TrainConfig`."""
    from pathlib import Path

    out = Path(args.out)
    if out.is_symlink() and not out.exists():
        raise UsageError(f"--out {out} is a link to {os.readlink(out)}, which does not exist; give a folder")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder; a run directory is a folder")
    check_writable(out / "config.json")
    device_of(args.device, need_astra=args.model == "postproc-fbp")
    cfg = config_of(args)
    if cfg.model != args.model:
        device_of(cfg.device, need_astra=cfg.model == "postproc-fbp")
    res = train(cfg)
    if res.history and int(os.environ.get("RANK", 0)) == 0:
        print(f"wrote {res.run_dir}/model ({cfg.model} checkpoint), checkpoint.pt, log.csv, log.json, curves.png")
    return 0


def add_parser(subparsers) -> None:
    """Register ``ltl train``."""
    d = TrainConfig
    s = subparsers.add_parser("train", help="train LtI's U-Net (or a learned baseline) on a dataset file "
                                            "(torchrun for several GPUs)")
    s.add_argument("--data", default=None,
                   help="dataset file (.h5) from `ltl dataset make`; its train split is used (with --resume: the run's)")
    s.add_argument("--val-data", default=d.val_data, help="validation dataset file [the val split of --data]")
    s.add_argument("--out", required=True, help="run directory (checkpoint, model, logs)")
    s.add_argument("--model", default=d.model, choices=MODELS,
                   help="ltl: LtI; ltl-nosplit: LtI without the split (all coefficients predicted); postproc-fbp: "
                        f"a residual U-Net on the FBP (FBPConvNet); postproc-l1: the same on f_vis [{d.model}]")
    s.add_argument("--epochs", type=int, default=d.epochs,
                   help=f"epochs in all [{d.epochs}]; with --resume, more than done extends the run (and its "
                        "cosine schedule)")
    s.add_argument("--batch-size", type=int, default=d.batch_size, help=f"batch size per process [{d.batch_size}]")
    s.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate [{d.lr:g}]")
    s.add_argument("--schedule", default=d.schedule, choices=SCHEDULES, help=f"LR schedule [{d.schedule}]")
    s.add_argument("--width", type=int, default=d.width, help=f"U-Net channels at the first level [{d.width}]")
    s.add_argument("--depth", type=int, default=d.depth, help=f"U-Net downsamplings [{d.depth}]")
    s.add_argument("--patch", type=int, default=d.patch, help="train on random PATCH×PATCH crops [whole images]")
    s.add_argument("--amp", action="store_true", default=d.amp, help="mixed precision on CUDA")
    s.add_argument("--grad-clip", type=float, default=d.grad_clip, help="clip the gradient norm [off]")
    s.add_argument("--no-fvis", dest="use_fvis", action="store_false", default=d.use_fvis,
                   help="do not feed f_vis as an extra input channel")
    s.add_argument("--no-lowpass", dest="predict_lowpass", action="store_false", default=d.predict_lowpass,
                   help="keep f_vis's low-pass channel instead of predicting it (its missing wedge stays empty)")
    s.add_argument("--no-residual", dest="residual", action="store_false", default=d.residual,
                   help="predict the coefficients themselves, not corrections of f_vis's")
    s.add_argument("--loss", default=d.loss, choices=LOSSES,
                   help="coefficients: raw-scale MSE (≈ image MSE); normalized: every channel weighs the same; "
                        f"mixed: their mean [{d.loss}]")
    s.add_argument("--preload", action="store_true", default=d.preload,
                   help="read the training split into device memory once")
    s.add_argument("--seed", type=int, default=d.seed, help=f"seed [{d.seed}]")
    s.add_argument("--num-workers", type=int, default=d.num_workers, help=f"DataLoader workers [{d.num_workers}]")
    s.add_argument("--device", default=d.device, help="torch device [cuda:LOCAL_RANK if available, else cpu]")
    s.add_argument("--resume", action="store_true", default=d.resume,
                   help="continue the run in --out from its checkpoint, with its own settings (no other option "
                        "needed)")
    s.add_argument("--no-progress", dest="progress", action="store_false", default=d.progress, help="no progress bar")
    s.set_defaults(func=run)
