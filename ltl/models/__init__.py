"""Learning the Invisible: the U-Net on shearlet coefficients and the LtI model (solver + split +
network + combiner), the learned baselines (post-processing U-Nets, LtI without the split), and
their checkpoints."""

from .unet import UNet, channel_stats
from .lti import LtI
from .postproc import PostProc
from ._checkpoint import KINDS, load_model, model_from_metadata, read_kind

__all__ = ["UNet", "channel_stats", "LtI", "PostProc", "KINDS", "load_model", "model_from_metadata", "read_kind"]
