"""The U-Net on coefficient maps: shapes, normalisation buffers, statistics."""

import pytest
import torch

from ltl.models import UNet, channel_stats


@pytest.mark.parametrize("size", [(32, 32), (30, 33), (8, 8)])
@pytest.mark.parametrize("depth", [0, 2])
def test_fully_convolutional_any_size(size, depth):
    net = UNet(5, 3, width=4, depth=depth).eval()
    out = net(torch.randn(2, 5, *size))
    assert out.shape == (2, 3, *size)


def test_config_and_bad_arguments():
    net = UNet(5, 3, width=4, depth=2, norm="group")
    assert net.config == {"in_channels": 5, "out_channels": 3, "width": 4, "depth": 2, "norm": "group"}
    for kw in (dict(width=0), dict(depth=-1), dict(norm="layer")):
        with pytest.raises(ValueError):
            UNet(5, 3, **kw)
    with pytest.raises(ValueError, match=r"\(B, 5, H, W\)"):
        net(torch.zeros(1, 4, 16, 16))


def test_normalization_buffers(gen):
    net = UNet(2, 3, width=4, depth=1)
    t = torch.randn(4, 3, 8, 8, generator=gen) * torch.tensor([1.0, 5.0, 0.1]).view(1, 3, 1, 1) + 2
    mean, std = channel_stats([t[:2], t[2:]])
    torch.testing.assert_close(mean, t.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(std, t.std(dim=(0, 2, 3), unbiased=False), rtol=1e-5, atol=1e-6)
    net.set_normalization([0.0, 1.0], [1.0, 0.0], mean, std)  # a zero std becomes 1
    assert net.in_std.tolist() == [1.0, 1.0]
    z = net.normalize_target(t)
    torch.testing.assert_close(z.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(net.denormalize(z), t)
    assert {"in_mean", "in_std", "out_mean", "out_std"} <= set(net.state_dict())
    with pytest.raises(ValueError, match="3 entries"):
        net.set_normalization([0, 0], [1, 1], [0], [1, 1, 1])
