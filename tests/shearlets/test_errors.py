"""Bad inputs raise ValueError/TypeError saying what was expected, what came and what to do."""

import pytest
import torch

from ltl.shearlets import ShearletFrame


@pytest.fixture(scope="module")
def sh():
    return ShearletFrame(32)


@pytest.mark.parametrize(
    "shape,pattern",
    [
        ((32, 31), r"must have shape \(32, 32\) or \(B, 32, 32\).*got \(32, 31\).*pass square"),
        ((2, 31, 32), r"got \(2, 31, 32\)"),
        ((64, 64), r"N=32 frame, got \(64, 64\).*ShearletFrame\(N\)"),
        ((32,), r"got \(32,\)"),
        ((1, 2, 32, 32), r"got \(1, 2, 32, 32\)"),
    ],
)
def test_forward_bad_shapes(sh, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        sh(torch.zeros(shape))


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.bool, torch.complex64, torch.float16])
def test_forward_and_adjoint_bad_dtypes(sh, dtype):
    with pytest.raises(ValueError, match=r"float32 or float64.*got dtype.*\.float\(\)"):
        sh(torch.zeros(32, 32, dtype=dtype))
    with pytest.raises(ValueError, match=r"float32 or float64"):
        sh.adjoint(torch.zeros(sh.num_channels, 32, 32, dtype=dtype))


@pytest.mark.parametrize(
    "shape,pattern",
    [
        ((2, 16, 32, 32), r"\(B, 17, 32, 32\).*C=17.*got \(2, 16, 32, 32\).*same N and scales"),
        ((17, 32, 31), r"got \(17, 32, 31\)"),
        ((32, 32), r"got \(32, 32\)"),
        ((1, 1, 17, 32, 32), r"got \(1, 1, 17, 32, 32\)"),
    ],
)
def test_adjoint_bad_shapes(sh, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        sh.adjoint(torch.zeros(shape))


def test_not_a_tensor(sh):
    with pytest.raises(TypeError, match="torch.as_tensor"):
        sh([[0.0] * 32] * 32)


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        (dict(N=4), r"N must be >= 8"),
        (dict(N=32.0), r"N must be an integer"),
        (dict(N=32, scales=0), r"scales must be an integer in 1\.\.3 for N=32.*got 0.*scales=None"),
        (dict(N=32, scales=4), r"scales must be an integer in 1\.\.3"),
        (dict(N=32, scales=2, shears=(2,)), r"shears must be 2 positive integers.*got \(2,\).*shears=None"),
        (dict(N=32, scales=2, shears=(2, 0)), r"shears must be 2 positive integers"),
        (dict(N=32, dtype=torch.float16), r"dtype must be torch.float32 or torch.float64"),
    ],
)
def test_bad_construction(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ShearletFrame(**kwargs)


def test_bad_atom_position(sh):
    with pytest.raises(ValueError, match="inside the 32x32 image"):
        sh.atoms(position=(32, 0))
