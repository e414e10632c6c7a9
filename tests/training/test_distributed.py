"""Two gloo processes (torch.multiprocessing spawn): DDP training keeps the replicas equal, and a
sharded dataset run merges into the same file as a single process."""

import socket
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from ltl import Geometry
from ltl.data.dataset import make_dataset, shard_path
from ltl.models import LtI
from ltl.training import load_checkpoint

TINY = dict(width=4, depth=2, batch_size=4, progress=False, norm_samples=8)


@pytest.fixture
def worker(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # the spawned children import it too
    import _ddp_worker

    return _ddp_worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_processes_keep_replicas_equal(small_data, tmp_path, worker):
    import torch.multiprocessing as mp

    cfg = dict(data=str(small_data), out=str(tmp_path / "run"), epochs=1, **dict(TINY, batch_size=2))
    mp.start_processes(worker.train_rank, args=(2, _free_port(), cfg, str(tmp_path)), nprocs=2, join=True,
                       start_method="spawn")
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    saved = LtI.load(tmp_path / "run" / "model")  # rank 0 wrote the run directory
    for k, v in saved.state_dict().items():
        assert torch.equal(v, a[k]), k
    ck = load_checkpoint(tmp_path / "run")
    assert ck["world_size"] == 2 and ck["history"][0]["steps"] == 2  # 8 samples / (2 ranks × batch 2)


def test_sharded_dataset_under_a_process_group(tmp_path, worker):
    import torch.multiprocessing as mp

    g = Geometry.limited_angle(32, angular_range_deg=120, step_deg=3)
    kw = dict(count=5, val_count=2, chunk=2, solver_settings=dict(iters=6, tol=0), progress=False)
    ref = make_dataset(tmp_path / "ref.h5", geometry=g, rank=0, world_size=1, **kw)
    path = tmp_path / "sharded.h5"
    args = dict(kw, path=str(path), geometry=g.to_dict())
    mp.start_processes(worker.dataset_rank, args=(2, _free_port(), args), nprocs=2,
                       join=True, start_method="spawn")
    assert path.exists() and not shard_path(path, 0).exists() and not shard_path(path, 1).exists()
    with h5py.File(ref, "r") as a, h5py.File(path, "r") as b:
        assert b["done"][:].all()
        assert a.attrs["settings"] == b.attrs["settings"]
        for k in ("truth", "sinogram", "seed"):
            np.testing.assert_array_equal(a[k][:], b[k][:], err_msg=k)
        np.testing.assert_allclose(a["f_vis"][:], b["f_vis"][:], rtol=1e-5, atol=1e-6)
