"""Thin adapters: ltl's operators as a DeepInverse ``LinearPhysics`` and as an ODL ``Operator``.

Neither library is a dependency of ltl (``pip install 'ltl[interop]'`` adds both); each is imported
only when its adapter is called. The adapters add no arithmetic: they reshape, and call ``A`` and
``A.T`` (so a parallel- or fan-beam :class:`~ltl.RadonOperator` keeps its devices and batching).

>>> physics = to_deepinv(RadonOperator(Geometry.limited_angle(64)))   # doctest: +SKIP
>>> y = physics(x)                    # x: (B, 1, 64, 64) → y: (B, 1, 120, 91)   # doctest: +SKIP
>>> odl_op = to_odl(RadonOperator(Geometry.limited_angle(64)))        # doctest: +SKIP
>>> odl_op.adjoint(odl_op(odl_op.domain.one()))                          # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import torch

from .base import LinearOperator

__all__ = ["to_deepinv", "to_odl"]


def _require(name: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(f"this adapter needs {name}: pip install 'ltl[interop]' (or pip install {name})") from exc


def _channel(t: torch.Tensor, shape: tuple[int, ...], what: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor) or t.ndim != len(shape) + 2 or t.shape[1] != 1 or tuple(t.shape[2:]) != shape:
        got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"{what} must be a tensor of shape (B, 1, {', '.join(map(str, shape))}), got {got}")
    return t[:, 0]


def to_deepinv(op: LinearOperator, *, noise_model=None, **kwargs):
    """``op`` as a :class:`deepinv.physics.LinearPhysics` on tensors with one channel.

    Parameters
    ----------
    op : LinearOperator
        Usually a :class:`~ltl.RadonOperator`: images ``(B, 1, N, N)`` → sinograms ``(B, 1, V, D)``.
    noise_model : deepinv noise model, optional
        DeepInverse's noise (default: its ``ZeroNoise``).
    **kwargs
        Passed to ``LinearPhysics`` (e.g. ``max_iter`` of its pseudo-inverse).

    Returns
    -------
    deepinv.physics.LinearPhysics
        ``physics.A`` and ``physics.A_adjoint`` call ``op`` and ``op.T``; dtype float32, on the
        input's device.
    """
    dinv = _require("deepinv")
    dom, ran = tuple(op.domain_shape), tuple(op.range_shape)

    def forward(x, **_):
        return op(_channel(x, dom, "image")).unsqueeze(1)

    def adjoint(y, **_):
        return op.T(_channel(y, ran, "sinogram")).unsqueeze(1)

    if noise_model is not None:
        kwargs["noise_model"] = noise_model
    return dinv.physics.LinearPhysics(A=forward, A_adjoint=adjoint, img_size=(1, *dom), **kwargs)


def to_odl(op: LinearOperator):
    """``op`` as a linear :class:`odl.Operator` between float32 tensor spaces.

    Domain ``odl.tensor_space(op.domain_shape)`` and range ``odl.tensor_space(op.range_shape)``
    carry the plain (unweighted) inner products for which ``op.T`` is the adjoint, so
    ``odl_op.adjoint`` is ``op.T``. Evaluation runs on the CPU (ODL holds numpy arrays).
    """
    odl = _require("odl")

    class RadonODL(odl.Operator):
        """An ltl :class:`~ltl.operators.LinearOperator` inside ODL."""

        def __init__(self, inner: LinearOperator):
            super().__init__(odl.tensor_space(tuple(inner.domain_shape), dtype="float32"),
                             odl.tensor_space(tuple(inner.range_shape), dtype="float32"), linear=True)
            self.inner = inner

        def _call(self, x):
            t = torch.from_numpy(np.ascontiguousarray(x.asarray(), dtype=np.float32))
            return self.range.element(self.inner(t).numpy())

        @property
        def adjoint(self):
            return RadonODL(self.inner.T)

        def norm(self, estimate=False, **kwargs):
            return float(self.inner.norm())

        def __repr__(self):
            return f"to_odl({self.inner!r})"

    return RadonODL(op)
