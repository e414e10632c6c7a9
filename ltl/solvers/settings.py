"""Typed settings of the model-based solvers, each default defined once.

The solvers' keyword defaults (:func:`~ltl.solvers.l1_shearlet`, :func:`~ltl.solvers.tv`,
:func:`~ltl.solvers.sirt`, :func:`~ltl.solvers.cgls`) are these classes' field defaults, and
datasets, model checkpoints and evaluation reports store :meth:`~ltl.runtime.settings.Settings.to_dict`.
Pass them to a solver with ``solver(A, ..., y, **settings.kwargs())``.

The default λ factors, step sizes and tolerances were measured on validation phantoms; the
tables are in the solvers' docstrings (:func:`~ltl.solvers.l1_shearlet`, :func:`~ltl.solvers.tv`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..runtime.settings import Settings, check_int, check_number

__all__ = ["SolverSettings", "L1Settings", "TVSettings", "SIRTSettings", "CGLSSettings"]


@dataclass(frozen=True)
class SolverSettings(Settings):
    """Settings of one solver function: :meth:`kwargs` are its keyword arguments, and a stored
    ``'method'`` key (datasets record ``"method": "l1_shearlet"``) is ignored when reading."""

    @classmethod
    def from_dict(cls, d, *, ignore=("method",)):
        return super().from_dict(d, ignore=ignore)

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the solver, every field."""
        return dict(vars(self))


def _common(s) -> None:
    if s.lam is not None:
        check_number("lam", s.lam, positive=True)
    check_int("iters", s.iters)
    check_number("tol", s.tol, lo=0.0)
    if s.noise is not None:
        check_number("noise", s.noise, positive=True)
    if not isinstance(s.nonneg, bool):
        raise ValueError(f"nonneg must be true or false, got {s.nonneg!r}")
    check_number("primal_step", s.primal_step, positive=True)
    check_number("balance", s.balance, positive=True, below=1.0)


@dataclass(frozen=True)
class L1Settings(SolverSettings):
    """Settings of :func:`~ltl.solvers.l1_shearlet`, ``min_{f≥0} ½‖Af − y‖² + λ‖w ⊙ SH(f)‖₁``.

    Attributes
    ----------
    lam : float or None
        λ; None for the default λ = c·σ·κ per slice (c = ``lam_factor``).
    iters : int
        Maximal PDHG iterations (300).
    tol : float
        Relative-change tolerance, checked every 10 iterations (1e-3; 0 runs all ``iters``).
    noise : float or None
        η, the relative noise level, for the default λ (None: estimated from the data).
    nonneg : bool
        Constrain f ≥ 0 (True).
    lam_factor : float
        c of the default λ (0.0625, chosen on validation ellipses by PSNR).
    primal_step, balance : float
        t in τ = t/‖A‖ (0.03) and θ, the data block's share of the step condition (0.5).

    Notes
    -----
    :meth:`to_dict` is the stored form: ``lam, iters, tol, noise, nonneg`` always, the other keys
    only where they differ from the defaults (as files written before these classes existed).
    """

    WHAT = "solver"

    lam: float | None = None
    iters: int = 300
    tol: float = 1e-3
    noise: float | None = None
    nonneg: bool = True
    lam_factor: float = 0.0625
    primal_step: float = 0.03
    balance: float = 0.5

    ALWAYS = ("lam", "iters", "tol", "noise", "nonneg")

    def validate(self) -> None:
        _common(self)
        check_number("lam_factor", self.lam_factor, positive=True)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        dflt = self.defaults()
        return {k: v for k, v in d.items() if k in self.ALWAYS or v != dflt[k]}


@dataclass(frozen=True)
class TVSettings(SolverSettings):
    """Settings of :func:`~ltl.solvers.tv`, ``min_{f≥0} ½‖Af − y‖² + λ TV(f)``.

    Attributes
    ----------
    lam : float or None
        λ; None for the default λ = c·σ·κ per slice (c = 2, chosen on validation ellipses).
    iters : int
        Maximal PDHG iterations (500).
    tol : float
        Relative-change tolerance, checked every 10 iterations (1e-3).
    noise : float or None
        η for the default λ (None: estimated).
    nonneg : bool
        Constrain f ≥ 0 (True).
    primal_step, balance : float
        t in τ = t/‖A‖ (0.1) and θ (0.7).
    """

    WHAT = "tv"

    lam: float | None = None
    iters: int = 500
    tol: float = 1e-3
    noise: float | None = None
    nonneg: bool = True
    primal_step: float = 0.1
    balance: float = 0.7

    def validate(self) -> None:
        _common(self)


@dataclass(frozen=True)
class SIRTSettings(SolverSettings):
    """Settings of :func:`~ltl.solvers.sirt`: ``iters`` (100), ``tol`` (0: run all), ``nonneg`` (True)."""

    WHAT = "sirt"

    iters: int = 100
    tol: float = 0.0
    nonneg: bool = True

    def validate(self) -> None:
        check_int("iters", self.iters)
        check_number("tol", self.tol, lo=0.0)
        if not isinstance(self.nonneg, bool):
            raise ValueError(f"nonneg must be true or false, got {self.nonneg!r}")


@dataclass(frozen=True)
class CGLSSettings(SolverSettings):
    """Settings of :func:`~ltl.solvers.cgls`: ``iters`` (30; early stopping regularises) and ``tol`` (0)."""

    WHAT = "cgls"

    iters: int = 30
    tol: float = 0.0

    def validate(self) -> None:
        check_int("iters", self.iters)
        check_number("tol", self.tol, lo=0.0)
