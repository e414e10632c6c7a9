"""The preconditioned PDHG loop shared by the l1-shearlet and TV solvers.

It solves ``min_{f (≥ 0)} ½‖Af − y‖² + R(Kf)`` where ``R`` is a norm whose conjugate is the
indicator of a ball (so its prox is a projection), with one dual variable per block:

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

from . import _common as C
from ._common import SolverInfo

__all__ = ["pdhg", "pdhg_steps"]


def pdhg_steps(A, primal_step: float, balance: float, reg_norm2: float) -> tuple[float, float, float, float]:
    """Step sizes ``(‖A‖, τ, σ_A, σ_K)`` with ``τ = t/‖A‖``, ``σ_A = 0.99θ/(τ‖A‖²)`` and
    ``σ_K = 0.99(1−θ)/(τ‖K‖²)``, so that ``τ(σ_A‖A‖² + σ_K‖K‖²) = 0.99 < 1``.

    ``primal_step`` is t > 0, ``balance`` θ ∈ (0, 1) the data block's share, ``reg_norm2`` ‖K‖².
    """
    if not (math.isfinite(primal_step) and primal_step > 0 and 0 < balance < 1):
        raise ValueError(f"primal_step must be > 0 and balance in (0, 1), got {primal_step!r}, {balance!r}")
    a = float(A.norm())
    if not (math.isfinite(a) and a > 0):
        raise ValueError(f"the operator norm must be positive and finite, got {a}")
    tau = primal_step / a
    return a, tau, 0.99 * balance / (tau * a * a), 0.99 * (1 - balance) / (tau * reg_norm2)


def pdhg(
    A,
    yb: torch.Tensor,
    x: torch.Tensor,
    *,
    K: Callable[[torch.Tensor], torch.Tensor],
    KT: Callable[[torch.Tensor], torch.Tensor],
    project: Callable[[torch.Tensor], None],
    reg_value: Callable[[torch.Tensor], torch.Tensor],
    tau: float,
    sigma_data: float,
    sigma_reg: float,
    warm: bool,
    nonneg: bool,
    iters: int,
    tol: float,
    callback,
    single: bool,
    progress: bool,
    name: str,
    params: dict,
    t0: float,
) -> tuple[torch.Tensor, SolverInfo]:
    """Run PDHG from ``x`` (``(B, N, N)``) on sinograms ``yb`` (``(B, V, D)``).

    ``project(q)`` projects the regulariser's dual variable in place; ``reg_value(Kx)`` is R(Kx)
    per slice in float64, ``(B,)``. With ``warm`` the data dual starts at ``Ax − y``. The relative
    change is checked every :data:`~ltl.solvers._common.CHECK_EVERY` iterations (one host sync);
    the loop stops when it is below ``tol`` for every slice. ``params`` go into the record.
    """
    dev = yb.device
    b = yb.shape[0]
    ax, kx = A(x), K(x)
    p = (ax - yb) if warm else torch.zeros_like(yb)
    q = torch.zeros_like(kx)

    def objective(ax_, kx_):
        return C.half_sq(ax_ - yb) + reg_value(kx_)

    history = [(0, C.to_tuple(objective(ax, kx)))]
    bar = C.Progress(progress, iters, name)
    rel = torch.full((b,), float("nan"))
    converged = False
    k = 0
    try:
        while k < iters:
            k += 1
            x_new = x - tau * (A.T(p) + KT(q))
            if nonneg:
                x_new.clamp_(min=0)
            ax_new, kx_new = A(x_new), K(x_new)
            p.add_(ax_new, alpha=2 * sigma_data).sub_(ax, alpha=sigma_data).sub_(yb, alpha=sigma_data)
            p.div_(1 + sigma_data)
            q.add_(kx_new, alpha=2 * sigma_reg).sub_(kx, alpha=sigma_reg)
            project(q)
            check = k % C.CHECK_EVERY == 0 or k == iters
            if check:
                r_dev = C.rel_change(x_new, x)
            x, ax, kx = x_new, ax_new, kx_new
            bar.step()
            stop = C.call_back(callback, k, x, single)
            if check or stop:
                obj = objective(ax, kx)
                if not check:
                    r_dev = torch.full((b,), float("nan"), device=dev)
                both = torch.cat([obj, r_dev.double()]).cpu()
                obj_h, rel = both[:b], both[b:].float()
                history.append((k, tuple(obj_h.tolist())))
                bar.show(float(rel.max()), float(obj_h.sum()))
                if tol > 0 and check and bool((rel < tol).all()):
                    converged = True
                    break
            if stop:
                break
    finally:
        bar.close()
    if history[-1][0] != k:
        history.append((k, C.to_tuple(objective(ax, kx))))
    return C.finish(x, single, k, history, converged, rel, t0,
                    dict(params, tau=tau, sigma_data=sigma_data, tol=tol, iters=iters, nonneg=bool(nonneg)))
