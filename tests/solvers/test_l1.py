"""l1-shearlet PDHG against an independent cvxpy solution of the same objective, and its properties."""

import cvxpy as cp
import numpy as np
import pytest
import torch

from ltl.solvers import SolverInfo, default_lambda_l1, l1_shearlet, shearlet_weights

N = 16
LAM = 0.5


def _objective(M, W, w, y, lam, f):
    r = M @ f - y
    return 0.5 * r @ r + lam * np.abs(np.repeat(w, N * N) * (W @ f)).sum()


@pytest.fixture(scope="module")
def reference(matrix, frame_matrix, frame, data):
    """cvxpy/CLARABEL minimiser of ½‖Mf − y‖² + λ‖w⊙Wf‖₁, f ≥ 0, for the first sinogram."""
    y = data[0][0].double().numpy().ravel()
    w = shearlet_weights(frame).double().numpy()
    keep = np.repeat(w, N * N) > 0
    Wd = (np.repeat(w, N * N)[:, None] * frame_matrix)[keep]
    f = cp.Variable(N * N)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(matrix @ f - y) + LAM * cp.norm1(Wd @ f)), [f >= 0])
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal"
    return f.value, prob.value, w


def test_reaches_cvxpy_optimum(op, frame, data, matrix, frame_matrix, reference):
    f_ref, v_ref, w = reference
    y = data[0][0]
    x, info = l1_shearlet(op, frame, y, LAM, iters=1000, tol=0)
    assert isinstance(info, SolverInfo) and info.iterations == 1000
    ours = _objective(matrix, frame_matrix, w, y.double().numpy().ravel(), LAM, x.double().numpy().ravel())
    assert ours == pytest.approx(info.objective[0], rel=1e-5)  # reported objective is the true one
    assert abs(ours - v_ref) / v_ref < 1e-3
    assert ours >= v_ref * (1 - 1e-6)  # cannot beat the optimum by more than the solver's accuracy
    assert np.linalg.norm(x.numpy().ravel() - f_ref) / np.linalg.norm(f_ref) < 1e-2


def test_objective_decreases_and_nonneg(op, frame, data):
    y = data[0]
    x, info = l1_shearlet(op, frame, y, LAM, iters=300, tol=0)
    assert bool((x >= 0).all())  # exactly: a projection, not a penalty
    hist = np.array([o for _, o in info.history])  # (K, B)
    ks = [k for k, _ in info.history]
    assert ks[0] == 0 and ks[-1] == 300 and all(b - a == 10 for a, b in zip(ks, ks[1:]))
    assert np.all(hist[-1] < 0.05 * hist[0])
    # decreases overall: after the first checks every value is within 1% of the running minimum
    run_min = np.minimum.accumulate(hist, axis=0)
    assert np.all(hist[3:] <= run_min[3:] * 1.01)
    assert np.all(hist[-1] <= hist[len(hist) // 2] * (1 + 1e-6))


def test_batch_equals_slices(op, frame, data):
    y = data[0]
    xb, ib = l1_shearlet(op, frame, y, [0.3, 0.5, 0.8], iters=60, tol=0)
    assert xb.shape == (3, N, N) and ib.iterations == 60
    for i, lam in enumerate([0.3, 0.5, 0.8]):
        xi, ii = l1_shearlet(op, frame, y[i], lam, iters=60, tol=0)
        assert xi.shape == (N, N)
        torch.testing.assert_close(xb[i], xi, rtol=1e-4, atol=1e-5)
        assert ib.objective[i] == pytest.approx(ii.objective[0], rel=1e-5)


def test_default_lambda_is_per_slice_and_batch_consistent(op, frame, data):
    y = data[0]
    lam = default_lambda_l1(op, y)
    assert lam.shape == (3,) and bool((lam > 0).all())
    assert float(default_lambda_l1(op, y[1])[0]) == pytest.approx(float(lam[1]))
    # scales with the noise level
    lam_eta = default_lambda_l1(op, y, noise=0.02)
    lam_eta2 = default_lambda_l1(op, y, noise=0.04)
    torch.testing.assert_close(lam_eta2, 2 * lam_eta)
    xb, ib = l1_shearlet(op, frame, y, iters=20, tol=0)
    np.testing.assert_allclose(ib.params["lam"], lam.tolist(), rtol=1e-6)


def test_default_weights(frame):
    w = shearlet_weights(frame)
    scales = np.array([c.scale for c in frame.channels])
    assert w.shape == (frame.num_channels,)
    assert bool((w[scales == 0] == 0).all())
    assert bool((w[scales > 0] > 0).all())
    for j in range(2, scales.max() + 1):  # non-decreasing in the scale
        assert float(w[scales == j].min()) >= float(w[scales == j - 1].max())


def test_stopping_rule_and_warm_start(op, frame, data):
    y = data[0][:2]
    x, info = l1_shearlet(op, frame, y, LAM, iters=2000, tol=1e-3)
    assert info.converged and info.iterations < 2000 and info.iterations % 10 == 0
    assert max(info.rel_change) < 1e-3
    # restarting from the solution converges at the first check with the same objective
    x2, info2 = l1_shearlet(op, frame, y, LAM, iters=2000, tol=1e-3, x0=x)
    assert info2.converged and info2.iterations <= info.iterations
    np.testing.assert_allclose(info2.objective, info.objective, rtol=1e-2)


def test_callback_can_stop_and_sees_slices(op, frame, data):
    seen = []

    def cb(k, x):
        seen.append((k, tuple(x.shape)))
        return k == 7

    _, info = l1_shearlet(op, frame, data[0][0], LAM, iters=100, tol=0, callback=cb)
    assert info.iterations == 7 and seen[-1] == (7, (N, N)) and len(seen) == 7
    assert info.history[-1][0] == 7


def test_unpenalised_lowpass_and_zero_weights(op, frame, data):
    # all weights 0: plain non-negative least squares; the objective is the data term only
    y = data[0][0]
    x, info = l1_shearlet(op, frame, y, LAM, weights=torch.zeros(frame.num_channels), iters=50, tol=0)
    r = (op(x) - y).double()
    assert info.objective[0] == pytest.approx(0.5 * float((r * r).sum()), rel=1e-5)


def test_progress_bar(op, frame, data, capsys):
    x, info = l1_shearlet(op, frame, data[0][0], LAM, iters=20, tol=0, progress=True)
    assert info.iterations == 20
    assert "l1-shearlet" in capsys.readouterr().err


def test_without_nonneg_can_go_negative(op, frame, data):
    y = -data[0][0]  # data of a negative image
    x, _ = l1_shearlet(op, frame, y, LAM, nonneg=False, iters=50, tol=0)
    assert float(x.min()) < 0
    x, _ = l1_shearlet(op, frame, y, LAM, nonneg=True, iters=50, tol=0)
    assert float(x.min()) >= 0
