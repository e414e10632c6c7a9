"""The preconditioned PDHG loop shared by the l1-shearlet and TV solvers.

It solves ``min_{f (≥ 0)} ½‖Af − y‖² + R(Kf)`` where ``K`` is a
:class:`~ltl.operators.LinearOperator` (the shearlet frame, the gradient) and ``R`` a norm whose
conjugate is the indicator of a ball (so its prox is a projection), with one dual variable per
block:

* ``f⁺ = [f − τ(Aᵀp + Kᵀq)]₊``
* ``p⁺ = (p + σ_A(2Af⁺ − Af − y)) / (1 + σ_A)``   (prox of the conjugate of ½‖·−y‖²)
* ``q⁺ = Π(q + σ_K(2Kf⁺ − Kf))``                  (projection onto the dual ball of R)

``Af`` and ``Kf`` are carried along, so an iteration costs one A, Aᵀ, K and Kᵀ, and the objective
comes without extra transforms.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..runtime.threads import solver_threads
from . import _common as C
from .monitor import Monitor, SolverInfo

__all__ = ["pdhg", "pdhg_steps"]


def pdhg_steps(A, K, primal_step: float, balance: float) -> tuple[float, float, float, float]:
    """Step sizes ``(‖A‖, τ, σ_A, σ_K)`` with ``τ = t/‖A‖``, ``σ_A = 0.99θ/(τ‖A‖²)`` and
    ``σ_K = 0.99(1−θ)/(τ‖K‖²)``, so that ``τ(σ_A‖A‖² + σ_K‖K‖²) = 0.99 < 1``.

    ``primal_step`` is t > 0, ``balance`` θ ∈ (0, 1) the data block's share. ‖A‖ is ``A.norm()``;
    ‖K‖² is ``K.norm_squared()`` (``K.norm() ** 2``, or the exact bound 8 of the gradient).
    """
    if not (math.isfinite(primal_step) and primal_step > 0 and 0 < balance < 1):
        raise ValueError(f"primal_step must be > 0 and balance in (0, 1), got {primal_step!r}, {balance!r}")
    a = float(A.norm())
    if not (math.isfinite(a) and a > 0):
        raise ValueError(f"the operator norm must be positive and finite, got {a}")
    k2 = float(K.norm_squared())
    if not (math.isfinite(k2) and k2 > 0):
        raise ValueError(f"the regulariser's operator norm must be positive and finite, got ‖K‖² = {k2}")
    tau = primal_step / a
    return a, tau, 0.99 * balance / (tau * a * a), 0.99 * (1 - balance) / (tau * k2)


def pdhg(
    A,
    K,
    yb: torch.Tensor,
    x: torch.Tensor,
    *,
    project: Callable[[torch.Tensor], None],
    reg_value: Callable[[torch.Tensor], torch.Tensor],
    tau: float,
    sigma_data: float,
    sigma_reg: float,
    warm: bool,
    nonneg: bool,
    monitor: Monitor,
    params: dict,
) -> tuple[torch.Tensor, SolverInfo]:
    """Run PDHG from ``x`` (``(B, N, N)``) on sinograms ``yb`` (``(B, V, D)``).

    ``K`` is the regulariser's operator (``K(x)``, ``K.T(q)``); ``project(q)`` projects its dual
    variable in place; ``reg_value(Kx)`` is R(Kx) per slice in float64, ``(B,)``. With ``warm``
    the data dual starts at ``Ax − y``. ``monitor`` (``record='checks'``) holds ``iters``,
    ``tol``, the callback and the progress bar; ``params`` go into the record. On the CPU the loop
    runs under :func:`ltl.runtime.solver_threads` (one intra-op thread for small tensors).
    """
    ax, kx = A(x), K(x)
    # One intra-op thread for small tensors (ltl.runtime.threads): the loop is ~20 small operations.
    with solver_threads(max(x.numel(), ax.numel(), kx.numel()), yb.device):
        p = (ax - yb) if warm else torch.zeros_like(yb)
        q = torch.zeros_like(kx)

        def objective(ax_, kx_):
            return C.half_sq(ax_ - yb) + reg_value(kx_)

        with monitor:
            monitor.record(objective(ax, kx))
            for _ in monitor:
                x_new = torch.add(A.T(p), K.T(q)).mul_(-tau).add_(x)  # x − τ(Aᵀp + Kᵀq), one allocation
                if nonneg:
                    x_new.clamp_(min=0)
                ax_new, kx_new = A(x_new), K(x_new)
                p.add_(ax_new, alpha=2 * sigma_data).sub_(ax, alpha=sigma_data).sub_(yb, alpha=sigma_data)
                p.div_(1 + sigma_data)
                q.add_(kx_new, alpha=2 * sigma_reg).sub_(kx, alpha=sigma_reg)
                project(q)
                monitor.step(x_new, prev=x, objective=lambda: objective(ax_new, kx_new))
                x, ax, kx = x_new, ax_new, kx_new
        params = dict(params, tau=tau, sigma_data=sigma_data, tol=monitor.tol, iters=monitor.iters,
                      nonneg=bool(nonneg))
        return monitor.finish(x, params, objective=lambda: objective(ax, kx))

