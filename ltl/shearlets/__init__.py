"""Band-limited cone-adapted Parseval shearlet frames and their visibility under limited-angle CT.

The frame follows the smooth Parseval shearlet construction of K. Guo and D. Labate, "The
construction of smooth Parseval frames of shearlets", Math. Model. Nat. Phenom. 8 (2013) 82-105,
with the Meyer windows of S. Häuser and G. Steidl, "Fast finite shearlet transform: a tutorial",
arXiv:1202.1773 (2012). Visibility of shearlet channels under a limited-angle scan follows the
microlocal argument of Bubba et al., "Learning the invisible", Inverse Problems 35 (2019) 064002.
"""

from ._construction import frequency_directions
from .channels import ShearletChannel
from .frame import ShearletFrame
from .visibility import (
    measured_direction_mask,
    operator_visibility_ratio,
    visibility,
    visible_fraction,
)

__all__ = [
    "ShearletFrame",
    "ShearletChannel",
    "visibility",
    "visible_fraction",
    "operator_visibility_ratio",
    "measured_direction_mask",
    "frequency_directions",
]
