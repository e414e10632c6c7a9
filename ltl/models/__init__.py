"""Learning the Invisible: the U-Net on shearlet coefficients and the LtI model (solver + split +
network + combiner), the learned baselines (post-processing U-Nets, LtI without the split), their
checkpoints, the registry of model kinds and the shipped models."""

from .unet import UNet, channel_stats
from .base import ScanModel
from .lti import LtI
from .postproc import PostProc
from .checkpoint import KINDS, load_model, model_from_metadata, read_kind, read_meta
from .registry import class_of_kind
from .shipped import NoModelForGeometry, ShippedModel, default_checkpoint, load_for, model_for, shipped_models
from .install import install_model

__all__ = ["UNet", "channel_stats", "ScanModel", "LtI", "PostProc", "KINDS", "load_model", "model_from_metadata",
           "read_kind", "read_meta", "class_of_kind", "default_checkpoint", "shipped_models", "model_for", "load_for",
           "ShippedModel", "NoModelForGeometry", "install_model"]
