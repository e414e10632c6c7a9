"""scripts/bench_pipeline.py runs small: one table row per method, JSON with the machine."""

import importlib.util
import json
from pathlib import Path


def test_bench_pipeline_small(tmp_path, capsys):
    path = Path(__file__).resolve().parents[2] / "scripts" / "bench_pipeline.py"
    spec = importlib.util.spec_from_file_location("bench_pipeline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "b.json"
    assert mod.main(["--sizes", "32", "--batches", "2", "--devices", "cpu", "--repeats", "1", "--l1-iters", "2",
                     "--tv-iters", "2", "--sirt-iters", "2", "--methods", "fbp,tv,l1,ltl,postproc-fbp", "--untimed", "0",
                     "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    rows = {r["method"]: r for r in res["results"]}
    assert set(rows) == {"fbp", "tv", "l1", "ltl", "postproc-fbp"} and res["machine"]["cores"] >= 1
    assert all(r["slices_per_second"] > 0 and r["batch"] == 2 and r["size"] == 32 for r in rows.values())
    assert rows["ltl"]["model"].startswith("untrained (width 16, depth 4)") and rows["fbp"]["model"] == "–"
    assert "| cpu | 32 | 2 | LtI | untrained (width 16, depth 4) |" in capsys.readouterr().out
    # the ratio to TV is each row's time over TV's time in the same run
    for r in rows.values():
        assert abs(r["time_vs_tv"] - r["seconds_per_batch"] / rows["tv"]["seconds_per_batch"]) < 1e-12
    assert rows["tv"]["time_vs_tv"] == 1.0 and "median of the timed runs, after 0 untimed" in res["settings"]["statistic"]
