"""The sample scans shipped with ltl, and where shipped data live.

A source checkout keeps them in ``data/`` beside the package; a wheel installs them under
``<prefix>/share/ltl/samples/`` (and the demo model under ``<prefix>/share/ltl/demo-model/``),
where ``<prefix>`` is the environment the wheel went into (``pip install --user`` and
``pip install --prefix`` included).

>>> from ltl.data.samples import sample_path, samples
>>> sorted(samples())                                      # doctest: +SKIP
['ellipses-120deg-128', 'ellipses-120deg-256', 'shepp-logan-120deg-128', 'shepp-logan-120deg-256']
>>> scan = load_scan(sample_path("ellipses-120deg-256"))   # doctest: +SKIP

The 256² samples fit the shipped demo model (120° in 1° steps, 1% noise); ``data/README.md``
lists the ``ltl simulate`` command that made each file.
"""

from __future__ import annotations

import site
import sys
import sysconfig
from pathlib import Path

__all__ = ["SAMPLE_SUFFIX", "share_dirs", "checkout_data_dir", "samples", "sample_path"]

#: The file type of a shipped sample scan.
SAMPLE_SUFFIX = ".npz"

_PACKAGE = Path(__file__).resolve().parent.parent  # .../ltl


def checkout_data_dir() -> Path | None:
    """``data/`` of a source checkout (the folder beside the ``ltl`` package that holds this
    module), or None for an installed package."""
    d = _PACKAGE.parent / "data"
    return d if (_PACKAGE.parent / "pyproject.toml").exists() and d.is_dir() else None


def share_dirs() -> list[Path]:
    """The ``share/ltl`` folders a wheel may have installed into, most specific first, without
    repeats: the prefix the package itself lies in (``<prefix>/lib/pythonX.Y/site-packages/ltl``
    on POSIX, ``<prefix>/Lib/site-packages/ltl`` on Windows), ``sys.prefix``, the interpreter's
    data path and the user base (``pip install --user``). They need not exist."""
    site_packages = _PACKAGE.parent
    candidates = []
    if site_packages.name in ("site-packages", "dist-packages"):
        candidates += [site_packages.parent.parent.parent, site_packages.parent.parent]
    candidates += [Path(sys.prefix), Path(sysconfig.get_path("data"))]
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        candidates.append(Path(user_base))
    out: list[Path] = []
    for prefix in candidates:
        d = prefix / "share" / "ltl"
        if d not in out:
            out.append(d)
    return out


def _sample_dirs() -> list[Path]:
    dirs = [d / "samples" for d in share_dirs()]
    checkout = checkout_data_dir()
    return ([checkout] if checkout is not None else []) + dirs


def samples() -> dict[str, Path]:
    """The shipped sample scans: name (the file name without ``.npz``) → path, sorted by name.

    A source checkout's ``data/`` comes first; an empty dict when none are found.
    """
    found: dict[str, Path] = {}
    for d in _sample_dirs():
        if d.is_dir():
            for p in sorted(d.glob(f"*{SAMPLE_SUFFIX}")):
                found.setdefault(p.stem, p)
    return dict(sorted(found.items()))


def sample_path(name: str) -> Path:
    """The path of the shipped sample scan ``name`` (``'ellipses-120deg-256'``, with or without
    ``.npz``); read it with :func:`ltl.data.load_scan`.

    Raises
    ------
    FileNotFoundError
        No shipped sample of that name; the message lists those there are.
    """
    stem = name[:-len(SAMPLE_SUFFIX)] if str(name).endswith(SAMPLE_SUFFIX) else str(name)
    found = samples()
    if stem in found:
        return found[stem]
    where = ", ".join(str(d) for d in _sample_dirs())
    have = ", ".join(found) if found else f"none (looked in {where})"
    raise FileNotFoundError(f"no shipped sample scan {name!r}; shipped samples: {have}")
