"""Linear operators on torch tensors: the Radon transform on ASTRA, the image gradient, and
filtered back projection."""

from .base import LinearOperator, power_norm
from .fbp import FILTERS, fbp
from .gradient import Gradient
from .radon import RadonOperator

__all__ = ["LinearOperator", "power_norm", "RadonOperator", "Gradient", "fbp", "FILTERS"]
