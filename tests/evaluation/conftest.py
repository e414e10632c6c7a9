import pytest
import torch

from ltl import Geometry

TINY_SOLVER = dict(iters=10, tol=0)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny networks run fastest on one thread, and do not fight tests running beside them."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def geom():
    return Geometry.limited_angle(32, angular_range_deg=120, step_deg=3)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, geom):
    """A 32² dataset: 2 training samples and 4 test samples (seeds 20000..20003), no validation split."""
    from ltl.data.dataset import make_dataset

    path = tmp_path_factory.mktemp("data") / "tiny.h5"
    make_dataset(path, count=2, val_count=0, test_count=4, geometry=geom, chunk=4, device="cpu", progress=False,
                 solver_settings=TINY_SOLVER)
    return path


def _randomize(model, seed):
    """Random but fixed weights and normalisation, so that the networks do something visible."""
    g = torch.Generator().manual_seed(seed)
    net = model.net
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))
        net.set_normalization(torch.zeros(net.in_channels), torch.ones(net.in_channels),
                              torch.zeros(net.out_channels), 0.05 * torch.ones(net.out_channels))
    return model.eval()


@pytest.fixture(scope="session")
def ckpts(tmp_path_factory, tiny):
    """Untrained checkpoints of the four learned methods for the tiny dataset's geometry.

    ltl and ltl-nosplit use the dataset's l1 settings (their f_vis is the stored one); postproc-l1
    uses other solver settings (its f_vis must be recomputed)."""
    from ltl.data import LtIDataset
    from ltl.models import LtI, PostProc

    ds = LtIDataset(tiny)
    g, fs, ss = ds.geometry, ds.frame_settings, ds.solver_settings
    d = tmp_path_factory.mktemp("ckpts")
    models = {
        "ltl": LtI(g, frame_settings=fs, solver_settings=ss, width=4, depth=2),
        "ltl-nosplit": LtI(g, frame_settings=fs, solver_settings=ss, width=4, depth=2, nosplit=True),
        "postproc-fbp": PostProc(g, source="fbp", width=4, depth=2),
        "postproc-l1": PostProc(g, source="l1", frame_settings=fs, solver_settings=dict(iters=5, tol=0), width=4,
                                depth=2),
    }
    return {m: _randomize(model, i).save(d / m) for i, (m, model) in enumerate(models.items())}


ALL = ("fbp", "sirt", "tv", "l1", "ltl", "postproc-fbp", "postproc-l1", "ltl-nosplit")


@pytest.fixture(scope="session")
def report(tmp_path_factory, tiny, ckpts):
    """Every method on the tiny dataset's test split, and its report directory."""
    from ltl.evaluation import evaluate, write_report

    ev = evaluate(tiny, ALL, checkpoints=ckpts, split="test", device="cpu", batch_size=3, progress=False,
                  settings={"sirt": {"iters": 5}, "tv": {"iters": 5}})
    out = write_report(ev, tmp_path_factory.mktemp("report") / "rep", montage=2)
    return ev, out
