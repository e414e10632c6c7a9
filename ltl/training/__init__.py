"""Training LtI and the learned baselines: settings (:mod:`~ltl.training.config`), what the network
learns and its loss (:mod:`~ltl.training.losses`), checkpoints and resumption
(:mod:`~ltl.training.state`), the loop, single process or torchrun DDP (:mod:`~ltl.training.loop`),
and the run's logs (:mod:`~ltl.training.runlog`)."""

from .config import LOSSES, MODELS, TrainConfig
from .losses import loss, loss_weights, training_pair
from .loop import NonFiniteLossError, TrainResult, train
from .state import CHECKPOINT_NAME, load_checkpoint

__all__ = ["TrainConfig", "TrainResult", "NonFiniteLossError", "train", "training_pair", "load_checkpoint",
           "CHECKPOINT_NAME", "LOSSES", "MODELS", "loss", "loss_weights"]
