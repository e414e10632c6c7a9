"""Progress bars and device synchronisation shared by solvers, datasets, training and evaluation.

Every bar is a tqdm bar on stderr with a rate and an ETA; on a terminal it redraws ten times a
second, in a log file (stderr not a terminal) it writes a line at most every 5 s. Bars are off
while the ``ltl`` logger is set above INFO (``ltl --quiet``, see :mod:`ltl.runtime.log`).
"""

from __future__ import annotations

import logging
import sys

import torch

__all__ = ["Progress", "sync", "bar", "bars_enabled"]


def sync(device: torch.device | str) -> None:
    """Wait for ``device``'s queued work (a no-op on the CPU); used around timings."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bars_enabled() -> bool:
    """Whether progress bars are drawn: unless the ``ltl`` logger's own level is above INFO (it is
    unset, i.e. bars on, until an application or ``ltl --quiet`` sets it)."""
    level = logging.getLogger("ltl").level
    return level == logging.NOTSET or level <= logging.INFO


def bar(**kwargs):
    """A tqdm bar on the current stderr that redraws at most every 5 s when stderr is not a terminal
    (a log file); a disabled one (it draws nothing) when :func:`bars_enabled` is False."""
    from tqdm.auto import tqdm

    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("mininterval", 0.1 if sys.stderr.isatty() else 5.0)
    if not bars_enabled():
        kwargs["disable"] = True
    return tqdm(**kwargs)


class Progress:
    """A tqdm bar over iterations (a no-op without ``enabled`` or while :func:`bars_enabled` is False)."""

    def __init__(self, enabled: bool, total: int, desc: str, unit: str = "it"):
        self.bar = bar(total=total, desc=desc, unit=unit, leave=False) if enabled and bars_enabled() else None

    def step(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def show(self, rel: float, obj: float | None = None) -> None:
        if self.bar is not None:
            post = {"rel": f"{rel:.2e}"}
            if obj is not None:
                post["obj"] = f"{obj:.4g}"
            self.bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
