"""ltl: limited-angle CT that learns only what the data cannot see.

After Bubba, Kutyniok, Lassas, März, Samek, Siltanen, Srinivas, "Learning the invisible: a
hybrid deep learning-shearlet framework for limited angle computed tomography", Inverse Problems
35 (2019) 064002.
"""

from .version import __version__
from .geometry import Geometry
from .operators import RadonOperator, fbp

__all__ = ["Geometry", "RadonOperator", "fbp", "__version__"]
