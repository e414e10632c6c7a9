"""Training LtI: config, loop (single process or torchrun DDP), checkpoints, logs."""

from .train import (CHECKPOINT_NAME, NonFiniteLossError, TrainConfig, TrainResult, add_cli, load_checkpoint,
                    train, training_pair)

__all__ = ["TrainConfig", "TrainResult", "NonFiniteLossError", "train", "training_pair", "load_checkpoint",
           "add_cli", "CHECKPOINT_NAME"]
