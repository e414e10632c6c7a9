"""Datasets of a mix of phantom families: the mix and each sample's family are recorded; bad mixes
are refused before any file exists; progress per sample and the time estimate."""

import h5py
import numpy as np
import pytest
import torch

from ltl import Geometry
from ltl.cli import main
from ltl.data.dataset import LtIDataset, check_disjoint, dataset_info, make_dataset, merge_shards
from ltl.data.dataset.writer import _SampleBar
from ltl.data.phantoms import block_mean, generate, parse_mix

N = 16
SOLVER = dict(iters=6, tol=0)
MIX = "mix:vessels=1,ellipses=2,anatomy=1"


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def geom():
    return Geometry.limited_angle(N, angular_range_deg=120, step_deg=6)


def _make(path, geom, **kw):
    args = dict(phantom=MIX, count=6, val_count=2, geometry=geom, chunk=3, noise=0.01, solver_settings=SOLVER,
                progress=False, world_size=1, rank=0, device="cpu")
    args.update(kw)
    return make_dataset(path, **args)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, geom):
    return _make(tmp_path_factory.mktemp("mix") / "mix.h5", geom)


def test_mixed_dataset_records_the_mix_and_each_samples_family(mixed):
    mix = parse_mix(MIX)
    info = dataset_info(mixed)
    assert info["phantom"] == "mix:ellipses=2,vessels=1,anatomy=1"  # canonical: the registry's order
    assert info["mix"]["families"] == ["ellipses", "vessels", "anatomy"] and info["mix"]["weights"] == [2.0, 1.0, 1.0]
    assert "default_rng([11, s])" in info["mix"]["draw"]
    with h5py.File(mixed, "r") as f:
        seeds = f["seed"][:]
        fams = list(f["family"].asstr()[:])
        truth = f["truth"][:]
    np.testing.assert_array_equal(seeds, [0, 1, 2, 3, 4, 5, 10_000, 10_001])  # the splits' seed ranges
    assert fams == mix.families_of(seeds)  # drawn from each seed and the weights
    for t, fam, s in zip(truth, fams, seeds):  # sample s is phantom s of its family
        np.testing.assert_array_equal(t, block_mean(generate(fam, 1, N, seed=int(s), oversample=2), 2)[0].numpy())
    counts = info["families"]
    assert list(counts) == ["ellipses", "vessels", "anatomy"]
    assert sum(c["train"] for c in counts.values()) == 6 and sum(c["val"] for c in counts.values()) == 2
    for fam, c in counts.items():
        assert c["train"] == fams[:6].count(fam) and c["val"] == fams[6:].count(fam)
    val = LtIDataset(mixed, "val")
    assert list(val.families) == fams[6:]
    prov = val.provenance()
    assert prov["settings"]["mix"]["families"] == ["ellipses", "vessels", "anatomy"]
    assert sum(prov["families"].values()) == 2


def test_one_family_files_keep_the_old_layout(tmp_path, geom):
    path = _make(tmp_path / "e.h5", geom, phantom="ellipses", count=2, val_count=0)
    with h5py.File(path, "r") as f:
        assert "family" not in f
    info = dataset_info(path)
    assert "mix" not in info and info["families"] == {"ellipses": {"train": 2, "val": 0, "test": 0}}
    assert list(LtIDataset(path).families) == ["ellipses", "ellipses"]
    other = _make(tmp_path / "p.h5", geom, phantom="polygons", count=2, val_count=0)
    check_disjoint(LtIDataset(path), LtIDataset(other))  # same seeds, other family: other phantoms


@pytest.mark.parametrize("phantom, match", [
    ("mix:ellipses=1,blobs=1", "unknown phantom family 'blobs'"),
    ("mix:ellipses=0,polygons=1", "weight of 'ellipses'.*positive number"),
    ("mix:ellipses=-2", "positive number"),
    ("blobs", "phantom must be a family"),
])
def test_bad_mix_refused_with_one_line_before_any_file(tmp_path, geom, phantom, match, capsys):
    with pytest.raises(ValueError, match=match) as e:
        _make(tmp_path / "d.h5", geom, phantom=phantom)
    assert "\n" not in str(e.value)
    out = tmp_path / "c.h5"
    assert main(["dataset", "make", "--out", str(out), "--phantom", phantom, "--count", "2", "--size", "16",
                 "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ltl: error:")
    assert list(tmp_path.iterdir()) == []


def test_disjointness_is_by_family_and_seed(tmp_path, geom, mixed):
    same = _make(tmp_path / "s.h5", geom, count=2, val_count=0)  # seeds 0, 1 of the same mix: same phantoms
    with pytest.raises(ValueError, match="share 2 phantom seed"):
        check_disjoint(LtIDataset(mixed), LtIDataset(same))
    other = _make(tmp_path / "o.h5", geom, count=2, val_count=0, phantom="mix:polygons,textures")
    check_disjoint(LtIDataset(mixed), LtIDataset(other))  # the same seeds, but none of the same family


def test_sharded_mix_merges_with_its_families(tmp_path, geom, mixed, monkeypatch):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    path = tmp_path / "d.h5"
    for r in (0, 1):
        _make(path, geom, rank=r, world_size=2)
    assert merge_shards(path, 2) == 8
    with h5py.File(path, "r") as a, h5py.File(mixed, "r") as b:
        assert list(a["family"].asstr()[:]) == list(b["family"].asstr()[:])
        np.testing.assert_array_equal(a["f_vis"][:], b["f_vis"][:])


def test_estimate_times_one_sample_and_changes_nothing(tmp_path, geom, mixed):
    got = []
    path = _make(tmp_path / "d.h5", geom, estimate=got.append)
    assert len(got) == 1
    e = got[0]
    assert e["samples"] == 8 and e["iterations"] == SOLVER["iters"] and e["seconds_per_sample"] > 0
    assert e["seconds"] == pytest.approx(8 * e["seconds_per_sample"]) and "seed 0" in e["how"]
    with h5py.File(path, "r") as a, h5py.File(mixed, "r") as b:
        for k in ("truth", "sinogram", "f_vis"):
            np.testing.assert_array_equal(a[k][:], b[k][:], err_msg=k)
    _make(path, geom, estimate=got.append)  # complete: nothing to compute, no estimate
    assert len(got) == 1


class _Counter:
    def __init__(self):
        self.n = 0
        self.steps = []

    def update(self, k):
        self.n += k
        self.steps.append(k)


def test_progress_advances_sample_by_sample_within_a_batch():
    pbar = _Counter()
    bar = _SampleBar(pbar, expected=8)
    on_iteration = bar.batch(4)
    seen = []
    for k in range(1, 9):
        on_iteration(k, None)
        seen.append(pbar.n)
    assert seen == [0, 1, 1, 2, 2, 3, 3, 3] and set(pbar.steps) == {1}  # one sample at a time, never the whole batch
    bar.done(iterations=8)
    assert pbar.n == 4
    on_iteration = bar.batch(2)
    for k in range(1, 50):  # more iterations than expected: the bar waits at the batch's last sample
        on_iteration(k, None)
    assert pbar.n == 5
    bar.done(iterations=49)
    assert pbar.n == 6 and bar.expected == 49


def test_cli_make_prints_the_estimate_and_info_the_mix(tmp_path, capsys):
    out = tmp_path / "c.h5"
    assert main(["dataset", "make", "--out", str(out), "--phantom", "mix:all,-natural", "--count", "3", "--size", "16",
                 "--step", "6", "--iters", "3", "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "ltl dataset: estimated" in text and "for 3 samples" in text and "timed on one sample" in text
    assert main(["dataset", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "mix        ellipses 1 (14%)" in text and "natural" not in text.split("mix", 1)[1].split("solver")[0]
    assert "families   " in text and "samples (train" in text
