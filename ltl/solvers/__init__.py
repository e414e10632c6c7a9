"""Model-based reconstruction on ltl's operators: l1-shearlet and TV by PDHG, SIRT and CGLS.

Plain functions ``solver(A, ..., y, ...) -> (x, SolverInfo)``, batched over sinograms
``(B, V, D)``, running on y's device. They use only ``A(x)``, ``A.T(y)``, ``A.norm()`` and the
shapes, never ASTRA directly.
"""

from ._common import estimate_noise
from .iterative import cgls, sirt
from .l1 import default_lambda_l1, l1_shearlet, shearlet_weights
from .monitor import SolverInfo
from .total_variation import default_lambda_tv, tv

__all__ = ["SolverInfo", "estimate_noise", "l1_shearlet", "shearlet_weights", "default_lambda_l1",
           "tv", "default_lambda_tv", "sirt", "cgls"]
