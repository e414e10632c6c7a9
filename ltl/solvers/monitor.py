"""The iteration monitor shared by the solvers: history, convergence checks, progress, callback.

A solver's loop does only its algebra; :class:`Monitor` counts the iterations, records the
objective, checks the relative change every :data:`CHECK_EVERY` iterations, runs the user's
callback, draws the progress bar, decides when to stop and builds the :class:`SolverInfo`::

    with Monitor("sirt", iters, tol, batch=b, callback=callback, single=single,
                 progress=progress, record="every") as mon:
        for k in mon:
            ...                                  # one iteration: x → x_new
            mon.record(objective_of_x_new)       # ("every" only)
            mon.step(x_new, prev=x)              # check, callback, stop rule
            x = x_new
    return mon.finish(x, params)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch

from ..runtime.progress import Progress, sync

__all__ = ["SolverInfo", "Monitor", "CHECK_EVERY", "rel_change"]

#: How often (in iterations) the solvers compute the relative change (and, for PDHG, the
#: objective) on the host. Each check is one device synchronisation; between checks everything
#: stays on the device.
CHECK_EVERY = 10


@dataclass(frozen=True)
class SolverInfo:
    """What a solver did.

    Attributes
    ----------
    iterations : int
        Iterations run (the same for every slice of a batch).
    objective : tuple of float
        The objective at the returned image, one value per slice, reduced in float64.
    converged : bool
        True when every slice met the stopping rule before ``iters`` ran out (always False for a
        solver run without a tolerance, e.g. ``tol=0``).
    seconds : float
        Wall-clock time of the solve (device work included: the result is synchronised).
    history : tuple of (int, tuple of float)
        ``(iteration, objective per slice)`` at the start (iteration 0), every check (every 10
        iterations for TV and l1-shearlet, every iteration for SIRT and CGLS) and at the end.
    rel_change : tuple of float
        ``‖x_k − x_{k−1}‖ / ‖x_k‖`` per slice at the last check (NaN if none was made).
    params : dict
        The settings actually used (λ per slice, step sizes, ...), JSON-safe.
    """

    iterations: int
    objective: tuple[float, ...]
    converged: bool
    seconds: float
    history: tuple[tuple[int, tuple[float, ...]], ...]
    rel_change: tuple[float, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)


def rel_change(x: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
    """``‖x − x_prev‖ / max(‖x‖, tiny)`` per slice, ``(B,)`` on device (no sync)."""
    b = x.shape[0]
    num = torch.linalg.vector_norm((x - x_prev).reshape(b, -1), dim=1)
    den = torch.linalg.vector_norm(x.reshape(b, -1), dim=1).clamp_min(1e-30)
    return num / den


class Monitor:
    """Iteration bookkeeping of one solver run on a batch.

    Parameters
    ----------
    name : str
        The progress bar's label.
    iters : int
        Maximal number of iterations.
    tol : float
        Stop at the first check where the relative change of every slice is below ``tol``
        (0: never).
    batch : int
        B, the number of slices.
    callback : callable, optional
        ``callback(k, x)`` after every iteration k with the current image(s) (one image when
        ``single``); a true return value stops the run after this iteration.
    single : bool
        The solver was given one sinogram: the callback sees ``x[0]``.
    progress : bool
        Show a tqdm bar (:class:`ltl.runtime.progress.Progress`).
    record : {'checks', 'every'}
        'checks' (PDHG): the objective is computed at the checks, at iteration ``iters`` and when
        the callback stops the run (each time synchronised with the relative change), so checks
        happen every :data:`CHECK_EVERY` iterations whatever ``tol``. 'every' (SIRT, CGLS): the
        solver records the objective every iteration with :meth:`record` (kept on the device
        until :meth:`finish`), and checks happen only for the stopping rule, with ``tol > 0``.
    t0 : float, optional
        ``time.perf_counter()`` at the start of the solve (default: now).

    Notes
    -----
    Use it as a context manager (it closes the bar) and iterate over it for ``k = 1, 2, ...``;
    the iteration stops after ``iters`` or after the :meth:`step` that asked to stop.
    """

    def __init__(self, name: str, iters: int, tol: float, *, batch: int,
                 callback: Callable[[int, torch.Tensor], bool | None] | None = None, single: bool = False,
                 progress: bool = False, record: str = "checks", t0: float | None = None):
        if record not in ("checks", "every"):
            raise ValueError(f"record must be 'checks' or 'every', got {record!r}")
        self.iters, self.tol, self.batch = int(iters), float(tol), int(batch)
        self.callback, self.single, self.record_every = callback, bool(single), record == "every"
        self.t0 = time.perf_counter() if t0 is None else t0
        self.k = 0
        self.converged = False
        self.stopped = False
        #: ``(B,)`` float32 on the CPU: the relative change at the last check (NaN before).
        self.rel = torch.full((self.batch,), float("nan"))
        self._hist_k: list[int] = []
        self._hist_obj: list[torch.Tensor] = []
        self._bar = Progress(progress, self.iters, name)

    # ------------------------------------------------------------------ loop
    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc) -> None:
        self._bar.close()

    def __iter__(self) -> Iterator[int]:
        while self.k < self.iters and not self.stopped:
            self.k += 1
            yield self.k

    def is_check(self, k: int | None = None) -> bool:
        """Whether iteration ``k`` (default the current one) is a check."""
        k = self.k if k is None else k
        if self.record_every:
            return self.tol > 0 and k % CHECK_EVERY == 0
        return k % CHECK_EVERY == 0 or k == self.iters

    def record(self, objective: torch.Tensor, at: int | None = None) -> None:
        """Record the objective ``(B,)`` (float64, on any device; no sync) of iteration ``at``
        (default the current one; 0 before the loop)."""
        self._hist_k.append(self.k if at is None else int(at))
        self._hist_obj.append(objective)

    def step(self, x: torch.Tensor, prev: torch.Tensor | None = None, *,
             rel: Callable[[], torch.Tensor] | None = None,
             objective: Callable[[], torch.Tensor] | None = None) -> bool:
        """End the current iteration with the new iterate ``x`` ``(B, ...)``; True when the run stops.

        At a check the relative change is ``rel()`` if given, else :func:`rel_change` of ``x``
        and ``prev``; with ``record='checks'``, ``objective()`` (``(B,)`` float64) is recorded
        at the checks and when the callback stops the run.
        """
        k = self.k
        check = self.is_check(k)
        r_dev = None
        if check:
            r_dev = rel() if rel is not None else rel_change(x, prev)
        self._bar.step()
        stop = self.callback is not None and bool(self.callback(k, x[0] if self.single else x))
        if not self.record_every and (check or stop):
            if objective is None:
                raise ValueError("a Monitor with record='checks' needs step(..., objective=) to record")
            if r_dev is None:
                r_dev = torch.full((self.batch,), float("nan"), device=x.device)
            both = torch.cat([objective(), r_dev.double()]).cpu()  # one transfer for both
            obj = both[:self.batch]
            self.rel = both[self.batch:].float()
            self.record(obj, k)
            self._bar.show(float(self.rel.max()), float(obj.sum()))
        elif check:
            self.rel = r_dev.float().cpu()
            self._bar.show(float(self.rel.max()))
        if check and self.tol > 0 and bool((self.rel < self.tol).all()):
            self.converged = True
            stop = True
        self.stopped = stop
        return stop

    # ------------------------------------------------------------------ result
    def finish(self, x: torch.Tensor, params: dict, *, objective: Callable[[], torch.Tensor] | None = None,
               final_rel: Callable[[], torch.Tensor] | None = None) -> tuple[torch.Tensor, SolverInfo]:
        """Synchronise x's device and return ``(x, SolverInfo)`` (``x[0]`` when ``single``).

        ``objective()`` is recorded at the last iteration unless it already was; ``final_rel()``
        replaces a relative change that no check has set (all NaN).
        """
        if objective is not None and (not self._hist_k or self._hist_k[-1] != self.k):
            self.record(objective())
        if final_rel is not None and bool(self.rel.isnan().all()):
            self.rel = final_rel().float().cpu()
        objs = torch.stack([o.to(device=x.device, dtype=torch.float64) for o in self._hist_obj]).cpu()
        history = tuple((int(kk), tuple(float(v) for v in row.tolist())) for kk, row in zip(self._hist_k, objs))
        sync(x.device)
        info = SolverInfo(
            iterations=self.k,
            objective=history[-1][1],
            converged=self.converged,
            seconds=time.perf_counter() - self.t0,
            history=history,
            rel_change=tuple(float(v) for v in self.rel.tolist()),
            params=params,
        )
        return (x[0] if self.single else x), info
