"""``ltl reconstruct`` on measured projections: TIFF stacks with flats and darks, NeXus files, fan
beams, and the errors a user can make."""

import numpy as np
import pytest
import tifffile
import torch

from ltl import Geometry, RadonOperator, methods
from ltl.cli import main, parser
from ltl.data import random_ellipses
from ltl.data.io import read_reconstruction, write_nxtomo

N = 40
G = Geometry.limited_angle(N, angular_range_deg=120, step_deg=2, det_count=N)  # --start -60 --range 120 --step 2


def run(*args):
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """Counts of 3 slices through 3 ellipse images: projections (V, R, D), flats, darks, and the
    line integrals they came from, (R, V, D)."""
    d = tmp_path_factory.mktemp("scan")
    images = random_ellipses(3, N, seed=4).float() * 0.05
    y = RadonOperator(G)(images).numpy()
    i0, dark = 4000.0, 100.0
    proj = (i0 * np.exp(-y) + dark).transpose(1, 0, 2).astype(np.float32)
    grey = {"photometric": "minisblack"}
    tifffile.imwrite(d / "proj.tif", proj, **grey)
    tifffile.imwrite(d / "flat.tif", np.full((4, 3, N), i0 + dark, np.float32), **grey)
    tifffile.imwrite(d / "dark.tif", np.full((2, 3, N), dark, np.float32), **grey)
    tifffile.imwrite(d / "truth.tif", images.numpy(), **grey)
    write_nxtomo(d / "scan.nxs", proj, G.angles, flats=np.full((2, 3, N), i0 + dark), darks=np.full((1, 3, N), dark))
    return d, y, images


def test_help_states_degrees(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["reconstruct", "--help"])
    text = capsys.readouterr().out
    assert "degrees" in text and "--flats" in text and "--cor" in text and "NXtomo" in text


def test_the_example_command_with_flats_and_darks(measured, tmp_path, capsys):
    d, y, images = measured
    out = tmp_path / "rec.tif"
    assert run("reconstruct", d / "proj.tif", "--flats", d / "flat.tif", "--darks", d / "dark.tif",
               "--start", -60, "--range", 120, "--step", 2, "--method", "tv", "--iters", 60, "--no-progress",
               "--truth", d / "truth.tif", "--out", out) == 0
    assert "RE" in capsys.readouterr().out
    vol, g, meta = read_reconstruction(out)
    assert vol.shape == (3, N, N) and g == G
    assert [r["step"] for r in meta["preprocessing"]] == ["flat_dark", "clip", "minus_log"]
    assert meta["angles_from"] == "command line" and meta["source"]["flats"] == "flat.tif"
    ref = methods.create("tv", {"iters": 60}).reconstruct(RadonOperator(G), torch.from_numpy(y)).image.numpy()
    assert np.linalg.norm(vol - ref) / np.linalg.norm(ref) < 1e-3


def test_a_nexus_file_with_its_angles(measured, tmp_path):
    d, y, _ = measured
    out = tmp_path / "rec.h5"
    assert run("reconstruct", d / "scan.nxs", "--rows", "1:3", "--out", out) == 0
    vol, g, meta = read_reconstruction(out)
    np.testing.assert_allclose(g.angles, G.angles, atol=1e-12)
    ref = methods.create("fbp").reconstruct(RadonOperator(g), torch.from_numpy(y[1:3])).image.numpy()
    assert np.linalg.norm(vol - ref) / np.linalg.norm(ref) < 1e-4
    assert meta["angles_from"] == "file" and meta["rows"] == [1, 3, 1] and meta["source"]["format"] == "NXtomo"


@pytest.mark.parametrize("method", methods.names(learned=False))
def test_every_model_based_method_runs_on_a_stack(measured, tmp_path, method):
    d, _, _ = measured
    out = tmp_path / f"{method}.npz"
    assert run("reconstruct", d / "proj.tif", "--flats", d / "flat.tif", "--rows", "0:1", "--range", 120,
               "--start", -60, "--method", method, "--iters", 8, "--no-progress", "--out", out) == 0
    vol, g, meta = read_reconstruction(out)
    assert vol.shape == (1, N, N) and np.isfinite(vol).all() and meta["method"] == method


def test_a_fan_beam_sinogram_from_the_command_line(tmp_path):
    fan = Geometry.fan_beam(N, source_origin=120, origin_det=60, step_deg=4, det_count=70, det_spacing=1.5)
    y = RadonOperator(fan)(random_ellipses(1, N, seed=2).float())
    tifffile.imwrite(tmp_path / "sino.tif", y.numpy()[0])  # one sinogram (V, D), line integrals
    out = tmp_path / "fan.npz"
    # in mm: detector pixels of 0.3, source–axis 24 and axis–detector 12 (magnification 1.5), so
    # image pixels of 0.2 mm, and the distances are 120 and 60 image pixels
    assert run("reconstruct", tmp_path / "sino.tif", "--range", 360, "--step", 4, "--det-pixel", 0.3,
               "--source-origin", 24, "--origin-det", 12, "--size", N, "--out", out) == 0
    vol, g, _ = read_reconstruction(out)
    assert g.is_fan and g.det_count == 70 and g.sino_shape == fan.sino_shape
    assert (g.source_origin, g.origin_det, g.det_spacing) == pytest.approx((120, 60, 1.5))
    ref = methods.create("fbp").reconstruct(RadonOperator(fan), y).image.numpy()
    assert np.linalg.norm(vol - ref) / np.linalg.norm(ref) < 1e-5
    assert run("reconstruct", tmp_path / "sino.tif", "--range", 360, "--step", 4, "--det-pixel", 0.3,
               "--source-origin", 24, "--origin-det", 12, "--cor", "auto", "--out", tmp_path / "x.npz") == 2
    assert not (tmp_path / "x.npz").exists()


def test_lti_serves_a_fan_beam_scan_through_rebinning(tmp_path, capsys):
    from ltl.models import LtI

    par = Geometry.limited_angle(24, angular_range_deg=120, step_deg=4)
    torch.manual_seed(0)
    LtI(par, width=4, depth=1, solver_settings=dict(iters=5, tol=0)).save(tmp_path / "model")
    fan_deg = Geometry.fan_beam(24, source_origin=100, origin_det=50).fan_angle_deg
    span = 4 * np.ceil((120 + fan_deg + 4) / 4)
    fan = Geometry.fan_beam(24, source_origin=100, origin_det=50, angular_range_deg=span, step_deg=4,
                            start_deg=-span / 2)
    y = RadonOperator(fan)(random_ellipses(2, 24, seed=1).float())
    tifffile.imwrite(tmp_path / "fan.tif", y.numpy(), photometric="minisblack")
    geo = ["--layout", "sinograms", "--start", -span / 2, "--step", 4, "--det-pixel", 1.5, "--source-origin", 100,
           "--origin-det", 50, "--size", 24, "--method", "ltl", "--checkpoint", tmp_path / "model"]
    out = tmp_path / "lti.npz"
    assert run("reconstruct", tmp_path / "fan.tif", *geo, "--out", out) == 0
    vol, g, meta = read_reconstruction(out)
    assert vol.shape == (2, 24, 24) and g.is_fan and meta["rebin_coverage"] > 0.995
    assert Geometry.from_dict(meta["rebinned_to"]) == par
    # a fan scan over 120° only does not cover the model's parallel range
    tifffile.imwrite(tmp_path / "short.tif", y.numpy()[:, :30], photometric="minisblack")
    capsys.readouterr()
    assert run("reconstruct", tmp_path / "short.tif", *geo, "--out", tmp_path / "s.npz") == 2
    assert "plus the fan angle" in capsys.readouterr().err


def test_centre_of_rotation_from_the_command_line(measured, tmp_path, capsys):
    from ltl.data.preprocess import shift_detector

    d, y, _ = measured
    tifffile.imwrite(tmp_path / "shifted.tif", shift_detector(y, -2.4).transpose(1, 0, 2))
    out = tmp_path / "c.npz"
    assert run("reconstruct", tmp_path / "shifted.tif", "--start", -60, "--step", 2, "--cor", "auto", "--out", out) == 0
    _, _, meta = read_reconstruction(out)
    (step,) = [r for r in meta["preprocessing"] if r["step"] == "center"]
    assert step["estimated"] == "centroid" and abs(step["pixels"] - 2.4) < 0.5
    assert f"--cor {step['pixels']:.2f}" in capsys.readouterr().out


@pytest.mark.parametrize("extra, match", [
    (["--range", 100, "--step", 2], "60 views"),
    ([], "no angles"),
    (["--range", 120, "--voxel", 0.1], "--det-pixel"),
    (["--range", 120, "--source-origin", 100], "both"),
    (["--range", 120, "--cor", "left"], "--cor"),
    (["--range", 120, "--rows", "5:9"], "no detector row"),
    (["--range", 120, "--darks", "DARK"], "flat fields"),
])
def test_user_errors_write_nothing(measured, tmp_path, capsys, extra, match):
    d, _, _ = measured
    extra = [str(d / "dark.tif") if e == "DARK" else e for e in extra]
    out = tmp_path / "r.tif"
    assert run("reconstruct", d / "proj.tif", *extra, "--out", out) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not out.exists()


def test_an_npz_scan_with_preprocessing_keeps_its_geometry(tmp_path, capsys):
    from ltl.data import save_scan, simulate

    g = Geometry.limited_angle(N, angular_range_deg=120, step_deg=4, det_spacing=1.25)
    scan = simulate(random_ellipses(1, N, seed=9).float(), g, oversample=1)
    save_scan(tmp_path / "s.npz", scan)
    out = tmp_path / "r.npz"
    assert run("reconstruct", tmp_path / "s.npz", "--rings", "--out", out) == 0
    vol, g2, meta = read_reconstruction(out)
    assert g2 == g and [r["step"] for r in meta["preprocessing"]] == ["rings"]
    assert run("reconstruct", tmp_path / "s.npz", "--size", 30, "--out", tmp_path / "x.npz") == 2
    assert "holds its geometry; drop --size" in capsys.readouterr().err


def test_unknown_output_ending_is_refused_first(measured, tmp_path, capsys):
    d, _, _ = measured
    assert run("reconstruct", d / "proj.tif", "--range", 120, "--out", tmp_path / "r.png") == 2
    assert "ltl writes" in capsys.readouterr().err
