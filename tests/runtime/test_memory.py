"""Sizes that cannot fit are refused before any allocation, with the estimate."""

import pytest
import torch

from ltl import Geometry
from ltl.cli import main
from ltl.data.phantoms import generate
from ltl.models.unet import UNet, unet_parameters
from ltl.operators import RadonOperator
from ltl.runtime.memory import TooLargeError, available_bytes, check_fits, format_bytes, memory_limit
from ltl.shearlets import ShearletFrame


@pytest.fixture
def one_gib(monkeypatch):
    monkeypatch.setenv("LTL_MEMORY_LIMIT", "1G")


def test_limit_parsing(monkeypatch):
    for text, value in (("1G", 2 ** 30), ("512m", 2 ** 29), ("2GiB", 2 ** 31), ("1000", 1000), ("1.5K", 1536)):
        monkeypatch.setenv("LTL_MEMORY_LIMIT", text)
        assert memory_limit() == value
        assert available_bytes() <= value
    for bad in ("lots", "-1G", "0"):
        monkeypatch.setenv("LTL_MEMORY_LIMIT", bad)
        with pytest.raises(ValueError, match="LTL_MEMORY_LIMIT"):
            memory_limit()
    monkeypatch.delenv("LTL_MEMORY_LIMIT")
    assert memory_limit() is None and available_bytes() > 0


def test_check_fits_boundary(one_gib):
    check_fits(0.5 * 2 ** 30, "half")
    with pytest.raises(TooLargeError, match=r"big needs about 2\.0 GiB, more than the 1\.0 GiB available.*; do less"):
        check_fits(2 ** 31, "big", hint="do less")
    assert format_bytes(1536) == "1.5 KiB" and format_bytes(10) == "10 B"


def test_huge_phantoms_refused_before_allocating(one_gib):
    with pytest.raises(TooLargeError, match="phantom"):
        generate("ellipses", 1, 100_000, seed=0, oversample=2)
    with pytest.raises(TooLargeError, match="phantom"):
        generate("ellipses", 10 ** 9, 64, seed=0)
    assert generate("ellipses", 2, 32, seed=0).shape == (2, 32, 32)  # small ones still work


def test_huge_operator_frame_and_network_refused(one_gib):
    with pytest.raises(TooLargeError, match="operator"):
        RadonOperator(Geometry.limited_angle(200_000, angular_range_deg=120, step_deg=1))
    with pytest.raises(TooLargeError, match="shearlet frame"):
        ShearletFrame(20_000)
    with pytest.raises(TooLargeError, match="U-Net of width 100000"):
        UNet(2, 2, width=100_000, depth=4)


def test_unet_parameter_estimate_agrees_with_the_network():
    for args in ((1, 1, 8, 2, "batch"), (2, 48, 16, 3, "none"), (3, 5, 4, 0, "group")):
        net = UNet(args[0], args[1], width=args[2], depth=args[3], norm=args[4])
        convs = sum(p.numel() for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))
                    for p in m.parameters())
        assert unet_parameters(*args) == convs


def test_cli_refuses_a_huge_size_in_one_line(one_gib, tmp_path, capsys):
    out = tmp_path / "x.npz"
    assert main(["simulate", "--size", "1000000", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ltl: error: ") and "needs about" in err[0]
    assert list(tmp_path.iterdir()) == []
