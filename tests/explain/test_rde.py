"""RDE on models whose relevant inputs are known by construction."""

import pytest
import torch
import torch.nn as nn

from ltl.explain import draw_noise, expected_distortion, mask_shape, noise_statistics, rde

H = 12


class Weighted(nn.Module):
    """Φ(x) = (w ⊙ x) summed over channels, (B, 1, H, W): uses exactly the inputs where w ≠ 0."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.register_buffer("w", w)

    def forward(self, x):
        return (self.w * x).sum(1, keepdim=True)


def box_model(c=3):
    w = torch.zeros(1, c, H, H)
    w[:, :, 3:7, 4:10] = 1.0
    return Weighted(w)


@pytest.fixture
def x(gen):
    return torch.randn(3, H, H, generator=gen) + 1.0


def conv1x1(weights):
    conv = nn.Conv2d(len(weights[0]), len(weights), 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(weights, dtype=torch.float32)[..., None, None])
    return conv


def test_mask_shapes():
    assert mask_shape("coefficients", 5, 6, 7) == (5, 6, 7)
    assert mask_shape("pixels", 5, 6, 7) == (1, 6, 7)
    assert mask_shape("channels", 5, 6, 7) == (5, 1, 1)
    with pytest.raises(ValueError, match="domain must be one of"):
        mask_shape("wavelets", 5, 6, 7)


@pytest.mark.parametrize("kind", ["gaussian", "uniform"])
def test_noise_has_the_requested_channel_statistics(kind):
    mean = torch.tensor([[0.5, -2.0, 3.0]])
    std = torch.tensor([[1.0, 0.1, 2.0]])
    n = draw_noise(64, mean, std, (32, 32), kind=kind, generator=torch.Generator().manual_seed(0))
    assert n.shape == (64, 1, 3, 32, 32)
    torch.testing.assert_close(n.mean((0, 3, 4)), mean, atol=0.02, rtol=0)
    torch.testing.assert_close(n.std((0, 3, 4)), std, atol=0, rtol=0.02)
    if kind == "uniform":
        half = (3 ** 0.5) * std[0]
        assert bool(((n[:, 0] - mean[0, :, None, None]).abs() <= half[:, None, None] + 1e-5).all())
    again = draw_noise(64, mean, std, (32, 32), kind=kind, generator=torch.Generator().manual_seed(0))
    assert torch.equal(n, again)


def test_default_noise_statistics_are_the_inputs_own(x):
    mean, std = noise_statistics(x[None])
    torch.testing.assert_close(mean[0], x.mean((1, 2)))
    torch.testing.assert_close(std[0], x.std((1, 2), correction=0))
    mean, std = noise_statistics(x[None], [1.0, 2.0, 3.0], 0.5)
    assert mean.tolist() == [[1.0, 2.0, 3.0]] and std.tolist() == [[0.5, 0.5, 0.5]]
    with pytest.raises(ValueError, match="one entry per input channel"):
        noise_statistics(x[None], [1.0, 2.0], 1.0)


@pytest.mark.parametrize("noise", ["gaussian", "uniform"])
def test_distortion_is_zero_at_one_and_grows_as_the_mask_falls(x, noise):
    """For linear Φ, y − x = (1 − s)(n − x), so with the same draws D(s) = (1 − s)² D(0) exactly."""
    model = conv1x1([[1.0, -0.5, 0.2], [0.3, 0.8, 0.0]])
    d = [float(expected_distortion(model, x, s, samples=64, noise=noise, seed=3)) for s in (1.0, 0.75, 0.5, 0.25, 0.0)]
    assert d[0] < 1e-12
    assert all(a < b for a, b in zip(d, d[1:]))
    for s, v in zip((0.75, 0.5, 0.25), d[1:4]):
        assert v == pytest.approx((1 - s) ** 2 * d[4], rel=1e-4)
    # a per-pixel mask: the more pixels kept, the lower the distortion
    keep = torch.zeros(1, H, H)
    keep[:, : H // 2] = 1
    half = float(expected_distortion(model, x, keep, samples=64, noise=noise, seed=3))
    assert d[0] < half < d[4]


def test_optimiser_lowers_the_objective_and_is_seeded(x):
    model = box_model()
    r = rde(model, x, domain="coefficients", steps=40, samples=4, lam=0.1, seed=1)
    h = r.history
    assert len(h["objective"]) == 40 and h["objective"][0] == pytest.approx(0.1)  # s = 1: D = 0, rate 1
    assert h["objective"][-1] < 0.5 * h["objective"][0]
    assert h["rate"][-1] < h["rate"][0] == 1.0
    assert r.mask.shape == (3, H, H) and float(r.mask.min()) >= 0 and float(r.mask.max()) <= 1
    assert r.params["domain"] == "coefficients" and r.params["seed"] == 1 and r.params["components"] == 3 * H * H
    assert r.params["lam_paper"] == pytest.approx(0.1 / (3 * H * H)) and r.seconds > 0
    again = rde(model, x, domain="coefficients", steps=40, samples=4, lam=0.1, seed=1)
    assert torch.equal(r.mask, again.mask)
    other = rde(model, x, domain="coefficients", steps=40, samples=4, lam=0.1, seed=2)
    assert not torch.equal(r.mask, other.mask)


def test_planted_pixels_are_found(x):
    model = box_model()
    r = rde(model, x, domain="pixels", steps=120, samples=8, lam=0.1)
    assert r.mask.shape == (1, H, H)
    inside = torch.zeros(H, H, dtype=torch.bool)
    inside[3:7, 4:10] = True
    m = r.mask[0]
    assert float(m[inside].min()) > 0.7 and float(m[inside].mean()) > 0.9
    assert float(m[~inside].max()) < 0.05


def test_planted_channels_are_found(gen):
    x = torch.randn(4, H, H, generator=gen)
    model = conv1x1([[0.0, 1.0, 0.0, -0.7], [0.0, 0.5, 0.0, 0.4]])  # channels 1 and 3 only
    r = rde(model, x, domain="channels", steps=100, samples=8, lam=0.1)
    m = r.mask.flatten()
    assert r.mask.shape == (4, 1, 1)
    assert float(m[[1, 3]].min()) > 0.8 and float(m[[0, 2]].max()) < 0.05


def test_planted_coefficients_and_a_batch(gen):
    """Only channel 0 in the left half is used; two inputs explained at once, independently."""
    w = torch.zeros(1, 2, H, H)
    w[:, 0, :, : H // 2] = 1.0
    x = torch.randn(2, 2, H, H, generator=gen) + 0.5
    r = rde(Weighted(w), x, domain="coefficients", steps=120, samples=8, lam=0.1, noise="uniform")
    assert r.mask.shape == (2, 2, H, H)
    used = (w[0] != 0).expand(2, 2, H, H)
    assert float(r.mask[used].mean()) > 0.9 and float(r.mask[~used].max()) < 0.05


def test_generic_classifier_with_a_score_distortion(gen):
    """A classifier whose class-1 score reads only the top-left 4×4 pixels; the distortion is the
    squared change of that score (Macdonald et al. 2019)."""
    c = 2
    lin = nn.Linear(c * H * H, 3)
    with torch.no_grad():
        w = torch.zeros(c, H, H)
        w[:, :4, :4] = 1.0
        lin.weight[1] = w.flatten()
        lin.bias.zero_()
    model = nn.Sequential(nn.Flatten(), lin)
    x = torch.randn(c, H, H, generator=gen) + 1.0

    def score_change(a, b):
        return (a[:, 1] - b[:, 1]) ** 2

    r = rde(model, x, distortion=score_change, domain="pixels", steps=120, samples=8, lam=0.5)
    m = r.mask[0]
    assert float(m[:4, :4].min()) > 0.7 and float(m[4:, :].max()) < 0.05 and float(m[:, 4:].max()) < 0.05
    assert r.params["distortion"] == "score_change"
    assert r.history["objective"][-1] < r.history["objective"][0]


def test_model_mode_is_restored_and_parameters_untouched(x):
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2)).train()
    before = [p.detach().clone() for p in model.parameters()]
    rde(model, x, steps=3, samples=2)
    assert model.training
    assert all(torch.equal(a, p) and p.grad is None for a, p in zip(before, model.parameters()))


def test_errors(x):
    model = box_model()
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(B, C, H, W\)"):
        rde(model, x[0], steps=1)
    with pytest.raises(ValueError, match="roi applies to the default distortion"):
        rde(model, x, distortion=lambda a, b: (a - b).flatten(1).sum(1), roi=(0, 0, 2, 2), steps=1)
    with pytest.raises(ValueError, match="one value per sample"):
        rde(model, x, distortion=lambda a, b: (a - b).sum(), steps=1)
    with pytest.raises(ValueError, match="zero in the region"):
        rde(model, x, roi=(8, 0, 12, 12), steps=1)  # the box model ignores rows 7 and below
    with pytest.raises(ValueError, match="12×12"):
        rde(model, x, roi=(0, 0, 13, 12), steps=1)
    with pytest.raises(ValueError, match="init must lie in"):
        rde(model, x, init=1.5, steps=1)
    with pytest.raises(ValueError, match="noise must be one of"):
        rde(model, x, noise="poisson", steps=1)
    with pytest.raises(ValueError, match="steps must be"):
        rde(model, x, steps=0)


def test_antithetic_draws_cancel_the_odd_term_for_a_linear_model(x, gen):
    """Mirrored draws μ ± σz: for a linear Φ the pair's mean distortion is exactly
    (‖Φ((1−s)⊙(μ−x))‖² + ‖Φ((1−s)⊙σz)‖²) / ‖Φ(x)‖², the cross term gone."""
    from ltl.explain.noise import Problem

    mean, std = torch.tensor([[0.2, -0.5, 1.0]]), torch.tensor([[1.0, 0.3, 2.0]])
    n = draw_noise(5, mean, std, (H, H), generator=torch.Generator().manual_seed(1), antithetic=True)
    assert n.shape == (5, 1, 3, H, H)
    torch.testing.assert_close(n[3:] - mean[..., None, None], -(n[:2] - mean[..., None, None]))
    model = box_model()
    s = torch.rand(1, 3, H, H, generator=gen)
    prob = Problem(model, x[None], noise_mean=mean[0], noise_std=std[0])
    pair = n[:2]
    got = prob.distortions(s, torch.cat([pair[:1], 2 * mean[..., None, None][None] - pair[:1]])).mean(0)
    with torch.no_grad():
        a = model((1 - s) * (mean[..., None, None] - x[None]))
        b = model((1 - s) * (pair[0] - mean[..., None, None]))
        ref = (a.pow(2).sum() + b.pow(2).sum()) / model(x[None]).pow(2).sum()
    torch.testing.assert_close(got[0], ref, rtol=1e-5, atol=0)
    # the default RDE records that it drew mirrored pairs
    assert rde(model, x, steps=2, samples=2).params["antithetic"] is True
