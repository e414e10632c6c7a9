"""ltl: limited-angle CT that learns only what the data cannot see.

After Bubba, Kutyniok, Lassas, März, Samek, Siltanen, Srinivas, "Learning the invisible: a
hybrid deep learning-shearlet framework for limited angle computed tomography", Inverse Problems
35 (2019) 064002.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("ltl")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"

from .geometry import Geometry
from .operators import RadonOperator, fbp

__all__ = ["Geometry", "RadonOperator", "fbp", "__version__"]
