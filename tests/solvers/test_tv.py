"""TV PDHG: discrete gradient properties and agreement with an independent cvxpy solution."""

import cvxpy as cp
import numpy as np
import pytest
import torch

from ltl.solvers import default_lambda_tv, tv
from ltl.solvers.total_variation import divergence, gradient

N = 16
LAM = 2.0


def gradient_matrices(n):
    """Forward differences with Neumann boundary as dense (n², n²) matrices (along rows, along cols)."""
    e = np.eye(n)
    d = np.zeros((n, n))
    d[np.arange(n - 1), np.arange(n - 1)] = -1
    d[np.arange(n - 1), np.arange(1, n)] = 1
    return np.kron(d, e), np.kron(e, d)


def test_gradient_matches_matrices_and_divergence_is_minus_adjoint(gen):
    x = torch.rand(2, N, N, generator=gen, dtype=torch.float64)
    g = gradient(x)
    dr, dc = gradient_matrices(N)
    np.testing.assert_allclose(g[0, 0].numpy().ravel(), dr @ x[0].numpy().ravel(), atol=1e-12)
    np.testing.assert_allclose(g[0, 1].numpy().ravel(), dc @ x[0].numpy().ravel(), atol=1e-12)
    q = torch.rand(2, 2, N, N, generator=gen, dtype=torch.float64)
    assert float((g * q).sum()) == pytest.approx(-float((x * divergence(q)).sum()), rel=1e-12)


def test_gradient_norm_at_most_8():
    dr, dc = gradient_matrices(N)
    D = np.vstack([dr, dc])
    assert np.linalg.norm(D, 2) ** 2 <= 8.0


@pytest.fixture(scope="module")
def reference(matrix, data):
    y = data[0][0].double().numpy().ravel()
    dr, dc = gradient_matrices(N)
    f = cp.Variable(N * N)
    tvf = cp.sum(cp.norm(cp.vstack([dr @ f, dc @ f]), 2, axis=0))
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(matrix @ f - y) + LAM * tvf), [f >= 0])
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal"
    return f.value, prob.value


def test_reaches_cvxpy_optimum(op, data, matrix, reference):
    f_ref, v_ref = reference
    y = data[0][0]
    x, info = tv(op, y, LAM, iters=1500, tol=0)
    xf = x.double().numpy().ravel()
    dr, dc = gradient_matrices(N)
    r = matrix @ xf - y.double().numpy().ravel()
    ours = 0.5 * r @ r + LAM * np.sqrt((dr @ xf) ** 2 + (dc @ xf) ** 2).sum()
    assert ours == pytest.approx(info.objective[0], rel=1e-5)
    assert abs(ours - v_ref) / v_ref < 1e-3
    assert np.linalg.norm(xf - f_ref) / np.linalg.norm(f_ref) < 2e-2


def test_objective_decreases_nonneg_and_batch(op, data):
    y = data[0]
    xb, ib = tv(op, y, LAM, iters=200, tol=0)
    assert bool((xb >= 0).all())
    hist = np.array([o for _, o in ib.history])
    assert np.all(hist[-1] < 0.05 * hist[0])
    run_min = np.minimum.accumulate(hist, axis=0)
    assert np.all(hist[3:] <= run_min[3:] * 1.01)
    for i in range(3):
        xi, ii = tv(op, y[i], LAM, iters=200, tol=0)
        torch.testing.assert_close(xb[i], xi, rtol=1e-4, atol=1e-5)
        assert ib.objective[i] == pytest.approx(ii.objective[0], rel=1e-5)


def test_stopping_and_default_lambda(op, data):
    y = data[0]
    lam = default_lambda_tv(op, y)
    assert lam.shape == (3,) and bool((lam > 0).all())
    x, info = tv(op, y, iters=3000, tol=1e-3)
    assert info.converged and info.iterations < 3000
    np.testing.assert_allclose(info.params["lam"], lam.tolist(), rtol=1e-6)


def test_progress_bar(op, data, capsys):
    _, info = tv(op, data[0][0], LAM, iters=12, tol=0, progress=True)
    assert info.iterations == 12 and len(info.history) == 3  # 0, 10, 12
    assert "tv" in capsys.readouterr().err
