"""The discrete image gradient (forward differences, Neumann boundary) as a linear operator."""

from __future__ import annotations

import math

import torch

from .base import LinearOperator

__all__ = ["Gradient", "gradient", "divergence", "GRAD_NORM2"]

#: The bound ‖∇‖₂² ≤ 8 of forward differences with Neumann boundary in two dimensions (each of
#: the two difference operators has norm < 2). The exact value on an N × M grid is
#: ``4 sin²(π(N−1)/(2N)) + 4 sin²(π(M−1)/(2M))``, slightly less.
GRAD_NORM2 = 8.0


def gradient(x: torch.Tensor) -> torch.Tensor:
    """Forward differences with Neumann boundary, ``(B, N, M)`` → ``(B, 2, N, M)``.

    Channel 0 is the difference along rows (down, ``x[i+1, j] − x[i, j]``), channel 1 along
    columns (``x[i, j+1] − x[i, j]``); the last row/column difference is 0. ‖∇‖² ≤ 8.
    """
    g = x.new_zeros((x.shape[0], 2, *x.shape[-2:]))
    g[:, 0, :-1, :] = x[:, 1:, :] - x[:, :-1, :]
    g[:, 1, :, :-1] = x[:, :, 1:] - x[:, :, :-1]
    return g


def divergence(g: torch.Tensor) -> torch.Tensor:
    """The negative adjoint of :func:`gradient`: ``⟨∇x, g⟩ = −⟨x, div g⟩``, ``(B, 2, N, M)`` → ``(B, N, M)``."""
    gr, gc = g[:, 0], g[:, 1]
    d = torch.zeros_like(gr)
    d[:, :-1, :] += gr[:, :-1, :]
    d[:, 1:, :] -= gr[:, :-1, :]
    d[:, :, :-1] += gc[:, :, :-1]
    d[:, :, 1:] -= gc[:, :, :-1]
    return d


def _check_shape(shape) -> tuple[int, int]:
    try:
        dims = tuple(shape)
        ok = len(dims) == 2 and all(not isinstance(d, bool) and int(d) == d and d >= 1 for d in dims)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"shape must be two positive integers (N, M), the image shape, got {shape!r}")
    return int(dims[0]), int(dims[1])


class Gradient(LinearOperator):
    """The image gradient ∇ by forward differences with Neumann boundary (:func:`gradient`).

    ``G(x)`` maps images ``(N, M)`` or ``(B, N, M)`` to gradient fields ``(2, N, M)`` or
    ``(B, 2, N, M)`` (channel 0 along rows, channel 1 along columns, in the input's units per
    pixel); ``G.T(g) = −div g`` (:func:`divergence`) is the exact adjoint. Outputs keep the
    input's dtype and device; autograd works through both.

    Parameters
    ----------
    shape : (int, int)
        The image shape ``(N, M)``, the operator's ``domain_shape``; ``range_shape`` is
        ``(2, N, M)``.

    Examples
    --------
    >>> import torch
    >>> G = Gradient((4, 5))
    >>> G(torch.ones(3, 4, 5)).abs().max().item(), G.T(G(torch.ones(4, 5))).shape
    (0.0, torch.Size([4, 5]))
    """

    def __init__(self, shape: tuple[int, int]):
        n, m = _check_shape(shape)
        self.domain_shape = (n, m)
        self.range_shape = (2, n, m)

    def _batch(self, t: torch.Tensor, shape: tuple[int, ...], what: str) -> tuple[torch.Tensor, bool]:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{what} must be a torch.Tensor, got {type(t).__name__}; use torch.as_tensor(...)")
        k = len(shape)
        if t.ndim not in (k, k + 1) or tuple(t.shape[-k:]) != shape:
            dims = ", ".join(map(str, shape))
            raise ValueError(f"{what} must have shape {shape} or (B, {dims}) for {self!r}, got {tuple(t.shape)}")
        single = t.ndim == k
        return (t.unsqueeze(0) if single else t), single

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """∇x: images ``(N, M)`` or ``(B, N, M)`` → ``(2, N, M)`` or ``(B, 2, N, M)``."""
        xb, single = self._batch(x, self.domain_shape, "image")
        g = gradient(xb)
        return g[0] if single else g

    def adjoint(self, g: torch.Tensor) -> torch.Tensor:
        """∇ᵀg = −div g: fields ``(2, N, M)`` or ``(B, 2, N, M)`` → ``(N, M)`` or ``(B, N, M)``."""
        gb, single = self._batch(g, self.range_shape, "gradient field")
        x = -divergence(gb)
        return x[0] if single else x

    def norm(self) -> float:
        """The bound √8 ≥ ‖∇‖₂, which step-size rules use; not the exact norm.

        The exact norm on an ``N × M`` grid, ``(4 sin²(π(N−1)/(2N)) + 4 sin²(π(M−1)/(2M)))^{1/2}``,
        is slightly smaller and tends to √8 as the grid grows; the grid-independent bound keeps
        step sizes the same for every image size.
        """
        return math.sqrt(GRAD_NORM2)

    def norm_squared(self) -> float:
        """The bound ‖∇‖₂² ≤ 8 (:data:`GRAD_NORM2`), exactly 8.0 (``norm() ** 2`` rounds to 8 + 2e-15)."""
        return GRAD_NORM2

    def __repr__(self) -> str:
        return f"Gradient({self.domain_shape})"
