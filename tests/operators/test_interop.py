"""The optional adapters: ltl's operator as a DeepInverse LinearPhysics and as an ODL operator
(run where those packages import)."""

import numpy as np
import pytest
import torch

from ltl import Geometry, RadonOperator
from ltl.operators.interop import to_deepinv, to_odl

G = Geometry.limited_angle(32, angular_range_deg=90, step_deg=3)
FAN = Geometry.fan_beam(32, source_origin=80, origin_det=40, angular_range_deg=120, step_deg=4)


@pytest.mark.parametrize("g", [G, FAN])
def test_deepinv_linear_physics(g, gen):
    dinv = pytest.importorskip("deepinv")
    A = RadonOperator(g)
    physics = to_deepinv(A)
    assert isinstance(physics, dinv.physics.LinearPhysics)
    x = torch.rand(2, 1, 32, 32, generator=gen)
    y = physics(x)
    assert y.shape == (2, 1, *g.sino_shape)
    torch.testing.assert_close(y[:, 0], A(x[:, 0]))
    u = torch.randn(2, 1, *g.sino_shape, generator=gen)
    torch.testing.assert_close(physics.A_adjoint(u)[:, 0], A.T(u[:, 0]))
    assert float(physics.adjointness_test(x).abs()) < 1e-4
    assert float(getattr(physics, "compute_sqnorm", physics.compute_norm)(x, max_iter=200, tol=1e-6, verbose=False)) == pytest.approx(A.norm() ** 2, rel=1e-3)
    with pytest.raises(ValueError, match=r"\(B, 1, 32, 32\)"):
        physics(x[:, 0])


def test_odl_operator(rng):
    odl = pytest.importorskip("odl")
    A = RadonOperator(G)
    op = to_odl(A)
    assert isinstance(op, odl.Operator) and op.is_linear
    assert op.domain.shape == (32, 32) and op.range.shape == G.sino_shape
    x = op.domain.element(rng.random((32, 32)))
    y = op.range.element(rng.random(G.sino_shape))
    np.testing.assert_allclose(op(x).asarray(), A(torch.from_numpy(x.asarray())).numpy(), rtol=1e-6)
    lhs, rhs = op(x).inner(y), x.inner(op.adjoint(y))
    assert abs(lhs - rhs) / abs(lhs) < 1e-5
    assert op.norm() == pytest.approx(A.norm())


def test_a_missing_library_is_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "deepinv", None)  # `import deepinv` now raises ImportError
    monkeypatch.setitem(sys.modules, "odl", None)
    with pytest.raises(ImportError, match=r"pip install 'ltl\[interop\]'"):
        to_deepinv(RadonOperator(G))
    with pytest.raises(ImportError, match=r"ltl\[interop\]"):
        to_odl(RadonOperator(G))
