"""The LtI adapter: Φ, distortion, regions, statistics, a planted network, a whole explanation."""

import pytest
import torch

from ltl import Geometry
from ltl.data import simulate_phantoms
from ltl.explain import LtIExplainer, RDESettings, explain_lti
from ltl.explain.figures import save_explanation, save_rate_distortion, save_relevance_maps
from ltl.models import LtI

N = 32


@pytest.fixture(scope="module")
def geom():
    return Geometry.limited_angle(N, angular_range_deg=120, step_deg=3)


def tiny(geom, seed=0):
    torch.manual_seed(seed)
    return LtI(geom, width=4, depth=2, solver_settings=dict(iters=5, tol=0)).eval()


@pytest.fixture(scope="module")
def f_vis(geom):
    scan = simulate_phantoms("ellipses", geom, count=1, noise=0.01, seed=20000)
    return tiny(geom).reconstruct(scan, return_parts=True)["f_vis"][0]


@pytest.fixture
def model(geom, f_vis):
    """A tiny model whose input statistics are those of f_vis's network input (not the defaults)."""
    m = tiny(geom)
    x = m.network_input(f_vis[None])[0]
    m.net.set_normalization(x.mean((1, 2)), x.std((1, 2)), torch.zeros(m.net.out_channels),
                            torch.ones(m.net.out_channels))
    return m


def test_adapter_is_the_network_judged_on_its_contribution(model, f_vis, gen):
    ex = LtIExplainer(model, roi=(4, 6, 20, 30))
    x = ex.network_input(f_vis)
    assert x.shape == (1, model.num_visible + 1, N, N)
    torch.testing.assert_close(x[0, -1], f_vis)  # use_fvis: f_vis is the last channel
    with torch.no_grad():
        out = ex.network(x)
        torch.testing.assert_close(out, model.net.predict(model.network_input(f_vis[None])))
        other = out + 0.1 * torch.randn(out.shape, generator=gen)
        d = ex.relative_contribution_error(out.expand(2, -1, -1, -1), torch.cat([out, other]))
    assert float(d[0]) == 0
    c, co = model.contribution(out)[0, 4:20, 6:30], model.contribution(other)[0, 4:20, 6:30]
    assert float(d[1]) == pytest.approx(float(((c - co) ** 2).sum() / (c ** 2).sum()), rel=1e-5)
    assert float(ex.score(out)[0]) == pytest.approx(float((c ** 2).sum()), rel=1e-5)
    torch.testing.assert_close(ex.noise_mean, model.net.in_mean)
    torch.testing.assert_close(ex.noise_std, model.net.in_std)


@pytest.mark.parametrize("roi", [(0, 0, 33, 32), (0, -1, 10, 10), (10, 10, 10, 20), (5, 20, 9, 12)])
def test_regions_outside_the_image_are_refused(model, roi):
    with pytest.raises(ValueError, match="32×32 image"):
        LtIExplainer(model, roi=roi)


def test_missing_training_statistics_are_refused(geom, f_vis):
    with pytest.raises(ValueError, match="lacks the training statistics"):
        LtIExplainer(tiny(geom))
    with pytest.raises(ValueError, match="lacks the training statistics"):
        explain_lti(tiny(geom), f_vis, steps=1)
    m = tiny(geom)
    c = m.net.in_channels
    ex = LtIExplainer(m, noise_mean=torch.zeros(c), noise_std=torch.ones(c))  # given explicitly
    assert ex.noise_std.shape == (c,)
    with pytest.raises(ValueError, match=f"one entry per network input channel \\({c}\\)"):
        LtIExplainer(m, noise_mean=torch.zeros(c + 1), noise_std=torch.ones(c + 1))


@pytest.mark.parametrize("used", [3, -1])
def test_planted_network_is_explained_by_the_channel_it_reads(model, f_vis, used):
    """A network whose first convolution reads one input channel only (a visible shearlet channel,
    or f_vis itself): the per-channel RDE mask keeps that channel and drops the others."""
    with torch.no_grad():
        w = model.net.down[0][0].weight
        keep = w[:, used].clone()
        w.zero_()
        w[:, used] = keep
        model.net.head.bias.zero_()  # no input-independent output, so every change shows
        for up in model.net.upconv:
            up.bias.zero_()
    ex = LtIExplainer(model)
    r = ex.rde(ex.network_input(f_vis)[0], domain="channels", steps=60, samples=4, lam=0.05)
    m = r.mask.flatten()
    k = used % m.numel()
    assert float(m[k]) > 0.9
    assert float(torch.cat([m[:k], m[k + 1:]]).max()) < 0.05


def test_explanation_of_one_reconstruction(model, f_vis, tmp_path):
    e = explain_lti(model, f_vis, roi=(8, 8, 24, 24), steps=8, samples=2, points=5, seed=3)
    c_in = model.net.in_channels
    assert e.rde.mask.shape == (c_in, N, N) and e.rde.mask.device.type == "cpu"
    assert set(e.curves) == {"rde", "random", "gradient", "smoothgrad", "integrated_gradients"}
    assert set(e.relevance) == set(e.curves) - {"rde"} and all(r.shape == (c_in, N, N) for r in e.relevance.values())
    for c in e.curves.values():
        assert c.distortion.shape == (5,) and float(c.distortion[-1]) < 1e-10
    assert all(float(p.min()) >= 0 and float(p.max()) <= 1 + 1e-6 for p in e.pixel_relevance.values())
    assert e.channel_relevance.shape == (c_in,) and len(e.channel_labels) == c_in and e.channel_labels[-1] == "f_vis"
    # the visible part and the invisible part of f_vis's coefficients make up f_vis (Parseval frame)
    inv = model.frame.adjoint(model._full(None, model.analysis(f_vis[None], "invisible")))[0]
    torch.testing.assert_close(e.visible_part + inv, f_vis, atol=1e-5, rtol=0)
    # the kept visible coefficients are the mask's share of the visible part
    vis = torch.zeros(model.frame.num_channels, N, N)
    vis[model.vis_index] = (e.rde.mask * e.network_input)[: model.num_visible]
    torch.testing.assert_close(e.masked_visible, model.frame.adjoint(vis), atol=1e-6, rtol=0)
    with torch.no_grad():
        out = model.net.predict(model.network_input(f_vis[None]))
        torch.testing.assert_close(e.contribution, model.contribution(out)[0])
        torch.testing.assert_close(e.f_ltl, model.combine(f_vis[None], model.predict(f_vis[None]))[0])
    assert e.settings["roi"] == [8, 8, 24, 24] and e.settings["seed"] == 3 and "correction" in e.settings["explained"]
    assert e.seconds["rde"] > 0 and model.training is False
    for save in (lambda p: save_explanation(p, e), lambda p: save_relevance_maps(p, e),
                 lambda p: save_rate_distortion(p, e.curves, history=e.rde.history)):
        p = save(tmp_path / "fig.png")
        assert p.stat().st_size > 5000


def test_baselines_work_in_the_noise_models_standard_units(model, f_vis):
    """Gradient = σ·|∂score/∂x| per channel (sensitivity per standard deviation of the noise);
    Integrated Gradients from the noise mean is the same in raw and standardised units."""
    from ltl.explain.baselines import gradient, integrated_gradients

    ex = LtIExplainer(model)
    x = ex.network_input(f_vis)[0]
    std = ex.noise_std.view(-1, 1, 1)
    raw = gradient(ex.network, x, score=ex.score)
    torch.testing.assert_close(ex.baseline("gradient", x), raw * std, rtol=1e-4, atol=1e-6 * float(raw.max()))
    ig_raw = integrated_gradients(ex.network, x, score=ex.score, steps=8, baseline=ex.noise_mean.view(-1, 1, 1))
    ig = ex.baseline("integrated_gradients", x, steps=8)
    torch.testing.assert_close(ig, ig_raw, rtol=1e-3, atol=1e-5 * float(ig_raw.max()))
    torch.testing.assert_close(ex.standardize(x) * std + ex.noise_mean.view(-1, 1, 1), x, rtol=1e-5, atol=1e-6)


def test_settings_or_keywords_give_the_same_explanation(model, f_vis):
    """``explain_lti(settings=...)`` is the keywords' alternative; a keyword overrides its field."""
    kw = dict(roi=(8, 8, 24, 24), baselines=("random",))
    by_kw = explain_lti(model, f_vis, steps=3, samples=2, points=3, seed=4, domain="pixels", lam=2.0, **kw)
    s = RDESettings(steps=5, samples=2, points=3, seed=4, domain="pixels", lam=2.0)
    by_settings = explain_lti(model, f_vis, s, steps=3, **kw)
    assert torch.equal(by_kw.rde.mask, by_settings.rde.mask) and by_kw.rde.mask.shape == (1, N, N)
    assert by_kw.areas == by_settings.areas and by_kw.settings == by_settings.settings
    assert by_settings.settings["steps"] == 3 and by_settings.settings["lam"] == 2.0
    assert len(by_settings.rde.history["objective"]) == 3 and by_settings.rde.params["antithetic"] is True
    mirrored = explain_lti(model, f_vis, s.replace(steps=3, antithetic=False), **kw)
    assert mirrored.rde.params["antithetic"] is False and not torch.equal(mirrored.rde.mask, by_kw.rde.mask)
    with pytest.raises(ValueError, match="lam must be a positive number"):
        explain_lti(model, f_vis, s, lam=0.0)
    with pytest.raises(TypeError, match="settings must be RDESettings"):
        explain_lti(model, f_vis, {"steps": 3})
