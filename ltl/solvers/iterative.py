"""Cheap linear iterations: SIRT and CGLS, batched, on the data's device."""

from __future__ import annotations

import time
from typing import Callable

import torch

from ..runtime.threads import solver_threads
from . import _common as C
from .monitor import Monitor, SolverInfo
from .settings import CGLSSettings, SIRTSettings

__all__ = ["sirt", "cgls"]


def sirt(
    A,
    y: torch.Tensor,
    iters: int = SIRTSettings.iters,
    *,
    nonneg: bool = SIRTSettings.nonneg,
    tol: float = SIRTSettings.tol,
    x0: torch.Tensor | None = None,
    callback: Callable[[int, torch.Tensor], bool | None] | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, SolverInfo]:
    """SIRT: ``f ← max(0, f + C Aᵀ R (y − A f))``, with ``R = 1/(A 1)``, ``C = 1/(Aᵀ 1)``.

    Parameters
    ----------
    A : RadonOperator or LinearOperator
        Images ``(B, N, N)`` → sinograms ``(B, V, D)``, with ``A.T``.
    y : torch.Tensor, shape (V, D) or (B, V, D)
        Sinograms; the work runs on y's device.
    iters : int
        Number of iterations (default 100).
    nonneg : bool
        Project onto f ≥ 0 after every step (default True), as ASTRA's ``MinConstraint=0``.
    tol : float
        Stop early when the relative change ``‖f_k − f_{k−1}‖/‖f_k‖`` of every slice is below
        ``tol`` (checked every 10 iterations); 0 (default) runs all ``iters``.
    x0 : torch.Tensor, shape (N, N) or (B, N, N), optional
        Start image (default 0).
    callback : callable, optional
        ``callback(k, f)`` after iteration k; return True to stop.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    f : torch.Tensor, shape (N, N) or (B, N, N)
    info : SolverInfo
        ``objective`` is ½‖Af − y‖² (float64), recorded every iteration.

    Notes
    -----
    R (row sums, the ray lengths) and C (column sums) are guarded: rays or pixels with a sum
    ≤ 1e-6 of the largest get weight 0 instead of a division by zero. Without the constraint,
    SIRT converges to the minimiser of the weighted least squares ‖Af − y‖²_R nearest to x0 in
    the C⁻¹-norm; for consistent data that is a solution of Af = y. Step ‖C^{1/2}AᵀRA C^{1/2}‖ ≤ 1.
    """
    t0 = time.perf_counter()
    yb, single = C.check_data(A, y)
    iters = C.check_iters(iters)
    tol = C.check_tol(tol)
    dev = yb.device
    b = yb.shape[0]
    x = C.check_x0(A, x0, b, dev, nonneg)
    ones_img = torch.ones((1, *A.domain_shape), dtype=torch.float32, device=dev)
    ones_sino = torch.ones((1, *A.range_shape), dtype=torch.float32, device=dev)
    rs = A(ones_img)
    cs = A.T(ones_sino)
    R = torch.where(rs > 1e-6 * rs.abs().max(), 1.0 / rs, torch.zeros_like(rs))
    Cw = torch.where(cs > 1e-6 * cs.abs().max(), 1.0 / cs, torch.zeros_like(cs))

    # One intra-op thread for small tensors (ltl.runtime.threads). Updates in place or fused, never
    # on an operator's output (a user's operator may return a cached tensor).
    with solver_threads(max(x.numel(), yb.numel()), dev), \
            Monitor("sirt", iters, tol, batch=b, callback=callback, single=single, progress=progress,
                    record="every", t0=t0) as mon:
        for k in mon:
            res = torch.sub(yb, A(x))
            mon.record(C.half_sq(res), at=k - 1)  # the objective of the previous iterate
            x_new = torch.addcmul(x, Cw, A.T(res.mul_(R)))  # x + C Aᵀ R (y − A x)
            if nonneg:
                x_new.clamp_(min=0)
            mon.step(x_new, prev=x)
            x = x_new
        return mon.finish(x, {"iters": iters, "nonneg": bool(nonneg), "tol": tol, "method": "sirt"},
                          objective=lambda: C.half_sq(yb - A(x)))


def cgls(
    A,
    y: torch.Tensor,
    iters: int = CGLSSettings.iters,
    *,
    tol: float = CGLSSettings.tol,
    x0: torch.Tensor | None = None,
    callback: Callable[[int, torch.Tensor], bool | None] | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, SolverInfo]:
    """CGLS: conjugate gradients on the normal equations ``AᵀA f = Aᵀ y``, batched.

    Parameters
    ----------
    A : RadonOperator or LinearOperator
    y : torch.Tensor, shape (V, D) or (B, V, D)
    iters : int
        Number of iterations (default 30); early stopping is the regularisation, so keep it small
        for noisy data.
    tol : float
        Stop when ‖Aᵀr_k‖/‖Aᵀr_0‖ < tol for every slice (checked every 10 iterations); 0 (default)
        runs all ``iters``.
    x0 : torch.Tensor, optional
        Start image (default 0). No constraint is applied (CG is linear).
    callback, progress
        As in :func:`sirt`.

    Returns
    -------
    f : torch.Tensor, shape (N, N) or (B, N, N)
    info : SolverInfo
        ``objective`` is ½‖Af − y‖² (float64), every iteration, from the recursively updated
        residual (no extra projections). ``rel_change`` holds ‖Aᵀr_k‖/‖Aᵀr_0‖.

    Notes
    -----
    Hestenes–Stiefel CGLS (Björck, *Numerical Methods for Least Squares Problems*, 1996, §7.4):
    one A and one Aᵀ per iteration; step lengths per slice, so slices never mix. A slice whose
    normal-equation residual vanishes stops moving (its steps are set to 0, no division by 0).
    """
    t0 = time.perf_counter()
    yb, single = C.check_data(A, y)
    iters = C.check_iters(iters)
    tol = C.check_tol(tol)
    dev = yb.device
    b = yb.shape[0]
    x = C.check_x0(A, x0, b, dev, nonneg=False)
    shape_b = (b,) + (1,) * len(A.domain_shape)

    def dot(u):
        return u.reshape(b, -1).double().square().sum(dim=1)

    r = yb - A(x) if x0 is not None else yb.clone()
    s = A.T(r)
    p = s.clone()
    gamma = dot(s)
    gamma0 = gamma.clamp_min(1e-300)

    def residual_ratio():  # ‖Aᵀr_k‖/‖Aᵀr_0‖, CGLS's "relative change"
        return (gamma / gamma0).sqrt()

    shape_r = (b,) + (1,) * (r.ndim - 1)
    with solver_threads(max(x.numel(), yb.numel()), dev), \
            Monitor("cgls", iters, tol, batch=b, callback=callback, single=single, progress=progress,
                    record="every", t0=t0) as mon:
        mon.record(C.half_sq(r))
        for _ in mon:
            q = A(p)
            qq = dot(q)
            alpha = torch.where(qq > 0, gamma / qq.clamp_min(1e-300), torch.zeros_like(qq))
            x = x + alpha.float().view(shape_b) * p  # a new tensor: the callback may keep the old one
            r.sub_(alpha.float().view(shape_r) * q)  # r − α q, rounded as before (CGLS amplifies rounding)
            s = A.T(r)
            g_new = dot(s)
            beta = torch.where(gamma > 0, g_new / gamma.clamp_min(1e-300), torch.zeros_like(gamma))
            p.mul_(beta.float().view(shape_b)).add_(s)  # s + β p (p is this loop's own tensor)
            gamma = g_new
            mon.record(C.half_sq(r))
            mon.step(x, rel=residual_ratio)
        return mon.finish(x, {"iters": iters, "tol": tol, "method": "cgls"}, final_rel=residual_ratio)
