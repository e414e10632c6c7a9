"""Bad input raises ValueError with a message that says what was expected and what came."""

import math

import pytest
import torch

from ltl.solvers import cgls, l1_shearlet, sirt, tv


def _solvers(op, frame):
    return {
        "l1": lambda y, **kw: l1_shearlet(op, frame, y, kw.pop("lam", 1.0), **kw),
        "tv": lambda y, **kw: tv(op, y, kw.pop("lam", 1.0), **kw),
        "sirt": lambda y, **kw: sirt(op, y, kw.pop("iters", 5), **kw),
        "cgls": lambda y, **kw: cgls(op, y, kw.pop("iters", 5), **kw),
    }


@pytest.mark.parametrize("name", ["l1", "tv", "sirt", "cgls"])
def test_wrong_shape_names_both_and_geometry(op, frame, geom, name):
    solve = _solvers(op, frame)[name]
    with pytest.raises(ValueError) as e:
        solve(torch.zeros(2, 10, 23))
    msg = str(e.value)
    assert "(2, 10, 23)" in msg and str(tuple(op.range_shape)) in msg and geom.describe() in msg


@pytest.mark.parametrize("name", ["l1", "tv", "sirt", "cgls"])
def test_nan_and_inf_in_data(op, frame, name):
    solve = _solvers(op, frame)[name]
    for bad in (math.nan, math.inf):
        y = torch.zeros(op.range_shape)
        y[3, 4] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            solve(y)


@pytest.mark.parametrize("name", ["l1", "tv", "sirt", "cgls"])
def test_iters_below_one(op, frame, name):
    solve = _solvers(op, frame)[name]
    for it in (0, -3):
        with pytest.raises(ValueError, match="iters must be an integer >= 1"):
            solve(torch.zeros(op.range_shape), iters=it)


@pytest.mark.parametrize("name", ["l1", "tv"])
@pytest.mark.parametrize("lam", [0.0, -1.0, math.nan, math.inf, [1.0, -1.0]])
def test_bad_lambda(op, frame, name, lam):
    solve = _solvers(op, frame)[name]
    with pytest.raises(ValueError, match="lam"):
        solve(torch.zeros(2, *op.range_shape), lam=lam)


@pytest.mark.parametrize("name", ["l1", "tv"])
def test_lambda_count_must_match_batch(op, frame, name):
    with pytest.raises(ValueError, match="one per slice"):
        _solvers(op, frame)[name](torch.zeros(2, *op.range_shape), lam=[1.0, 2.0, 3.0])


def test_weights_wrong_length_or_negative(op, frame):
    y = torch.zeros(op.range_shape)
    with pytest.raises(ValueError, match=f"one entry per frame channel, {frame.num_channels}, got 3"):
        l1_shearlet(op, frame, y, 1.0, weights=[1.0, 1.0, 1.0])
    w = torch.ones(frame.num_channels)
    w[2] = -1
    with pytest.raises(ValueError, match=">= 0"):
        l1_shearlet(op, frame, y, 1.0, weights=w)


def test_bad_tol_and_x0(op, frame):
    y = torch.zeros(op.range_shape)
    with pytest.raises(ValueError, match="tol"):
        tv(op, y, 1.0, tol=-1)
    with pytest.raises(ValueError, match="x0 must have shape"):
        l1_shearlet(op, frame, y, 1.0, x0=torch.zeros(8, 8))
    with pytest.raises(ValueError, match="finite"):
        sirt(op, y, 3, x0=torch.full(op.domain_shape, math.nan))


def test_non_tensor_data(op, frame):
    with pytest.raises(TypeError, match="torch.Tensor"):
        tv(op, [[0.0]], 1.0)
