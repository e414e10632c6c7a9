"""What the ``ltl`` commands share: the user-error type, the scan options, device and output checks."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["UsageError", "add_scan_options", "geometry_from_args", "check_out", "device_of", "geometry"]


class UsageError(Exception):
    """An error the user can fix; printed in one line, exit status 2."""


def geometry(size: int, range_deg: float, step: float, center: float = 0.0):
    """The limited-angle :class:`~ltl.Geometry` of the command-line options."""
    from ..geometry import Geometry

    return Geometry.limited_angle(size, angular_range_deg=range_deg, step_deg=step, center_deg=center)


def add_scan_options(s: argparse.ArgumentParser) -> None:
    """The options of a simulated limited-angle scan: --size --range --step --center --noise --photons."""
    s.add_argument("--size", type=int, default=256, help="image size N in pixels [256]")
    s.add_argument("--range", type=float, default=120.0, help="angular range in degrees [120]")
    s.add_argument("--step", type=float, default=1.0, help="angular step in degrees [1]")
    s.add_argument("--center", type=float, default=0.0, help="centre of the angular range in degrees [0]")
    s.add_argument("--noise", type=float, default=0.01, help="relative Gaussian noise η, σ = η·max|y| [0.01]")
    s.add_argument("--photons", type=float, default=None, help="Poisson noise with I0 photons per ray [off]")


def geometry_from_args(args):
    """The Geometry of :func:`add_scan_options`' arguments."""
    return geometry(args.size, args.range, args.step, args.center)


def check_out(path: Path, overwrite: bool) -> None:
    """Refuse an existing output unless ``overwrite``."""
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists; choose another --out or pass --overwrite")


def device_of(name: str | None, *, need_astra: bool = True):
    """The torch device for --device (:func:`ltl.runtime.resolve_device`); a bad choice is a UsageError."""
    from ..runtime import resolve_device

    try:
        return resolve_device(name, need_astra=need_astra)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
