"""``ltl evaluate`` with scan options and no --checkpoint takes the shipped model made for them,
and refuses, in one line with the list and the training commands, when none is."""

from ltl.cli import main


def test_no_shipped_model_for_the_options_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["evaluate", "--phantom", "ellipses", "--count", "1", "--range", "90", "--methods", "fbp,ltl",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ltl: error: ") and "90" in err[0]
    assert "ltl train" in err[0] and "demo-model" in err[0] and "leave ltl out of --methods" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_the_shipped_model_is_chosen_for_matching_options(monkeypatch, tmp_path):
    from ltl.models import default_checkpoint

    seen = {}

    def stop(*a, **k):
        seen["checkpoints"] = k["checkpoints"]
        raise KeyboardInterrupt

    import ltl.evaluation

    monkeypatch.setattr(ltl.evaluation, "evaluate", stop)
    assert main(["evaluate", "--phantom", "ellipses", "--count", "1", "--range", "120", "--size", "256",
                 "--methods", "fbp,ltl-refined", "--out", str(tmp_path / "r")]) == 130
    assert seen["checkpoints"] == {"ltl-refined": default_checkpoint()}
