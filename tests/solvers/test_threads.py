"""The intra-op thread policy of the solver loops (ltl.runtime.threads) and the loops' in-place updates."""

import threading

import pytest
import torch

from ltl.runtime import SMALL_NUMEL, loop_threads, solver_threads
from ltl.solvers import cgls, l1_shearlet, sirt, tv


@pytest.fixture
def two_threads():
    """Run the test with 2 intra-op threads (whatever the machine), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def test_policy_one_thread_below_the_threshold_only_on_the_cpu(two_threads, monkeypatch):
    monkeypatch.delenv("LTL_SOLVER_THREADS", raising=False)
    assert loop_threads(SMALL_NUMEL - 1) == 1
    assert loop_threads(SMALL_NUMEL) == 2
    assert loop_threads(10, threshold=5) == 2 and loop_threads(4, threshold=5) == 1
    assert loop_threads(10, "meta") == 2  # not the CPU: the caller's count


def test_environment_forces_the_count(two_threads, monkeypatch):
    monkeypatch.setenv("LTL_SOLVER_THREADS", "3")
    assert loop_threads(10) == 3 and loop_threads(10 * SMALL_NUMEL) == 3
    monkeypatch.setenv("LTL_SOLVER_THREADS", "0")  # 0: the policy
    assert loop_threads(10) == 1
    for bad in ("two", "-1"):
        monkeypatch.setenv("LTL_SOLVER_THREADS", bad)
        with pytest.raises(ValueError, match="LTL_SOLVER_THREADS"):
            loop_threads(10)


def test_context_restores_the_count_also_after_an_error(two_threads, monkeypatch):
    monkeypatch.delenv("LTL_SOLVER_THREADS", raising=False)
    with solver_threads(100) as k:
        assert k == 1 and torch.get_num_threads() == 1
        with solver_threads(SMALL_NUMEL) as k2:  # nested: large work keeps what it finds
            assert k2 == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError, match="boom"):
        with solver_threads(100):
            raise RuntimeError("boom")
    assert torch.get_num_threads() == 2


def test_context_leaves_other_threads_alone(two_threads, monkeypatch):
    monkeypatch.delenv("LTL_SOLVER_THREADS", raising=False)
    seen = {}
    inside, done = threading.Event(), threading.Event()

    def other():
        torch.ones(4).sum()  # torch's per-thread set-up happens before the block
        seen["before"] = torch.get_num_threads()
        inside.wait(10)
        seen["during"] = torch.get_num_threads()
        done.set()

    t = threading.Thread(target=other)
    t.start()
    while "before" not in seen:
        pass
    with solver_threads(100):
        inside.set()
        done.wait(10)
    t.join()
    assert seen == {"before": 2, "during": 2}


@pytest.fixture
def counts(monkeypatch):
    """A callback that records the intra-op thread count of every iteration."""
    monkeypatch.delenv("LTL_SOLVER_THREADS", raising=False)
    seen = []

    def cb(k, f):
        seen.append(torch.get_num_threads())

    return seen, cb


@pytest.mark.parametrize("name", ["tv", "l1", "sirt", "cgls"])
def test_solver_loops_run_on_one_thread_and_restore(name, op, frame, data, counts, two_threads):
    seen, cb = counts
    y, _ = data
    run = {"tv": lambda **kw: tv(op, y, 0.5, iters=5, tol=0, **kw),
           "l1": lambda **kw: l1_shearlet(op, frame, y, 0.05, iters=5, tol=0, **kw),
           "sirt": lambda **kw: sirt(op, y, 5, **kw),
           "cgls": lambda **kw: cgls(op, y, 5, **kw)}[name]
    run(callback=cb)
    assert seen == [1] * 5
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("name", ["tv", "l1", "sirt", "cgls"])
def test_results_do_not_depend_on_the_thread_count(name, op, frame, data, monkeypatch, two_threads):
    y, _ = data
    run = {"tv": lambda: tv(op, y, 0.5, iters=30, tol=0),
           "l1": lambda: l1_shearlet(op, frame, y, 0.05, iters=30, tol=0),
           "sirt": lambda: sirt(op, y, 30),
           "cgls": lambda: cgls(op, y, 10)}[name]
    monkeypatch.delenv("LTL_SOLVER_THREADS", raising=False)
    x1, i1 = run()
    monkeypatch.setenv("LTL_SOLVER_THREADS", "2")
    x2, i2 = run()
    torch.testing.assert_close(x1, x2, rtol=1e-5, atol=1e-6)
    assert i1.objective == pytest.approx(i2.objective, rel=1e-6)


@pytest.mark.parametrize("name", ["tv", "l1", "sirt", "cgls"])
def test_iterates_given_to_the_callback_are_never_changed_later(name, op, frame, data):
    """The loops update their own buffers in place, never an image they handed out."""
    y, _ = data
    kept, copies = [], []

    def cb(k, f):
        kept.append(f)
        copies.append(f.clone())

    {"tv": lambda: tv(op, y, 0.5, iters=6, tol=0, callback=cb),
     "l1": lambda: l1_shearlet(op, frame, y, 0.05, iters=6, tol=0, callback=cb),
     "sirt": lambda: sirt(op, y, 6, callback=cb),
     "cgls": lambda: cgls(op, y, 6, callback=cb)}[name]()
    assert len(kept) == 6
    for a, b in zip(kept, copies):
        assert torch.equal(a, b)
    assert not torch.equal(copies[0], copies[-1])  # the iterates did move
