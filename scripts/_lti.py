"""The LtI model a script works with (shared by lti_results.py and rde_areas.py)."""

from __future__ import annotations

import sys

import torch


def load_lti(checkpoint: str | None, device: str | None):
    """``(model, checkpoint, device, training data settings)``: the given checkpoint or the shipped
    demo model, in eval mode on ``device`` (default CPU); exits with status 2, saying why in one line,
    when there is none or it cannot be read."""
    from ltl.models import default_checkpoint
    from ltl.models import LtI

    ckpt = checkpoint or default_checkpoint()
    if ckpt is None:
        print("no checkpoint: pass --checkpoint", file=sys.stderr)
        raise SystemExit(2)
    dev = torch.device(device) if device else torch.device("cpu")
    try:
        model = LtI.load(ckpt, map_location=dev).eval()
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return model, ckpt, dev, model.provenance.get("train_data", {}).get("settings", {})
