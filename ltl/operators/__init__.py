"""Linear operators on torch tensors: the Radon transform on ASTRA and filtered back projection."""

from .base import LinearOperator, power_norm
from .radon import RadonOperator
from .fbp import fbp, FILTERS

__all__ = ["LinearOperator", "power_norm", "RadonOperator", "fbp", "FILTERS"]
