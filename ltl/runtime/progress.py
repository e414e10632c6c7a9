"""Progress bars and device synchronisation shared by solvers, datasets, training and evaluation."""

from __future__ import annotations

import sys

import torch

__all__ = ["Progress", "sync", "bar"]


def sync(device: torch.device | str) -> None:
    """Wait for ``device``'s queued work (a no-op on the CPU); used around timings."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bar(**kwargs):
    """A tqdm bar that redraws at most every 5 s when stderr is not a terminal (a log file)."""
    from tqdm.auto import tqdm

    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("mininterval", 0.1 if sys.stderr.isatty() else 5.0)
    return tqdm(**kwargs)


class Progress:
    """A tqdm bar over iterations (a no-op without ``enabled``)."""

    def __init__(self, enabled: bool, total: int, desc: str, unit: str = "it"):
        self.bar = bar(total=total, desc=desc, unit=unit, leave=False) if enabled else None

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
