"""A dataset being written is locked: a second writer and a reader are told who writes it, and a
killed writer leaves no lock behind (the rerun resumes)."""

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ltl import Geometry
from ltl.cli import main
from ltl.data.dataset import make_dataset
from ltl.data.dataset.schema import open_dataset
from ltl.runtime.files import FileLock, LockedError

SETTINGS = dict(count=4, chunk=2, noise=0.01, solver_settings=dict(iters=5, tol=0), progress=False, world_size=1,
                rank=0)

# A writer that holds the lock and the file open for writing, as `ltl dataset make` does mid-run.
WRITER = textwrap.dedent("""
    import sys, time, h5py
    from ltl.runtime.files import FileLock
    with FileLock(sys.argv[1], "dataset"), h5py.File(sys.argv[1], "r+"):
        print("writing", flush=True)
        time.sleep(120)
""")


@pytest.fixture
def partial(tmp_path):
    """A dataset whose first chunk is done and second is not, as after a kill."""
    geom = Geometry.limited_angle(24, angular_range_deg=120, step_deg=4)
    path = tmp_path / "d.h5"
    make_dataset(path, geometry=geom, **SETTINGS)
    import h5py

    with h5py.File(path, "r+") as f:
        f["done"][2:] = False
    return path, geom


def test_second_writer_and_reader_see_the_writer(partial, capsys):
    path, geom = partial
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        before = path.read_bytes()
        with pytest.raises(LockedError, match=f"being written by process {proc.pid}"):
            make_dataset(path, geometry=geom, **SETTINGS)
        with pytest.raises(LockedError, match=f"being written by process {proc.pid}.*wait for"):
            open_dataset(path)
        assert main(["dataset", "info", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("ltl: error: ") and "being written by" in err[0]
        assert "delete it" not in err[0]
        assert path.read_bytes() == before  # neither the second writer nor the reader touched it
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # The writer was killed: its lock went with it and the rerun completes the file.
    assert FileLock.holder(path) is None
    make_dataset(path, geometry=geom, **SETTINGS)
    with open_dataset(path) as f:
        assert np.all(f["done"][:])
    assert sorted(p.name for p in path.parent.iterdir()) == ["d.h5"]  # no lock file left


def test_lock_is_released_when_the_writer_fails(tmp_path):
    geom = Geometry.limited_angle(24, angular_range_deg=120, step_deg=4)
    path = tmp_path / "sub" / "d.h5"

    def fail(k, a, b):
        raise KeyboardInterrupt  # as a Ctrl-C after the first chunk

    with pytest.raises(KeyboardInterrupt):
        make_dataset(path, geometry=geom, callback=fail, **SETTINGS)
    assert FileLock.holder(path) is None and not path.with_name("d.h5.lock").exists()
    make_dataset(path, geometry=geom, **SETTINGS)  # resumes
    with open_dataset(path) as f:
        assert np.all(f["done"][:])
