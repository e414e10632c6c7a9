"""Learning the Invisible: the U-Net on shearlet coefficients and the LtI model (solver + split +
network + combiner), with save/load."""

from .unet import UNet, channel_stats
from .lti import LtI

__all__ = ["UNet", "channel_stats", "LtI"]
