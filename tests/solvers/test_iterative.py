"""SIRT and CGLS on consistent and inconsistent small systems against numpy least squares."""

import numpy as np
import pytest
import torch

from ltl import Geometry, RadonOperator
from ltl.data import random_ellipses
from ltl.solvers import cgls, sirt

N = 16


@pytest.fixture(scope="module")
def full():
    """A well-determined full-angle problem: 36 views over 180°."""
    A = RadonOperator(Geometry.limited_angle(N, angular_range_deg=180, step_deg=5))
    eye = torch.eye(N * N).reshape(N * N, N, N)
    M = A(eye).reshape(N * N, -1).T.double().numpy()
    x = random_ellipses(2, N, seed=7)
    return A, M, x


def test_sirt_converges_on_consistent_system(full):
    A, M, x = full
    y = A(x)
    errs = []
    rec, info = sirt(A, y, 1000, callback=lambda k, f: errs.append(float((f - x).norm() / x.norm())))
    assert info.iterations == 1000 and len(info.history) == 1001
    assert bool((rec >= 0).all())
    obj = np.array([o for _, o in info.history])
    assert np.all(obj[-1] < 1e-4 * obj[0])
    assert errs[-1] < 0.05 and errs[-1] < 0.5 * errs[40]
    # and toward the least-squares solution of the explicit matrix (here the truth)
    ls = np.linalg.lstsq(M, y[0].double().numpy().ravel(), rcond=None)[0]
    np.testing.assert_allclose(ls, x[0].double().numpy().ravel(), atol=1e-4)
    assert np.linalg.norm(rec[0].double().numpy().ravel() - ls) / np.linalg.norm(ls) < 0.05


def test_sirt_weighted_least_squares_fixed_point(full):
    """On inconsistent data the R-weighted least-squares solution is SIRT's fixed point, and
    unconstrained SIRT moves toward it."""
    A, M, x = full
    y = A(x) + 0.5 * torch.randn(A(x).shape, generator=torch.Generator().manual_seed(1))
    rs = M.sum(axis=1)
    R = np.where(rs > 1e-6 * rs.max(), 1 / np.where(rs > 0, rs, 1), 0)
    yv = y[0].double().numpy().ravel()
    wls = np.linalg.lstsq(np.sqrt(R)[:, None] * M, np.sqrt(R) * yv, rcond=None)[0]
    x_wls = torch.from_numpy(wls.reshape(N, N)).float()
    rec, _ = sirt(A, y[0], 50, nonneg=False, x0=x_wls)
    assert rec.shape == (N, N)
    assert float((rec - x_wls).norm() / x_wls.norm()) < 1e-4
    errs = []
    sirt(A, y[0], 300, nonneg=False, callback=lambda k, f: errs.append(float((f - x_wls).norm())))
    assert np.all(np.diff(errs[5:]) < 0) and errs[-1] < 0.95 * errs[5]


def test_sirt_batch_equals_slices(full):
    A, _, x = full
    y = A(x)
    xb, _ = sirt(A, y, 30)
    for i in range(2):
        xi, _ = sirt(A, y[i], 30)
        torch.testing.assert_close(xb[i], xi, rtol=1e-5, atol=1e-6)


def test_cgls_matches_lstsq(full):
    A, M, x = full
    y = A(x) + 0.2 * torch.randn(A(x).shape, generator=torch.Generator().manual_seed(2))
    rec, info = cgls(A, y, 300)
    obj = np.array([o for _, o in info.history])
    assert np.all(np.diff(obj, axis=0) <= 1e-6 * obj[0])  # CGLS residual is monotone
    for i in range(2):
        ls = np.linalg.lstsq(M, y[i].double().numpy().ravel(), rcond=None)[0]
        e = np.linalg.norm(rec[i].double().numpy().ravel() - ls) / np.linalg.norm(ls)
        assert e < 1e-3
        r = M @ ls - y[i].double().numpy().ravel()
        assert info.objective[i] == pytest.approx(0.5 * r @ r, rel=1e-3)


def test_cgls_batch_equals_slices_and_tol(full):
    A, _, x = full
    y = A(x)
    xb, ib = cgls(A, y, 20)
    for i in range(2):
        xi, _ = cgls(A, y[i], 20)
        torch.testing.assert_close(xb[i], xi, rtol=1e-4, atol=1e-5)
    _, info = cgls(A, y, 500, tol=1e-3)
    assert info.converged and info.iterations < 500 and max(info.rel_change) < 1e-3
