"""Checkpoint integrity: a manifest hash covers model.json and (through its hash) model.pt."""

import json

import pytest
import torch

from ltl import Geometry
from ltl.models import LtI, PostProc, load_model
from ltl.models.checkpoint import manifest_hash


@pytest.fixture
def saved(tmp_path):
    g = Geometry.limited_angle(32, angular_range_deg=120, step_deg=4.0)
    torch.manual_seed(0)
    model = PostProc(g, source="fbp", width=4, depth=1)
    return model.save(tmp_path / "m"), model


def _edit(d, change):
    meta = json.loads((d / "model.json").read_text())
    change(meta)
    (d / "model.json").write_text(json.dumps(meta, indent=1))


def test_a_saved_model_carries_a_manifest_and_loads(saved):
    d, model = saved
    meta = json.loads((d / "model.json").read_text())
    assert meta["manifest_sha256"] == manifest_hash(meta)
    again = load_model(d)
    for a, b in zip(again.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("change", [
    lambda m: m["geometry"].update(angles=[a * 1.25 for a in m["geometry"]["angles"]]),  # a relabelled range
    lambda m: m.update(fbp_filter="ram-lak"),
    lambda m: m["model"].update(width=5),
    lambda m: m.update(weights_sha256="0" * 64),
])
def test_an_edited_model_json_is_refused_in_one_line(saved, change):
    d, _ = saved
    _edit(d, change)
    with pytest.raises(ValueError, match="changed after the model was saved") as e:
        load_model(d)
    assert "\n" not in str(e.value)


def test_a_checkpoint_without_a_manifest_still_loads_but_its_weights_are_checked(saved):
    d, _ = saved
    _edit(d, lambda m: m.pop("manifest_sha256"))
    load_model(d)  # written before the manifest existed
    (d / "model.pt").write_bytes((d / "model.pt").read_bytes()[:-10])
    with pytest.raises(ValueError, match="does not match the hash"):
        load_model(d)


def test_the_shipped_model_has_a_valid_manifest():
    from ltl.models import default_checkpoint

    meta = json.loads((default_checkpoint() / "model.json").read_text())
    assert meta["manifest_sha256"] == manifest_hash(meta)
    assert isinstance(LtI.load(default_checkpoint()), LtI)
