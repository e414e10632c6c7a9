"""``ltl models``: the shipped models with their geometries, training data and held-out scores
(:func:`ltl.models.shipped_models`), and with ``--scan`` the one ``--method`` would use for a scan."""

from __future__ import annotations

import json

__all__ = ["add_parser", "run", "table"]


def _score(m, group: str = "held_out") -> str:
    """``'31.20 dB / 0.912 (TV 29.10 / 0.881)'``: the model's own method's mean PSNR / SSIM on the
    recorded group of families, and TV's beside it; '–' when none was recorded."""
    s = (m.scores or {}).get(group) or {}
    methods = s.get("methods") or {}
    own = methods.get(m.kind) or {}
    if not own.get("psnr"):
        return "–"
    text = f"{own['psnr'][0]:.2f} dB / {own['ssim'][0]:.3f}" if own.get("ssim") else f"{own['psnr'][0]:.2f} dB"
    tv = methods.get("tv") or {}
    if tv.get("psnr") and tv.get("ssim"):
        text += f" (TV {tv['psnr'][0]:.2f} / {tv['ssim'][0]:.3f})"
    return text


def table(models) -> str:
    """A Markdown table of :class:`~ltl.models.ShippedModel` records."""
    head = ["name", "kind", "N", "range", "step", "centre", "noise", "training data", "held out: PSNR / SSIM",
            "weights"]
    rows = []
    for m in models:
        held = ", ".join(((m.scores or {}).get("held_out") or {}).get("families") or [])
        rows.append([m.name, m.kind, str(m.geometry.image_size), f"{m.range_deg:g}°", f"{m.step_deg:g}°",
                     f"{m.center_deg + 0.0:g}°", "–" if m.noise is None else f"{m.noise:g}",
                     (m.train_data or "–") + (f" ({m.train_samples} samples)" if m.train_samples else ""),
                     _score(m) + (f" [{held}]" if held else ""),
                     f"{m.weights}, {m.size_bytes / 1e6:.1f} MB"])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def run(args) -> int:
    from ..models.shipped import model_for, shipped_models

    models = shipped_models(args.kind)
    if args.scan is not None:
        from ..data import load_scan

        scan = load_scan(args.scan)
        path = model_for(scan.geometry, args.kind or "ltl", models=models)
        chosen = next(m for m in models if m.path == path)
        print(json.dumps(chosen.to_dict(), indent=1) if args.json else f"{args.scan}: {chosen.describe()}, {path}")
        return 0
    if args.json:
        print(json.dumps([m.to_dict() for m in models], indent=1))
    elif not models:
        print("no shipped models found" + (f" of kind {args.kind}" if args.kind else ""))
    else:
        print(table(models))
    return 0


def add_parser(sub) -> None:
    from ..models import KINDS

    s = sub.add_parser("models", help="the shipped models: geometries, training data, held-out scores")
    s.add_argument("--kind", choices=KINDS, default=None, help="only models of this kind [all]")
    s.add_argument("--scan", default=None, help="a scan file (.npz): print the model chosen for its geometry "
                                                "(an error listing the models when none fits)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=run)

