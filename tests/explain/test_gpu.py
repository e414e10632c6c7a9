"""The explanation on a CUDA device agrees with the CPU one: exactly where it is deterministic
(the network Φ and the gradient baseline, to float tolerance), and within the noise of the
Monte-Carlo distortion elsewhere: the CUDA generator draws other noise than the CPU generator for
the same seed, so the RDE mask is compared where its answer is known: a planted network that reads
one channel."""

import pytest
import torch

from ltl import Geometry
from ltl.data import simulate_phantoms
from ltl.explain import LtIExplainer
from ltl.models import LtI

N = 32
pytestmark = pytest.mark.gpu
DEVICE = "cuda"


@pytest.fixture(scope="module")
def setup():
    geom = Geometry.limited_angle(N, angular_range_deg=120, step_deg=3)
    torch.manual_seed(0)
    model = LtI(geom, width=4, depth=2, solver_settings=dict(iters=5, tol=0)).eval()
    scan = simulate_phantoms("ellipses", geom, count=1, noise=0.01, seed=20000)
    f_vis = model.reconstruct(scan, return_parts=True)["f_vis"][0]
    x = model.network_input(f_vis[None])[0]
    model.net.set_normalization(x.mean((1, 2)), x.std((1, 2)), torch.zeros(model.net.out_channels),
                                torch.ones(model.net.out_channels))
    return model, f_vis


def _copy(model):
    m = LtI.from_metadata(model.metadata()).eval()
    m.load_state_dict(model.state_dict())
    return m


def test_deterministic_parts_agree(setup):
    model, f_vis = setup
    cpu = LtIExplainer(model)
    x = cpu.network_input(f_vis)[0]
    want_out, want_grad = cpu.network(x[None]), cpu.baseline("gradient", x)
    gpu = LtIExplainer(_copy(model).to(DEVICE))
    xg = x.to(DEVICE)
    torch.testing.assert_close(gpu.network(xg[None]).cpu(), want_out, rtol=1e-3, atol=1e-4 * float(want_out.abs().max()))
    torch.testing.assert_close(gpu.baseline("gradient", xg).cpu(), want_grad, rtol=1e-3,
                               atol=1e-3 * float(want_grad.abs().max()))


def test_rde_on_the_device_finds_the_channel_a_planted_network_reads(setup):
    """As tests/explain/test_lti_explain.py's planted network, on the device: the per-channel mask
    keeps the one channel the network reads, like the CPU mask (other noise, same answer)."""
    model, f_vis = setup
    planted = _copy(model)
    used = 3
    with torch.no_grad():
        w = planted.net.down[0][0].weight
        keep = w[:, used].clone()
        w.zero_()
        w[:, used] = keep
        planted.net.head.bias.zero_()
        for up in planted.net.upconv:
            up.bias.zero_()
    masks = {}
    for dev in ("cpu", DEVICE):
        ex = LtIExplainer(_copy(planted).to(dev))
        r = ex.rde(ex.network_input(f_vis.to(dev))[0], domain="channels", steps=60, samples=4, lam=0.05)
        masks[dev] = r.mask.flatten().cpu()
    for dev, m in masks.items():
        assert float(m[used]) > 0.9, dev
        assert float(torch.cat([m[:used], m[used + 1:]]).max()) < 0.05, dev
    assert float((masks[DEVICE] - masks["cpu"]).abs().max()) < 0.1
