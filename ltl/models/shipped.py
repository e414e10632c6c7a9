"""Where the models shipped with ltl live: ``data/`` of a source checkout, ``<prefix>/share/ltl``
of an installed wheel, or ``$LTL_DEMO_MODEL``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["DEFAULT_CHECKPOINT", "default_checkpoint"]

#: The demo model of a source checkout (``ltl reconstruct --method ltl`` without --checkpoint).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent.parent / "data" / "demo-model"


def default_checkpoint() -> Path | None:
    """The shipped demo model: ``$LTL_DEMO_MODEL``, else ``data/demo-model`` of a source checkout, else
    ``<prefix>/share/ltl/demo-model`` of an installed wheel; None when none exists."""
    env = os.environ.get("LTL_DEMO_MODEL")
    if env:
        return Path(env)
    for p in (DEFAULT_CHECKPOINT, Path(sys.prefix) / "share" / "ltl" / "demo-model"):
        if (p / "model.json").exists():
            return p
    return None
