"""The sample scans in data/ load, and the settings they record reproduce them exactly."""

from pathlib import Path

import pytest
import torch

from ltl import Geometry
from ltl.data import load_scan, simulate_phantoms

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize("name", ["shepp-logan-120deg-128.npz", "ellipses-120deg-128.npz"])
def test_sample_scan_reproduces_from_its_metadata(name):
    scan = load_scan(DATA / name)
    m = scan.meta
    assert scan.geometry == Geometry.from_dict(m["geometry"])
    again = simulate_phantoms(m["phantom"], scan.geometry, count=m["count"], noise=m["noise"],
                              photons=m["photons"], seed=m["phantom_seed"], oversample=m["oversample"])
    assert torch.equal(again.sinogram, scan.sinogram)
    assert torch.equal(again.images, scan.images)
