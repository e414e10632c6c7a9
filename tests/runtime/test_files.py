"""Safe writes: no half files, no links followed, no replacing without consent, a lock that dies
with its holder, and the output-is-an-input check."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ltl.runtime import files
from ltl.runtime.files import (FileLock, LockedError, atomic_bytes, atomic_path, atomic_write, make_output_dir,
                               refuse_input_as_output, rename_noreplace, same_file)


def listing(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_write_then_refuse_without_replace(tmp_path):
    out = tmp_path / "a.bin"
    atomic_bytes(out, b"one", replace=False)
    with pytest.raises(FileExistsError, match="a.bin exists"):
        atomic_bytes(out, b"two", replace=False)
    assert out.read_bytes() == b"one"
    assert listing(tmp_path) == ["a.bin"]  # no temporary file left
    atomic_bytes(out, b"two", replace=True)
    assert out.read_bytes() == b"two"


def test_file_appearing_during_the_write_is_not_replaced(tmp_path):
    """Another process creates the output after our existence check: the rename must refuse."""
    out = tmp_path / "r.json"

    def write(f):
        f.write(b"mine")
        out.write_bytes(b"theirs")  # the other writer wins the race

    with pytest.raises(FileExistsError):
        atomic_write(out, write, replace=False)
    assert out.read_bytes() == b"theirs"
    assert listing(tmp_path) == ["r.json"]


@pytest.mark.parametrize("replace", [False, True])
def test_symlink_at_the_output_is_never_followed(tmp_path, replace):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "victim.txt"
    target.write_bytes(b"precious")
    out = tmp_path / "out"
    out.mkdir()
    link = out / "report.json"
    link.symlink_to(target)
    if replace:
        atomic_bytes(link, b"new", replace=True)
        assert not link.is_symlink() and link.read_bytes() == b"new"
    else:
        with pytest.raises(FileExistsError):
            atomic_bytes(link, b"new", replace=False)
        assert link.is_symlink()
    assert target.read_bytes() == b"precious"


def test_dangling_symlink_creates_nothing_outside(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "fig.png").symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(FileExistsError):
        atomic_bytes(out / "fig.png", b"png", replace=False)
    assert not (tmp_path / "elsewhere.png").exists()
    atomic_bytes(out / "fig.png", b"png", replace=True)
    assert not (tmp_path / "elsewhere.png").exists()
    assert (out / "fig.png").read_bytes() == b"png"


def test_failed_write_leaves_no_file_and_no_new_folder(tmp_path):
    out = tmp_path / "new" / "deeper" / "x.npz"

    def boom(f):
        f.write(b"partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(out, boom)
    assert listing(tmp_path) == []
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert listing(tmp_path) == []


def test_atomic_path_without_replace(tmp_path):
    out = tmp_path / "d.h5"
    out.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        with atomic_path(out, replace=False) as tmp:
            tmp.write_bytes(b"new")
    assert out.read_bytes() == b"old" and listing(tmp_path) == ["d.h5"]


def test_folder_at_the_output_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_bytes(tmp_path / "x", b"1", replace=True)
    with pytest.raises(FileExistsError):
        atomic_bytes(tmp_path / "x", b"1", replace=False)
    assert listing(tmp_path) == ["x"]


def test_rename_noreplace_fallback_through_a_hard_link(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_renameat2", False)  # as on a system without renameat2
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"A")
    b.write_bytes(b"B")
    with pytest.raises(FileExistsError):
        rename_noreplace(a, b)
    assert a.read_bytes() == b"A" and b.read_bytes() == b"B"
    c = tmp_path / "c"
    rename_noreplace(a, c)
    assert not a.exists() and c.read_bytes() == b"A"


def test_same_file_sees_links_and_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "scan.npz"
    f.write_bytes(b"x")
    (tmp_path / "hard.npz").hardlink_to(f)
    (tmp_path / "soft.npz").symlink_to(f)
    (tmp_path / "sub").mkdir()
    assert same_file("scan.npz", f)
    assert same_file("sub/../scan.npz", f)
    assert same_file(tmp_path / "hard.npz", f)
    assert same_file(tmp_path / "soft.npz", f)
    assert not same_file(tmp_path / "other.npz", f)
    with pytest.raises(ValueError, match="is the input"):
        refuse_input_as_output("soft.npz", [None, tmp_path / "flat.tif", f])
    with pytest.raises(ValueError, match="--out scan.npz is the input"):
        refuse_input_as_output("scan.npz", [f"{f}:/entry/data"])
    refuse_input_as_output("rec.npz", [f, None])  # a different output is fine


def test_make_output_dir_checks_without_creating(tmp_path):
    p, created = make_output_dir(tmp_path / "run", overwrite=False, names=("a.json",))
    assert created and not p.exists()
    p.mkdir()
    (p / "a.json").write_text("{}")
    with pytest.raises(FileExistsError, match="a.json"):
        make_output_dir(p, overwrite=False, names=("a.json", "b.png"))
    assert make_output_dir(p, overwrite=True, names=("a.json",)) == (p, False)
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError, match="not a folder"):
        make_output_dir(tmp_path / "file", overwrite=True)


HOLD = textwrap.dedent("""
    import sys, time
    from ltl.runtime.files import FileLock
    with FileLock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_lock_is_exclusive_and_dies_with_its_holder(tmp_path):
    target = tmp_path / "data.h5"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        who = FileLock.holder(target)
        assert who is not None and f"process {proc.pid}" in who
        with pytest.raises(LockedError, match=f"being written by process {proc.pid}"):
            with FileLock(target):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # Killed: the .lock file is left behind but it is no longer a lock.
    assert (tmp_path / "data.h5.lock").exists()
    assert FileLock.holder(target) is None
    with FileLock(target):
        assert f"process {os.getpid()}" in (tmp_path / "data.h5.lock").read_text()
        assert FileLock.holder(target) is None  # our own lock does not block us
        out = subprocess.run([sys.executable, "-c", "import sys; from ltl.runtime.files import FileLock; "
                              "print(FileLock.holder(sys.argv[1]))", str(target)], capture_output=True, text=True)
        assert f"process {os.getpid()}" in out.stdout  # but other processes see it
    assert not (tmp_path / "data.h5.lock").exists()
