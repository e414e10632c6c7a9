"""A data-consistent refinement with a coefficient prior: TV and/or shearlet-ℓ1 plus a quadratic
pull of some shearlet channels towards given coefficients, by PDHG from a warm start.

``min_{f≥0} ½‖Af − y‖² + λ_TV TV(f) + λ_1‖w ⊙ SH(f)‖₁ + μ/2 ‖P SH(f) − c‖²``

with ``P`` the restriction of the frame's coefficients to some channels (LtI's invisible ones)
and ``c`` their prior values (LtI's network prediction). Any of the three regularising terms may
be off. LtI uses it as its optional final step (:class:`~ltl.models.LtI`, ``refine``): started at
f_ltl, it removes the fine-scale noise the visible part inherits from l1-shearlet while the prior
keeps the network's invisible coefficients — measured in ``docs/visible-part.md``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..operators.gradient import GRAD_NORM2, gradient, divergence
from ..runtime.settings import Settings, check_int, check_number
from . import _common as C
from .monitor import Monitor, SolverInfo

__all__ = ["refine", "RefineSettings", "refine_parameters", "REFINE_REGULARISERS"]

#: The regularisers :class:`RefineSettings` knows.
REFINE_REGULARISERS = ("tv", "l1")


@dataclass(frozen=True)
class RefineSettings(Settings):
    """Settings of LtI's data-consistent final step (:func:`refine` started at f_ltl).

    Attributes
    ----------
    reg : {'tv', 'l1'}
        The regulariser: isotropic TV (default) or the weighted shearlet-ℓ1 of l1-shearlet.
    lam_factor : float
        c in λ = c·σ·κ (σ the sinogram's noise level, κ = ‖A‖₂/√N, as for the solvers' default λ).
    prior_factor : float
        m in μ = m·κ², the weight of the prior on the predicted channels (0: no prior; then the
        step is a plain warm-started TV or l1 run, regularised by stopping early).
    iters : int
        PDHG iterations (tol 0 runs them all).
    tol : float
        Relative-change tolerance, checked every 10 iterations (0: run all ``iters``).
    noise : float or None
        η, the relative noise level for λ (None: estimated from the data).
    primal_step, balance : float
        t in τ = t/‖A‖ and θ, the data block's share of the step condition.

    The defaults were chosen on validation phantoms of six families (``scripts/visible_part.py``,
    table in ``docs/visible-part.md``).
    """

    WHAT = "refine"

    reg: str = "tv"
    lam_factor: float = 1.0
    prior_factor: float = 0.3
    iters: int = 100
    tol: float = 0.0
    noise: float | None = None
    primal_step: float = 0.1
    balance: float = 0.5

    def validate(self) -> None:
        if self.reg not in REFINE_REGULARISERS:
            raise ValueError(f"reg must be one of {', '.join(REFINE_REGULARISERS)}, got {self.reg!r}")
        check_number("lam_factor", self.lam_factor, positive=True)
        check_number("prior_factor", self.prior_factor, lo=0.0)
        check_int("iters", self.iters)
        check_number("tol", self.tol, lo=0.0)
        check_number("noise", self.noise, positive=True, optional=True)
        check_number("primal_step", self.primal_step, positive=True)
        check_number("balance", self.balance, positive=True, below=1.0)


def refine_parameters(A, y: torch.Tensor, settings: RefineSettings) -> tuple[torch.Tensor, float]:
    """``(λ per slice (B,), μ)`` of ``settings`` for sinograms ``y`` ``(B, V, D)``:
    λ = c·σ·κ and μ = m·κ² with κ = ‖A‖₂/√N."""
    yb, _ = C.check_data(A, y)
    kappa = C.operator_scale(A)
    lam = settings.lam_factor * C.noise_level(A, yb, settings.noise) * kappa
    return lam, settings.prior_factor * kappa * kappa


def _weights(w, frame, b: int, dev) -> torch.Tensor:
    """ℓ1 weights as a tensor that broadcasts against ``(B, C, N, N)``."""
    c = int(frame.num_channels)
    if w is None:
        from .l1 import shearlet_weights

        w = shearlet_weights(frame)
    w = torch.as_tensor(w, dtype=torch.float32).detach()
    if w.ndim == 1:
        if w.numel() != c:
            raise ValueError(f"l1_weights must have one entry per frame channel ({c}), got {w.numel()}")
        w = w.view(1, c, 1, 1)
    elif w.ndim != 4 or w.shape[1] != c or w.shape[0] not in (1, b):
        raise ValueError(f"l1_weights must have shape (C,) or (B, C, N, N) with C = {c}, got {tuple(w.shape)}")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError("l1_weights must be finite and >= 0")
    return w.to(dev)


def refine(
    A,
    y: torch.Tensor,
    x0: torch.Tensor,
    *,
    tv_lam: float | Sequence[float] | torch.Tensor | None = None,
    frame=None,
    l1_lam: float | Sequence[float] | torch.Tensor | None = None,
    l1_weights: torch.Tensor | Sequence[float] | None = None,
    prior: torch.Tensor | None = None,
    channels: torch.Tensor | Sequence[int] | None = None,
    mu: float = 0.0,
    nonneg: bool = True,
    iters: int = RefineSettings.iters,
    tol: float = RefineSettings.tol,
    primal_step: float = RefineSettings.primal_step,
    balance: float = RefineSettings.balance,
    callback: Callable[[int, torch.Tensor], bool | None] | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, SolverInfo]:
    """``argmin_{f≥0} ½‖Af−y‖² + λ_TV TV(f) + λ_1‖w⊙SH(f)‖₁ + μ/2‖SH(f)[channels] − prior‖²`` from ``x0``.

    Parameters
    ----------
    A : RadonOperator or LinearOperator
        Images ``(B, N, N)`` → sinograms ``(B, V, D)``, with ``A.T`` and a cached ``A.norm()``.
    y : torch.Tensor, shape (V, D) or (B, V, D)
        Sinograms (line integrals in pixel units); the work runs on y's device.
    x0 : torch.Tensor, shape (N, N) or (B, N, N)
        The start (LtI: f_ltl); the data dual starts at ``A x0 − y`` and the prior's at
        ``μ(P SH x0 − prior)``, their optimal values for ``x0``.
    tv_lam : float, sequence of B floats, tensor (B,), or None
        λ_TV ≥ 0 (units of y × pixels, as :func:`~ltl.solvers.tv`'s λ); None or 0: no TV term.
    frame : ShearletFrame, optional
        The Parseval frame SH (needed for ``l1_lam`` or ``prior``).
    l1_lam : float, sequence, tensor (B,), or None
        λ_1 ≥ 0 of the shearlet-ℓ1 term; None or 0: none.
    l1_weights : tensor (C,) or (B, C, N, N), optional
        w ≥ 0, per channel or per coefficient (reweighted ℓ1); default
        :func:`~ltl.solvers.shearlet_weights`.
    prior : torch.Tensor, shape (B, K, N, N), optional
        c, the prior coefficients of the K ``channels`` (in the frame's units, = image units).
    channels : sequence of K ints or tensor, optional
        The frame channels the prior acts on (LtI: ``model.inv_index``).
    mu : float
        μ ≥ 0, the prior's weight (units of ‖A‖²/N; 0: no prior).
    nonneg : bool
        Constrain f ≥ 0 (default True).
    iters, tol : int, float
        Iterations, and the relative-change tolerance checked every 10 (0: run all ``iters``).
    primal_step, balance : float
        t in τ = t/‖A‖ and θ ∈ (0, 1), the data block's share of the step condition; the
        other blocks share 1 − θ equally.
    callback : callable, optional
        ``callback(k, f)`` after iteration k; return True to stop.
    progress : bool
        Show a progress bar.

    Returns
    -------
    f : torch.Tensor, shape (N, N) or (B, N, N)
        float32 on y's device.
    info : SolverInfo
        Iterations, the objective per slice (all terms), and ``params``.

    Raises
    ------
    ValueError
        For mismatched shapes, negative or non-finite λ or μ, a prior without channels or frame,
        bad weights, ``iters < 1``.

    Notes
    -----
    PDHG (Chambolle & Pock 2011, Alg. 1) on ``K = [A; ∇; SH; P SH]`` with one dual variable and
    one step per block (Pock & Chambolle, ICCV 2011), as :func:`~ltl.solvers.tv`:

    * ``f⁺ = max(0, f − τ(Aᵀp − div r + SHᵀ(q + Pᵀs)))``
    * ``p⁺ = (p + σ_A(A(2f⁺ − f) − y)) / (1 + σ_A)``
    * ``r⁺ = proj_{|r_ij| ≤ λ_TV}(r + σ_D ∇(2f⁺ − f))``
    * ``q⁺ = clip(q + σ_S SH(2f⁺ − f), ±λ_1 w)``
    * ``s⁺ = (s + σ_P(P SH(2f⁺ − f) − c)) / (1 + σ_P/μ)``  (prox of the conjugate of μ/2‖·−c‖²)

    τ = t/‖A‖, σ_A = 0.99θ/(τ‖A‖²), and each of the k other blocks σ = 0.99(1−θ)/(k τ ‖K_i‖²)
    with ‖∇‖² ≤ 8 and ‖SH‖ = ‖P SH‖ ≤ 1 (Parseval), so τΣσ_i‖K_i‖² ≤ 0.99 < 1. The prior and the
    ℓ1 term share one SH and one SHᵀ per iteration. As μ → ∞ the prior becomes the constraint
    ``P SH f = c``; as μ → 0 it vanishes.
    """
    t0 = time.perf_counter()
    yb, single = C.check_data(A, y)
    iters = C.check_iters(iters)
    tol = C.check_tol(tol)
    dev, b = yb.device, yb.shape[0]
    if not (math.isfinite(primal_step) and primal_step > 0 and 0 < balance < 1):
        raise ValueError(f"primal_step must be > 0 and balance in (0, 1), got {primal_step!r}, {balance!r}")
    if x0 is None:
        raise ValueError("refine needs a start image x0 (e.g. LtI's f_ltl)")
    x = C.check_x0(A, x0, b, dev, nonneg)

    def lam_of(v, name):
        if v is None:
            return None
        t = torch.as_tensor(v, dtype=torch.float32).detach().reshape(-1)
        if t.numel() >= 1 and bool(torch.isfinite(t).all()) and bool((t == 0).all()):
            return None
        if bool((t < 0).any()) or not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must be >= 0 and finite, got {v!r}")
        return C.check_lam(t, b, dev, name)

    lam_tv = lam_of(tv_lam, "tv_lam")
    lam_1 = lam_of(l1_lam, "l1_lam")
    if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not math.isfinite(mu) or mu < 0:
        raise ValueError(f"mu must be a finite number >= 0, got {mu!r}")
    use_prior = prior is not None and mu > 0
    if (lam_1 is not None or use_prior) and frame is None:
        raise ValueError("the shearlet-ℓ1 term and the prior need the frame (frame=...)")
    n = tuple(A.domain_shape)
    idx = None
    if use_prior:
        if channels is None:
            raise ValueError("a prior needs the channels it acts on (channels=...)")
        idx = torch.as_tensor(channels, dtype=torch.long).reshape(-1).to(dev)
        if not isinstance(prior, torch.Tensor) or prior.ndim != 4 or tuple(prior.shape[-2:]) != n \
                or prior.shape[1] != idx.numel() or prior.shape[0] not in (1, b):
            shape = tuple(prior.shape) if isinstance(prior, torch.Tensor) else type(prior).__name__
            raise ValueError(f"prior must have shape ({b}, {idx.numel()}, {n[0]}, {n[1]}) for {idx.numel()} channels, "
                             f"got {shape}")
        if int(idx.min()) < 0 or int(idx.max()) >= int(frame.num_channels):
            raise ValueError(f"channels must lie in 0..{int(frame.num_channels) - 1}")
        cp = prior.to(dev, torch.float32).expand(b, *prior.shape[1:])
    w = _weights(l1_weights, frame, b, dev) if lam_1 is not None else None

    blocks = [k for k, on in (("tv", lam_tv is not None), ("l1", lam_1 is not None), ("prior", use_prior)) if on]
    a = float(A.norm())
    tau = primal_step / a
    sig_a = 0.99 * balance / (tau * a * a) if blocks else 0.99 / (tau * a * a)
    share = 0.99 * (1 - balance) / max(len(blocks), 1)
    sig_d, sig_s, sig_p = share / (tau * GRAD_NORM2), share / tau, share / tau

    use_sh = lam_1 is not None or use_prior
    bound = (lam_1.view(b, 1, 1, 1) * w) if lam_1 is not None else None
    lam_tv_b = lam_tv.view(b, 1, 1) if lam_tv is not None else None

    def transforms(f):
        return A(f), (gradient(f) if lam_tv is not None else None), (frame.forward(f) if use_sh else None)

    def objective(ax, gx, sx):
        val = C.half_sq(ax - yb)
        if lam_tv is not None:
            val = val + lam_tv.double() * gx.double().square().sum(dim=1).sqrt().sum(dim=(-2, -1))
        if lam_1 is not None:
            val = val + lam_1.double() * (sx.abs() * w).sum(dim=(1, 2, 3), dtype=torch.float64)
        if use_prior:
            val = val + 0.5 * mu * (sx.index_select(1, idx) - cp).reshape(b, -1).double().square().sum(dim=1)
        return val

    ax, gx, sx = transforms(x)
    p = ax - yb
    r = torch.zeros_like(gx) if gx is not None else None
    q = torch.zeros_like(sx) if lam_1 is not None else None
    s = mu * (sx.index_select(1, idx) - cp) if use_prior else None

    monitor = Monitor("refine", iters, tol, batch=b, callback=callback, single=single, progress=progress, t0=t0)
    with monitor:
        monitor.record(objective(ax, gx, sx))
        for _ in monitor:
            grad = A.T(p)
            if r is not None:
                grad = grad - divergence(r)
            if use_sh:
                dual = q.clone() if q is not None else torch.zeros_like(sx)
                if s is not None:
                    dual.index_add_(1, idx, s)
                grad = grad + frame.adjoint(dual)
            x_new = x - tau * grad
            if nonneg:
                x_new.clamp_(min=0)
            ax_new, gx_new, sx_new = transforms(x_new)
            p.add_(ax_new, alpha=2 * sig_a).sub_(ax, alpha=sig_a).sub_(yb, alpha=sig_a).div_(1 + sig_a)
            if r is not None:
                r.add_(gx_new, alpha=2 * sig_d).sub_(gx, alpha=sig_d)
                mag = r.square().sum(dim=1).sqrt_()
                r.div_((mag / lam_tv_b).clamp_(min=1.0).unsqueeze(1))
            if q is not None:
                q.add_(sx_new, alpha=2 * sig_s).sub_(sx, alpha=sig_s)
                torch.clamp_(q, min=-bound, max=bound)
            if s is not None:
                bar = 2 * sx_new.index_select(1, idx) - sx.index_select(1, idx)
                s.add_(bar - cp, alpha=sig_p).div_(1 + sig_p / mu)
            monitor.step(x_new, prev=x, objective=lambda: objective(ax_new, gx_new, sx_new))
            x, ax, gx, sx = x_new, ax_new, gx_new, sx_new
    params = {"method": "refine", "blocks": ["data", *blocks], "tv_lam": None if lam_tv is None else C.to_tuple(lam_tv),
              "l1_lam": None if lam_1 is None else C.to_tuple(lam_1), "mu": float(mu) if use_prior else 0.0,
              "tau": tau, "sigma_data": sig_a, "op_norm": a, "primal_step": float(primal_step),
              "balance": float(balance), "tol": tol, "iters": iters, "nonneg": bool(nonneg)}
    return monitor.finish(x, params, objective=lambda: objective(ax, gx, sx))
