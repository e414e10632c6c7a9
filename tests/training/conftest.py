import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny networks run fastest on one thread, and do not fight tests running beside them."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def small_data(tmp_path_factory):
    """A 32² dataset: 8 training samples (seeds 0..7) and 4 validation samples (seeds 10000..)."""
    from ltl import Geometry
    from ltl.data.dataset import make_dataset

    path = tmp_path_factory.mktemp("data") / "small.h5"
    g = Geometry.limited_angle(32, angular_range_deg=120, step_deg=2)
    make_dataset(path, count=8, val_count=4, geometry=g, chunk=4, solver_settings=dict(iters=10, tol=0),
                 progress=False)
    return path
