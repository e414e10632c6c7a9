"""PDHG takes its regulariser as a LinearOperator (steps from its norm); solver defaults are the settings'."""

import dataclasses
import inspect

import pytest
import torch

from ltl.operators import Gradient, LinearOperator
from ltl.solvers import cgls, l1_shearlet, sirt, tv
from ltl.solvers import l1 as l1_module
from ltl.solvers import total_variation as tv_module
from ltl.solvers.settings import CGLSSettings, L1Settings, SIRTSettings, TVSettings


@pytest.mark.parametrize("solver,settings", [(l1_shearlet, L1Settings), (tv, TVSettings), (sirt, SIRTSettings),
                                             (cgls, CGLSSettings)])
def test_keyword_defaults_are_the_settings_defaults(solver, settings):
    params = inspect.signature(solver).parameters
    for f in dataclasses.fields(settings):
        assert f.name in params, f"{solver.__name__} lacks the setting {f.name}"
        assert params[f.name].default == f.default, f.name
    assert set(settings().kwargs()) <= set(params)


def test_module_constants_alias_the_settings():
    assert l1_module.L1_LAMBDA_FACTOR == L1Settings.lam_factor
    assert l1_module.L1_PRIMAL_STEP == L1Settings.primal_step and l1_module.L1_BALANCE == L1Settings.balance
    assert tv_module.TV_PRIMAL_STEP == TVSettings.primal_step and tv_module.TV_BALANCE == TVSettings.balance
    assert l1_module.L1_WEIGHT_GROWTH == 0.5 and tv_module.TV_LAMBDA_FACTOR == 2.0


def test_gradient_functions_are_reexported():
    from ltl.operators import gradient as grad_module

    assert tv_module.gradient is grad_module.gradient and tv_module.divergence is grad_module.divergence


def test_step_sizes_use_the_regulariser_norm(op, frame, data):
    """σ_K = 0.99(1−θ)/(τ‖K‖²) with ‖∇‖² = 8 exactly for TV and ‖SH‖ = 1 for l1."""
    y = data[0][0]
    _, info = tv(op, y, 1.0, iters=1, tol=0)
    p = info.params
    assert p["tau"] == TVSettings.primal_step / op.norm()
    assert p["sigma_grad"] == 0.99 * (1 - TVSettings.balance) / (p["tau"] * 8.0)
    assert p["sigma_data"] == 0.99 * TVSettings.balance / (p["tau"] * op.norm() * op.norm())
    _, info = l1_shearlet(op, frame, y, 1.0, iters=1, tol=0)
    p = info.params
    assert p["sigma_coef"] == 0.99 * (1 - L1Settings.balance) / (p["tau"] * 1.0)


class Scaled(LinearOperator):
    """s·K for a LinearOperator K, with ‖sK‖ = s‖K‖ and K's channel metadata."""

    def __init__(self, op, s):
        self.op, self.s = op, s
        self.domain_shape, self.range_shape = op.domain_shape, op.range_shape
        self.channels = getattr(op, "channels", None)

    def forward(self, x):
        return self.s * self.op(x)

    def adjoint(self, c):
        return self.s * self.op.T(c)

    def norm(self):
        return self.s * self.op.norm()

    def norm_squared(self):
        return self.s * self.s * self.op.norm_squared()


def test_l1_with_a_scaled_frame_runs_the_same_iterates(op, frame, data):
    """With K' = 2·SH and λ' = λ/2 the problem is the same; PDHG with σ' = σ/‖K'‖² takes the same
    steps (duals scaled by 1/2, all by powers of two, so exactly), which it does only if it applies
    K, K.T and K.norm() of the operator it is given."""
    y = data[0][:2]
    ref, info_ref = l1_shearlet(op, frame, y, [0.3, 0.5], iters=30, tol=0)
    got, info = l1_shearlet(op, Scaled(frame, 2.0), y, [0.15, 0.25], iters=30, tol=0)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-6)
    assert info.params["sigma_coef"] == info_ref.params["sigma_coef"] / 4
    assert info.objective == pytest.approx(info_ref.objective, rel=1e-9)


def test_tv_with_a_scaled_gradient_matches(op, data):
    """TV through pdhg with 2·∇ and λ/2 against the built-in Gradient: the same iterates."""
    from ltl.solvers.monitor import Monitor
    from ltl.solvers.pdhg import pdhg, pdhg_steps

    y = data[0][:1]
    ref, info_ref = tv(op, y, 0.4, iters=30, tol=0)
    K = Scaled(Gradient(op.domain_shape), 2.0)
    _, tau, sig_a, sig_k = pdhg_steps(op, K, TVSettings.primal_step, TVSettings.balance)
    assert sig_k == info_ref.params["sigma_grad"] / 4  # ‖2∇‖² = 4·8

    def project(r):
        mag = r.square().sum(dim=1).sqrt_()
        r.div_((mag / 0.2).clamp_(min=1.0).unsqueeze(1))

    got, info = pdhg(op, K, y, torch.zeros(1, *op.domain_shape), project=project,
                     reg_value=lambda g: 0.2 * g.double().square().sum(dim=1).sqrt().sum(dim=(-2, -1)),
                     tau=tau, sigma_data=sig_a, sigma_reg=sig_k, warm=False, nonneg=True,
                     monitor=Monitor("tv", 30, 0.0, batch=1), params={})
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-6)
    assert info.objective == pytest.approx(info_ref.objective, rel=1e-6)
