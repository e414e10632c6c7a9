"""HDF5 training sets: contents, resume after an interruption, sharding, splits, clear errors."""

import argparse
import json
import pickle
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from ltl import Geometry, RadonOperator
from ltl.data import block_mean, random_ellipses
from ltl.cli import dataset as cli_dataset
from ltl.cli.common import UsageError
from ltl.data.dataset import (TEST_SEEDS, TRAIN_SEEDS, VAL_SEEDS, LtIDataset, check_disjoint, dataset_info,
                              make_dataset, merge_shards, shard_path, split_of)
from ltl.shearlets.settings import FrameSettings
from ltl.solvers.settings import L1Settings

N = 32
SOLVER = dict(iters=8, tol=0)


@pytest.fixture(scope="module")
def solver():
    from ltl.solvers import l1_shearlet

    return l1_shearlet


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def geom():
    return Geometry.limited_angle(N, angular_range_deg=120, step_deg=3)


def _make(path, geom, **kw):
    args = dict(count=6, val_count=2, geometry=geom, chunk=3, noise=0.01, solver_settings=SOLVER, progress=False,
                world_size=1, rank=0)
    args.update(kw)
    return make_dataset(path, **args)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, geom):
    return _make(tmp_path_factory.mktemp("ref") / "ref.h5", geom)


def _arrays(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][:] for k in ("truth", "sinogram", "f_vis", "seed", "done")}


def test_contents_and_reader(reference, geom, solver):
    a = _arrays(reference)
    assert a["done"].all()
    np.testing.assert_array_equal(a["seed"], [0, 1, 2, 3, 4, 5, 10000, 10001])
    # truth: the phantom of the sample's seed, block-averaged from the 2x grid
    for i, s in enumerate(a["seed"]):
        want = block_mean(random_ellipses(1, N, seed=int(s), oversample=2), 2)[0].numpy()
        np.testing.assert_allclose(a["truth"][i], want, atol=1e-6)
    # f_vis: the solver applied to the stored sinograms of a chunk
    from ltl.shearlets import ShearletFrame

    x, _ = solver(RadonOperator(geom), ShearletFrame(N), torch.from_numpy(a["sinogram"][:3]), **SOLVER)
    np.testing.assert_allclose(a["f_vis"][:3], x.numpy(), rtol=1e-5, atol=1e-6)

    info = dataset_info(reference)
    assert info["splits"] == {"train": 6, "val": 2, "test": 0}
    assert Geometry.from_dict(info["geometry"]) == geom
    assert info["solver"]["iters"] == 8 and "tol" in info["solver"] and info["frame"]["N"] == N
    assert info["seed_ranges"] == [[0, 6], [10000, 10002]]

    train, val = LtIDataset(reference, "train"), LtIDataset(reference, "val")
    assert (len(train), len(val), len(LtIDataset(reference))) == (6, 2, 8)
    item = val[1]
    assert set(item) == {"f_vis", "truth", "seed", "index"}
    assert item["f_vis"].shape == (N, N) and item["f_vis"].dtype == torch.float32
    assert int(item["seed"]) == 10001 and int(item["index"]) == 7
    np.testing.assert_array_equal(item["truth"].numpy(), a["truth"][7])
    assert LtIDataset(reference, keys=("sinogram",))[0]["sinogram"].shape == geom.sino_shape
    check_disjoint(train, val)
    with pytest.raises(IndexError):
        train[6]


def test_resume_after_interruption_equals_uninterrupted(tmp_path, geom, reference):
    path = tmp_path / "d.h5"

    def stop(k, a, b):
        if k == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _make(path, geom, callback=stop)
    done = _arrays(path)["done"]
    assert done[:6].all() and not done[6:].any()  # chunks 0 and 1 were written
    with pytest.raises(ValueError, match="unfinished"):
        LtIDataset(path)
    assert len(LtIDataset(path, allow_incomplete=True)) == 6

    ran = []
    _make(path, geom, callback=lambda k, a, b: ran.append(k))
    assert ran == [2]  # only the missing chunk is computed
    got, want = _arrays(path), _arrays(reference)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    ran.clear()
    _make(path, geom, callback=lambda k, a, b: ran.append(k))  # complete: nothing to do
    assert ran == []


def test_other_settings_are_refused(tmp_path, geom):
    path = tmp_path / "d.h5"
    _make(path, geom, count=2, val_count=0)
    with pytest.raises(ValueError, match="other settings.*noise"):
        _make(path, geom, count=2, val_count=0, noise=0.05)
    with pytest.raises(ValueError, match="other settings"):
        _make(path, geom, count=2, val_count=0, solver_settings=dict(iters=9, tol=0))
    _make(path, geom, count=2, val_count=0, noise=0.05, overwrite=True)
    assert dataset_info(path)["noise"] == 0.05


def test_sharded_ranks_and_merge(tmp_path, geom, reference, monkeypatch):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    path = tmp_path / "d.h5"
    outs = [_make(path, geom, rank=r, world_size=2) for r in (0, 1)]
    assert outs == [shard_path(path, 0), shard_path(path, 1)] and not path.exists()
    assert shard_path(path, 1).name == "d.rank1.h5"
    assert merge_shards(path, 2) == 8
    assert not shard_path(path, 0).exists() and not shard_path(path, 1).exists()
    got, want = _arrays(path), _arrays(reference)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_splits_never_overlap(tmp_path, geom, reference):
    assert (split_of(0), split_of(9_999), split_of(10_000), split_of(20_000), split_of(30_000)) == \
        ("train", "train", "val", "test", None)
    assert TRAIN_SEEDS.stop <= VAL_SEEDS.start and VAL_SEEDS.stop <= TEST_SEEDS.start
    with pytest.raises(ValueError, match="overlap"):
        _make(tmp_path / "x.h5", geom, seed=10_001, count=3, val_count=2)
    # A main range that straddles a split boundary is refused even without val/test samples.
    with pytest.raises(ValueError, match=r"seeds 9999..10000 run into the validation seeds \(10000..\)"):
        _make(tmp_path / "x.h5", geom, seed=9_999, count=2)
    with pytest.raises(ValueError, match="run into the test seeds"):
        _make(tmp_path / "x.h5", geom, seed=19_990, count=20)
    assert not (tmp_path / "x.h5").exists()
    with pytest.raises(ValueError, match="no test samples.*--test-count"):
        LtIDataset(reference, "test")
    with pytest.raises(ValueError, match="split must be"):
        LtIDataset(reference, "validation")
    other = _make(tmp_path / "o.h5", geom, seed=4, count=2, val_count=0)
    with pytest.raises(ValueError, match="share 2 phantom seed"):
        check_disjoint(LtIDataset(reference), LtIDataset(other))


def test_missing_and_corrupt_files(tmp_path, reference):
    missing = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match="nope.h5.*ltl dataset make"):
        LtIDataset(missing)
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all" * 10)
    with pytest.raises(ValueError, match="bad.h5 is not a readable HDF5 file"):
        LtIDataset(bad)
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="not an ltl dataset"):
        dataset_info(plain)
    # a truncated copy of a real file
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(reference.read_bytes()[:2000])
    with pytest.raises(ValueError, match="trunc.h5"):
        LtIDataset(trunc)
    # resuming onto a corrupt file is refused too
    with pytest.raises(ValueError, match="not a readable HDF5"):
        _make(bad, Geometry.limited_angle(N, angular_range_deg=120, step_deg=3))


def test_lazy_open_pickles_and_workers(reference):
    ds = LtIDataset(reference, "train")
    assert ds._h5 is None  # nothing open after __init__
    _ = ds[0]
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._h5 is None
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2)
    seeds = torch.cat([b["seed"] for b in loader]).tolist()
    assert seeds == [0, 1, 2, 3, 4, 5]
    ds.close()


def _parser():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    cli_dataset.add_parser(sub)
    return p


def test_cli_registration(tmp_path, reference, capsys):
    p = _parser()
    args = p.parse_args(["dataset", "info", str(reference), "--json"])
    assert args.func(args) == 0
    assert '"samples": 8' in capsys.readouterr().out
    args = p.parse_args(["dataset", "make", "--out", str(tmp_path / "c.h5"), "--count", "2", "--size", "32",
                         "--step", "4", "--iters", "3", "--no-progress"])
    assert args.func(args) == 0
    assert dataset_info(tmp_path / "c.h5")["done"] == 2
    args = p.parse_args(["dataset", "make", "--out", str(tmp_path / "c.npz"), "--count", "2"])
    with pytest.raises(ValueError, match=".h5"):
        args.func(args)


def test_cli_device_checked_first_and_help_from_settings(tmp_path, capsys):
    out = tmp_path / "c.h5"
    for bad in ("tpu", "not-a-device"):
        args = _parser().parse_args(["dataset", "make", "--out", str(out), "--count", "2", "--device", bad])
        with pytest.raises(UsageError, match="--device"):
            args.func(args)
    assert list(tmp_path.iterdir()) == []  # refused before anything was created
    with pytest.raises(SystemExit):
        _parser().parse_args(["dataset", "make", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"iterations [{L1Settings.iters}]" in text and f"[{L1Settings.tol:g}]" in text
    assert f"{L1Settings.lam_factor:g}·σ·κ" in text
    ns = _parser().parse_args(["dataset", "make", "--out", str(out), "--count", "1"])
    assert (ns.lam, ns.iters, ns.tol, ns.scales) == (None, None, None, None)  # None: the solver's default


def test_stored_solver_settings_round_trip(reference, tmp_path, geom):
    with h5py.File(reference, "r") as f:
        settings = json.loads(f.attrs["settings"])
    stored = {k: v for k, v in settings["solver"].items() if k != "method"}
    assert settings["solver"]["method"] == "l1_shearlet"
    assert list(stored) == ["lam", "iters", "tol", "noise", "nonneg"]  # extras only where they differ
    assert L1Settings.from_dict(stored).to_dict() == stored
    assert L1Settings.from_dict(stored) == L1Settings(**SOLVER)
    assert LtIDataset(reference).solver_settings == stored

    # the typed settings describe the same file: it resumes with nothing left to do
    copy = tmp_path / "copy.h5"
    shutil.copy(reference, copy)
    ran = []
    _make(copy, geom, solver_settings=L1Settings(**SOLVER), frame_settings=FrameSettings(),
          callback=lambda k, a, b: ran.append(k))
    assert ran == []
    # a file that recorded a default explicitly (e.g. lam_factor) still resumes
    with h5py.File(copy, "r+") as f:
        s = json.loads(f.attrs["settings"])
        s["solver"]["lam_factor"] = L1Settings.lam_factor
        f.attrs["settings"] = json.dumps(s)
    _make(copy, geom, callback=lambda k, a, b: ran.append(k))
    assert ran == []
    with pytest.raises(ValueError, match="other settings.*solver"):
        _make(copy, geom, solver_settings=dict(SOLVER, lam_factor=0.1))


def test_unknown_settings_refused_before_any_file(tmp_path, geom):
    path = tmp_path / "d.h5"
    with pytest.raises(ValueError, match="step_ratio"):
        _make(path, geom, solver_settings=dict(SOLVER, step_ratio=0.5))
    with pytest.raises(ValueError, match="wavelets"):
        _make(path, geom, frame_settings={"wavelets": 3})
    with pytest.raises(ValueError, match="iters"):
        _make(path, geom, solver_settings=dict(iters=0))
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_import_does_not_need_h5py():
    code = "import sys, ltl.models, ltl.data, ltl.data.dataset; print('h5py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.gpu
def test_make_dataset_on_cuda(tmp_path, geom, reference):
    path = _make(tmp_path / "g.h5", geom, device="cuda")
    got, want = _arrays(path), _arrays(reference)
    np.testing.assert_array_equal(got["truth"], want["truth"])
    for k in ("sinogram", "f_vis"):  # ASTRA's GPU kernels differ from its CPU ones by ~1e-3
        rel = np.linalg.norm(got[k] - want[k]) / np.linalg.norm(want[k])
        assert rel < 2e-2, (k, rel)


@pytest.mark.parametrize("key,value", [("noise", "0.01"), ("noise", True), ("chunk", 0), ("frame", [1]),
                                       ("photons", -5), ("seed_ranges", [[0, "8"]]), ("phantom", None)])
def test_settings_of_the_wrong_type_are_named(tmp_path, reference, key, value):
    bad = tmp_path / "bad.h5"
    shutil.copy(reference, bad)
    with h5py.File(bad, "r+") as f:
        s = json.loads(f.attrs["settings"])
        s[key] = value
        f.attrs["settings"] = json.dumps(s)
    with pytest.raises(ValueError, match=f"settings entry '{key}' must be"):
        LtIDataset(bad)
    with pytest.raises(ValueError, match=f"settings entry '{key}' must be"):
        dataset_info(bad)
