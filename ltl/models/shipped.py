"""Where the models and sample scans shipped with ltl live: ``data/`` of a source checkout,
``<prefix>/share/ltl`` of an installed wheel (:func:`ltl.data.samples.share_dirs`), or
``$LTL_DEMO_MODEL`` for the demo model.

>>> from ltl.models import LtI
>>> from ltl.models.shipped import default_checkpoint, sample_path
>>> model = LtI.load(default_checkpoint())               # doctest: +SKIP
>>> scan = load_scan(sample_path("ellipses-120deg-256"))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_CHECKPOINT", "DEMO_MODEL", "default_checkpoint", "shipped_models", "samples", "sample_path"]

#: The demo model's folder name, in ``data/`` of a checkout and in ``share/ltl/`` of an install.
DEMO_MODEL = "demo-model"
#: The demo model of a source checkout (``ltl reconstruct --method ltl`` without --checkpoint).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent.parent / "data" / DEMO_MODEL


def _model_dirs(name: str) -> list[Path]:
    from ..data.samples import share_dirs

    return [DEFAULT_CHECKPOINT.parent / name] + [d / name for d in share_dirs()]


def default_checkpoint() -> Path | None:
    """The shipped demo model (LtI for 256², 120° in 1° steps, 1% noise): ``$LTL_DEMO_MODEL``, else
    ``data/demo-model`` of a source checkout, else ``<prefix>/share/ltl/demo-model`` of an installed
    wheel; None when none exists."""
    env = os.environ.get("LTL_DEMO_MODEL")
    if env:
        return Path(env)
    for p in _model_dirs(DEMO_MODEL):
        if (p / "model.json").exists():
            return p
    return None


def shipped_models() -> dict[str, Path]:
    """The shipped model folders found: name → folder (today only ``'demo-model'``, the
    :func:`default_checkpoint`, when it exists)."""
    p = default_checkpoint()
    return {DEMO_MODEL: p} if p is not None and (p / "model.json").exists() else {}


def samples() -> dict[str, Path]:
    """The shipped sample scans, name → path (:func:`ltl.data.samples.samples`)."""
    from ..data.samples import samples as found

    return found()


def sample_path(name: str) -> Path:
    """The path of shipped sample scan ``name`` (:func:`ltl.data.samples.sample_path`);
    ``FileNotFoundError`` listing the samples there are."""
    from ..data.samples import sample_path as find

    return find(name)
