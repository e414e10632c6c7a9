"""The method registry (ltl.methods) and the typed settings: one list of names everywhere, and
settings that round-trip through JSON and refuse what they do not know."""

import json

import pytest
import torch

from ltl import Geometry, RadonOperator, methods
from ltl.shearlets.settings import FrameSettings
from ltl.solvers.settings import CGLSSettings, L1Settings, SIRTSettings, TVSettings


def test_every_list_of_method_names_comes_from_the_registry():
    import ltl.cli.evaluate as cli_evaluate
    import ltl.cli.reconstruct as cli_reconstruct
    from ltl.cli import parser
    from ltl.evaluation import LEARNED, METHODS, NAMES
    from ltl.models import KINDS
    from ltl.training import MODELS

    learned = methods.names(learned=True)
    kinds = {methods.get(m).model_kind() for m in learned}  # ltl-refined runs ltl models
    assert set(learned) == set(LEARNED) and kinds == set(KINDS) == set(MODELS)
    assert [m for m in learned if methods.get(m).kind not in (None, m)] == ["ltl-refined"]
    assert METHODS == methods.names() and set(NAMES) == set(METHODS)
    assert set(cli_evaluate.CHECKPOINT_FLAGS) == set(learned)
    assert set(cli_reconstruct.CHOICES) <= set(methods.names())
    assert set(methods.names(learned=False)) <= set(cli_reconstruct.CHOICES)
    train = next(a for a in parser()._subparsers._group_actions[0].choices["train"]._actions if a.dest == "model")
    assert set(train.choices) == kinds
    for name in methods.names():
        cls = methods.get(name)
        assert cls.name == name and cls.label and cls.description
        assert (cls.settings_type is None) == cls.learned


def test_unknown_names_and_misplaced_models_are_refused():
    with pytest.raises(ValueError, match="unknown method 'art'; valid methods: fbp, sirt"):
        methods.get("art")
    with pytest.raises(ValueError, match="unknown method 'art'"):
        methods.parse("tv, art")
    assert methods.parse("TV, l1,tv") == ["tv", "l1"]
    with pytest.raises(ValueError, match="needs a trained model"):
        methods.create("ltl")
    with pytest.raises(ValueError, match="model-based; it takes no trained model"):
        methods.create("tv", model=torch.nn.Linear(1, 1))
    with pytest.raises(ValueError, match="unknown tv setting"):
        methods.create("tv", {"step_ratio": 2})


@pytest.mark.parametrize("cls", [L1Settings, TVSettings, SIRTSettings, CGLSSettings, FrameSettings,
                                 methods.FBPSettings, methods.ShearletL1Settings])
def test_settings_round_trip_through_json(cls):
    s = cls()
    assert cls.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    with pytest.raises(ValueError, match="unknown"):
        cls.from_dict({"no_such_setting": 1})


def test_settings_refuse_bad_values_and_keep_the_stored_form():
    for bad in ({"iters": 0}, {"iters": 2.5}, {"tol": -1}, {"lam": 0}, {"balance": 1.0}, {"nonneg": 1}):
        with pytest.raises(ValueError):
            L1Settings.from_dict(bad)
    # the stored form of files written before the typed settings: five keys, the rest only when changed
    assert L1Settings().to_dict() == {"lam": None, "iters": 300, "tol": 1e-3, "noise": None, "nonneg": True}
    assert L1Settings(lam_factor=0.075).to_dict()["lam_factor"] == 0.075
    assert L1Settings.from_dict({"method": "l1_shearlet", "iters": 20}).iters == 20
    flat = methods.ShearletL1Settings.from_dict({"lam": 0.5, "scales": 2})
    assert flat.solver.lam == 0.5 and flat.frame.scales == 2
    assert methods.ShearletL1Settings.from_dict(flat.to_dict()) == flat


def test_solver_defaults_are_the_settings_defaults():
    import inspect

    from ltl.solvers import cgls, l1_shearlet, sirt, tv

    for fn, cls in ((l1_shearlet, L1Settings), (tv, TVSettings), (sirt, SIRTSettings), (cgls, CGLSSettings)):
        sig = inspect.signature(fn).parameters
        for k, v in cls.defaults().items():
            assert sig[k].default == v, (fn.__name__, k)


def test_reconstruct_options_are_the_settings_defaults():
    from ltl.cli import parser

    args = parser().parse_args(["reconstruct", "scan.npz", "--out", "r.npz"])
    assert args.filter == methods.FBPSettings.filter
    from ltl.cli.reconstruct import method_settings

    for name in methods.names(learned=False):  # unset options leave every default in place
        assert methods.create(name, method_settings(name, args)).settings == methods.get(name).settings_type()


def test_a_method_runs_on_a_tiny_scan_and_reports_its_run():
    g = Geometry.limited_angle(32, angular_range_deg=120, step_deg=4.0)
    A = RadonOperator(g)
    x = torch.zeros(1, 32, 32)
    x[:, 10:20, 12:22] = 1.0
    y = A(x)
    rec = methods.create("sirt", {"iters": 5}).reconstruct(A, y)
    assert rec.image.shape == (1, 32, 32) and rec.info["iterations"] == 5
    l1 = methods.create("l1", {"solver": {"iters": 10, "tol": 0}, "frame": {"scales": 2}})
    f = l1.reconstruct(A, y)
    assert f.info["iterations"] == 10 and f.info["frame"]["scales"] == 2
    assert l1.reconstruct(A, y, f_vis=f.image).image is f.image  # a given f_vis replaces the solve
