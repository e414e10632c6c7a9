"""Baselines with known answers, and the relevance-ordering test."""

import pytest
import torch
import torch.nn as nn

from ltl.explain import (BASELINES, expected_distortion, gradient, integrated_gradients, random_relevance, rde,
                         relevance_ordering, smoothgrad, to_domain)

H = 10


class Scale(nn.Module):
    """Φ(x) = w ⊙ x (elementwise): the score ‖Φ(x)‖² has gradient 2 w² x."""

    def __init__(self, w):
        super().__init__()
        self.register_buffer("w", w)

    def forward(self, x):
        return self.w * x


@pytest.fixture
def setup(gen):
    w = torch.zeros(1, 2, H, H)
    w[:, 0, 2:6, 2:8] = torch.rand(4, 6, generator=gen) + 0.5
    x = torch.randn(2, H, H, generator=gen) + 1.0
    return Scale(w), x


def test_baselines_have_the_known_answers(setup):
    model, x = setup
    w = model.w[0]
    torch.testing.assert_close(gradient(model, x), (2 * w * w * x).abs())
    # the score is quadratic, so the midpoint rule integrates exactly: IG = (w x)² (completeness)
    torch.testing.assert_close(integrated_gradients(model, x, steps=4), (w * x) ** 2)
    torch.testing.assert_close(smoothgrad(model, x, sigma=0.0, samples=3), gradient(model, x))
    sg = smoothgrad(model, x, samples=8, seed=1)
    assert sg.shape == x.shape and bool((sg[w == 0] == 0).all()) and not torch.equal(sg, gradient(model, x))
    r = random_relevance(model, x, seed=4)
    assert r.shape == x.shape and float(r.min()) >= 0 and float(r.max()) < 1
    assert torch.equal(r, random_relevance(model, x, seed=4)) and not torch.equal(r, random_relevance(model, x, seed=5))
    # a region restricts the default score; an own score (a classifier's class score) replaces it
    g = gradient(model, x, roi=(0, 0, 4, H))
    assert bool((g[:, 4:] == 0).all()) and bool((g[0, 2:4, 2:8] > 0).all())
    g1 = gradient(model, x, score=lambda out: out[:, 0, 3, 3])
    assert float(g1.sum()) == pytest.approx(float(w[0, 3, 3])) and float(g1[0, 3, 3]) > 0
    for name, f in BASELINES.items():
        out = f(model, torch.stack([x, x + 1]), seed=0)
        assert out.shape == (2, *x.shape) and float(out.min()) >= 0, name


def test_to_domain():
    r = torch.arange(24.0).reshape(2, 3, 4) - 10
    assert to_domain(r, "pixels").shape == (1, 3, 4) and to_domain(r, "channels").shape == (2, 1, 1)
    torch.testing.assert_close(to_domain(r, "channels").flatten(), r.abs().sum((1, 2)))
    torch.testing.assert_close(to_domain(r, "coefficients"), r.abs())


def test_ordering_curve_ends(setup):
    model, x = setup
    rel = gradient(model, x)
    c = relevance_ordering(model, x, rel, domain="coefficients", samples=8, points=11, seed=2)
    assert c.fractions.tolist() == pytest.approx([i / 10 for i in range(11)])
    assert float(c.distortion[-1]) < 1e-12  # everything kept: the output itself
    # nothing kept: D(0), with the same noise draws as expected_distortion's
    assert float(c.distortion[0]) == pytest.approx(float(expected_distortion(model, x, 0.0, samples=8, seed=2)), rel=1e-6)
    assert c.area == pytest.approx(float(torch.trapezoid(c.distortion, c.fractions)))
    d = c.to_dict()
    assert set(d) == {"fractions", "distortion", "area"} and len(d["distortion"]) == 11


def test_rde_beats_random_in_the_ordering_test(setup):
    """The planted case: the mask of RDE orders the used inputs first; a random order does not."""
    model, x = setup
    r = rde(model, x, domain="pixels", steps=100, samples=8, lam=0.1)
    kw = dict(domain="pixels", samples=8, points=21, seed=3)
    a_rde = relevance_ordering(model, x, r.mask, **kw).area
    a_rand = relevance_ordering(model, x, random_relevance(model, x, seed=0), **kw).area
    a_grad = relevance_ordering(model, x, gradient(model, x), **kw).area
    assert a_rde < 0.5 * a_rand
    assert a_grad < 0.5 * a_rand
    # the used region is 24 of 100 pixels: from a quarter kept on, RDE's curve is (almost) zero
    curve = relevance_ordering(model, x, r.mask, **kw)
    assert float(curve.distortion[5:].max()) < 0.05 * float(curve.distortion[0])


def test_ordering_batch_and_errors(setup):
    model, x = setup
    xb = torch.stack([x, 2 * x])
    c = relevance_ordering(model, xb, gradient(model, xb), domain="channels", samples=4, points=3)
    assert c.distortion.shape == (2, 3) and c.area.shape == (2,)
    with pytest.raises(ValueError, match="mask shape"):
        relevance_ordering(model, x, torch.rand(2, 3, 3), domain="pixels")
    with pytest.raises(ValueError, match="points must be >= 2"):
        relevance_ordering(model, x, torch.rand_like(x), points=1)
