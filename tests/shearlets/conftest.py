import numpy as np
import pytest
import torch


@pytest.fixture
def rng():
    """A fresh seeded numpy generator per test (no global seeds)."""
    return np.random.default_rng(20240517)


@pytest.fixture
def trng():
    """A fresh seeded torch generator per test."""
    g = torch.Generator()
    g.manual_seed(1234)
    return g
