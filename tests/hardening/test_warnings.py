"""Legal but suspicious inputs: one ``ltl: warning: ...`` line on stderr and a successful run; and
output folders that a command failing while it writes does not leave behind."""

from __future__ import annotations

import errno

import numpy as np
import pytest

import ltl.cli
from ltl import Geometry

S = "simulate --size 32 --range 120 --step 3 --out s.npz".split()


def run(capsys, argv):
    capsys.readouterr()
    status = ltl.cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    return status, [ln for ln in err.splitlines() if ln.strip()]


def one_warning(lines, *words):
    warnings = [ln for ln in lines if ln.startswith("ltl: warning: ")]
    assert len(warnings) == 1, lines
    assert not [ln for ln in lines if "Traceback" in ln or ln.startswith("ltl: error")], lines
    for w in words:
        assert w in warnings[0], warnings[0]
    return warnings[0]


@pytest.mark.parametrize("option, value, words", [("--noise", "0.6", ("--noise 0.6", "relative")),
                                                  ("--photons", "5", ("--photons 5", "photons per ray"))])
def test_simulate_warns_about_heavy_noise(work, capsys, option, value, words):
    status, lines = run(capsys, S + [option, value])
    assert status == 0 and (work / "w" / "s.npz").stat().st_size > 1000
    one_warning(lines, *words)


def test_ordinary_noise_gives_no_warning(work, capsys):
    status, lines = run(capsys, S + ["--noise", "0.05", "--photons", "1e4"])
    assert status == 0 and not [ln for ln in lines if "warning" in ln], lines


def test_whole_number_angles_one_apart_warn_of_degrees(work, capsys):
    """Angles 0, 1, ..., 5 are legal radians, but look like degrees: a warning, and the scan is reconstructed."""
    from ltl.data import save_scan, simulate_phantoms

    g = Geometry(32, np.arange(6.0))
    save_scan(work / "w" / "deg.npz", simulate_phantoms("ellipses", g, seed=3))
    status, lines = run(capsys, ["reconstruct", "deg.npz", "--out", "r.npz", "--no-progress", "--device", "cpu"])
    assert status == 0 and (work / "w" / "r.npz").exists()
    one_warning(lines, "degrees", "deg2rad")


def test_evaluating_on_training_seeds_warns(work, capsys):
    """Simulated phantoms with training seeds: the learned model may have seen them."""
    argv = ["evaluate", "--phantom", "ellipses", "--count", "1", "--seed", "0", "--size", "32", "--range", "120",
            "--step", "3", "--methods", "fbp,ltl", "--checkpoint", "model", "--montage", "0", "--no-progress",
            "--device", "cpu", "--out", "rep"]
    status, lines = run(capsys, argv)
    assert status == 0 and (work / "w" / "rep" / "results.json").exists()
    one_warning(lines, "--seed 0", "training seeds", "ltl")


def test_evaluate_on_test_seeds_gives_no_warning(work, capsys):
    argv = ["evaluate", "--phantom", "ellipses", "--count", "1", "--size", "32", "--range", "120", "--step", "3",
            "--methods", "fbp,ltl", "--checkpoint", "model", "--montage", "0", "--no-progress", "--device", "cpu",
            "--out", "rep"]
    status, lines = run(capsys, argv)
    assert status == 0 and not [ln for ln in lines if "warning" in ln], lines


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "montage.png")


def test_evaluate_failing_while_writing_leaves_no_folder(work, capsys, monkeypatch):
    import ltl.plotting

    monkeypatch.setattr(ltl.plotting, "save_comparison", _disk_full)
    argv = ["evaluate", "--data", "scan.npz", "--methods", "fbp", "--no-progress", "--device", "cpu",
            "--out", "new/rep"]
    status, lines = run(capsys, argv)
    assert status == 2 and lines[-1].startswith("ltl: error: ") and "No space left" in lines[-1]
    assert not (work / "w" / "new").exists()


def test_evaluate_failing_in_an_existing_folder_keeps_it(work, capsys, monkeypatch):
    """A folder the user made is kept (with what it held) when the report fails."""
    import ltl.plotting

    (work / "w" / "rep").mkdir()
    (work / "w" / "rep" / "mine.txt").write_text("keep")
    monkeypatch.setattr(ltl.plotting, "save_comparison", _disk_full)
    status, lines = run(capsys, ["evaluate", "--data", "scan.npz", "--methods", "fbp", "--no-progress", "--device",
                                 "cpu", "--out", "rep"])
    assert status == 2 and (work / "w" / "rep" / "mine.txt").read_text() == "keep"


def test_explain_failing_while_writing_leaves_no_folder(work, capsys, monkeypatch):
    import ltl.explain.figures

    monkeypatch.setattr(ltl.explain.figures, "save_relevance_maps", _disk_full)
    argv = ["explain", "scan.npz", "--checkpoint", "model", "--steps", "2", "--samples", "1", "--points", "3",
            "--roi", "8,8,24,24", "--no-progress", "--device", "cpu", "--out", "ex"]
    status, lines = run(capsys, argv)
    assert status == 2 and lines[-1].startswith("ltl: error: ")
    assert not (work / "w" / "ex").exists()


def test_a_writer_that_loses_the_race_fails_cleanly(work, capsys, monkeypatch):
    """Another process writes the same --out between ltl's check and its rename: exactly one file
    wins (the other's), and ltl says so in one line instead of replacing it."""
    import ltl.data

    real = ltl.data.simulate_phantoms

    def other_process_first(*args, **kwargs):
        scan = real(*args, **kwargs)
        (work / "w" / "s.npz").write_bytes(b"the other writer's file")
        return scan

    monkeypatch.setattr(ltl.data, "simulate_phantoms", other_process_first)
    status, lines = run(capsys, S)
    assert status == 2 and lines[-1].startswith("ltl: error: ") and "exists" in lines[-1]
    assert (work / "w" / "s.npz").read_bytes() == b"the other writer's file"
    assert sorted(p.name for p in (work / "w").iterdir() if p.name.startswith(".")) == []  # no temporary left


def test_report_race_keeps_the_other_writers_file(work, capsys, monkeypatch):
    """A report whose results.json appears meanwhile: ltl's own files are removed, the other's kept."""
    import ltl.evaluation.report as report

    real = report._markdown

    def other_process_writes(ev, figures):
        (work / "w" / "rep" / "report.md").write_text("theirs")
        return real(ev, figures)

    monkeypatch.setattr(report, "_markdown", other_process_writes)
    status, lines = run(capsys, ["evaluate", "--data", "scan.npz", "--methods", "fbp", "--no-progress", "--device",
                                 "cpu", "--out", "rep"])
    assert status == 2 and "exists" in lines[-1]
    assert sorted(p.name for p in (work / "w" / "rep").iterdir()) == ["report.md"]
    assert (work / "w" / "rep" / "report.md").read_text() == "theirs"
