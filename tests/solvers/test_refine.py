"""The data-consistent refinement with a coefficient prior: agreement with cvxpy, the limits of μ,
batching, settings and errors."""

import cvxpy as cp
import numpy as np
import pytest
import torch

from ltl.shearlets import visibility
from ltl.solvers import shearlet_weights, tv
from ltl.solvers.refine import RefineSettings, refine, refine_parameters
from ltl.solvers.total_variation import gradient

from .conftest import N, gradient_matrices

LAM = 2.0
MU = 5.0


@pytest.fixture(scope="module")
def inv(frame, geom):
    return torch.nonzero(~visibility(frame, geom)).flatten()


@pytest.fixture(scope="module")
def prior(frame, data, inv):
    """The truth's coefficients in the invisible channels, slightly perturbed (a network's guess)."""
    x = data[1]
    g = torch.Generator().manual_seed(1)
    c = frame.forward(x)[:, inv]
    return c + 0.02 * torch.randn(c.shape, generator=g)


def _cvx(matrix, frame_matrix, y, inv, c, *, lam_tv=0.0, lam_1=0.0, w=None, mu=0.0):
    """The same problem, solved by cvxpy (CLARABEL) with explicit matrices."""
    f = cp.Variable(N * N)
    obj = 0.5 * cp.sum_squares(matrix @ f - y)
    if lam_tv:
        dr, dc = gradient_matrices(N)
        obj = obj + lam_tv * cp.sum(cp.norm(cp.vstack([dr @ f, dc @ f]), 2, axis=0))
    S = frame_matrix.reshape(-1, N * N, N * N)  # (C, N², N²)
    if lam_1:
        ww = np.repeat(w, N * N)
        obj = obj + lam_1 * cp.norm1(cp.multiply(ww, frame_matrix @ f))
    if mu:
        P = S[inv].reshape(-1, N * N)
        obj = obj + 0.5 * mu * cp.sum_squares(P @ f - c.ravel())
    prob = cp.Problem(cp.Minimize(obj), [f >= 0])
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal"
    return f.value, prob.value


def _objective(matrix, frame_matrix, xf, y, inv, c, *, lam_tv=0.0, lam_1=0.0, w=None, mu=0.0):
    r = matrix @ xf - y
    val = 0.5 * r @ r
    if lam_tv:
        dr, dc = gradient_matrices(N)
        val += lam_tv * np.sqrt((dr @ xf) ** 2 + (dc @ xf) ** 2).sum()
    if lam_1:
        val += lam_1 * (np.repeat(w, N * N) * np.abs(frame_matrix @ xf)).sum()
    if mu:
        P = frame_matrix.reshape(-1, N * N, N * N)[inv].reshape(-1, N * N)
        val += 0.5 * mu * np.sum((P @ xf - c.ravel()) ** 2)
    return val


def test_tv_with_prior_reaches_cvxpy_optimum(op, frame, matrix, frame_matrix, data, inv, prior):
    y, x = data
    c = prior[0].double().numpy()
    yv = y[0].double().numpy().ravel()
    _, v_ref = _cvx(matrix, frame_matrix, yv, inv.numpy(), c, lam_tv=LAM, mu=MU)
    f, info = refine(op, y[0], torch.zeros(N, N), tv_lam=LAM, frame=frame, prior=prior[:1], channels=inv, mu=MU,
                     iters=2000)
    xf = f.double().numpy().ravel()
    ours = _objective(matrix, frame_matrix, xf, yv, inv.numpy(), c, lam_tv=LAM, mu=MU)
    assert ours == pytest.approx(info.objective[0], rel=1e-5)  # the reported objective is the problem's
    assert ours == pytest.approx(v_ref, rel=2e-4)
    assert float(f.min()) >= 0


def test_l1_with_prior_reaches_cvxpy_optimum(op, frame, matrix, frame_matrix, data, inv, prior):
    y, _ = data
    c = prior[1].double().numpy()
    yv = y[1].double().numpy().ravel()
    w = shearlet_weights(frame).double().numpy()
    _, v_ref = _cvx(matrix, frame_matrix, yv, inv.numpy(), c, lam_1=0.5, w=w, mu=MU)
    f, info = refine(op, y[1], torch.zeros(N, N), l1_lam=0.5, frame=frame, prior=prior[1:2], channels=inv, mu=MU,
                     iters=2000)
    ours = _objective(matrix, frame_matrix, f.double().numpy().ravel(), yv, inv.numpy(), c, lam_1=0.5, w=w, mu=MU)
    assert ours == pytest.approx(info.objective[0], rel=1e-5)
    assert ours == pytest.approx(v_ref, rel=2e-4)


def test_without_prior_it_is_tv(op, data):
    """No prior and no ℓ1 term: the same minimiser as the TV solver (objectives agree)."""
    y, _ = data
    f, info = refine(op, y, torch.zeros_like(data[1]), tv_lam=LAM, iters=2000)
    _, ti = tv(op, y, LAM, iters=2000, tol=0)
    np.testing.assert_allclose(info.objective, ti.objective, rtol=1e-4)


def test_large_mu_keeps_the_prior_and_small_mu_lets_the_data_decide(op, frame, data, inv):
    """With an attainable prior (the coefficients of another image f_p ≥ 0), ‖SH(f)_inv − c‖ falls
    as μ grows and tends to 0, while the rest of the objective, ½‖Af − y‖² + λTV(f), grows."""
    y, x = data
    f_p = (x + 0.1 * torch.rand(x.shape, generator=torch.Generator().manual_seed(4))).clamp_min(0)
    c = frame.forward(f_p)[:, inv]
    dist, rest = [], []
    for mu in (0.0, 30.0, 1e3, 1e4):  # ‖A‖² ≈ 190 here
        f, _ = refine(op, y, x, tv_lam=LAM, frame=frame, prior=c, channels=inv, mu=mu, iters=1000)
        dist.append(float((frame.forward(f)[:, inv] - c).norm() / c.norm()))
        tvf = float(gradient(f.double()).square().sum(dim=1).sqrt().sum())
        rest.append(0.5 * float((op(f) - y).double().square().sum()) + LAM * tvf)
    assert all(a > b for a, b in zip(dist, dist[1:])), dist
    assert dist[-1] < 0.02 * dist[0] and dist[-1] < 0.02, dist
    assert all(a <= b * (1 + 1e-5) for a, b in zip(rest, rest[1:])), rest


def test_reduces_the_objective_and_the_data_residual_from_a_noisy_start(op, frame, data, inv, prior):
    y, x = data
    g = torch.Generator().manual_seed(2)
    x0 = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp_min(0)
    f, info = refine(op, y, x0, tv_lam=LAM, frame=frame, prior=prior, channels=inv, mu=MU, iters=200)
    first, last = info.history[0][1], info.history[-1][1]
    assert all(b < a for a, b in zip(first, last))
    assert float((op(f) - y).norm()) < float((op(x0) - y).norm())


def test_batch_equals_slices(op, frame, data, inv, prior):
    y, x = data
    w = torch.rand(3, frame.num_channels, N, N, generator=torch.Generator().manual_seed(3))
    kw = dict(tv_lam=[1.0, 2.0, 3.0], frame=frame, l1_lam=0.3, prior=prior, channels=inv, mu=MU, iters=40)
    fb, _ = refine(op, y, x, l1_weights=w, **kw)
    for i in range(3):
        one = dict(kw, tv_lam=kw["tv_lam"][i], prior=prior[i:i + 1])
        fi, _ = refine(op, y[i], x[i], l1_weights=w[i:i + 1], **one)
        torch.testing.assert_close(fb[i], fi, atol=1e-5, rtol=1e-4)


def test_errors(op, frame, data, inv, prior):
    y, x = data
    with pytest.raises(ValueError, match="channels"):
        refine(op, y, x, frame=frame, prior=prior, mu=1.0)
    with pytest.raises(ValueError, match="frame"):
        refine(op, y, x, prior=prior, channels=inv, mu=1.0)
    with pytest.raises(ValueError, match="mu"):
        refine(op, y, x, tv_lam=1.0, mu=-1.0)
    with pytest.raises(ValueError, match="prior must have shape"):
        refine(op, y, x, frame=frame, prior=torch.cat([prior, prior], 1), channels=inv, mu=1.0)
    with pytest.raises(ValueError, match="tv_lam"):
        refine(op, y, x, tv_lam=-1.0)
    with pytest.raises(ValueError, match="x0"):
        refine(op, y, None, tv_lam=1.0)
    with pytest.raises(ValueError, match="l1_weights"):
        refine(op, y, x, frame=frame, l1_lam=1.0, l1_weights=torch.ones(3))


def test_settings_and_parameters(op, data):
    with pytest.raises(ValueError, match="reg"):
        RefineSettings(reg="tikhonov")
    with pytest.raises(ValueError, match="prior_factor"):
        RefineSettings(prior_factor=-1.0)
    with pytest.raises(ValueError, match="unknown"):
        RefineSettings.from_dict({"lambda": 1.0})
    s = RefineSettings(lam_factor=2.0, prior_factor=3.0)
    assert RefineSettings.from_dict(s.to_dict()) == s
    y = data[0]
    lam, mu = refine_parameters(op, y, s)
    lam1, mu1 = refine_parameters(op, y, RefineSettings(lam_factor=1.0, prior_factor=1.0))
    torch.testing.assert_close(lam, 2 * lam1)
    assert mu == pytest.approx(3 * mu1) and mu1 == pytest.approx(float(op.norm()) ** 2 / N)
