"""The run directory's logs: CSV and JSON per epoch, and a loss/metrics plot (all written atomically)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Sequence

from ..runtime.files import atomic_bytes

__all__ = ["COLUMNS", "write_logs", "plot_history"]

COLUMNS = ("epoch", "steps", "train_loss", "val_loss", "val_re", "val_psnr", "val_ssim", "val_haarpsi",
           "fvis_re", "fvis_psnr", "fvis_ssim", "fvis_haarpsi", "lr", "seconds", "samples_per_s")


def write_logs(run_dir: Path, history: Sequence[dict], extra: dict[str, Any]) -> None:
    """``log.csv`` (one row per epoch, :data:`COLUMNS`) and ``log.json`` (``extra`` + history)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
    w.writeheader()
    for row in history:
        w.writerow({k: row.get(k, "") for k in COLUMNS})
    atomic_bytes(run_dir / "log.csv", buf.getvalue().encode())
    atomic_bytes(run_dir / "log.json", json.dumps(dict(extra, history=list(history)), indent=1).encode())


def plot_history(path: Path, history: Sequence[dict]) -> None:
    """Loss (train, validation) and validation PSNR/SSIM/HaarPSI against the epoch, with f_vis dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in history]
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        ax[0].plot(ep, [r[key] for r in history], marker="o", label=label)
    ax[0].set_yscale("log")
    ax[0].set_title("loss (MSE, normalised invisible coefficients)", fontsize=9)
    ax[0].legend()
    ax[1].plot(ep, [r["val_psnr"] for r in history], marker="o", label="LtI")
    ax[1].plot(ep, [r["fvis_psnr"] for r in history], ls="--", label="f_vis")
    ax[1].set_title("validation PSNR (dB)", fontsize=9)
    ax[1].legend()
    for key, label in (("ssim", "SSIM"), ("haarpsi", "HaarPSI")):
        (line,) = ax[2].plot(ep, [r[f"val_{key}"] for r in history], marker="o", label=f"LtI {label}")
        ax[2].plot(ep, [r[f"fvis_{key}"] for r in history], ls="--", color=line.get_color(), label=f"f_vis {label}")
    ax[2].set_title("validation SSIM / HaarPSI", fontsize=9)
    ax[2].legend(fontsize=7)
    for a in ax:
        a.set_xlabel("epoch")
        a.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_bytes(path, buf.getvalue())
