import numpy as np
import pytest
import torch

from ltl import Geometry, RadonOperator
from ltl.data import (add_noise, load_scan, save_scan, simulate, simulate_phantoms)


G = Geometry.limited_angle(32, angular_range_deg=120, step_deg=3)


def test_no_inverse_crime():
    scan = simulate_phantoms("ellipses", G, count=2, seed=1)
    crime = RadonOperator(G)(scan.images)
    diff = float((scan.sinogram - crime).norm() / crime.norm())
    assert 1e-3 < diff < 0.1  # data from the fine grid differ from the coarse model, a little


def test_gaussian_noise_level_and_seed():
    clean = simulate_phantoms("ellipses", G, count=3, seed=2).sinogram
    noisy = add_noise(clean, noise=0.05, seed=3)
    assert torch.equal(noisy, add_noise(clean, noise=0.05, seed=3))
    assert not torch.equal(noisy, add_noise(clean, noise=0.05, seed=4))
    for i in range(3):
        sigma = float((noisy[i] - clean[i]).std())
        assert sigma == pytest.approx(0.05 * float(clean[i].abs().max()), rel=0.05)


def test_poisson_noise_scales_with_photons():
    clean = simulate_phantoms("shepp-logan", G, seed=0).sinogram
    err = [float((add_noise(clean, photons=p, seed=0) - clean).norm()) for p in (1e3, 1e5)]
    assert err[1] < err[0] / 5  # σ ∝ 1/sqrt(I0): a factor 10 for 100× photons


def test_simulate_checks_shape():
    with pytest.raises(ValueError, match="fine images"):
        simulate(torch.zeros(1, 32, 32), G, oversample=2)
    with pytest.raises(ValueError, match="NaN"):
        simulate(torch.full((1, 64, 64), float("nan")), G)
    with pytest.raises(ValueError, match="noise"):
        add_noise(torch.zeros(1, 3, 3), noise=-1)


def test_scan_file_round_trip(tmp_path):
    scan = simulate_phantoms("ellipses", G, count=2, noise=0.01, seed=5)
    p = save_scan(tmp_path / "s.npz", scan)
    back = load_scan(p)
    assert back.geometry == G
    assert torch.equal(back.sinogram, scan.sinogram)
    assert torch.equal(back.images, scan.images)
    assert back.meta["noise"] == 0.01 and back.meta["phantom_seed"] == 5 and "ltl_version" in back.meta
    with pytest.raises(FileExistsError):
        save_scan(p, scan)


def test_scan_file_errors(tmp_path):
    scan = simulate_phantoms("ellipses", G, count=1, seed=5)
    full = dict(sinogram=scan.sinogram.numpy(), angles=G.angles, det_spacing=1.0, image_size=32)
    for key in ("sinogram", "angles", "image_size"):
        d = dict(full)
        d.pop(key)
        np.savez(tmp_path / f"no_{key}.npz", **d)
        with pytest.raises(ValueError, match=key):
            load_scan(tmp_path / f"no_{key}.npz")
    np.savez(tmp_path / "nan.npz", **dict(full, sinogram=np.full_like(full["sinogram"], np.nan)))
    with pytest.raises(ValueError, match="NaN"):
        load_scan(tmp_path / "nan.npz")
    np.savez(tmp_path / "rep.npz", **dict(full, angles=np.zeros_like(G.angles)))
    with pytest.raises(ValueError, match="repeated"):
        load_scan(tmp_path / "rep.npz")
    np.savez(tmp_path / "shape.npz", **dict(full, sinogram=full["sinogram"][:, :-2]))
    with pytest.raises(ValueError, match="sinogram"):
        load_scan(tmp_path / "shape.npz")
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ValueError, match="not a readable"):
        load_scan(tmp_path / "corrupt.npz")
    with pytest.raises(FileNotFoundError):
        load_scan(tmp_path / "missing.npz")


def test_written_files_have_default_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        p = save_scan(tmp_path / "s.npz", simulate_phantoms("ellipses", G, count=1, seed=0))
    finally:
        os.umask(umask)
    assert (p.stat().st_mode & 0o777) == 0o644  # like open(path, "w"), not mkstemp's 0o600


def test_a_json_file_given_as_a_scan_is_named_as_such(tmp_path):
    from ltl.data import load_scan

    p = tmp_path / "scan.npz"
    p.write_text('{"sinogram": [[0, 1]]}')
    with pytest.raises(ValueError, match="is a JSON file, not an .npz scan file; ltl reads scans as .npz"):
        load_scan(p)
