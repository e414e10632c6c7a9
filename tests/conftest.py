import numpy as np
import pytest
import torch


def _cuda() -> bool:
    if not torch.cuda.is_available():
        return False
    try:
        import astra

        return bool(astra.use_cuda())
    except Exception:
        return False


HAS_CUDA = _cuda()


def pytest_collection_modifyitems(config, items):
    if HAS_CUDA:
        return
    skip = pytest.mark.skip(reason="needs CUDA with ASTRA's GPU build")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
