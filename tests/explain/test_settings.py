"""RDESettings: one place for every default of RDE, the ordering test, explain_lti and ``ltl explain``."""

import dataclasses
import inspect
import json

import pytest

import ltl.cli
from ltl.explain import (DOMAINS, NOISES, LtIExplainer, RDESettings, expected_distortion, explain_lti, rde,
                         relevance_ordering)
from ltl.explain.noise import Problem, draw_noise

#: RDESettings fields that are not options of ``ltl explain`` (their defaults always apply there).
NOT_OPTIONS = {"init", "antithetic"}


def explain_parser():
    p = ltl.cli.parser()
    (sub,) = [a for a in p._actions if a.dest == "command"]
    return sub.choices["explain"]


def test_every_explain_option_default_is_the_settings_default():
    args = ltl.cli.parser().parse_args(["explain", "scan.npz", "--out", "o"])
    d = RDESettings()
    options = set(RDESettings.field_names()) - NOT_OPTIONS
    assert options == {"domain", "lam", "steps", "samples", "noise", "lr", "seed", "points"}
    for name in options:
        assert getattr(args, name) == getattr(d, name), name
        assert type(getattr(args, name)) is type(getattr(d, name)), name
    # the help shows the default, and the choices are the settings' valid values
    actions = {a.dest: a for a in explain_parser()._actions}
    for name in options:
        v = getattr(d, name)
        assert f"[{v:g}]" in actions[name].help if isinstance(v, float) else f"[{v}]" in actions[name].help, name
    assert tuple(actions["domain"].choices) == DOMAINS and tuple(actions["noise"].choices) == NOISES
    # the options' values become the settings the command runs with
    args = ltl.cli.parser().parse_args(["explain", "s.npz", "--out", "o", "--lam", "3", "--steps", "7",
                                        "--domain", "pixels", "--seed", "5"])
    assert ltl.cli.explain.settings_of(args) == RDESettings(lam=3.0, steps=7, domain="pixels", seed=5)


def test_function_defaults_are_the_settings_defaults():
    d = RDESettings()
    checks = [(rde, ["domain", "lam", "steps", "samples", "noise", "lr", "seed", "init", "antithetic"]),
              (relevance_ordering, ["domain", "noise", "samples", "points", "seed"]),
              (expected_distortion, ["noise", "seed"]), (Problem, ["noise", "seed"])]
    for f, names in checks:
        params = inspect.signature(f).parameters
        for name in names:
            assert params[name].default == getattr(d, name), (f.__name__, name)
    assert inspect.signature(draw_noise).parameters["kind"].default == d.noise
    # explain_lti takes its settings from an RDESettings (default the defaults); keywords override
    params = inspect.signature(explain_lti).parameters
    assert params["settings"].default is None
    assert all(params[name].default is None for name in RDESettings.field_names())
    assert "lam" not in inspect.signature(LtIExplainer).parameters


def test_round_trip():
    for s in (RDESettings(), RDESettings(domain="channels", lam=0.5, steps=3, samples=2, noise="uniform", lr=0.1,
                                         seed=9, init=0.5, antithetic=False, points=2)):
        d = s.to_dict()
        assert RDESettings.from_dict(d) == s
        assert RDESettings.from_dict(json.loads(json.dumps(d))) == s
        assert RDESettings.from_json(s.to_json()) == s
        assert set(d) == set(RDESettings.field_names())
    assert RDESettings.from_dict({"steps": 5}) == RDESettings(steps=5)
    with pytest.raises(ValueError, match=r"unknown RDE setting\(s\) \['step'\]; valid keys: domain"):
        RDESettings.from_dict({"step": 5})


@pytest.mark.parametrize("bad, match", [
    (dict(steps=0), "steps must be an integer >= 1"),
    (dict(steps=2.5), "steps must be an integer >= 1"),
    (dict(samples=0), "samples must be an integer >= 1"),
    (dict(points=1), "points must be an integer >= 2"),
    (dict(lam=0.0), "lam must be a positive number"),
    (dict(lam=-1.0), "lam must be a positive number"),
    (dict(lam=float("nan")), "lam must be a positive number"),
    (dict(lr=0.0), "lr must be a positive number"),
    (dict(lr=float("inf")), "lr must be a positive number"),
    (dict(domain="wavelets"), "domain must be one of coefficients, pixels, channels"),
    (dict(noise="poisson"), "noise must be one of gaussian, uniform"),
    (dict(seed=-1), "seed must be an integer >= 0"),
    (dict(init=1.5), r"init must lie in \[0, 1\]"),
    (dict(init=-0.1), "init must be a finite number >= 0"),
    (dict(antithetic="yes"), "antithetic must be true or false"),
])
def test_bad_settings_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        RDESettings(**bad)
    with pytest.raises(ValueError, match=match):
        RDESettings().replace(**bad)
    with pytest.raises(ValueError, match=match):
        RDESettings.from_dict(bad)


def test_settings_are_frozen():
    s = RDESettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.steps = 3  # type: ignore[misc]
    assert s.replace(steps=3).steps == 3 and s.steps == RDESettings.steps
