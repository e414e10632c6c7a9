"""An installed wheel carries the demo model and the sample scans, and the public locators find them
from outside the source tree (``ltl.models.shipped``, ``ltl.data.samples``)."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES_256 = ("ellipses-120deg-256", "shepp-logan-120deg-256")

PROBE = """
import json, ltl
from ltl.data.samples import samples
from ltl.models import LtI
from ltl.models.shipped import default_checkpoint, sample_path
ckpt = default_checkpoint()
model = LtI.load(ckpt)
print(json.dumps({"package": ltl.__file__, "checkpoint": str(ckpt), "geometry": model.geometry.describe(),
                  "samples": {k: str(v) for k, v in samples().items()},
                  "ellipses": str(sample_path("ellipses-120deg-256.npz"))}))
"""


def _setuptools_recent() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 77


def _copy_source(dst: Path) -> None:
    """What a wheel is built from: the package, the shipped data, pyproject.toml and README.md."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "ltl", dst / "ltl", ignore=ignore)
    shutil.copytree(ROOT / "data", dst / "data", ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, dst / name)


@pytest.mark.slow
@pytest.mark.skipif(not _setuptools_recent(), reason="building the wheel offline needs setuptools >= 77 installed")
def test_wheel_installs_the_model_and_samples_and_the_locators_find_them(tmp_path):
    src, dist, prefix, elsewhere = (tmp_path / n for n in ("src", "dist", "prefix", "elsewhere"))
    _copy_source(src)
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(pip[:3] + ["wheel", str(src), "--no-deps", "--no-build-isolation", "-w", str(dist)] + pip[3:],
                   check=True, capture_output=True)
    (wheel,) = dist.glob("ltl-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    for name in SAMPLES_256:
        assert any(n.endswith(f"data/share/ltl/samples/{name}.npz") for n in names), name
    assert any(n.endswith("data/share/ltl/demo-model/model.pt") for n in names)

    # --ignore-installed: install into the prefix even where ltl is installed here too, and leave that install alone
    subprocess.run(pip[:3] + ["install", str(wheel), "--no-deps", "--no-index", "--ignore-installed",
                              "--prefix", str(prefix)] + pip[3:], check=True, capture_output=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))
    env = {k: v for k, v in os.environ.items() if k not in ("LTL_DEMO_MODEL", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    r = subprocess.run([sys.executable, "-c", PROBE], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    share = prefix / "share" / "ltl"
    assert Path(got["package"]).is_relative_to(site)  # the installed copy, not the source tree
    assert Path(got["checkpoint"]) == share / "demo-model"
    assert got["geometry"].startswith("N=256, 120 views")
    assert set(SAMPLES_256) <= set(got["samples"])
    assert all(Path(p).parent == share / "samples" for p in got["samples"].values())
    assert Path(got["ellipses"]) == share / "samples" / "ellipses-120deg-256.npz"
