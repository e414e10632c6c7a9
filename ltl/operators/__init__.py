"""Linear operators on torch tensors: the Radon transform on ASTRA (parallel and fan beam), the
image gradient, filtered back projection, fan ↔ parallel rebinning, and adapters to DeepInverse
and ODL."""

from .base import LinearOperator, power_norm
from .fanbeam import fan_fbp, redundancy_weights
from .fbp import FILTERS, fbp
from .gradient import Gradient
from .interop import to_deepinv, to_odl
from .radon import RadonOperator
from .rebin import rebin_fan_to_parallel, rebin_parallel_to_fan

__all__ = ["LinearOperator", "power_norm", "RadonOperator", "Gradient", "fbp", "FILTERS", "fan_fbp",
           "redundancy_weights", "rebin_fan_to_parallel", "rebin_parallel_to_fan", "to_deepinv", "to_odl"]
