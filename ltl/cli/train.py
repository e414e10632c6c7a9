"""``ltl train``: train LtI's U-Net (or a learned baseline) on a dataset file; torchrun for several GPUs.

Every option's default is the :class:`~ltl.training.TrainConfig` field of the same name (the
``--no-*`` switches clear a field that defaults to True); :func:`run` passes each option to that field.
"""

from __future__ import annotations

import os

from ..training import LOSSES, MODELS, TrainConfig, train
from ..training.config import SCHEDULES
from .common import device_of

__all__ = ["add_parser", "run"]


def run(args) -> int:
    """Run ``ltl train``: check ``--device``, then train with the options' :class:`TrainConfig`."""
    device_of(args.device, need_astra=args.model == "postproc-fbp")
    names = TrainConfig.field_names()
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
    res = train(cfg)
    if res.history and int(os.environ.get("RANK", 0)) == 0:
        print(f"wrote {res.run_dir}/model ({cfg.model} checkpoint), checkpoint.pt, log.csv, log.json, curves.png")
    return 0


def add_parser(subparsers) -> None:
    """Register ``ltl train``."""
    d = TrainConfig
    s = subparsers.add_parser("train", help="train LtI's U-Net (or a learned baseline) on a dataset file "
                                            "(torchrun for several GPUs)")
    s.add_argument("--data", required=True, help="dataset file (.h5) from `ltl dataset make`; its train split is used")
    s.add_argument("--val-data", default=d.val_data, help="validation dataset file [the val split of --data]")
    s.add_argument("--out", required=True, help="run directory (checkpoint, model, logs)")
    s.add_argument("--model", default=d.model, choices=MODELS,
                   help="ltl: LtI; ltl-nosplit: LtI without the split (all coefficients predicted); postproc-fbp: "
                        f"a residual U-Net on the FBP (FBPConvNet); postproc-l1: the same on f_vis [{d.model}]")
    s.add_argument("--epochs", type=int, default=d.epochs, help=f"epochs [{d.epochs}]")
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
                   help="continue the run in --out from its checkpoint")
    s.add_argument("--no-progress", dest="progress", action="store_false", default=d.progress, help="no progress bar")
    s.set_defaults(func=run)
