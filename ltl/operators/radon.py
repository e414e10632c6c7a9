"""The 2D Radon transform (parallel or fan beam) on ASTRA, as a batched torch operator."""

from __future__ import annotations

import threading

import torch

from ..runtime.devices import default_device
from ..runtime.memory import check_fits

from ..geometry import Geometry
from . import _astra
from .base import LinearOperator, power_norm

__all__ = ["RadonOperator"]

_norm_cache: dict[tuple, float] = {}
_norm_lock = threading.Lock()


def _check(t: torch.Tensor, shape: tuple[int, int], what: str, geometry: Geometry) -> tuple[torch.Tensor, bool]:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(t).__name__}; use torch.as_tensor(...)")
    if t.ndim not in (2, 3) or tuple(t.shape[-2:]) != shape:
        raise ValueError(
            f"{what} must have shape {shape} or (B, {shape[0]}, {shape[1]}) for {geometry.describe()}, "
            f"got {tuple(t.shape)}; reshape it or build the operator for its geometry"
        )
    if not (t.is_floating_point()):
        raise ValueError(f"{what} must be a floating-point tensor, got {t.dtype}; use .float()")
    single = t.ndim == 2
    t = t.reshape(-1, *shape) if single else t
    return t.to(torch.float32).contiguous(), single


class _Project(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, op):
        ctx.op = op
        return _astra.forward(op.geometry, x.detach(), op.projector, op.oversample)

    @staticmethod
    def backward(ctx, g):
        op = ctx.op
        return _astra.backward(op.geometry, g.to(torch.float32).contiguous(), op.projector, op.oversample), None


class _BackProject(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y, op):
        ctx.op = op
        return _astra.backward(op.geometry, y.detach(), op.projector, op.oversample)

    @staticmethod
    def backward(ctx, g):
        op = ctx.op
        return _astra.forward(op.geometry, g.to(torch.float32).contiguous(), op.projector, op.oversample), None


class RadonOperator(LinearOperator):
    """The Radon transform A of a parallel- or fan-beam :class:`~ltl.Geometry`, on ASTRA.

    ``A(x)`` projects images ``(N, N)`` or ``(B, N, N)`` to sinograms ``(V, D)`` or
    ``(B, V, D)``; ``A.T(y)`` back-projects (the adjoint). Values are ASTRA's line integrals in
    pixel units, so ``A(x)`` equals ``astra.create_sino`` on the same geometry. Outputs are float32
    on the input's device; gradients flow through both directions.

    Parameters
    ----------
    geometry : Geometry
        The scan geometry.
    projector : {'linear', 'line', 'strip'}, optional
        ASTRA's CPU projector: Joseph's linear interpolation (the default for a parallel beam),
        the line kernel (the default for a fan beam, ``line_fanflat``; ASTRA has no linear CPU
        kernel for fan beams) or the strip (area) kernel. CUDA tensors always use ASTRA's
        ``cuda`` projector (a linear kernel).
    oversample : int
        k ≥ 1: the operator's domain is the same square on a k-times finer grid, images
        ``(kN, kN)`` of pixel side 1/k, projected onto the same detector. Used to simulate data
        without the inverse crime; reconstruction uses k = 1.
    device : torch.device or str, optional
        Where :meth:`norm` iterates (default: CUDA when ASTRA and torch can use it, else CPU).
        Projections always run where their input lies.

    Notes
    -----
    On CPU, a batch is spread over the cores, one ASTRA call per slice on a thread pool
    (``LTL_NUM_THREADS`` overrides the count). On CUDA, one slice goes through
    ``astra.experimental.direct_FP2D/BP2D`` and a batch of B > 1 through one
    ``direct_FP3D/BP3D`` call on a ``parallel3d`` stack with B detector rows, zero-copy through
    DLPack. ASTRA's CPU projectors are exact adjoint pairs; its GPU back projection is the adjoint
    only to ~1e-4 relative.

    Examples
    --------
    >>> import torch
    >>> from ltl import Geometry, RadonOperator
    >>> A = RadonOperator(Geometry.limited_angle(64, angular_range_deg=120))
    >>> A(torch.ones(2, 64, 64)).shape
    torch.Size([2, 120, 91])
    """

    def __init__(
        self,
        geometry: Geometry,
        *,
        projector: str | None = None,
        oversample: int = 1,
        device: torch.device | str | None = None,
    ):
        if not isinstance(geometry, Geometry):
            raise TypeError(f"geometry must be an ltl.Geometry, got {type(geometry).__name__}")
        if projector is None:
            projector = "line" if geometry.is_fan else "linear"
        if projector not in _astra.CPU_PROJECTORS:
            raise ValueError(f"projector must be one of {_astra.CPU_PROJECTORS}, got {projector!r}")
        if geometry.is_fan and projector not in _astra.FAN_PROJECTORS:
            raise ValueError(f"a fan beam has the CPU projectors {_astra.FAN_PROJECTORS} in ASTRA, not {projector!r}")
        if isinstance(oversample, bool) or not isinstance(oversample, int) or oversample < 1:
            raise ValueError(f"oversample must be a positive integer, got {oversample!r}")
        self.geometry = geometry
        self.projector = projector
        self.oversample = oversample
        self.device = torch.device(device) if device is not None else None
        self.domain_shape = (geometry.image_size * oversample,) * 2
        self.range_shape = geometry.sino_shape
        n = float(geometry.image_size * oversample)
        views, det = geometry.sino_shape
        # one image and one sinogram as float32, times the dozen copies a solver keeps
        check_fits(12 * 4 * (n * n + float(views) * det), f"the operator of a {geometry.image_size}² image with "
                   f"{views} views × {det} detector pixels", device=device, hint="use a smaller image size")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project images ``(N, N)`` or ``(B, N, N)`` to sinograms ``(V, D)`` or ``(B, V, D)``."""
        xb, single = _check(x, self.domain_shape, "image", self.geometry)
        if xb.requires_grad and torch.is_grad_enabled():
            y = _Project.apply(xb, self)
        else:  # no graph to record: skip autograd's per-call cost (the solvers' loops)
            y = _astra.forward(self.geometry, xb, self.projector, self.oversample)
        return y[0] if single else y

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Back-project sinograms ``(V, D)`` or ``(B, V, D)`` to images ``(N, N)`` or ``(B, N, N)``."""
        yb, single = _check(y, self.range_shape, "sinogram", self.geometry)
        if yb.requires_grad and torch.is_grad_enabled():
            x = _BackProject.apply(yb, self)
        else:
            x = _astra.backward(self.geometry, yb, self.projector, self.oversample)
        return x[0] if single else x

    def norm(self) -> float:
        """‖A‖₂ by power iteration (seeded), cached per geometry and projector."""
        key = (self.geometry._key, self.projector, self.oversample)
        with _norm_lock:
            val = _norm_cache.get(key)
        if val is None:
            dev = self.device
            if dev is None:
                dev = default_device()
            val = power_norm(self, iters=100, rtol=1e-6, device=dev)
            with _norm_lock:
                _norm_cache[key] = val
        return val

    def __repr__(self) -> str:
        extra = f", oversample={self.oversample}" if self.oversample != 1 else ""
        return f"RadonOperator({self.geometry!r}, projector={self.projector!r}{extra})"
