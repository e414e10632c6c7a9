"""The HDF5 layout of a dataset file: format constants, opening, creating and comparing settings.

Arrays (M samples, N×N grid, V views × D detector bins):

``truth``     ``(M, N, N)`` float32, ``sinogram`` ``(M, V, D)`` float32, ``f_vis`` ``(M, N, N)``
float32, ``seed`` ``(M,)`` int64, ``done`` ``(M,)`` bool; one HDF5 chunk per sample. Files of a
mix of phantom families also hold ``family`` ``(M,)`` (variable-length UTF-8 names); without
it every sample is of the family ``settings['phantom']``. Version-1 files of any ltl read alike.

Attributes: ``settings`` (JSON, see :func:`ltl.data.dataset.make_dataset`), ``geometry`` (JSON of the
geometry) and ``ltl_version``. h5py is imported only when a file is opened or created.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ...geometry import Geometry
from ...runtime.files import FileLock, LockedError, atomic_path
from ...solvers.settings import L1Settings
from ..phantoms import family_names

__all__ = ["FORMAT", "FORMAT_VERSION", "DATASET_PHANTOMS", "ARRAYS", "h5py_module", "open_dataset",
           "read_settings", "create_file", "check_same", "done_chunks", "sample_families"]

#: The ``format`` entry of a dataset's settings.
FORMAT = "ltl-lti-dataset"
#: The layout version this ltl reads and writes.
FORMAT_VERSION = 1
#: Named phantoms a dataset can hold: every family and the fixed Shepp–Logan phantom (also accepted:
#: a mix ``'mix:NAME=W,...'`` and ``'crops:PATH'``).
DATASET_PHANTOMS = family_names() + ("shepp-logan",)
#: The arrays every dataset file has (a mix adds ``family``).
ARRAYS = ("truth", "sinogram", "f_vis", "seed", "done")


def h5py_module():
    """The ``h5py`` module, imported on first use (importing ltl never needs it)."""
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover
        raise ImportError("datasets need h5py: pip install h5py") from exc
    return h5py


def open_dataset(path: Path, mode: str = "r"):
    """Open an ltl dataset file (an ``h5py.File``) after checking its settings and arrays.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    LockedError
        Another process is writing ``path`` (:class:`ltl.runtime.files.FileLock`) and HDF5 refuses
        to open it meanwhile.
    ValueError
        ``path`` is a directory, not a readable HDF5 file (e.g. truncated by an interrupted
        write), not an ltl dataset, of another format version, or lacks an array.
    """
    h5py = h5py_module()
    if not path.exists():
        raise FileNotFoundError(
            f"dataset {path} does not exist; create it with `ltl dataset make --out {path}` "
            "(or ltl.data.dataset.make_dataset)"
        )
    if path.is_dir():
        raise ValueError(f"dataset {path} is a directory, expected an HDF5 file (.h5)")
    try:
        f = h5py.File(path, mode)
    except OSError as exc:
        who = FileLock.holder(path)
        if who is not None:
            raise LockedError(f"dataset {path} is being written by {who}; wait for `ltl dataset make` to finish "
                              "(a killed run resumes where it stopped)") from exc
        raise ValueError(
            f"{path} is not a readable HDF5 file ({str(exc).splitlines()[0]}); it may be truncated by an "
            "interrupted write: delete it and re-create it with `ltl dataset make`"
        ) from exc
    try:
        read_settings(f, path)
        for key in ARRAYS:
            if key not in f:
                raise ValueError(f"{path} is not a complete ltl dataset: it lacks the array {key!r}; re-create it")
    except BaseException:
        f.close()
        raise
    return f


def read_settings(f, path: Path) -> dict:
    """The decoded ``settings`` attribute of the open file ``f`` (``path`` names it in errors)."""
    raw = f.attrs.get("settings")
    if raw is None:
        raise ValueError(f"{path} is not an ltl dataset (no 'settings' attribute); make one with `ltl dataset make`")
    try:
        s = json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: its 'settings' attribute is not valid JSON ({exc}); re-create the file") from exc
    if not isinstance(s, dict) or s.get("format") != FORMAT:
        fmt = s.get("format") if isinstance(s, dict) else None
        raise ValueError(f"{path} is not an ltl dataset (format {fmt!r}, expected {FORMAT!r})")
    if s.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has dataset format version {s.get('format_version')}, this ltl reads "
                         f"version {FORMAT_VERSION}; re-create it with this ltl")
    _check_types(s, path)
    return s


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


#: The settings entries every reader relies on, with the check each value must pass.
_TYPES = {
    "geometry": (lambda v: isinstance(v, dict), "an object"),
    "frame": (lambda v: isinstance(v, dict), "an object"),
    "solver": (lambda v: isinstance(v, dict), "an object"),
    "phantom": (lambda v: isinstance(v, str), "a text"),
    "noise": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "photons": (lambda v: v is None or (_is_number(v) and v > 0), "null or a number > 0"),
    "oversample": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1"),
    "chunk": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1"),
    "seed_ranges": (lambda v: isinstance(v, list) and all(isinstance(r, list) and len(r) == 2 and
                                                          all(isinstance(x, int) for x in r) for r in v),
                    "a list of [start, stop] pairs"),
}


def _check_types(s: dict, path: Path) -> None:
    """``ValueError`` naming the first settings entry of the wrong JSON type (an edited file)."""
    for key, (ok, what) in _TYPES.items():
        if key in s and not ok(s[key]):
            raise ValueError(f"{path}: its settings entry {key!r} must be {what}, got {json.dumps(s[key])[:60]}; "
                             "re-create the file with `ltl dataset make`")
    for key in ("geometry", "frame", "solver", "phantom", "noise", "chunk"):
        if key not in s:
            raise ValueError(f"{path}: its settings lack {key!r}; re-create the file with `ltl dataset make`")


def create_file(path: Path, settings: dict, seeds: np.ndarray, geometry: Geometry,
                families: list[str] | np.ndarray | None = None) -> None:
    """Create an empty dataset skeleton for ``seeds`` atomically (temporary file + rename).

    ``settings`` is the JSON-safe settings dict (with ``ltl_version``); every ``done`` flag is False.
    ``families`` (one name per sample, for a mix) is stored as the ``family`` array.
    """
    h5py = h5py_module()
    with atomic_path(path, ".h5.tmp") as tmp:
        m = int(seeds.size)
        n = geometry.image_size
        v, d = geometry.sino_shape
        with h5py.File(tmp, "w") as f:
            f.attrs["settings"] = json.dumps(settings)
            f.attrs["geometry"] = geometry.to_json()
            f.attrs["ltl_version"] = settings["ltl_version"]
            f.create_dataset("truth", (m, n, n), dtype="f4", chunks=(1, n, n))
            f.create_dataset("f_vis", (m, n, n), dtype="f4", chunks=(1, n, n))
            f.create_dataset("sinogram", (m, v, d), dtype="f4", chunks=(1, v, d))
            f.create_dataset("seed", data=seeds.astype(np.int64))
            f.create_dataset("done", (m,), dtype=bool, fillvalue=False)
            if families is not None:
                names = np.asarray([x.decode() if isinstance(x, bytes) else str(x) for x in families])
                if names.shape != (m,):
                    raise ValueError(f"families must hold one name per sample ({m}), got {names.shape}")
                f.create_dataset("family", data=names.astype(object), dtype=h5py.string_dtype("utf-8"))


def _canonical(settings: dict) -> dict:
    """``settings`` with its solver entry in the stored form of :class:`L1Settings`, so that a key
    given explicitly at its default compares equal to a missing one (unparsable entries stay)."""
    solver = settings.get("solver")
    if not isinstance(solver, dict):
        return settings
    try:
        typed = L1Settings.from_dict(solver)
    except ValueError:
        return settings
    return dict(settings, solver={"method": solver.get("method"), **typed.to_dict()})


def check_same(path: Path, have: dict, want: dict) -> None:
    """``ValueError`` naming the differing keys unless the settings ``have`` (of the file ``path``)
    and ``want`` (requested) agree."""
    have, want = _canonical(have), _canonical(want)
    diffs = [k for k in sorted(set(have) | set(want)) if have.get(k) != want.get(k)]
    if diffs:
        k = diffs[0]

        def short(x):
            s = json.dumps(x)
            return s if len(s) <= 80 else s[:77] + "..."

        raise ValueError(
            f"{path} exists and was made with other settings ({', '.join(diffs)}; e.g. {k}: file has "
            f"{short(have.get(k))}, requested {short(want.get(k))}); choose another path or pass "
            "overwrite=True (--overwrite) to replace it"
        )


def done_chunks(done: np.ndarray, chunk: int) -> set[int]:
    """Indices k of the chunks (samples ``k·chunk .. (k+1)·chunk−1``) whose ``done`` flags are all set."""
    m = done.size
    return {k for k in range(math.ceil(m / chunk)) if done[k * chunk:min(m, (k + 1) * chunk)].all()}


def sample_families(f, settings: dict) -> np.ndarray:
    """The family of every sample of the open file ``f``, ``(M,)`` str: its ``family`` array, or
    ``settings['phantom']`` for all (a file of one family, e.g. from an ltl before mixes)."""
    m = f["seed"].shape[0]
    if "family" in f:
        return np.asarray(f["family"].asstr()[:], dtype=str)
    return np.full(m, str(settings.get("phantom")), dtype=object).astype(str)
