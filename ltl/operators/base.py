"""A small linear-operator protocol: ``A(x)``, ``A.T`` (cached, ``A.T.T is A``), shapes, ``norm()``.

Implemented by :class:`~ltl.operators.RadonOperator`, :class:`~ltl.operators.Gradient` and
:class:`~ltl.shearlets.ShearletFrame`; the solvers use nothing else of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

__all__ = ["LinearOperator", "power_norm"]


class LinearOperator(ABC):
    """Base class of ltl's linear maps on batched torch tensors.

    Subclasses implement :meth:`forward` and :meth:`adjoint` on tensors of shape
    ``(B, *domain_shape)`` and ``(B, *range_shape)``; this class adds ``A(x)``, the cached
    adjoint ``.T`` and a power-iteration norm. Subclasses must not use the instance attribute
    ``_adjoint_op``, where the adjoint is cached.
    """

    domain_shape: tuple[int, ...]
    range_shape: tuple[int, ...]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    @abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the operator to a batch ``(B, *domain_shape)`` or one element ``domain_shape``."""

    @abstractmethod
    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Apply the adjoint to a batch ``(B, *range_shape)`` or one element ``range_shape``."""

    @property
    def T(self) -> "LinearOperator":
        """The adjoint operator; ``A.T.T is A``."""
        adj = self.__dict__.get("_adjoint_op")
        if adj is None or adj.__dict__.get("_adjoint_op") is not self:  # none yet, or copied from another
            adj = _Adjoint(self)
            self.__dict__["_adjoint_op"] = adj
        return adj

    def norm(self) -> float:
        """‖A‖₂, the largest singular value, by power iteration."""
        return power_norm(self)

    def norm_squared(self) -> float:
        """‖A‖₂², as step-size rules use it: ``norm() ** 2`` unless a subclass knows it exactly."""
        n = float(self.norm())
        return n * n


class _Adjoint(LinearOperator):
    def __init__(self, op: LinearOperator):
        self._op = op
        self.domain_shape = op.range_shape
        self.range_shape = op.domain_shape
        self.__dict__["_adjoint_op"] = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._op.adjoint(x)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self._op.forward(y)

    def norm(self) -> float:
        return self._op.norm()

    def norm_squared(self) -> float:
        return self._op.norm_squared()

    def __repr__(self) -> str:
        return f"{self._op!r}.T"


def power_norm(
    op: LinearOperator,
    *,
    iters: int = 100,
    rtol: float = 1e-6,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> float:
    """Estimate ‖A‖₂ by power iteration on AᵀA from a seeded random start.

    Parameters
    ----------
    op : LinearOperator
    iters : int
        Maximal number of iterations.
    rtol : float
        Stop when the estimate changes by less than this, relatively.
    seed : int
        Seed of the ``torch.Generator`` that draws the start vector.
    device : torch.device or str, optional
        Where to iterate (default CPU).
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand((1, *op.domain_shape), generator=gen, dtype=torch.float32).to(device or "cpu")
    x /= torch.linalg.vector_norm(x)
    est = 0.0
    for _ in range(iters):
        y = op.adjoint(op.forward(x))
        n = float(torch.linalg.vector_norm(y))
        if n == 0.0:
            return 0.0
        x = y / n
        new = n ** 0.5
        if est and abs(new - est) <= rtol * new:
            est = new
            break
        est = new
    return est
