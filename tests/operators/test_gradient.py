"""Gradient: forward differences with Neumann boundary as a LinearOperator, and its adjoint and norm."""

import math

import numpy as np
import pytest
import torch

from ltl.operators import Gradient, LinearOperator, power_norm
from ltl.operators.gradient import GRAD_NORM2, divergence, gradient


def difference_matrices(n, m):
    """∇ on an n × m image as dense (nm, nm) matrices (along rows, along columns), row-major."""
    def diff(k):
        d = np.zeros((k, k))
        d[np.arange(k - 1), np.arange(k - 1)] = -1
        d[np.arange(k - 1), np.arange(1, k)] = 1
        return d

    return np.kron(diff(n), np.eye(m)), np.kron(np.eye(n), diff(m))


def exact_norm(n, m):
    """‖∇‖₂ on an n × m grid: the largest singular values of the 1D differences add in squares."""
    return math.sqrt(4 * math.sin(math.pi * (n - 1) / (2 * n)) ** 2 + 4 * math.sin(math.pi * (m - 1) / (2 * m)) ** 2)


@pytest.mark.parametrize("shape", [(7, 7), (6, 9), (1, 5)])
def test_matches_difference_matrices(gen, shape):
    G = Gradient(shape)
    assert isinstance(G, LinearOperator)
    assert G.domain_shape == shape and G.range_shape == (2, *shape)
    x = torch.rand(3, *shape, generator=gen, dtype=torch.float64)
    g = G(x)
    dr, dc = difference_matrices(*shape)
    for b in range(3):
        np.testing.assert_allclose(g[b, 0].numpy().ravel(), dr @ x[b].numpy().ravel(), rtol=0, atol=1e-14)
        np.testing.assert_allclose(g[b, 1].numpy().ravel(), dc @ x[b].numpy().ravel(), rtol=0, atol=1e-14)
    torch.testing.assert_close(g, gradient(x), rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(8, 8), (5, 11)])
def test_adjoint_identity(gen, shape):
    """⟨∇x, g⟩ = ⟨x, ∇ᵀg⟩ on random float64 tensors, and ∇ᵀ = −div."""
    G = Gradient(shape)
    x = torch.randn(4, *shape, generator=gen, dtype=torch.float64)
    q = torch.randn(4, 2, *shape, generator=gen, dtype=torch.float64)
    lhs = (G(x) * q).sum(dim=(1, 2, 3))
    rhs = (x * G.T(q)).sum(dim=(1, 2))
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(G.T(q), -divergence(q), rtol=0, atol=0)
    # and the adjoint's matrix is the transpose of the forward's
    dr, dc = difference_matrices(*shape)
    D = np.vstack([dr, dc])
    np.testing.assert_allclose(G.T(q)[0].numpy().ravel(), D.T @ q[0].numpy().ravel(), rtol=0, atol=1e-12)


def test_transpose_is_cached_and_involutive():
    G = Gradient((6, 6))
    assert G.T is G.T and G.T.T is G
    assert G.T.domain_shape == (2, 6, 6) and G.T.range_shape == (6, 6)
    assert G.T.norm() == G.norm()


@pytest.mark.parametrize("shape", [(8, 8), (16, 16), (12, 20)])
def test_norm_is_an_upper_bound(shape):
    G = Gradient(shape)
    est = power_norm(G, iters=2000, rtol=1e-9)
    assert est == pytest.approx(exact_norm(*shape), rel=1e-3)  # the power iteration finds the norm
    assert G.norm() >= est and G.norm() >= exact_norm(*shape)
    assert G.norm() == math.sqrt(8.0) and G.norm_squared() == GRAD_NORM2 == 8.0
    dr, dc = difference_matrices(*shape)
    assert np.linalg.norm(np.vstack([dr, dc]), 2) == pytest.approx(exact_norm(*shape), rel=1e-10)


def test_single_images_dtypes_devices_and_autograd(gen):
    G = Gradient((5, 6))
    x = torch.rand(5, 6, generator=gen, dtype=torch.float64)
    g = G(x)
    assert g.shape == (2, 5, 6) and g.dtype == torch.float64
    torch.testing.assert_close(g, G(x[None])[0], rtol=0, atol=0)
    assert G.T(g).shape == (5, 6)
    assert G(x.float()).dtype == torch.float32
    # autograd: the gradient of ⟨∇x, q⟩ with respect to x is ∇ᵀq
    q = torch.randn(2, 5, 6, generator=gen, dtype=torch.float64)
    xg = x.clone().requires_grad_(True)
    (G(xg) * q).sum().backward()
    torch.testing.assert_close(xg.grad, G.T(q), rtol=1e-12, atol=1e-12)


def test_bad_shapes():
    for bad in [(4,), (0, 4), (4, 2.5), "ab", 4, (True, 3)]:
        with pytest.raises(ValueError, match="two positive integers"):
            Gradient(bad)
    G = Gradient((4, 5))
    with pytest.raises(ValueError, match=r"\(4, 5\) or \(B, 4, 5\).*got \(4, 4\)"):
        G(torch.zeros(4, 4))
    with pytest.raises(ValueError, match=r"\(2, 4, 5\) or \(B, 2, 4, 5\).*got \(3, 4, 5\)"):
        G.T(torch.zeros(3, 4, 5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        G(np.zeros((4, 5)))
