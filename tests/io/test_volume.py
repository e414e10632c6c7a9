"""Volumes slice by slice (``ltl.methods.volume``): a 64-slice TIFF stack with flats and darks
reconstructed from the command line in batches equals per-slice reconstructions; a kill then
the same command resumes to the same volume; a changed command is refused; memory grows with the
batch; two torchrun processes make the same volume as one."""

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc

import h5py
import numpy as np
import pytest
import tifffile
import torch

from ltl import Geometry, RadonOperator, methods
from ltl.cli import main
from ltl.data import random_ellipses
from ltl.data.io import (file_identity, open_projections, read_projections, read_reconstruction,
                         write_reconstruction, write_reconstruction_batches)
from ltl.data.preprocess import preprocess
from ltl.methods.volume import PartialStore, merge_records, plan_batches

N, M = 48, 64  # 48² slices, 64 of them
G = Geometry.limited_angle(N, angular_range_deg=120, step_deg=2, det_count=N)  # 60 views, --start -60 --step 2
ANGLES = ["--start", -60, "--range", 120, "--step", 2]


def run(*args):
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    """Counts of 64 slices through ellipse images with a per-pixel detector gain (so the flats
    matter): proj.tif (V, R, D), flat.tif (3 fields), dark.tif (2 fields); and the line
    integrals y (R, V, D) they came from."""
    d = tmp_path_factory.mktemp("volume")
    y = RadonOperator(G)(random_ellipses(M, N, seed=7).float() * 0.05).numpy()
    gain = 1 + 0.05 * np.random.default_rng(3).random((M, N))
    i0, dark = 4000.0, 100.0
    grey = {"photometric": "minisblack"}
    tifffile.imwrite(d / "proj.tif", (i0 * gain[None] * np.exp(-y.transpose(1, 0, 2)) + dark).astype(np.float32),
                     **grey)
    tifffile.imwrite(d / "flat.tif", np.repeat((i0 * gain + dark)[None], 3, 0).astype(np.float32), **grey)
    tifffile.imwrite(d / "dark.tif", np.full((2, M, N), dark, np.float32), **grey)
    return d, y


def scan_args(d):
    return [d / "proj.tif", "--flats", d / "flat.tif", "--darks", d / "dark.tif", *ANGLES, "--no-progress"]


@pytest.fixture(scope="module")
def sinograms(volume):
    """The whole stack preprocessed at once (R, V, D): what per-slice references start from."""
    d, _ = volume
    raw = read_projections(d / "proj.tif", flats=d / "flat.tif", darks=d / "dark.tif")
    return preprocess(raw.data, G, flats=raw.flats, darks=raw.darks)[0]


def per_slice(name, settings, sino):
    A = RadonOperator(G)
    m = methods.create(name, settings)
    return np.concatenate([m.reconstruct(A, torch.from_numpy(sino[i:i + 1])).image.numpy() for i in range(len(sino))])


# ----------------------------------------------------------------------------- reading in parts
@pytest.mark.parametrize("form", ["contiguous", "zlib", "folder", "sinograms", "nxtomo", "exchange"])
def test_reading_rows_reads_those_rows(tmp_path, rng, form):
    stack = (rng.random((7, 9, 5)) * 100).astype(np.float32)  # (V, R, D)
    flats = stack[:2] + 50
    if form == "contiguous":
        tifffile.imwrite(tmp_path / "p.tif", stack, photometric="minisblack")
        path, kw = tmp_path / "p.tif", {}
    elif form == "zlib":
        tifffile.imwrite(tmp_path / "p.tif", stack, photometric="minisblack", compression="zlib")
        path, kw = tmp_path / "p.tif", {}
    elif form == "folder":
        for i, page in enumerate(stack):
            tifffile.imwrite(tmp_path / f"p_{i:03d}.tif", page.astype(np.uint16))
        stack = stack.astype(np.uint16).astype(np.float32)
        path, kw = tmp_path, {}
    elif form == "sinograms":
        tifffile.imwrite(tmp_path / "s.tif", stack.transpose(1, 0, 2), photometric="minisblack")
        path, kw = tmp_path / "s.tif", {"layout": "sinograms"}
    elif form == "nxtomo":
        from ltl.data.io import write_nxtomo

        write_nxtomo(tmp_path / "s.nxs", stack, np.linspace(0, 1, 7), flats=flats, darks=stack[:1] * 0)
        path, kw = tmp_path / "s.nxs", {}
    else:
        with h5py.File(tmp_path / "dx.h5", "w") as f:
            f["exchange/data"] = stack
            f["exchange/data_white"] = flats
        path, kw = tmp_path / "dx.h5", {}
    s = open_projections(path, **kw)
    assert s.shape == stack.shape
    for rows in (range(0, 9), range(2, 5), range(1, 9, 3), range(8, 9)):
        np.testing.assert_array_equal(s.read(rows), stack[:, rows.start:rows.stop:rows.step])
        if form in ("nxtomo", "exchange"):
            np.testing.assert_array_equal(s.read_flats(rows), flats[:, rows.start:rows.stop:rows.step])
    np.testing.assert_array_equal(read_projections(path, **kw).data, stack)


def test_file_identity_changes_with_the_file(tmp_path):
    p = tmp_path / "a.tif"
    tifffile.imwrite(p, np.zeros((2, 3, 4), np.float32), photometric="minisblack")
    before = file_identity(p)
    time.sleep(0.01)
    tifffile.imwrite(p, np.zeros((2, 3, 5), np.float32), photometric="minisblack")
    assert file_identity(p) != before and file_identity(None) is None


@pytest.mark.parametrize("suffix", [".tif", ".h5", ".npz"])
def test_batch_writers_equal_the_whole_writers(tmp_path, rng, suffix):
    vol = rng.random((7, 6, 6)).astype(np.float32)
    g = Geometry.limited_angle(6, angular_range_deg=90, step_deg=10)
    write_reconstruction(tmp_path / f"a{suffix}", vol, g, {"x": 1})
    write_reconstruction_batches(tmp_path / f"b{suffix}", (vol[i:i + 3] for i in range(0, 7, 3)), vol.shape, g,
                                 {"x": 1})
    a, ga, ma = read_reconstruction(tmp_path / f"a{suffix}")
    b, gb, mb = read_reconstruction(tmp_path / f"b{suffix}")
    np.testing.assert_array_equal(a, b)
    assert ga == gb == g and ma == mb
    with pytest.raises(ValueError, match="announced"):
        write_reconstruction_batches(tmp_path / f"c{suffix}", [vol[:3]], vol.shape, g, {})
    assert not (tmp_path / f"c{suffix}").exists()


def test_plan_and_merged_records():
    assert plan_batches(range(2, 12, 2), 2) == [range(2, 6, 2), range(6, 10, 2), range(10, 12, 2)]
    recs = [[{"step": "flat_dark", "dead_pixels": 1}, {"step": "clip", "floor": 0.1, "clipped": 2}],
            [{"step": "flat_dark", "dead_pixels": 0}, {"step": "clip", "floor": 0.1, "clipped": 5}]]
    assert merge_records(recs) == [{"step": "flat_dark", "dead_pixels": 1},
                                   {"step": "clip", "floor": 0.1, "clipped": 7}]


# ----------------------------------------------------------------------------- the command line
def test_fbp_volume_in_batches_equals_per_slice_fbp(volume, sinograms, tmp_path, capsys):
    d, y = volume
    out = tmp_path / "fbp.tif"
    assert run("reconstruct", *scan_args(d), "--batch-slices", 8, "--out", out) == 0
    assert "64 slice(s)" in capsys.readouterr().out
    vol, g, meta = read_reconstruction(out)
    assert vol.shape == (M, N, N) and g == G and meta["batch_slices"] == 8 and len(meta["batches"]) == 8
    assert [r["step"] for r in meta["preprocessing"]] == ["flat_dark", "clip", "minus_log"]
    assert meta["preprocessing"][0]["flats"] == 3 and meta["preprocessing"][0]["darks"] == 2
    ref = per_slice("fbp", None, sinograms)
    np.testing.assert_allclose(vol, ref, rtol=0, atol=1e-6 * np.abs(ref).max())
    exact = per_slice("fbp", None, y)  # from the line integrals the counts were made of
    assert np.linalg.norm(vol - exact) / np.linalg.norm(exact) < 1e-4
    assert not PartialStore(out).dir.exists()


def test_tv_volume_in_batches_equals_per_slice_tv(volume, sinograms, tmp_path):
    d, _ = volume
    out = tmp_path / "tv.h5"
    assert run("reconstruct", *scan_args(d), "--method", "tv", "--iters", 10, "--tol", 0, "--batch-slices", 16,
               "--out", out) == 0
    vol, _, meta = read_reconstruction(out)
    assert meta["method"] == "tv" and meta["iterations"] == 10 and len(meta["batches"]) == 4
    ref = per_slice("tv", {"iters": 10, "tol": 0}, sinograms)  # λ from each slice's own noise estimate
    assert np.abs(vol - ref).max() <= 1e-5 * np.abs(ref).max()


class Killed(KeyboardInterrupt):
    """Stands for a kill: raised after some batches are stored."""


def kill_after(monkeypatch, stored: int):
    real = PartialStore.save
    count = [0]

    def save(self, *a, **k):
        if count[0] == stored:
            raise Killed()
        count[0] += 1
        real(self, *a, **k)

    monkeypatch.setattr(PartialStore, "save", save)


def test_a_killed_run_resumes_to_the_same_volume(volume, tmp_path, monkeypatch, capsys):
    d, _ = volume
    cmd = [*scan_args(d), "--method", "sirt", "--iters", 5, "--batch-slices", 16]
    assert run("reconstruct", *cmd, "--out", tmp_path / "whole.tif") == 0
    out = tmp_path / "rec.tif"
    kill_after(monkeypatch, 2)
    assert run("reconstruct", *cmd, "--out", out) == 130  # interrupted
    monkeypatch.undo()
    store = PartialStore(out)
    assert not out.exists() and store.done() == {0, 1}
    assert json.loads((store.dir / "state.json").read_text())["key"]["method"] == "sirt"
    capsys.readouterr()
    assert run("reconstruct", *cmd, "--out", out) == 0
    assert "2 of them resumed" in capsys.readouterr().out
    a, _, meta = read_reconstruction(out)
    b, _, _ = read_reconstruction(tmp_path / "whole.tif")
    np.testing.assert_array_equal(a, b)
    assert meta["resumed_batches"] == 2 and not store.dir.exists()


def test_a_changed_command_is_refused_until_restart(volume, tmp_path, monkeypatch, capsys):
    d, _ = volume
    out = tmp_path / "rec.h5"
    kill_after(monkeypatch, 1)
    assert run("reconstruct", *scan_args(d), "--batch-slices", 32, "--out", out) == 130
    monkeypatch.undo()
    capsys.readouterr()
    assert run("reconstruct", *scan_args(d), "--batch-slices", 32, "--filter", "hann", "--out", out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "different command" in err and "method_settings" in err and "--restart" in err
    assert not out.exists() and PartialStore(out).done() == {0}
    assert run("reconstruct", *scan_args(d), "--batch-slices", 32, "--filter", "hann", "--restart", "--out", out) == 0
    _, _, meta = read_reconstruction(out)
    assert meta["filter"] == "hann" and meta["resumed_batches"] == 0


def test_an_error_before_any_batch_leaves_no_partial_result(volume, tmp_path, capsys):
    d, _ = volume
    out = tmp_path / "r.tif"
    # the fan-beam centre estimate is refused after the partial folder is made
    assert run("reconstruct", d / "proj.tif", "--flats", d / "flat.tif", "--range", 120, "--det-pixel", 1,
               "--source-origin", 200, "--origin-det", 100, "--cor", "auto", "--out", out) == 2
    assert "parallel-beam" in capsys.readouterr().err
    assert not out.exists() and not PartialStore(out).dir.exists()
    assert run("reconstruct", *scan_args(d), "--batch-slices", 0, "--out", out) == 2
    assert "--batch-slices" in capsys.readouterr().err


def test_centre_estimated_once_for_the_volume(volume, tmp_path, capsys):
    from ltl.data.preprocess import shift_detector

    d, y = volume
    tifffile.imwrite(tmp_path / "shifted.tif", shift_detector(y, -2.4).transpose(1, 0, 2))
    out = tmp_path / "c.tif"
    assert run("reconstruct", tmp_path / "shifted.tif", *ANGLES, "--cor", "auto", "--batch-slices", 8,
               "--no-progress", "--out", out) == 0
    _, _, meta = read_reconstruction(out)
    (step,) = [r for r in meta["preprocessing"] if r["step"] == "center"]
    assert abs(step["pixels"] - 2.4) < 0.5 and len(step["rows"]) == 8
    assert {b.get("rows")[0] for b in meta["batches"]} == set(range(0, M, 8))


def test_memory_grows_with_the_batch_not_the_volume(volume, tmp_path):
    """numpy's allocations (reading, preprocessing, writing) traced by tracemalloc: batches of 8
    need well under a third of what one batch of all 64 slices needs (measured: 0.8 and 3.9 MiB;
    0.4 MiB with batches of 1)."""
    d, _ = volume
    assert run("reconstruct", *scan_args(d), "--rows", "0:1", "--out", tmp_path / "warm.tif") == 0  # imports, caches
    peaks = {}
    for batch in (8, 64):
        tracemalloc.start()
        try:
            assert run("reconstruct", *scan_args(d), "--batch-slices", batch, "--out", tmp_path / f"{batch}.tif") == 0
            peaks[batch] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    data = 60 * M * N * 4  # the projections, float32
    assert peaks[64] > 2 * data  # the whole stack and its float64 intermediates were held at once
    assert peaks[8] < peaks[64] / 3


# ----------------------------------------------------------------------------- processes
def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")


def test_sigkill_after_the_first_batch_then_resume(volume, tmp_path):
    d, _ = volume
    out = tmp_path / "k.tif"
    cmd = [*scan_args(d), "--method", "tv", "--iters", 30, "--tol", 0, "--batch-slices", 8]
    proc = subprocess.Popen([sys.executable, "-m", "ltl", "reconstruct", *map(str, cmd), "--out", str(out)],
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = PartialStore(out)
    try:
        deadline = time.monotonic() + 120
        while not store.done() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    stored = store.done()
    assert 1 <= len(stored) < 8
    assert run("reconstruct", *cmd, "--out", out) == 0
    a, _, meta = read_reconstruction(out)
    assert meta["resumed_batches"] == len(stored)
    assert run("reconstruct", *cmd, "--out", tmp_path / "whole.tif") == 0
    np.testing.assert_array_equal(a, read_reconstruction(tmp_path / "whole.tif")[0])


def test_two_torchrun_processes_make_the_same_volume_as_one(volume, tmp_path):
    d, _ = volume
    # torchrun's parser takes --start for its --start-method: ltl's alias --start-angle
    args = [d / "proj.tif", "--flats", d / "flat.tif", "--darks", d / "dark.tif", "--start-angle", -60, "--range", 120,
            "--step", 2, "--method", "sirt", "--iters", 4, "--batch-slices", 8, "--no-progress"]
    assert run("reconstruct", *args, "--out", tmp_path / "one.tif") == 0
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        "-m", "ltl", "reconstruct", *map(str, args), "--out", str(tmp_path / "two.tif")],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "on 2 processes" in r.stdout
    one, g1, m1 = read_reconstruction(tmp_path / "one.tif")
    two, g2, m2 = read_reconstruction(tmp_path / "two.tif")
    np.testing.assert_array_equal(one, two)  # bit-identical: the same batches, the same code, on the CPU
    assert g1 == g2 and m1["preprocessing"] == m2["preprocessing"]
    assert not PartialStore(tmp_path / "two.tif").dir.exists()
