"""Every method reproduces the reconstructions made before the package was reorganised (issue 12).

``tests/golden/reconstructions.npz`` was written once by the pre-reorganisation code (see
``tests/golden/README.md``); here the same scans go through today's code paths: the method
registry (what ``ltl reconstruct`` runs), the evaluation pipeline with the four learned kinds
(seeded untrained 128² models stored in ``tests/golden/models``), the command line, and the
shipped demo model.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from ltl import RadonOperator, methods
from ltl.data import load_reconstruction, load_scan, simulate_phantoms
from ltl.evaluation import Pipeline
from ltl.models import LtI, load_model

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
SAMPLES = ("shepp-logan-120deg-128", "ellipses-120deg-128")
TOL = 1e-5


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN / "reconstructions.npz") as z:
        return {k: z[k] for k in z.files}


def _close(a, b):
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL)


def _cli_settings(name, noise):
    """What ``ltl reconstruct`` passes for each method by default (the scan's noise for tv and l1)."""
    return {"fbp": None, "sirt": None, "cgls": None, "tv": {"noise": noise},
            "l1": {"solver": {"noise": noise}}}[name]


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("name", ["fbp", "sirt", "cgls", "tv", "l1"])
def test_registry_methods_match_the_pre_reorganisation_output(golden, sample, name):
    scan = load_scan(ROOT / "data" / f"{sample}.npz")
    rec = methods.create(name, _cli_settings(name, scan.meta["noise"])).reconstruct(RadonOperator(scan.geometry),
                                                                                     scan.sinogram)
    _close(rec.image, golden[f"{sample}/{name}"])


def test_command_line_reconstruct_matches(golden, tmp_path):
    from ltl.cli import main

    out = tmp_path / "rec.npz"
    assert main(["reconstruct", str(ROOT / "data" / "ellipses-120deg-128.npz"), "--method", "l1", "--out", str(out),
                 "--no-progress", "--device", "cpu"]) == 0
    _close(load_reconstruction(out)[0], golden["ellipses-120deg-128/l1"])


def test_pipeline_with_every_learned_kind_matches(golden):
    scan = load_scan(ROOT / "data" / "ellipses-120deg-128.npz")
    names = ["fbp", "sirt", "tv", "l1", "ltl", "ltl-nosplit", "postproc-fbp", "postproc-l1"]
    models = {k: load_model(GOLDEN / "models" / k).eval() for k in names if methods.get(k).learned}
    assert {k: m.kind for k, m in models.items()} == {k: k for k in models}
    res = Pipeline(scan.geometry, names, models=models, device="cpu").run(scan.sinogram)
    for k in names:
        _close(res[k][0], golden[f"ellipses-120deg-128/pipeline/{k}"])


def test_shipped_demo_model_loads_unchanged_and_reproduces(golden):
    model = LtI.load(ROOT / "data" / "demo-model")
    scan = simulate_phantoms("ellipses", model.geometry, count=1, noise=0.01, seed=20049)
    parts = model.reconstruct(scan, return_parts=True)
    for k in ("f_vis", "f_ltl"):
        _close(parts[k], golden[f"demo-model/ellipses-20049/{k}"])
