"""Small problems with explicit matrices for the solver tests (N = 16, 12 views over 120°)."""

import numpy as np
import pytest
import torch

from ltl import Geometry, RadonOperator
from ltl.data import random_ellipses

N = 16


@pytest.fixture(scope="session")
def geom():
    return Geometry.limited_angle(N, angular_range_deg=120, step_deg=10)


@pytest.fixture(scope="session")
def op(geom):
    return RadonOperator(geom)


@pytest.fixture(scope="session")
def frame():
    from ltl.shearlets import ShearletFrame

    return ShearletFrame(N)


@pytest.fixture(scope="session")
def matrix(op):
    """A as a dense (V·D, N²) float64 array, built column by column from the operator."""
    eye = torch.eye(N * N).reshape(N * N, N, N)
    return op(eye).reshape(N * N, -1).T.double().numpy()


@pytest.fixture(scope="session")
def frame_matrix(frame):
    """SH's analysis matrix (C·N², N²), column by column."""
    eye = torch.eye(N * N).reshape(N * N, N, N)
    return frame.forward(eye).reshape(N * N, -1).T.double().numpy()


@pytest.fixture(scope="session")
def data(op):
    """Three noisy sinograms (3, V, D) of random ellipses (2% relative Gaussian noise) and truths."""
    x = random_ellipses(3, N, seed=3)
    y = op(x)
    g = torch.Generator().manual_seed(0)
    peak = y.abs().amax(dim=(1, 2), keepdim=True)
    return y + 0.02 * peak * torch.randn(y.shape, generator=g), x


def gradient_matrices(n):
    """Forward differences with Neumann boundary as dense (n², n²) matrices (rows, cols)."""
    e = np.eye(n)
    d = np.zeros((n, n))
    d[np.arange(n - 1), np.arange(n - 1)] = -1
    d[np.arange(n - 1), np.arange(1, n)] = 1
    return np.kron(d, e), np.kron(e, d)
