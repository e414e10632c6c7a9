"""Fixture files of the bad-input suite: one small valid set, made once, copied for every case.

The set (``base/w``, the folder the commands run in, and an empty sibling ``base/outside``):

``scan.npz``   two 32² scans, 120° in 3° steps (40 views), with their phantoms and meta
``model/``     an untrained LtI model (width 4, depth 2) for that geometry, with noise statistics
``data.h5``    a dataset of that geometry: 2 training, 1 validation and 2 test samples
``notes.txt``  a text file;  ``folder/``  an empty folder
"""

import shutil

import pytest
import torch

N = 32


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny networks run fastest on one thread, and do not fight tests running beside them."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def geometry():
    from ltl import Geometry

    return Geometry.limited_angle(N, angular_range_deg=120, step_deg=3)


@pytest.fixture(scope="session")
def base(tmp_path_factory):
    """The valid fixture files (see the module docstring); never changed by a case."""
    from ltl.data import save_scan, simulate_phantoms
    from ltl.data.dataset import make_dataset
    from ltl.models import LtI

    root = tmp_path_factory.mktemp("hardening-base")
    w = root / "w"
    w.mkdir()
    (root / "outside").mkdir()
    g = geometry()
    save_scan(w / "scan.npz", simulate_phantoms("ellipses", g, count=2, noise=0.01, seed=20000))
    make_dataset(w / "data.h5", count=2, val_count=1, test_count=2, geometry=g, chunk=5, device="cpu",
                 progress=False, solver_settings=dict(iters=5, tol=0))
    gen = torch.Generator().manual_seed(0)
    m = LtI(g, width=4, depth=2, solver_settings=dict(iters=5, tol=0))
    c_in, c_out = m.net.in_channels, m.net.out_channels
    m.net.set_normalization(0.01 * torch.rand(c_in, generator=gen), 0.05 + 0.05 * torch.rand(c_in, generator=gen),
                            torch.zeros(c_out), torch.ones(c_out))
    m.save(w / "model")
    (w / "notes.txt").write_text("not a scan\n")
    (w / "folder").mkdir()
    return root


@pytest.fixture
def work(base, tmp_path, monkeypatch):
    """A fresh copy of the fixture files; the current folder is its ``w``. Returns the copy's root."""
    root = tmp_path / "root"
    shutil.copytree(base, root, symlinks=True)
    monkeypatch.chdir(root / "w")
    monkeypatch.delenv("LTL_DEBUG", raising=False)
    return root

