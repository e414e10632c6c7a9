"""The settings of a training run (:class:`TrainConfig`) and what they may name (:data:`MODELS`, :data:`LOSSES`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..models import KINDS
from ..runtime.settings import Settings, check_int, check_number

__all__ = ["TrainConfig", "MODELS", "LOSSES", "SCHEDULES"]

#: Training losses (see :class:`TrainConfig` and :func:`ltl.training.losses.loss_weights`).
LOSSES = ("mixed", "coefficients", "normalized")
#: Learning-rate schedules over the epochs.
SCHEDULES = ("cosine", "constant")
#: What :func:`~ltl.training.train` can train: every model kind of :mod:`ltl.models`, listed LtI
#: first, then the post-processing U-Nets, then LtI's variants (LtI without the split).
MODELS = tuple(sorted(KINDS, key=lambda kind: (kind != "ltl", kind.startswith("ltl"), kind)))

_BOOLS = ("use_fvis", "predict_lowpass", "residual", "amp", "resume", "progress", "preload")
_PATHS = ("data", "out", "val_data")


@dataclass(frozen=True)
class TrainConfig(Settings):
    """Settings of a training run (frozen; validated on construction, ``ValueError`` for a bad value).

    Change a value with :meth:`~ltl.runtime.settings.Settings.replace`; :meth:`to_dict` is the
    JSON form stored in ``config.json`` and the checkpoint, :meth:`from_dict` reads it back. Paths
    (``data``, ``out``, ``val_data``) and ``device`` given as ``os.PathLike`` / ``torch.device``
    are stored as strings.

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
        and the visibility threshold of the mask (in [0, 1]).
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
        Train on random ``patch × patch`` crops (pixels, >= 8) of the coefficient maps (default
        whole images).
    num_workers : int
        DataLoader worker processes.
    device : str, optional
        Default: ``cuda:LOCAL_RANK`` when available, else CPU (:func:`ltl.runtime.resolve_device`;
        only ``'postproc-fbp'``, which projects, needs ASTRA on CUDA).
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
        The model kind to train (default LtI; see :mod:`ltl.training.loop`). ``use_fvis``,
        ``predict_lowpass``, ``residual`` and ``threshold`` concern LtI (``use_fvis`` and
        ``residual`` also the model without the split); the post-processing U-Nets are always residual.
    """

    WHAT = "training"

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

    def __post_init__(self) -> None:
        for name in _PATHS:
            v = getattr(self, name)
            if isinstance(v, os.PathLike):
                object.__setattr__(self, name, os.fspath(v))
        if isinstance(self.device, torch.device):
            object.__setattr__(self, "device", str(self.device))
        super().__post_init__()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid setting."""
        for name in _PATHS:
            v = getattr(self, name)
            if not (isinstance(v, str) or (v is None and name == "val_data")):
                raise ValueError(f"{name} must be a file or directory path, got {v!r}")
        for name in ("epochs", "batch_size", "width", "norm_samples"):
            check_int(name, getattr(self, name))
        check_int("depth", self.depth, 0)
        check_int("num_workers", self.num_workers, 0)
        check_int("seed", self.seed, 0)
        check_int("patch", self.patch, 8, optional=True)
        check_int("max_train_samples", self.max_train_samples, 1, optional=True)
        check_int("max_val_samples", self.max_val_samples, 1, optional=True)
        check_number("lr", self.lr, positive=True)
        check_number("weight_decay", self.weight_decay, lo=0)
        check_number("grad_clip", self.grad_clip, positive=True, optional=True)
        for name in _BOOLS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        check_number("threshold", self.threshold)
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold!r}")
        if self.device is not None and not isinstance(self.device, str):
            raise ValueError(f"device must be a torch device name such as 'cpu' or 'cuda:0', got {self.device!r}")
