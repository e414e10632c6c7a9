"""Bad inputs, table-driven: every command and every Python entry point that reads a file.

A command-line case runs ``ltl.cli.main(argv)`` in a fresh copy of the fixture files
(``conftest.py``: a valid 32² scan, a tiny LtI model, a tiny dataset) after the case's own set-up
(a corrupted, truncated or edited variant, a link, a folder where a file belongs, ...) and asserts

* exit status 2, no traceback in stderr, and a last stderr line ``ltl: error: ...`` (one line,
  naming the problem: ``match``);
* nothing created, changed or deleted: every path of the copy (and of its sibling ``outside``),
  with each file's size, mtime_ns and SHA-256 and each link's target, is the same before and after.

A Python case calls the entry point and asserts its documented exception type and message and the
same unchanged folder. Every case fails at validation, so none computes anything large.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest

import ltl.cli

SYS = Path("/sys")  # read-only even for root (the tests may run as root, for whom chmod does not protect)
needs_sys = pytest.mark.skipif(not SYS.is_dir() or os.access(SYS, os.W_OK) and os.geteuid() != 0,
                               reason="needs a read-only /sys")


# ---------------------------------------------------------------------------------------- snapshot
def snapshot(root: Path) -> dict:
    """Every path under ``root``: a link by its target, a file by (size, mtime_ns, sha256), a folder by its name."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir",)
            else:
                st = p.stat()
                out[rel] = ("file", st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def diff(before: dict, after: dict) -> list[str]:
    return ([f"created {k}" for k in after.keys() - before.keys()] + [f"deleted {k}" for k in before.keys() - after.keys()]
            + [f"changed {k}" for k in before.keys() & after.keys() if before[k] != after[k]])


# ---------------------------------------------------------------------------------------- set-ups
# Each set-up takes the work folder ``w`` (the current folder) and makes the case's files in it.

def scan_arrays(w: Path) -> dict:
    with np.load(w / "scan.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def scan(name: str, **changes):
    """A variant of scan.npz: each change replaces a key (a callable gets the old array), None deletes it."""
    def setup(w):
        a = scan_arrays(w)
        for k, v in changes.items():
            if v is None:
                a.pop(k, None)
            else:
                a[k] = v(a.get(k)) if callable(v) else v
        np.savez(w / name, **a)
    return setup


def meta(name: str, edit):
    """scan.npz with its meta JSON replaced by ``edit(meta_dict)`` (a str is stored as it is)."""
    def change(old):
        new = edit(json.loads(str(old)))
        return np.array(new if isinstance(new, str) else json.dumps(new))
    return scan(name, meta=change)


def write(name: str, data: bytes | str):
    def setup(w):
        (w / name).parent.mkdir(parents=True, exist_ok=True)
        (w / name).write_bytes(data.encode() if isinstance(data, str) else data)
    return setup


def truncated(src: str, name: str, fraction: float = 0.5):
    def setup(w):
        data = (w / src).read_bytes()
        (w / name).write_bytes(data[: int(len(data) * fraction)])
    return setup


def link(name: str, target: str):
    def setup(w):
        os.symlink(target, w / name)
    return setup


def npy(name: str, array):
    def setup(w):
        np.save(w / name, np.asarray(array))
    return setup


def model(name: str, edit=None, *, rehash: bool = False, weights=None, drop=None):
    """A copy of model/ with model.json edited by ``edit(meta)`` (its manifest hash recomputed when
    ``rehash``, as a careful forger would), model.pt replaced by ``weights(bytes)``, or ``drop`` removed."""
    def setup(w):
        from ltl.models.checkpoint import manifest_hash

        d = w / name
        shutil.copytree(w / "model", d)
        if edit is not None:
            m = json.loads((d / "model.json").read_text())
            edit(m)
            if rehash:
                m["manifest_sha256"] = manifest_hash(m)
            (d / "model.json").write_text(json.dumps(m))
        if weights is not None:
            (d / "model.pt").write_bytes(weights((d / "model.pt").read_bytes()))
        if drop is not None:
            (d / drop).unlink()
    return setup


def h5(name: str, edit):
    """A copy of data.h5 edited by ``edit(h5py.File)``."""
    def setup(w):
        import h5py

        shutil.copy(w / "data.h5", w / name)
        with h5py.File(w / name, "r+") as f:
            edit(f)
    return setup


def settings_attr(name: str, edit):
    """data.h5 with its 'settings' attribute replaced by ``edit(settings)`` (a str is stored as it is)."""
    def change(f):
        new = edit(json.loads(f.attrs["settings"]))
        f.attrs["settings"] = new if isinstance(new, str) else json.dumps(new)
    return h5(name, change)


def report_dir(name: str):
    def setup(w):
        (w / name).mkdir()
        (w / name / "results.json").write_text("{}")
    return setup


def explain_dir(name: str):
    def setup(w):
        (w / name).mkdir()
        (w / name / "explanation.png").write_bytes(b"\x89PNG old")
    return setup


def demo_dir(name: str):
    def setup(w):
        (w / name).mkdir()
        (w / name / "metrics.json").write_text("{}")
    return setup


def run_dir(name: str, config: str | None = None):
    def setup(w):
        (w / name).mkdir()
        if config is not None:
            (w / name / "config.json").write_text(config)
    return setup


def both(*setups):
    def setup(w):
        for s in setups:
            s(w)
    return setup


def setitem(key, value):
    def edit(d):
        d[key] = value
        return d
    return edit


def setgeom(key, value):
    def edit(d):
        d["geometry"][key] = value
    return edit


def png_image(name: str, shape):
    def setup(w):
        from skimage import io

        io.imsave(w / name, (np.arange(np.prod(shape)).reshape(shape) % 255).astype(np.uint8), check_contrast=False)
    return setup


# ---------------------------------------------------------------------------------------- the table
CLI: list = []


def cli(case_id: str, argv: str | list, setup=None, match: str | None = None, xfail: str | None = None):
    """One command-line case: ``argv`` (a string is split on spaces), ``match`` a part of the error line."""
    argv = argv.split() if isinstance(argv, str) else argv
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    if any(a.startswith("/sys/") for a in argv):
        marks.append(needs_sys)
    CLI.append(pytest.param(argv, setup, match, id=case_id, marks=marks))


SC = "--size 32 --range 120 --step 3"  # the fixture's geometry as scan options
FAST = "--no-progress --device cpu"

# ---- the ltl command itself
cli("ltl-no-command", [], match="required")
cli("ltl-unknown-command", "frobnicate", match="invalid choice")
cli("ltl-quiet-and-verbose", "--quiet --verbose info", match="not allowed")
cli("info-unknown-option", "info --bogus", match="unrecognized")
cli("info-extra-argument", "info extra", match="unrecognized")

# ---- ltl simulate
S = "simulate --size 32 --range 120 --step 3"
cli("simulate-out-txt", f"{S} --out x.txt", match=".npz")
cli("simulate-out-no-suffix", f"{S} --out x", match=".npz")
cli("simulate-out-folder", f"{S} --out folder", match="folder")
cli("simulate-out-folder-npz", f"{S} --out dir.npz", both(lambda w: (w / "dir.npz").mkdir()), match="folder")
cli("simulate-out-exists", f"{S} --out scan.npz", match="exists")
cli("simulate-out-dangling-link", f"{S} --out link.npz", link("link.npz", "../outside/target.npz"), match="exists")
cli("simulate-out-link-to-file", f"{S} --out link.npz", link("link.npz", "scan.npz"), match="exists")
cli("simulate-out-parent-is-file", f"{S} --out notes.txt/x.npz", match="notes.txt")
cli("simulate-out-readonly", f"{S} --out /sys/ltl-x.npz", match="/sys")
cli("simulate-out-readonly-missing-folder", f"{S} --out /sys/ltl-none/x.npz", match="/sys")
cli("simulate-new-folder-bad-size", "simulate --size 0 --out new/x.npz", match="size")
cli("simulate-size-0", "simulate --size 0 --out x.npz", match="size")
cli("simulate-size-negative", "simulate --size -5 --out x.npz", match="size")
cli("simulate-size-1", "simulate --size 1 --out x.npz", match="size")
cli("simulate-size-huge", "simulate --size 1000000 --out x.npz", match="needs about")
cli("simulate-size-text", "simulate --size abc --out x.npz", match="invalid int")
cli("simulate-size-float", "simulate --size 32.5 --out x.npz", match="invalid int")
cli("simulate-range-0", "simulate --size 32 --range 0 --out x.npz", match="range")
cli("simulate-range-negative", "simulate --size 32 --range -5 --out x.npz", match="range")
cli("simulate-range-too-big", "simulate --size 32 --range 400 --out x.npz", match="range")
cli("simulate-range-nan", "simulate --size 32 --range nan --out x.npz", match="range")
cli("simulate-step-0", "simulate --size 32 --step 0 --out x.npz", match="step")
cli("simulate-step-negative", "simulate --size 32 --step -1 --out x.npz", match="step")
cli("simulate-step-tiny", "simulate --size 32 --step 1e-9 --out x.npz", match="needs about")
cli("simulate-center-inf", "simulate --size 32 --center inf --out x.npz", match="center")
cli("simulate-noise-negative", f"{S} --noise -0.1 --out x.npz", match="noise")
cli("simulate-noise-nan", f"{S} --noise nan --out x.npz", match="noise")
cli("simulate-noise-inf", f"{S} --noise inf --out x.npz", match="noise")
cli("simulate-noise-text", f"{S} --noise true --out x.npz", match="invalid float")
cli("simulate-photons-0", f"{S} --photons 0 --out x.npz", match="photons")
cli("simulate-photons-negative", f"{S} --photons -5 --out x.npz", match="photons")
cli("simulate-photons-nan", f"{S} --photons nan --out x.npz", match="photons")
cli("simulate-count-0", f"{S} --count 0 --out x.npz", match="count")
cli("simulate-count-negative", f"{S} --count -1 --out x.npz", match="count")
cli("simulate-count-exponent", f"{S} --count 1e9 --out x.npz", match="invalid int")
cli("simulate-count-huge", f"{S} --count 1000000000 --out x.npz", match="needs about")
cli("simulate-seed-negative", f"{S} --seed -1 --out x.npz", match="seed")
cli("simulate-phantom-unknown", f"{S} --phantom nosuch --out x.npz", match="unknown phantom")
cli("simulate-phantom-missing-file", f"{S} --phantom missing.png --out x.npz", match="missing.png")
cli("simulate-phantom-text-file", f"{S} --phantom notes.txt --out x.npz", match="notes.txt")
cli("simulate-phantom-empty-folder", f"{S} --phantom folder --out x.npz", match="no images")
cli("simulate-phantom-mix-unknown", f"{S} --phantom mix:bogus=1 --out x.npz", match="bogus")
cli("simulate-phantom-mix-negative", f"{S} --phantom mix:ellipses=-1 --out x.npz", match="weight")
cli("simulate-phantom-mix-empty", f"{S} --phantom mix: --out x.npz", match="mix")
cli("simulate-phantom-crops-missing", f"{S} --phantom crops:missing --out x.npz", match="missing")
cli("simulate-phantom-nonsquare-npy", f"{S} --phantom wide.npy --out x.npz", npy("wide.npy", np.ones((32, 48))),
    match="square")
cli("simulate-phantom-nonsquare-png", f"{S} --phantom wide.png --out x.npz", png_image("wide.png", (40, 64)),
    match="square")
cli("simulate-phantom-complex-npy", f"{S} --phantom c.npy --out x.npz", npy("c.npy", np.ones((32, 32)) * (1 + 1j)),
    match="complex")
cli("simulate-phantom-nan-npy", f"{S} --phantom nan.npy --out x.npz", npy("nan.npy", np.full((32, 32), np.nan)),
    match="NaN")
cli("simulate-phantom-empty-npy", f"{S} --phantom e.npy --out x.npz", npy("e.npy", np.zeros((0, 32, 32))),
    match="empty")
cli("simulate-phantom-1d-npy", f"{S} --phantom v.npy --out x.npz", npy("v.npy", np.ones(32)), match="shape")
cli("simulate-phantom-truncated-npy", f"{S} --phantom t.npy --out x.npz",
    both(npy("ok.npy", np.ones((32, 32))), truncated("ok.npy", "t.npy")), match="t.npy")
cli("simulate-phantom-input-is-output", f"{S} --phantom img.npy --out img.npy --overwrite",
    npy("img.npy", np.ones((32, 32))), match=".npz")
cli("simulate-phantom-npz-is-output", f"{S} --phantom scan.npz --out scan.npz --overwrite", match="input")

# ---- ltl reconstruct (its own module; cases that fail are marked and fixed there)
R = "reconstruct"
cli("reconstruct-missing-scan", f"{R} missing.npz --out r.npz", match="does not exist")
cli("reconstruct-scan-is-folder", f"{R} folder --out r.npz", match="folder")
cli("reconstruct-scan-is-json", f"{R} s.npz --out r.npz", write("s.npz", '{"sinogram": [1, 2]}'), match="JSON")
cli("reconstruct-scan-text", f"{R} notes.txt --out r.npz", match="notes.txt")
cli("reconstruct-scan-empty-file", f"{R} e.npz --out r.npz", write("e.npz", b""), match="e.npz")
cli("reconstruct-scan-truncated", f"{R} t.npz --out r.npz", truncated("scan.npz", "t.npz"), match="t.npz")
cli("reconstruct-scan-dangling-link", f"{R} l.npz --out r.npz", link("l.npz", "../outside/none.npz"),
    match="does not exist")
cli("reconstruct-scan-no-sinogram", f"{R} b.npz --out r.npz", scan("b.npz", sinogram=None), match="sinogram")
cli("reconstruct-scan-no-angles", f"{R} b.npz --out r.npz", scan("b.npz", angles=None), match="angles")
cli("reconstruct-scan-nan-sinogram", f"{R} b.npz --out r.npz", scan("b.npz", sinogram=lambda s: s * np.nan),
    match="NaN")
cli("reconstruct-scan-inf-sinogram", f"{R} b.npz --out r.npz",
    scan("b.npz", sinogram=lambda s: np.where(s > 0, np.inf, s)), match="inf")
cli("reconstruct-scan-complex-sinogram", f"{R} b.npz --out r.npz", scan("b.npz", sinogram=lambda s: s * (1 + 1j)),
    match="complex")
cli("reconstruct-scan-empty-sinogram", f"{R} b.npz --out r.npz", scan("b.npz", sinogram=lambda s: s[:0], images=None),
    match="no sinogram")
cli("reconstruct-scan-1d-sinogram", f"{R} b.npz --out r.npz", scan("b.npz", sinogram=lambda s: s[0, 0]),
    match="sinogram")
cli("reconstruct-scan-text-sinogram", f"{R} b.npz --out r.npz", scan("b.npz", sinogram=np.array(["a", "b"])),
    match="sinogram")
cli("reconstruct-scan-angles-degrees", f"{R} b.npz --out r.npz", scan("b.npz", angles=lambda a: np.rad2deg(a)),
    match="degrees")
cli("reconstruct-scan-angles-empty", f"{R} b.npz --out r.npz", scan("b.npz", angles=np.zeros(0)), match="angles")
cli("reconstruct-scan-angles-2d", f"{R} b.npz --out r.npz", scan("b.npz", angles=lambda a: a.reshape(4, 10)),
    match="angles")
cli("reconstruct-scan-angles-repeated", f"{R} b.npz --out r.npz", scan("b.npz", angles=lambda a: a * 0 + 0.5),
    match="repeated")
cli("reconstruct-scan-image-size-0", f"{R} b.npz --out r.npz", scan("b.npz", image_size=np.int64(0)),
    match="image_size")
cli("reconstruct-scan-image-size-float", f"{R} b.npz --out r.npz", scan("b.npz", image_size=np.float64(32.5)),
    match="image_size")
cli("reconstruct-scan-image-size-text", f"{R} b.npz --out r.npz", scan("b.npz", image_size=np.array("big")),
    match="image_size")
cli("reconstruct-scan-image-size-huge", f"{R} b.npz --out r.npz", scan("b.npz", image_size=np.int64(10 ** 7)),
    match="needs about")
cli("reconstruct-scan-image-size-array", f"{R} b.npz --out r.npz", scan("b.npz", image_size=np.array([32, 32])),
    match="image_size")
cli("reconstruct-scan-det-spacing-negative", f"{R} b.npz --out r.npz", scan("b.npz", det_spacing=np.float64(-1)),
    match="det_spacing")
cli("reconstruct-scan-det-spacing-nan", f"{R} b.npz --out r.npz", scan("b.npz", det_spacing=np.float64(np.nan)),
    match="det_spacing")
cli("reconstruct-scan-det-count-wrong", f"{R} b.npz --out r.npz", scan("b.npz", det_count=np.int64(7)),
    match="shape")
cli("reconstruct-scan-images-nonsquare", f"{R} b.npz --out r.npz", scan("b.npz", images=lambda a: a[:, :, :20]),
    match="images")
cli("reconstruct-scan-images-count", f"{R} b.npz --out r.npz", scan("b.npz", images=lambda a: a[:1]),
    match="images")
cli("reconstruct-scan-meta-not-json", f"{R} b.npz --out r.npz", meta("b.npz", lambda m: "{not json"), match="meta")
cli("reconstruct-scan-meta-list", f"{R} b.npz --out r.npz", meta("b.npz", lambda m: [1, 2]), match="meta")
cli("reconstruct-scan-meta-noise-true", f"{R} b.npz --out r.npz", meta("b.npz", setitem("noise", True)),
    match="noise")
cli("reconstruct-scan-meta-noise-text", f"{R} b.npz --out r.npz", meta("b.npz", setitem("noise", "high")),
    match="noise")
cli("reconstruct-scan-meta-noise-negative", f"{R} b.npz --out r.npz", meta("b.npz", setitem("noise", -1)),
    match="noise")
cli("reconstruct-out-equals-input", f"{R} scan.npz --out scan.npz --overwrite", match="input")
cli("reconstruct-out-link-to-input", f"{R} scan.npz --out l.npz --overwrite", link("l.npz", "scan.npz"),
    match="input")
cli("reconstruct-out-bad-suffix", f"{R} scan.npz --out r.xyz", match="r.xyz")
cli("reconstruct-batch-slices-0", f"{R} scan.npz --batch-slices 0 --out r.npz", match="--batch-slices")
cli("reconstruct-flats-npz", f"{R} scan.npz --flats scan.npz --out r.tif", match="flat and dark fields are read from")
cli("reconstruct-out-exists", f"{R} scan.npz --out r.npz", write("r.npz", b"old"), match="exists")
cli("reconstruct-out-folder", f"{R} scan.npz --out folder.npz", lambda w: (w / "folder.npz").mkdir(), match="folder")
cli("reconstruct-out-dangling-link", f"{R} scan.npz --out l.npz", link("l.npz", "../outside/t.npz"), match="exists")
cli("reconstruct-out-readonly", f"{R} scan.npz --out /sys/ltl-r.npz", match="/sys")
cli("reconstruct-png-bad-suffix", f"{R} scan.npz --out r.npz --png p.xyz", match="p.xyz")
cli("reconstruct-png-exists", f"{R} scan.npz --out r.npz --png p.png", write("p.png", b"old"), match="exists")
cli("reconstruct-png-dangling-link", f"{R} scan.npz --out r.npz --png p.png", link("p.png", "../outside/p.png"),
    match="exists")
cli("reconstruct-png-equals-out", f"{R} scan.npz --out r.npz --png r.npz", match="r.npz")
cli("reconstruct-method-unknown", f"{R} scan.npz --method magic --out r.npz", match="valid methods")
cli("reconstruct-iters-0", f"{R} scan.npz --method sirt --iters 0 --out r.npz", match="iters")
cli("reconstruct-iters-negative", f"{R} scan.npz --method tv --iters -3 --out r.npz", match="iters")
cli("reconstruct-lam-negative", f"{R} scan.npz --method tv --lam -1 --out r.npz", match="lam")
cli("reconstruct-lam-nan", f"{R} scan.npz --method tv --lam nan --out r.npz", match="lam")
cli("reconstruct-tol-negative", f"{R} scan.npz --method tv --tol -1 --out r.npz", match="tol")
cli("reconstruct-noise-negative", f"{R} scan.npz --method tv --noise -1 --out r.npz", match="noise")
cli("reconstruct-scales-0", f"{R} scan.npz --method l1 --scales 0 --out r.npz", match="scales")
cli("reconstruct-checkpoint-missing", f"{R} scan.npz --method ltl --checkpoint none --out r.npz", match="none")
cli("reconstruct-checkpoint-edited", f"{R} scan.npz --method ltl --checkpoint m2 --out r.npz",
    model("m2", setgeom("image_size", 64)), match="changed")
cli("reconstruct-device-unknown", f"{R} scan.npz --device gpu7 --out r.npz", match="gpu7")
cli("reconstruct-device-missing-cuda", f"{R} scan.npz --device cuda:99 --out r.npz", match="cuda")
cli("reconstruct-rows-text", f"{R} scan.npz --rows a:b --out r.npz", match="rows")
cli("reconstruct-start-alone", f"{R} scan.npz --start 5 --out r.npz", match="start")
cli("reconstruct-truth-missing", f"{R} scan.npz --truth none.npz --out r.npz", match="none.npz")
cli("reconstruct-truth-shape", f"{R} scan.npz --truth t.npz --out r.npz",
    lambda w: np.savez(w / "t.npz", images=np.zeros((2, 16, 16))), match="shape")

# ---- ltl dataset make / info / merge
D = f"dataset make --count 2 {SC} {FAST} --iters 2 --tol 0"
cli("dataset-make-out-txt", f"{D} --out x.txt", match=".h5")
cli("dataset-make-out-folder", f"{D} --out folder", match=".h5")
cli("dataset-make-out-folder-h5", f"{D} --out d.h5", lambda w: (w / "d.h5").mkdir(), match="folder")
cli("dataset-make-out-parent-is-file", f"{D} --out notes.txt/d.h5", match="notes.txt")
cli("dataset-make-out-readonly", f"{D} --out /sys/ltl-d.h5", match="/sys")
cli("dataset-make-out-dangling-link", f"{D} --out l.h5", link("l.h5", "../outside/d.h5"), match="link")
cli("dataset-make-out-other-settings", f"dataset make --count 3 {SC} {FAST} --iters 2 --tol 0 --out data.h5",
    match="other settings")
cli("dataset-make-out-text-as-h5", f"{D} --out n.h5", write("n.h5", "hello"), match="n.h5")
cli("dataset-make-out-is-scan", f"{D} --out scan.npz", match=".h5")
cli("dataset-make-count-0", f"dataset make --count 0 {SC} {FAST} --out d.h5", match="empty")
cli("dataset-make-count-negative", f"dataset make --count -1 {SC} {FAST} --out d.h5", match="count")
cli("dataset-make-count-missing", f"dataset make {SC} {FAST} --out d.h5", match="--count")
cli("dataset-make-val-count-negative", f"{D} --val-count -1 --out d.h5", match="val")
cli("dataset-make-val-count-huge", f"{D} --val-count 20000 --out d.h5", match="val")
cli("dataset-make-seed-negative", f"{D} --seed -1 --out d.h5", match="seed")
cli("dataset-make-seeds-cross-into-val", f"dataset make --count 2 --seed 9999 {SC} {FAST} --out d.h5",
    match="validation")
cli("dataset-make-seeds-cross-into-test", f"dataset make --count 2 --seed 19999 {SC} {FAST} --out d.h5",
    match="test")
cli("dataset-make-seeds-overlap-val", f"dataset make --count 2 --seed 10000 --val-count 1 {SC} {FAST} --out d.h5",
    match="overlap")
cli("dataset-make-count-huge", f"dataset make --count 1000000000 {SC} {FAST} --out d.h5", match="split")
cli("dataset-make-size-0", f"dataset make --count 1 --size 0 {FAST} --out d.h5", match="size")
cli("dataset-make-size-huge", f"dataset make --count 1 --size 1000000 {FAST} --out d.h5", match="needs about")
cli("dataset-make-step-tiny", f"dataset make --count 1 --size 32 --step 1e-9 {FAST} --out d.h5", match="needs about")
cli("dataset-make-range-0", f"dataset make --count 1 --size 32 --range 0 {FAST} --out d.h5", match="range")
cli("dataset-make-step-0", f"dataset make --count 1 --size 32 --step 0 {FAST} --out d.h5", match="step")
cli("dataset-make-noise-negative", f"{D} --noise -1 --out d.h5", match="noise")
cli("dataset-make-noise-nan", f"{D} --noise nan --out d.h5", match="noise")
cli("dataset-make-photons-0", f"{D} --photons 0 --out d.h5", match="photons")
cli("dataset-make-lam-negative", f"{D} --lam -1 --out d.h5", match="lam")
cli("dataset-make-lam-nan", f"{D} --lam nan --out d.h5", match="lam")
cli("dataset-make-iters-0", f"dataset make --count 2 {SC} {FAST} --iters 0 --out d.h5", match="iters")
cli("dataset-make-tol-negative", f"dataset make --count 2 {SC} {FAST} --tol -1 --out d.h5", match="tol")
cli("dataset-make-scales-0", f"{D} --scales 0 --out d.h5", match="scales")
cli("dataset-make-scales-huge", f"{D} --scales 50 --out d.h5", match="scales")
cli("dataset-make-chunk-0", f"{D} --chunk 0 --out d.h5", match="chunk")
cli("dataset-make-device-unknown", f"dataset make --count 2 {SC} --device gpu7 --out d.h5", match="gpu7")
cli("dataset-make-device-missing-cuda", f"dataset make --count 2 {SC} --device cuda:99 --out d.h5", match="cuda")
cli("dataset-make-phantom-unknown", f"{D} --phantom nosuch --out d.h5", match="nosuch")
cli("dataset-make-phantom-mix-unknown", f"{D} --phantom mix:bogus=1 --out d.h5", match="bogus")
cli("dataset-make-phantom-crops-missing", f"{D} --phantom crops:missing --out d.h5", match="missing")
cli("dataset-info-missing", "dataset info none.h5", match="none.h5")
cli("dataset-info-folder", "dataset info folder", match="folder")
cli("dataset-info-text", "dataset info notes.txt", match="notes.txt")
cli("dataset-info-empty-file", "dataset info e.h5", write("e.h5", b""), match="e.h5")
cli("dataset-info-truncated", "dataset info t.h5", truncated("data.h5", "t.h5"), match="t.h5")
cli("dataset-info-scan-file", "dataset info scan.npz", match="scan.npz")
cli("dataset-info-dangling-link", "dataset info l.h5", link("l.h5", "../outside/none.h5"), match="l.h5")
cli("dataset-info-no-settings", "dataset info b.h5", h5("b.h5", lambda f: f.attrs.__delitem__("settings")),
    match="settings")
cli("dataset-info-settings-not-json", "dataset info b.h5", settings_attr("b.h5", lambda s: "{oops"), match="JSON")
cli("dataset-info-settings-list", "dataset info b.h5", settings_attr("b.h5", lambda s: [1, 2]), match="b.h5")
cli("dataset-info-settings-noise-true", "dataset info b.h5", settings_attr("b.h5", setitem("noise", True)),
    match="noise")
cli("dataset-info-settings-noise-text", "dataset info b.h5", settings_attr("b.h5", setitem("noise", "x")),
    match="noise")
cli("dataset-info-settings-geometry-number", "dataset info b.h5", settings_attr("b.h5", setitem("geometry", 5)),
    match="geometry")
cli("dataset-info-settings-geometry-size-0", "dataset info b.h5",
    settings_attr("b.h5", lambda s: (s["geometry"].__setitem__("image_size", 0), s)[1]), match="image_size")
cli("dataset-info-settings-format", "dataset info b.h5", settings_attr("b.h5", setitem("format", "other")),
    match="format")
cli("dataset-info-missing-array", "dataset info b.h5", h5("b.h5", lambda f: f.__delitem__("f_vis")), match="f_vis")
cli("dataset-merge-missing", "dataset merge none.h5 --world-size 2", match="none")
cli("dataset-merge-world-size-0", "dataset merge d.h5 --world-size 0", match="world")
cli("dataset-merge-world-size-negative", "dataset merge d.h5 --world-size -2", match="world")

# ---- ltl train
T = f"train --data data.h5 --epochs 1 --batch-size 2 --width 4 --depth 2 {FAST}"
cli("train-data-missing", "train --data none.h5 --out run --device cpu", match="none.h5")
cli("train-data-folder", "train --data folder --out run --device cpu", match="folder")
cli("train-data-text", "train --data notes.txt --out run --device cpu", match="notes.txt")
cli("train-data-truncated", "train --data t.h5 --out run --device cpu", truncated("data.h5", "t.h5"), match="t.h5")
cli("train-data-scan", "train --data scan.npz --out run --device cpu", match="scan.npz")
cli("train-data-missing-option", "train --out run --device cpu", match="--data")
cli("train-val-data-missing", f"{T} --val-data none.h5 --out run", match="none.h5")
cli("train-epochs-0", f"{T} --epochs 0 --out run", match="epochs")
cli("train-epochs-negative", f"{T} --epochs -1 --out run", match="epochs")
cli("train-batch-size-0", f"{T} --batch-size 0 --out run", match="batch")
cli("train-lr-negative", f"{T} --lr -1 --out run", match="lr")
cli("train-lr-nan", f"{T} --lr nan --out run", match="lr")
cli("train-width-0", f"{T} --width 0 --out run", match="width")
cli("train-width-huge", f"{T} --width 1000000 --out run", match="needs about")
cli("train-depth-negative", f"{T} --depth -1 --out run", match="depth")
cli("train-patch-0", f"{T} --patch 0 --out run", match="patch")
cli("train-epochs-text", f"{T} --epochs many --out run", match="invalid int")
cli("train-lr-inf", f"{T} --lr inf --out run", match="lr")
cli("train-schedule-unknown", f"{T} --schedule sometimes --out run", match="invalid choice")
cli("train-val-data-text", f"{T} --val-data notes.txt --out run", match="notes.txt")
cli("train-out-dangling-link", f"{T} --out l", link("l", "../outside/none"), match="link")
cli("train-grad-clip-negative", f"{T} --grad-clip -1 --out run", match="grad")
cli("train-num-workers-negative", f"{T} --num-workers -1 --out run", match="workers")
cli("train-seed-negative", f"{T} --seed -1 --out run", match="seed")
cli("train-model-unknown", f"{T} --model magic --out run", match="invalid choice")
cli("train-device-unknown", "train --data data.h5 --device gpu7 --out run", match="gpu7")
cli("train-out-is-file", f"{T} --out notes.txt", match="notes.txt")
cli("train-out-is-data", f"{T} --out data.h5", match="data.h5")
cli("train-out-readonly", f"{T} --out /sys/ltl-run", match="/sys")
cli("train-resume-empty-folder", "train --resume --out folder --device cpu", match="--data")
cli("train-resume-broken-config", "train --resume --out r --device cpu", run_dir("r", "{broken"), match="config")
cli("train-resume-config-wrong-type", "train --resume --out r --device cpu",
    run_dir("r", json.dumps({"data": "data.h5", "out": "r", "epochs": "many"})), match="epochs")

# ---- ltl evaluate
E = f"evaluate --data scan.npz --methods fbp {FAST}"
cli("evaluate-data-missing", "evaluate --data none.npz --methods fbp --out rep", match="none.npz")
cli("evaluate-data-folder", "evaluate --data folder --methods fbp --out rep", match="folder")
cli("evaluate-data-text", "evaluate --data notes.txt --methods fbp --out rep", match="notes.txt")
cli("evaluate-data-truncated-npz", "evaluate --data t.npz --methods fbp --out rep", truncated("scan.npz", "t.npz"),
    match="t.npz")
cli("evaluate-data-truncated-h5", "evaluate --data t.h5 --methods fbp --out rep", truncated("data.h5", "t.h5"),
    match="t.h5")
cli("evaluate-data-empty-sinogram", "evaluate --data b.npz --methods fbp --out rep",
    scan("b.npz", sinogram=lambda s: s[:0], images=None), match="no sinogram")
cli("evaluate-data-complex", "evaluate --data b.npz --methods fbp --out rep",
    scan("b.npz", sinogram=lambda s: s * (1 + 1j)), match="complex")
cli("evaluate-data-split-empty", "evaluate --data d.h5 --split val --methods fbp --out rep",
    lambda w: None, match="d.h5")
cli("evaluate-methods-unknown", f"{E} --methods fbp,magic --out rep", match="magic")
cli("evaluate-methods-empty", f"evaluate --data scan.npz --methods , {FAST} --out rep", match="methods")
cli("evaluate-limit-0", f"{E} --limit 0 --out rep", match="limit")
cli("evaluate-batch-size-0", f"{E} --batch-size 0 --out rep", match="batch")
cli("evaluate-montage-negative", f"{E} --montage -1 --out rep", match="montage")
cli("evaluate-iters-0", f"{E} --iters 0 --out rep", match="iters")
cli("evaluate-count-0", f"evaluate --phantom ellipses --count 0 {SC} --methods fbp {FAST} --out rep", match="count")
cli("evaluate-seed-negative", f"evaluate --phantom ellipses --seed -1 {SC} --methods fbp {FAST} --out rep",
    match="seed")
cli("evaluate-noise-negative", f"evaluate --phantom ellipses --noise -1 {SC} --methods fbp {FAST} --out rep",
    match="noise")
cli("evaluate-photons-0", f"evaluate --phantom ellipses --photons 0 {SC} --methods fbp {FAST} --out rep",
    match="photons")
cli("evaluate-count-huge", f"evaluate --phantom ellipses --count 1000000000 {SC} --methods fbp {FAST} --out rep",
    match="needs about")
cli("evaluate-step-tiny", f"evaluate --phantom ellipses --size 32 --step 1e-9 --methods fbp {FAST} --out rep",
    match="needs about")
cli("evaluate-center-nan", f"evaluate --phantom ellipses --size 32 --center nan --methods fbp {FAST} --out rep",
    match="center")
cli("evaluate-size-0", f"evaluate --phantom ellipses --size 0 --methods fbp {FAST} --out rep", match="size")
cli("evaluate-size-huge", f"evaluate --phantom ellipses --size 1000000 --methods fbp {FAST} --out rep",
    match="needs about")
cli("evaluate-range-0", f"evaluate --phantom ellipses --size 32 --range 0 --methods fbp {FAST} --out rep",
    match="range")
cli("evaluate-phantom-unknown", f"evaluate --phantom nosuch {SC} --methods fbp {FAST} --out rep", match="nosuch")
cli("evaluate-phantom-mix-unknown", f"evaluate --phantom mix:bogus=1 {SC} --methods fbp {FAST} --out rep",
    match="bogus")
cli("evaluate-checkpoint-missing", f"{E} --methods ltl --checkpoint none --out rep", match="none")
cli("evaluate-checkpoint-edited", f"{E} --methods ltl --checkpoint m2 --out rep",
    model("m2", setgeom("image_size", 64)), match="changed")
cli("evaluate-checkpoint-truncated-weights", f"{E} --methods ltl --checkpoint m2 --out rep",
    model("m2", weights=lambda b: b[: len(b) // 2]), match="model.pt")
cli("evaluate-checkpoint-no-json", f"{E} --methods ltl --checkpoint m2 --out rep", model("m2", drop="model.json"),
    match="model.json")
cli("evaluate-checkpoint-wrong-kind", f"{E} --methods fbp,postproc-fbp --checkpoint-postproc-fbp model --out rep",
    match="postproc")
cli("evaluate-checkpoint-other-geometry", f"evaluate --data b.npz --methods ltl --checkpoint model {FAST} --out rep",
    lambda w: __import__("ltl.data", fromlist=["save_scan"]).save_scan(
        w / "b.npz", __import__("ltl.data", fromlist=["simulate_phantoms"]).simulate_phantoms(
            "ellipses", __import__("ltl").Geometry.limited_angle(32, angular_range_deg=150, step_deg=3), seed=1)),
    match="trained for")
cli("evaluate-device-unknown", "evaluate --data scan.npz --methods fbp --device gpu7 --out rep", match="gpu7")
cli("evaluate-out-is-file", f"{E} --out notes.txt", match="notes.txt")
cli("evaluate-out-is-input", f"{E} --out scan.npz", match="scan.npz")
cli("evaluate-out-has-report", f"{E} --out rep", report_dir("rep"), match="already holds")
cli("evaluate-out-readonly", f"{E} --out /sys/ltl-rep", match="/sys")
cli("evaluate-out-new-folder-bad-data", "evaluate --data none.npz --methods fbp --out new/rep", match="none.npz")

# ---- ltl explain
X = f"explain scan.npz --checkpoint model --steps 2 --samples 1 --points 3 {FAST}"
cli("explain-scan-missing", f"explain none.npz --checkpoint model {FAST} --out ex", match="none.npz")
cli("explain-scan-json", f"explain s.npz --checkpoint model {FAST} --out ex", write("s.npz", "[1,2]"), match="JSON")
cli("explain-scan-truncated", f"explain t.npz --checkpoint model {FAST} --out ex", truncated("scan.npz", "t.npz"),
    match="t.npz")
cli("explain-scan-folder", f"explain folder --checkpoint model {FAST} --out ex", match="folder")
cli("explain-scan-complex", f"explain b.npz --checkpoint model {FAST} --out ex",
    scan("b.npz", sinogram=lambda s: s * (1 + 1j)), match="complex")
cli("explain-index-out-of-range", f"{X} --index 5 --out ex", match="index")
cli("explain-index-negative", f"{X} --index -1 --out ex", match="index")
cli("explain-roi-three-numbers", f"{X} --roi 1,2,3 --out ex", match="roi")
cli("explain-roi-outside", f"{X} --roi 0,0,64,64 --out ex", match="does not lie inside")
cli("explain-roi-empty", f"{X} --roi 8,8,8,8 --out ex", match="does not lie inside")
cli("explain-steps-0", f"{X} --steps 0 --out ex", match="steps")
cli("explain-samples-0", f"{X} --samples 0 --out ex", match="samples")
cli("explain-lam-negative", f"{X} --lam -1 --out ex", match="lam")
cli("explain-lr-nan", f"{X} --lr nan --out ex", match="lr")
cli("explain-points-1", f"{X} --points 1 --out ex", match="points")
cli("explain-seed-negative", f"{X} --seed -1 --out ex", match="seed")
cli("explain-checkpoint-missing", f"explain scan.npz --checkpoint none {FAST} --out ex", match="none")
cli("explain-checkpoint-edited", f"explain scan.npz --checkpoint m2 {FAST} --out ex",
    model("m2", setgeom("image_size", 64)), match="changed")
cli("explain-checkpoint-json-garbage", f"explain scan.npz --checkpoint m2 {FAST} --out ex",
    both(model("m2"), write("m2/model.json", "{garbage")), match="JSON")
cli("explain-checkpoint-postproc", f"explain scan.npz --checkpoint pp {FAST} --out ex",
    lambda w: __import__("ltl.models", fromlist=["PostProc"]).PostProc(
        __import__("ltl").Geometry.limited_angle(32, angular_range_deg=120, step_deg=3), source="fbp", width=4,
        depth=2).save(w / "pp"), match="postproc")
cli("explain-checkpoint-other-geometry", f"explain b.npz --checkpoint model {FAST} --out ex",
    lambda w: __import__("ltl.data", fromlist=["save_scan"]).save_scan(
        w / "b.npz", __import__("ltl.data", fromlist=["simulate_phantoms"]).simulate_phantoms(
            "ellipses", __import__("ltl").Geometry.limited_angle(32, angular_range_deg=150, step_deg=3), seed=1)),
    match="trained for")
cli("explain-device-unknown", "explain scan.npz --checkpoint model --device gpu7 --out ex", match="gpu7")
cli("explain-out-is-file", f"{X} --out notes.txt", match="notes.txt")
cli("explain-out-has-outputs", f"{X} --out ex", explain_dir("ex"), match="already holds")
cli("explain-out-readonly", f"{X} --out /sys/ltl-ex", match="/sys")
cli("explain-domain-unknown", f"{X} --domain magic --out ex", match="invalid choice")

# ---- ltl demo
M = f"demo --size 32 {FAST}"
cli("demo-size-0", f"demo --size 0 {FAST} --out dm", match="size")
cli("demo-size-1", f"demo --size 1 {FAST} --out dm", match="size")
cli("demo-size-huge", f"demo --size 1000000 {FAST} --out dm", match="needs about")
cli("demo-range-0", f"{M} --range 0 --out dm", match="range")
cli("demo-range-too-big", f"{M} --range 500 --out dm", match="range")
cli("demo-noise-negative", f"{M} --noise -1 --out dm", match="noise")
cli("demo-noise-nan", f"{M} --noise nan --out dm", match="noise")
cli("demo-seed-negative", f"{M} --seed -1 --out dm", match="seed")
cli("demo-phantom-seed-negative", f"{M} --phantom-seed -1 --out dm", match="seed")
cli("demo-checkpoint-missing", f"{M} --checkpoint none --out dm", match="none")
cli("demo-checkpoint-edited", f"{M} --checkpoint m2 --range 120 --out dm", model("m2", setgeom("image_size", 64)),
    match="changed")
cli("demo-checkpoint-other-geometry", f"demo --size 48 {FAST} --checkpoint model --out dm", match="demo scan")
cli("demo-device-unknown", "demo --size 32 --device gpu7 --out dm", match="gpu7")
cli("demo-out-is-file", f"{M} --out notes.txt", match="notes.txt")
cli("demo-out-has-outputs", f"{M} --out dm", demo_dir("dm"), match="already holds")
cli("demo-out-readonly", f"{M} --out /sys/ltl-demo", match="/sys")


@pytest.mark.parametrize("argv, setup, match", CLI)
def test_command_refuses(work, capsys, argv, setup, match):
    w = work / "w"
    if setup is not None:
        setup(w)
    before = snapshot(work)
    capsys.readouterr()
    try:
        status = ltl.cli.main(argv)
    except SystemExit as exc:  # argparse
        status = exc.code
    except BaseException:  # a traceback: what this suite exists to catch
        pytest.fail(f"ltl {' '.join(argv)} raised:\n{traceback.format_exc()}")
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert status == 2, f"exit status {status}, stderr: {err}"
    assert "Traceback" not in err, err
    assert lines and lines[-1].startswith("ltl: error: "), err
    if match is not None:
        assert match.lower() in lines[-1].lower(), lines[-1]
    assert diff(before, snapshot(work)) == []


# ---------------------------------------------------------------------------------------- Python
PY: list = []


def py(case_id: str, call, exc, match: str | None = None, setup=None, xfail: str | None = None):
    """One Python case: ``call(w)`` raises ``exc`` whose message contains ``match``."""
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    PY.append(pytest.param(call, exc, match, setup, id=case_id, marks=marks))


def _load_scan(name):
    def call(w):
        from ltl.data import load_scan

        return load_scan(w / name)
    return call


def _load_rec(name):
    def call(w):
        from ltl.data import load_reconstruction

        return load_reconstruction(w / name)
    return call


def _lti(name):
    def call(w):
        from ltl.models import LtI

        return LtI.load(w / name)
    return call


def _load_model(name):
    def call(w):
        from ltl.models import load_model

        return load_model(w / name)
    return call


def _dataset(name, **kw):
    def call(w):
        from ltl.data import LtIDataset

        return LtIDataset(w / name, **kw)
    return call


def _info(name):
    def call(w):
        from ltl.data import dataset_info

        return dataset_info(w / name)
    return call


def _read_images(name):
    def call(w):
        from ltl.data.io import read_images

        return read_images(w / name)
    return call


def _read_projections(name, **kw):
    def call(w):
        from ltl.data.io import read_projections

        return read_projections(w / name, **kw)
    return call


def _saved_config(name):
    def call(w):
        from ltl.training.state import saved_config

        return saved_config(w / name)
    return call


def _simulate(phantom, **kw):
    def call(w):
        from ltl import Geometry
        from ltl.data import simulate_phantoms

        return simulate_phantoms(phantom, Geometry.limited_angle(32, angular_range_deg=120, step_deg=3), **kw)
    return call


def _add_noise(**kw):
    def call(w):
        import torch

        from ltl.data import add_noise

        return add_noise(torch.zeros(1, 4, 4), **kw)
    return call


def _save_scan(name, **kw):
    def call(w):
        from ltl.data import load_scan, save_scan

        return save_scan(w / name, load_scan(w / "scan.npz"), **kw)
    return call


# load_scan
py("load_scan-missing", _load_scan("none.npz"), FileNotFoundError, "does not exist")
py("load_scan-folder", _load_scan("folder"), ValueError, "folder")
py("load_scan-json", _load_scan("s.npz"), ValueError, "JSON", write("s.npz", '{"a": 1}'))
py("load_scan-truncated", _load_scan("t.npz"), ValueError, "t.npz", truncated("scan.npz", "t.npz"))
py("load_scan-empty-file", _load_scan("e.npz"), ValueError, "e.npz", write("e.npz", b""))
py("load_scan-dangling-link", _load_scan("l.npz"), FileNotFoundError, "l.npz", link("l.npz", "../outside/x.npz"))
py("load_scan-complex", _load_scan("b.npz"), ValueError, "complex", scan("b.npz", sinogram=lambda s: s * (1 + 1j)))
py("load_scan-complex-images", _load_scan("b.npz"), ValueError, "complex",
   scan("b.npz", images=lambda s: s * (1 + 1j)))
py("load_scan-empty-sinogram", _load_scan("b.npz"), ValueError, "no sinogram",
   scan("b.npz", sinogram=lambda s: s[:0], images=None))
py("load_scan-degrees", _load_scan("b.npz"), ValueError, "degrees", scan("b.npz", angles=np.rad2deg))
py("load_scan-image-size-huge", _load_scan("b.npz"), ValueError, "needs about",
   scan("b.npz", image_size=np.int64(10 ** 7)))
py("load_scan-image-size-bool", _load_scan("b.npz"), ValueError, "image_size", scan("b.npz", image_size=np.bool_(True)))
py("load_scan-meta-list", _load_scan("b.npz"), ValueError, "meta", meta("b.npz", lambda m: [1]))
py("load_scan-meta-not-json", _load_scan("b.npz"), ValueError, "meta", meta("b.npz", lambda m: "{x"))
py("load_scan-meta-noise-true", _load_scan("b.npz"), ValueError, "noise", meta("b.npz", setitem("noise", True)))
py("load_scan-meta-photons-text", _load_scan("b.npz"), ValueError, "photons",
   meta("b.npz", setitem("photons", "many")))
py("load_scan-meta-array", _load_scan("b.npz"), ValueError, "meta", scan("b.npz", meta=np.array(["{}", "{}"])))
py("load_scan-images-nonsquare", _load_scan("b.npz"), ValueError, "images", scan("b.npz", images=lambda a: a[:, :20]))
py("load_scan-object-array", _load_scan("b.npz"), ValueError, "b.npz",
   lambda w: np.savez(w / "b.npz", sinogram=np.array([None, 1], dtype=object), angles=[0.0, 0.1], det_spacing=1.0,
                      image_size=8))
# load_reconstruction
py("load_reconstruction-missing", _load_rec("none.npz"), FileNotFoundError, "does not exist")
py("load_reconstruction-scan-file", _load_rec("scan.npz"), ValueError, "reconstruction")
py("load_reconstruction-no-geometry", _load_rec("r.npz"), ValueError, "image_size",
   lambda w: np.savez(w / "r.npz", reconstruction=np.zeros((1, 8, 8))))
py("load_reconstruction-truncated", _load_rec("t.npz"), ValueError, "t.npz", truncated("scan.npz", "t.npz"))
py("load_reconstruction-meta-garbage", _load_rec("r.npz"), ValueError, "meta",
   lambda w: np.savez(w / "r.npz", reconstruction=np.zeros((1, 8, 8)), angles=[0.0, 0.1], det_spacing=1.0,
                      image_size=8, det_count=12, meta=np.array("{x")))
py("load_reconstruction-shape", _load_rec("r.npz"), ValueError, "shape",
   lambda w: np.savez(w / "r.npz", reconstruction=np.zeros((1, 5, 8)), angles=[0.0, 0.1], det_spacing=1.0,
                      image_size=8, det_count=12))
# models
py("LtI.load-missing", _lti("none"), FileNotFoundError, "not found")
py("LtI.load-file", _lti("notes.txt"), FileNotFoundError, "notes.txt")
py("LtI.load-no-weights", _lti("m2"), FileNotFoundError, "model.pt", model("m2", drop="model.pt"))
py("LtI.load-json-garbage", _lti("m2"), ValueError, "JSON", both(model("m2"), write("m2/model.json", "{x")))
py("LtI.load-json-list", _lti("m2"), ValueError, "metadata", both(model("m2"), write("m2/model.json", "[]")))
py("LtI.load-edited-geometry", _lti("m2"), ValueError, "changed", model("m2", setgeom("angles", [0.0, 0.1])))
py("LtI.load-edited-solver", _lti("m2"), ValueError, "changed",
   model("m2", lambda m: m["solver"].__setitem__("iters", 10 ** 9)))
py("LtI.load-truncated-weights", _lti("m2"), ValueError, "model.pt", model("m2", weights=lambda b: b[:100]))
py("LtI.load-foreign-weights", _lti("m2"), ValueError, "model.pt", model("m2", weights=lambda b: b"not torch"))
py("LtI.load-rehashed-width-huge", _lti("m2"), ValueError, "needs about",
   model("m2", lambda m: m["model"].__setitem__("width", 10 ** 6), rehash=True))
py("LtI.load-rehashed-width-text", _lti("m2"), ValueError, "width",
   model("m2", lambda m: m["model"].__setitem__("width", "wide"), rehash=True))
py("LtI.load-rehashed-solver-iters-bool", _lti("m2"), ValueError, "iters",
   model("m2", lambda m: m["solver"].__setitem__("iters", True), rehash=True))
py("LtI.load-rehashed-geometry-number", _lti("m2"), ValueError, "malformed",
   model("m2", lambda m: m.__setitem__("geometry", 5), rehash=True))
py("load_model-missing", _load_model("none"), FileNotFoundError, "not found")
py("load_model-rehashed-kind", _load_model("m2"), ValueError, "kind",
   model("m2", lambda m: m.__setitem__("kind", "magic"), rehash=True))
# datasets
py("LtIDataset-missing", _dataset("none.h5"), FileNotFoundError, "none.h5")
py("LtIDataset-folder", _dataset("folder"), ValueError, "folder")
py("LtIDataset-text", _dataset("notes.h5"), ValueError, "notes.h5", write("notes.h5", "text"))
py("LtIDataset-truncated", _dataset("t.h5"), ValueError, "t.h5", truncated("data.h5", "t.h5"))
py("LtIDataset-bad-split", _dataset("data.h5", split="training"), ValueError, "split")
py("LtIDataset-bad-keys", _dataset("data.h5", keys=("phantom",)), ValueError, "keys")
py("LtIDataset-settings-not-json", _dataset("b.h5"), ValueError, "JSON", settings_attr("b.h5", lambda s: "{x"))
py("LtIDataset-settings-geometry-text", _dataset("b.h5"), ValueError, "geometry",
   settings_attr("b.h5", setitem("geometry", "round")))
py("dataset_info-missing", _info("none.h5"), FileNotFoundError, "none.h5")
py("dataset_info-settings-list", _info("b.h5"), ValueError, "b.h5", settings_attr("b.h5", lambda s: [1]))
py("dataset_info-missing-seed", _info("b.h5"), ValueError, "seed", h5("b.h5", lambda f: f.__delitem__("seed")))
# io readers
py("read_images-missing", _read_images("none.tif"), FileNotFoundError, "none.tif")
py("read_images-text", _read_images("notes.txt"), ValueError, "notes.txt")
py("read_images-npz-without-images", _read_images("b.npz"), ValueError, "images",
   lambda w: np.savez(w / "b.npz", other=np.zeros(3)))
py("read_images-nonsquare", _read_images("b.npz"), ValueError, "square",
   lambda w: np.savez(w / "b.npz", images=np.zeros((2, 8, 5))))
py("read_projections-missing", _read_projections("none.tif"), FileNotFoundError, "none.tif")
py("read_projections-text", _read_projections("notes.txt"), ValueError, "notes.txt")
py("read_projections-bad-layout", _read_projections("scan.npz", layout="sideways"), ValueError, "layout")
# training
py("saved_config-broken-json", _saved_config("r"), ValueError, "config", run_dir("r", "{x"))
py("saved_config-wrong-type", _saved_config("r"), ValueError, "epochs",
   run_dir("r", json.dumps({"data": "data.h5", "out": "r", "epochs": "many"})))
py("saved_config-list", _saved_config("r"), ValueError, "config", run_dir("r", "[1, 2]"))
# simulation and writing
py("simulate_phantoms-unknown", _simulate("nosuch"), ValueError, "unknown phantom")
py("simulate_phantoms-count-0", _simulate("ellipses", count=0), ValueError, "count")
py("simulate_phantoms-count-bool", _simulate("ellipses", count=True), TypeError, "count")
py("simulate_phantoms-noise-bool", _simulate("ellipses", noise=True), TypeError, "noise")
py("simulate_phantoms-seed-negative", _simulate("ellipses", seed=-1), ValueError, "seed")
py("simulate_phantoms-nonsquare", _simulate("wide.npy"), ValueError, "square", npy("wide.npy", np.ones((8, 12))))
py("simulate_phantoms-missing-image", _simulate("none.png"), FileNotFoundError, "none.png")
py("add_noise-photons-bool", _add_noise(photons=True), TypeError, "photons")
py("add_noise-noise-text", _add_noise(noise="0.1"), TypeError, "noise")
py("save_scan-exists", _save_scan("scan.npz"), FileExistsError, "exists")
py("save_scan-bad-suffix", _save_scan("s.txt"), ValueError, ".npz")
py("save_scan-dangling-link", _save_scan("l.npz"), FileExistsError, "exists", link("l.npz", "../outside/t.npz"))


@pytest.mark.parametrize("call, exc, match, setup", PY)
def test_python_refuses(work, call, exc, match, setup):
    w = work / "w"
    if setup is not None:
        setup(w)
    before = snapshot(work)
    with pytest.raises(exc) as info:
        call(w)
    if match is not None:
        assert match.lower() in str(info.value).lower(), str(info.value)
    assert diff(before, snapshot(work)) == []


def test_overwrite_replaces_a_link_not_its_target(work, capsys):
    """``--overwrite`` onto a link replaces the link by the new file; its target (outside) is untouched."""
    w = work / "w"
    target = work / "outside" / "target.npz"
    target.write_bytes(b"keep me")
    os.symlink("../outside/target.npz", w / "link.npz")
    assert ltl.cli.main(f"{S} --out link.npz --overwrite".split()) == 0
    assert not (w / "link.npz").is_symlink() and (w / "link.npz").stat().st_size > 1000
    assert target.read_bytes() == b"keep me"


def test_case_count():
    """The suite's size, as the hardening issue asks (at least 150 distinct cases)."""
    ids = [p.id for p in CLI + PY]
    assert len(ids) == len(set(ids)) and len(ids) >= 150


# ---------------------------------------------------------------------------------------- broken pipe
@pytest.mark.parametrize("command", [["info"], ["dataset", "info", "DATA"], ["dataset", "info", "DATA", "--json"]])
def test_broken_pipe_is_quiet(base, command):
    """``ltl ... | head -1``: the reader goes away; ltl exits without a traceback."""
    argv = [str(base / "w" / "data.h5") if a == "DATA" else a for a in command]
    code = "import sys, ltl.cli; sys.exit(ltl.cli.main(sys.argv[1:]))"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r, w = os.pipe()
    p = subprocess.Popen([sys.executable, "-c", code, *argv], stdout=w, stderr=subprocess.PIPE, env=env)
    os.close(w)
    os.close(r)  # the reader is gone before ltl writes a byte: every write fails with EPIPE
    _, err = p.communicate(timeout=120)
    err = err.decode()
    assert "Traceback" not in err and "Error" not in err and "Exception" not in err, err
    assert p.returncode in (0, 141, -13), (p.returncode, err)
