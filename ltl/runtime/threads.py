"""Intra-op threads for loops of many small tensor operations on the CPU.

An iteration of PDHG, SIRT or CGLS issues 5–20 elementwise torch operations on tensors of one
slice or a few. torch splits each such operation over its intra-op threads (OpenMP, one per core
by default), and every split ends at a barrier: when another process holds one of the cores, the
thread that shares it waits for its time slice, and an operation that takes ~30 µs on one thread
takes several milliseconds. On a busy 2-core machine this made ltl's TV 2.1–2.5× slower than
ODL's numpy PDHG and its SIRT 1.4–1.8× slower than ASTRA's, while with one thread the same loops
were level with both. Large operations (a batch of shearlet coefficients) still gain from
several threads on an idle machine.

:func:`loop_threads` is the policy and :func:`solver_threads` applies it around a loop: one
intra-op thread when the loop's largest tensor has fewer than :data:`SMALL_NUMEL` elements,
torch's setting otherwise; on other devices nothing changes (the CPU only launches kernels
there). ``LTL_SOLVER_THREADS=k`` forces k threads in every solver loop (0 or unset: the policy).

torch's intra-op thread count belongs to the calling thread (OpenMP's per-thread setting); the
context manager restores the caller's count on exit, so other threads, and the caller after the
loop, run as before. Thread counts change how some reductions are ordered, so results agree to
float rounding, not bit for bit.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch

__all__ = ["SMALL_NUMEL", "loop_threads", "solver_threads"]

#: Loops whose largest tensor has fewer elements run on one intra-op thread (2**24, float32:
#: 64 MiB). Measured with ``scripts/bench_cpu_solvers.py --sweep`` on a 2-core AMD EPYC shared
#: with other jobs (torch 2.13 CPU; ``benchmarks/results/bench_cpu_threads_sweep.json``): the
#: torch part of one TV or l1-shearlet iteration, 3e4 to 2.6e7 elements. With a busy process on
#: one core, 2 threads were slower than 1 at every size (1-thread ÷ 2-thread time 0.01–0.81,
#: closest at 1.3e7 elements: l1 at 512²); without it, 2 threads were faster in 3 of 13 cases
#: (the largest at 1.3e7 elements, 1.15×) and up to 250 ms slower per call in the others. Above
#: the threshold an idle machine's cores can still pay off for batches of coefficients.
SMALL_NUMEL = 1 << 24


def _forced() -> int | None:
    env = os.environ.get("LTL_SOLVER_THREADS", "").strip()
    if not env:
        return None
    try:
        k = int(env)
    except ValueError:
        raise ValueError(f"LTL_SOLVER_THREADS must be a whole number >= 0, got {env!r}") from None
    if k < 0:
        raise ValueError(f"LTL_SOLVER_THREADS must be a whole number >= 0, got {env!r}")
    return k or None


def loop_threads(numel: int, device: torch.device | str = "cpu", *, threshold: int | None = None) -> int:
    """The intra-op thread count for a loop whose largest tensor has ``numel`` elements.

    Parameters
    ----------
    numel : int
        Elements of the loop's largest tensor (e.g. ``B·C·N²`` shearlet coefficients).
    device : torch.device or str
        Where the loop runs; anything but the CPU keeps the caller's count.
    threshold : int, optional
        Below it one thread (default :data:`SMALL_NUMEL`).

    Returns
    -------
    int
        ``LTL_SOLVER_THREADS`` when set (> 0); else 1 for ``numel < threshold`` on the CPU; else
        ``torch.get_num_threads()``.
    """
    current = torch.get_num_threads()
    if torch.device(device).type != "cpu":
        return current
    forced = _forced()
    if forced is not None:
        return forced
    limit = SMALL_NUMEL if threshold is None else int(threshold)
    return 1 if int(numel) < limit else current


@contextlib.contextmanager
def solver_threads(numel: int, device: torch.device | str = "cpu", *,
                   threshold: int | None = None) -> Iterator[int]:
    """Run the block with :func:`loop_threads` intra-op threads; restore the caller's count after.

    Yields the count in force. Nested use is fine (each level restores what it found).

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with solver_threads(256 * 256) as k:
    ...     k
    1
    >>> torch.get_num_threads() == before
    True
    """
    want = loop_threads(numel, device, threshold=threshold)
    before = torch.get_num_threads()
    if want == before:
        yield want
        return
    torch.set_num_threads(want)
    try:
        yield want
    finally:
        torch.set_num_threads(before)
