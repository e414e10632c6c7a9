"""ShearletFrame as a LinearOperator: shapes, the cached adjoint ``.T``, the adjoint identity and the norm."""

import copy

import pytest
import torch

from ltl.operators import LinearOperator, power_norm
from ltl.shearlets import ShearletFrame


def test_is_a_linear_operator_with_shapes():
    sh = ShearletFrame(24)
    assert isinstance(sh, LinearOperator)
    assert sh.domain_shape == (24, 24)
    assert sh.range_shape == (sh.num_channels, 24, 24) == (len(sh.channels), 24, 24)
    assert sh.T.domain_shape == sh.range_shape and sh.T.range_shape == sh.domain_shape


@pytest.mark.parametrize("n", [23, 32])
def test_adjoint_identity_through_T(trng, n):
    """⟨SH f, c⟩ = ⟨f, SH.T c⟩ in float64, and ``sh(f)``/``sh.T(c)`` are forward/adjoint."""
    sh = ShearletFrame(n, dtype=torch.float64)
    f = torch.randn(3, n, n, generator=trng, dtype=torch.float64)
    c = torch.randn(3, sh.num_channels, n, n, generator=trng, dtype=torch.float64)
    lhs = (sh(f) * c).sum(dim=(1, 2, 3))
    rhs = (f * sh.T(c)).sum(dim=(1, 2))
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(sh.T(c), sh.adjoint(c), rtol=0, atol=0)
    torch.testing.assert_close(sh.T.T(f), sh.forward(f), rtol=0, atol=0)
    # one element without the batch axis
    assert sh(f[0]).shape == sh.range_shape and sh.T(c[0]).shape == sh.domain_shape
    # Parseval: SHᵀSH = I
    torch.testing.assert_close(sh.T(sh(f)), f, rtol=0, atol=1e-12)


def test_transpose_is_cached_and_involutive():
    sh = ShearletFrame(16)
    assert sh.T is sh.T
    assert sh.T.T is sh
    assert sh.T.T.T is sh.T


def test_copies_get_their_own_adjoint():
    """The adjoint cached in ``__dict__`` follows neither ``to()`` nor a shallow copy to another frame."""
    sh = ShearletFrame(16)
    _ = sh.T
    other = sh.to(dtype=torch.float64)
    assert other.T.T is other and other.T is not sh.T
    assert other.domain_shape == sh.domain_shape and other.range_shape == sh.range_shape
    twin = copy.copy(sh)
    assert twin.T.T is twin and twin.T is not sh.T


@pytest.mark.parametrize("n", [16, 33])
def test_norm_is_one_as_power_iteration(n):
    sh = ShearletFrame(n)
    assert sh.norm() == 1.0 and sh.T.norm() == 1.0 and sh.norm_squared() == 1.0
    assert power_norm(sh, iters=50) == pytest.approx(1.0, abs=1e-5)
    assert power_norm(sh.T, iters=50) == pytest.approx(1.0, abs=1e-5)
    # the frame is not just norm-bounded: ‖SH f‖ = ‖f‖ for every f, so the norm is attained everywhere
    f = torch.rand(2, n, n, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    sh64 = sh.to(dtype=torch.float64)
    norms = torch.linalg.vector_norm(sh64(f), dim=(1, 2, 3))
    torch.testing.assert_close(norms, torch.linalg.vector_norm(f, dim=(1, 2)), rtol=1e-12, atol=0)
