"""The iteration monitor: check schedule, stopping rule, history and callback, alone and in the solvers."""

import math

import numpy as np
import pytest
import torch

from ltl.solvers import cgls, l1_shearlet, sirt, tv
from ltl.solvers.monitor import CHECK_EVERY, Monitor, SolverInfo, rel_change


def _iterates(decay, iters):
    """Iterates x_k (B, 2, 2) whose relative change at step k is known: x_k = x_{k-1}·(1 + d_b^k)."""
    d = torch.tensor(decay, dtype=torch.float64)
    xs = [torch.ones(len(decay), 2, 2, dtype=torch.float64)]
    for k in range(1, iters + 1):
        xs.append(xs[-1] * (1 + d ** k).view(-1, 1, 1))
    return [x.float() for x in xs]


def _run(mon, xs, record_every=False):
    """Drive ``mon`` over the iterates; the 'objective' of x_k is its sum, per slice."""
    x = xs[0]
    with mon:
        mon.record(xs[0].double().sum(dim=(1, 2)))
        for k in mon:
            if record_every:
                mon.record(xs[k].double().sum(dim=(1, 2)))
            mon.step(xs[k], prev=x, objective=lambda: xs[k].double().sum(dim=(1, 2)))
            x = xs[k]
    return mon.finish(x, {"p": 1})


def _rel(xs, k):
    return rel_change(xs[k], xs[k - 1])


def test_checks_schedule_and_history_without_tol():
    xs = _iterates([0.5, 0.9], 25)
    x, info = _run(Monitor("t", 25, 0.0, batch=2), xs)
    assert isinstance(info, SolverInfo) and info.iterations == 25 and not info.converged
    assert [k for k, _ in info.history] == [0, 10, 20, 25]  # start, every CHECK_EVERY, the end
    for k, obj in info.history:
        np.testing.assert_array_equal(obj, xs[k].double().sum(dim=(1, 2)).numpy())
    assert info.objective == info.history[-1][1]
    np.testing.assert_array_equal(info.rel_change, _rel(xs, 25).numpy())  # from the last check
    assert info.params == {"p": 1} and torch.equal(x, xs[25]) and info.seconds >= 0


def test_stops_at_the_first_check_where_every_slice_is_below_tol():
    decay = [0.5, 0.8, 0.9]  # relative change ≈ d^k: slice 0 converges first, slice 2 last
    tol = 1e-3
    xs = _iterates(decay, 200)
    below = {k: (_rel(xs, k) < tol).numpy() for k in range(CHECK_EVERY, 201, CHECK_EVERY)}
    first_all = min(k for k, b in below.items() if b.all())
    first_any = min(k for k, b in below.items() if b.any())
    assert first_any < first_all  # the rule waits for the slowest slice
    # the first iteration (not check) where all slices are below lies between checks
    assert any((_rel(xs, k) < tol).all() for k in range(first_all - CHECK_EVERY + 1, first_all))
    for record_every in (False, True):
        mon = Monitor("t", 200, tol, batch=3, record="every" if record_every else "checks")
        _, info = _run(mon, xs, record_every)
        assert info.converged and info.iterations == first_all
        np.testing.assert_array_equal(info.rel_change, _rel(xs, first_all).numpy())
        ks = [k for k, _ in info.history]
        assert ks == (list(range(first_all + 1)) if record_every else [0, *range(10, first_all + 1, 10)])


def test_tol_zero_never_converges_and_every_mode_checks_only_with_tol():
    xs = _iterates([0.1], 30)  # tiny changes after a few steps
    _, info = _run(Monitor("t", 30, 0.0, batch=1, record="every"), xs, True)
    assert not info.converged and info.iterations == 30
    assert math.isnan(info.rel_change[0])  # no check was made
    assert [k for k, _ in info.history] == list(range(31))


def test_callback_stop_sees_slices_and_records_the_stop():
    xs = _iterates([0.5, 0.9], 50)
    seen = []

    def cb(k, x):
        seen.append((k, tuple(x.shape)))
        return k == 13

    _, info = _run(Monitor("t", 50, 1e-12, batch=2, callback=cb), xs)
    assert info.iterations == 13 and not info.converged
    assert seen == [(k, (2, 2, 2)) for k in range(1, 14)]
    assert [k for k, _ in info.history] == [0, 10, 13]
    assert all(math.isnan(v) for v in info.rel_change)  # 13 is not a check

    seen.clear()
    single = xs[:]
    mon = Monitor("t", 50, 0.0, batch=1, callback=cb, single=True)
    x, info = _run(mon, [s[:1] for s in single])
    assert x.shape == (2, 2) and seen[-1] == (13, (2, 2))  # one image: the callback sees x[0]


def test_finish_records_the_last_iterate_and_final_rel():
    xs = _iterates([0.5], 7)
    with Monitor("t", 7, 0.0, batch=1, record="every") as mon:
        for k in mon:
            mon.record(xs[k - 1].double().sum(dim=(1, 2)), at=k - 1)  # SIRT-style: the previous iterate
            mon.step(xs[k], prev=xs[k - 1])
    _, info = mon.finish(xs[7], {}, objective=lambda: xs[7].double().sum(dim=(1, 2)),
                         final_rel=lambda: torch.tensor([0.25], dtype=torch.float64))
    assert [k for k, _ in info.history] == list(range(8))
    assert info.objective == (float(xs[7].double().sum()),)
    assert info.rel_change == (0.25,)


def test_bad_record_mode():
    with pytest.raises(ValueError, match="'checks' or 'every'"):
        Monitor("t", 3, 0.0, batch=1, record="sometimes")


# ------------------------------------------------------------------------------ in the solvers


def _solvers(op, frame):
    return {
        "tv": lambda y, **kw: tv(op, y, 0.3, **kw),
        "l1": lambda y, **kw: l1_shearlet(op, frame, y, 0.3, **kw),
        "sirt": lambda y, **kw: sirt(op, y, **kw),
    }


# tolerances between the slices' relative changes at one check: some slices are below before all are
@pytest.mark.parametrize("name,tol", [("tv", 4.3e-3), ("l1", 3.8e-3), ("sirt", 4.3e-3)])
def test_solver_stops_at_first_check_below_tol(op, frame, data, name, tol):
    y = data[0]
    xs = []

    def keep(k, x):
        xs.append(x.clone())

    x, info = _solvers(op, frame)[name](y, iters=400, tol=tol, callback=keep)
    xs.insert(0, torch.zeros_like(xs[0]))  # all solvers start from 0 here
    assert info.converged and info.iterations < 400 and len(xs) == info.iterations + 1
    assert torch.equal(x, xs[-1])
    rel = {k: rel_change(xs[k], xs[k - 1]) for k in range(CHECK_EVERY, info.iterations + 1, CHECK_EVERY)}
    first = min(k for k, r in rel.items() if bool((r < tol).all()))
    assert info.iterations == first
    assert any(bool((r < tol).any()) for k, r in rel.items() if k < first)  # it waited for the slowest slice
    np.testing.assert_allclose(info.rel_change, rel[first].numpy(), rtol=1e-6)


def test_cgls_stops_at_first_check_where_residual_ratio_is_below_tol(op, data):
    y = data[0]
    tol = 0.05
    _, info = cgls(op, y, 200, tol=tol)
    assert info.converged and info.iterations % CHECK_EVERY == 0 and max(info.rel_change) < tol
    for k in range(CHECK_EVERY, info.iterations, CHECK_EVERY):
        _, earlier = cgls(op, y, k)  # without tol the record ends with ‖Aᵀr_k‖/‖Aᵀr_0‖ of the same iterates
        assert max(earlier.rel_change) >= tol


@pytest.mark.parametrize("name", ["tv", "l1", "sirt", "cgls"])
def test_callback_stop_and_history(op, frame, data, name):
    solve = {**_solvers(op, frame), "cgls": lambda y, **kw: cgls(op, y, **kw)}[name]
    seen = []

    def cb(k, x):
        seen.append((k, tuple(x.shape)))
        return k == 13

    _, info = solve(data[0][0], iters=50, tol=0, callback=cb)
    assert info.iterations == 13 and not info.converged
    assert seen == [(k, tuple(data[1].shape[1:])) for k in range(1, 14)]
    ks = [k for k, _ in info.history]
    assert ks == ([0, 10, 13] if name in ("tv", "l1") else list(range(14)))
    assert info.objective == info.history[-1][1]
    # CGLS always reports its residual ratio; the others only a relative change from a check
    assert math.isnan(info.rel_change[0]) == (name != "cgls")


@pytest.mark.parametrize("name", ["tv", "l1", "sirt", "cgls"])
def test_callback_runs_at_the_converged_iteration(op, frame, data, name):
    solve = {**_solvers(op, frame), "cgls": lambda y, **kw: cgls(op, y, **kw)}[name]
    seen = []
    _, info = solve(data[0], iters=400, tol=0.05, callback=lambda k, x: seen.append(k))
    assert info.converged and seen == list(range(1, info.iterations + 1))
