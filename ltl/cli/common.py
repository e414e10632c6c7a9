"""What the ``ltl`` commands share: the user-error type, the scan options, device and output checks.

Every command checks its arguments and its outputs here before it computes or writes anything:
:func:`check_out` (an output file) and :func:`check_out_dir` (an output folder) refuse a folder
where a file belongs, an existing file or link without ``--overwrite``, an output that is one of
the inputs, a bad suffix and a place that cannot be written; :func:`check_scan_options` refuses
impossible scan options and warns (one line on stderr) about legal but probably wrong ones.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import tempfile
from pathlib import Path

__all__ = ["UsageError", "add_scan_options", "geometry_from_args", "check_out", "check_out_dir", "check_writable",
           "check_scan_options", "check_seed", "removed_on_failure", "check_noise", "device_of", "geometry", "input_paths"]

log = logging.getLogger("ltl.cli")

#: Above this relative noise level η a warning is printed (σ = η·max|y|: half the peak is rarely meant).
NOISE_WARNING = 0.5
#: Below this number of photons per ray a warning is printed (most rays then count a handful of photons).
PHOTONS_WARNING = 10.0


class UsageError(Exception):
    """An error the user can fix; printed in one line, exit status 2."""


def geometry(size: int, range_deg: float, step: float, center: float = 0.0):
    """The limited-angle :class:`~ltl.Geometry` of the command-line options (a sinogram that cannot
    fit in memory, ``--step 1e-9``, is refused before its angles are made)."""
    from ..geometry import Geometry
    from ..runtime.memory import check_fits

    if size < 2:
        raise UsageError(f"--size must be an integer >= 2 (pixels), got {size}")
    if math.isfinite(range_deg) and math.isfinite(step) and step > 0 and range_deg > 0:
        views = range_deg / step
        check_fits(4.0 * 2 * views * (math.sqrt(2.0) * size + 1), f"a sinogram of {views:.3g} views",
                   hint="use a larger --step")
    return Geometry.limited_angle(size, angular_range_deg=range_deg, step_deg=step, center_deg=center)


def add_scan_options(s: argparse.ArgumentParser) -> None:
    """The options of a simulated limited-angle scan: --size --range --step --center --noise --photons."""
    s.add_argument("--size", type=int, default=256, help="image size N in pixels [256]")
    s.add_argument("--range", type=float, default=120.0, help="angular range in degrees [120]")
    s.add_argument("--step", type=float, default=1.0, help="angular step in degrees [1]")
    s.add_argument("--center", type=float, default=0.0, help="centre of the angular range in degrees [0]")
    s.add_argument("--noise", type=float, default=0.01, help="relative Gaussian noise η, σ = η·max|y| [0.01]")
    s.add_argument("--photons", type=float, default=None, help="Poisson noise with I0 photons per ray [off]")


def geometry_from_args(args):
    """The Geometry of :func:`add_scan_options`' arguments."""
    return geometry(args.size, args.range, args.step, args.center)


def check_writable(path: Path, option: str = "--out") -> None:
    """Refuse an output ``path`` whose folder cannot be made or written: the nearest existing
    folder above it must be a folder (not a file) in which a file can be created.

    The check creates an unnamed temporary file there (``O_TMPFILE`` where the system has it) and
    closes it at once, so nothing is left behind; ``os.access`` is not enough (it says yes to root
    on file systems that refuse writes).
    """
    p = Path(path).absolute()
    parent = p.parent
    while not parent.exists() and not parent.is_symlink() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: {parent} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write in {parent} ({exc.strerror or exc})") from None


def input_paths(*values) -> list[str]:
    """The values that name existing files or folders (``crops:PATH`` and ``file.h5:/key`` included),
    for :func:`check_out`'s ``inputs``."""
    out = []
    for v in values:
        if v is None:
            continue
        v = str(v)
        if v.startswith("crops:"):
            v = v[len("crops:"):]
        if Path(v).exists() or Path(v).is_symlink():
            out.append(v)
        elif ":" in v and Path(v.rsplit(":", 1)[0]).exists():
            out.append(v.rsplit(":", 1)[0])
    return out


def check_out(path: Path, overwrite: bool, *, inputs=(), suffixes=None, option: str = "--out") -> None:
    """Refuse an output file before anything is computed.

    Refused: a suffix not in ``suffixes`` (when given); a folder; an existing file or link
    (dangling or not) unless ``overwrite``; one of ``inputs`` (even with ``overwrite``); a
    place that cannot be written (:func:`check_writable`).
    """
    from ..runtime.files import refuse_input_as_output

    p = Path(path)
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {p.name}: ltl writes {', '.join(sorted(suffixes))} here; give a file name "
                         f"ending in {' or '.join(sorted(suffixes))}")
    if p.is_dir() and not p.is_symlink():
        raise UsageError(f"{option} {p} is a folder; give a file name")
    try:
        refuse_input_as_output(p, list(inputs), option=option)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if p.is_symlink() and not overwrite:
        raise UsageError(f"{option} {p} exists (a link to {os.readlink(p)}); choose another {option} or pass "
                         "--overwrite (which replaces the link, not its target)")
    if p.exists() and not overwrite:
        raise UsageError(f"{p} exists; choose another {option} or pass --overwrite")
    check_writable(p, option)


def check_out_dir(path: Path, overwrite: bool, names=(), *, inputs=(), option: str = "--out") -> bool:
    """Refuse an output folder before anything is computed; returns whether it must be created.

    Refused: a file (or a link to one) at ``path``; a folder that holds any of ``names`` unless
    ``overwrite``; a folder that is one of ``inputs`` or holds one of them among ``names``; a place
    that cannot be written. The folder is not created here.
    """
    from ..runtime.files import make_output_dir, same_file

    p = Path(path)
    if p.is_symlink() and not p.exists():
        raise UsageError(f"{option} {p} is a link to {os.readlink(p)}, which does not exist; give a folder")
    try:
        _, created = make_output_dir(p, overwrite=overwrite, names=names)
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None
    for inp in inputs:
        if inp is not None and any(same_file(p / n, inp) for n in names if (p / n).exists()):
            raise UsageError(f"{option} {p} would replace the input {inp}; choose another {option}")
    check_writable(p / "x", option)
    return created


@contextlib.contextmanager
def removed_on_failure(folder: Path):
    """Undo a command's outputs in ``folder`` if the block raises: the block appends each file it
    has written to the list this yields; on failure those files are deleted, then ``folder`` and
    the folders above it that the block created, when they are empty. A folder that existed is
    kept, and so is any file another process put there meanwhile."""
    from ..runtime.files import missing_folders, remove_empty

    made = missing_folders(folder)
    written: list[Path] = []
    try:
        yield written
    except BaseException:
        for p in written:
            Path(p).unlink(missing_ok=True)
        remove_empty(made)
        raise


def check_seed(value: int, option: str = "--seed") -> None:
    """Seeds are integers >= 0 (``numpy.random.default_rng`` refuses negative ones)."""
    if value is not None and value < 0:
        raise UsageError(f"{option} must be an integer >= 0, got {value}")


def check_noise(noise: float | None, photons: float | None, *, noise_option: str = "--noise",
                photons_option: str = "--photons") -> None:
    """Refuse a noise level or photon count that cannot be simulated; warn about suspicious ones."""
    if noise is not None:
        if not (math.isfinite(noise) and noise >= 0):
            raise UsageError(f"{noise_option} must be a finite number >= 0 (relative noise η), got {noise!r}")
        if noise > NOISE_WARNING:
            log.warning(f"{noise_option} {noise:g} is a relative noise level η (σ = η·max|y|): above "
                        f"{NOISE_WARNING:g} the noise buries the data; 0.01 is 1%")
    if photons is not None:
        if not (math.isfinite(photons) and photons > 0):
            raise UsageError(f"{photons_option} must be a finite number > 0 (photons per ray), got {photons!r}")
        if photons < PHOTONS_WARNING:
            log.warning(f"{photons_option} {photons:g}: fewer than {PHOTONS_WARNING:g} photons per ray leave mostly "
                        "zero counts; clinical scans count 1e4 to 1e6")


def check_scan_options(args) -> None:
    """Check :func:`add_scan_options`' arguments (noise and photons; the geometry's are checked by
    :class:`~ltl.Geometry`)."""
    check_noise(getattr(args, "noise", None), getattr(args, "photons", None))
    if getattr(args, "size", None) is not None and args.size < 2:
        raise UsageError(f"--size must be an integer >= 2 (pixels), got {args.size}")


def device_of(name: str | None, *, need_astra: bool = True):
    """The torch device for --device (:func:`ltl.runtime.resolve_device`); a bad choice is a UsageError."""
    from ..runtime import resolve_device

    try:
        return resolve_device(name, need_astra=need_astra)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
