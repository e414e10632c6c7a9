"""Every long phase shows progress with an ETA on stderr, ``--quiet`` silences it (and the status
lines) but keeps results and warnings, ``--verbose`` is accepted, and RDE says when its objective
was still falling at the last step."""

import logging

import pytest
import torch

from ltl import Geometry
from ltl.cli import given_options, main, parser
from ltl.data import save_scan, simulate_phantoms
from ltl.explain.rde import FALLING_TOL, still_falling
from ltl.models import LtI
from ltl.runtime.log import console
from ltl.runtime.progress import Progress, bars_enabled

N = 32


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 32² scan and a small LtI model with training statistics (so RDE's noise has them)."""
    d = tmp_path_factory.mktemp("first-hour")
    g = Geometry.limited_angle(N, angular_range_deg=120, step_deg=3)
    save_scan(d / "scan.npz", simulate_phantoms("ellipses", g, count=1, noise=0.01, seed=20000))
    torch.manual_seed(0)
    m = LtI(g, width=4, depth=2, solver_settings=dict(iters=20, tol=0))
    c_in, c_out = m.net.in_channels, m.net.out_channels
    m.net.set_normalization(0.01 * torch.rand(c_in), 0.05 + 0.05 * torch.rand(c_in), torch.zeros(c_out), torch.ones(c_out))
    m.save(d / "model")
    return d


def _explain(files, out, *extra):
    return main(["explain", files / "scan.npz", "--checkpoint", files / "model", "--steps", "4", "--samples", "2",
                 "--points", "3", "--device", "cpu", "--out", out, *extra])


def test_every_phase_of_explain_shows_a_bar_with_an_eta(files, tmp_path, capsys):
    assert _explain(files, tmp_path / "a") == 0
    cap = capsys.readouterr()
    for phase in ("l1-shearlet", "RDE", "baselines", "ordering curve 1/5 (rde)", "ordering curve 5/5"):
        assert phase in cap.err, phase
    assert "<" in cap.err and "/s" in cap.err  # tqdm's elapsed<remaining and rate
    assert "ltl explain: scan 0" in cap.out and "l1-shearlet step (f_vis): 20 iterations" in cap.out
    assert "area under the ordering curve" in cap.out


def test_quiet_silences_bars_and_status_but_not_results(files, tmp_path, capsys):
    assert _explain(files, tmp_path / "q", "--quiet") == 0
    cap = capsys.readouterr()
    bars = "".join(line for line in cap.err.splitlines(keepends=True) if not line.startswith("ltl: warning:"))
    assert "RDE" not in bars and "l1-shearlet" not in bars and "ordering" not in bars and "it/s" not in bars
    assert "ltl: warning: RDE's objective was still falling" in cap.err  # 4 steps: warnings stay
    assert "ltl explain: scan" not in cap.out and "area under the ordering curve" in cap.out
    assert main(["--quiet", "explain", files / "scan.npz", "--out", tmp_path / "q2", "--steps", "0"]) == 2
    assert capsys.readouterr().err.startswith("ltl: error: --steps")  # errors are never silenced
    # the console set-up is undone after each command: bars are back on, the ltl logger as it was
    assert bars_enabled() and logging.getLogger("ltl").level == logging.NOTSET


def test_quiet_and_verbose_go_before_or_after_the_command():
    p = parser()
    assert p.parse_args(["-q", "info"]).verbosity == -1
    assert p.parse_args(["info", "--quiet"]).verbosity == -1
    assert p.parse_args(["info", "-v"]).verbosity == 1
    assert "verbosity" not in vars(p.parse_args(["info"]))
    with pytest.raises(SystemExit):
        p.parse_args(["info", "-q", "-v"])
    assert given_options(["--quiet", "train", "--out", "r", "--resume", "--epochs", "3"]) == {"out", "resume",
                                                                                               "epochs"}


def test_console_levels_route_messages(capsys):
    log = logging.getLogger("ltl.test")
    with console(-1):
        log.info("hidden")
        log.warning("shown")
        assert not Progress(True, 10, "bar").bar  # no bar under --quiet
    with console(1):
        log.debug("detail")
        log.info("status")
    cap = capsys.readouterr()
    assert "hidden" not in cap.out + cap.err
    assert "ltl: warning: shown" in cap.err and "ltl: debug: detail" in cap.err and cap.out == "status\n"


def test_still_falling_reads_the_trend_not_the_jitter():
    falling = [10.0 - 0.5 * k for k in range(20)]
    before, last = sum(falling[-4:-2]) / 2, sum(falling[-2:]) / 2  # windows of a tenth of the steps
    assert still_falling(falling) == pytest.approx((before - last) / before)
    assert still_falling([1.0] * 30) is None
    jitter = [1.0 + (0.005 if k % 2 else -0.005) for k in range(40)]  # flat, ±0.5% noise, even windows
    assert still_falling(jitter) is None
    assert still_falling([2.0, 1.0]) == pytest.approx(0.5) and still_falling([1.0]) is None
    assert still_falling([1.0, 1.0 - FALLING_TOL / 2]) is None


def test_rde_warns_when_its_objective_is_still_falling(caplog):
    from ltl.explain import rde

    net = torch.nn.Conv2d(2, 1, 3, padding=1)
    x = torch.randn(2, 8, 8, generator=torch.Generator().manual_seed(0))
    with caplog.at_level(logging.WARNING, logger="ltl"):
        res = rde(net, x, steps=5, samples=2, lr=0.2, lam=10.0)
    assert res.params["still_falling"] is not None
    assert "still falling" in caplog.text and "--steps" in caplog.text
