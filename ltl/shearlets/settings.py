"""Typed settings of the shearlet frame, and the stored form that rebuilds a frame exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..runtime.settings import Settings, check_int

__all__ = ["FrameSettings", "make_frame", "frame_settings_of"]


@dataclass(frozen=True)
class FrameSettings(Settings):
    """Settings of :class:`~ltl.shearlets.ShearletFrame`.

    Attributes
    ----------
    scales : int or None
        Detail scales J (None: the frame's default for N, 4 for N >= 128).
    shears : tuple of int or None
        ``K_j`` per scale (None: ``2^ceil(j/2)``).
    """

    WHAT = "frame"

    scales: int | None = None
    shears: tuple[int, ...] | None = None

    def validate(self) -> None:
        check_int("scales", self.scales, optional=True)
        if self.shears is not None:
            if not isinstance(self.shears, tuple):
                object.__setattr__(self, "shears", tuple(self.shears))
            for k in self.shears:
                check_int("shears", k)

    def build(self, n: int, device=None):
        """The :class:`~ltl.shearlets.ShearletFrame` on the ``n × n`` grid."""
        from .frame import ShearletFrame

        return ShearletFrame(int(n), scales=self.scales, shears=self.shears, device=device)


def make_frame(n: int, settings: dict | FrameSettings | None = None, device=None):
    """The frame of ``settings`` on the ``n × n`` grid.

    ``settings`` is a :class:`FrameSettings` or its stored form (:func:`frame_settings_of`, keys
    ``scales``, ``shears`` and optionally ``N`` and ``num_channels``, which are checked).
    Raises ``ValueError`` for unknown keys, another N, or a channel count the construction no
    longer gives.
    """
    if isinstance(settings, FrameSettings):
        return settings.build(n, device)
    settings = dict(settings or {})
    fs = FrameSettings.from_dict(settings, ignore=("N", "num_channels"))
    if "N" in settings and int(settings["N"]) != int(n):
        raise ValueError(f"frame settings are for N={settings['N']}, the geometry has N={n}")
    frame = fs.build(n, device)
    if "num_channels" in settings and int(settings["num_channels"]) != frame.num_channels:
        raise ValueError(
            f"frame settings say {settings['num_channels']} channels but ShearletFrame builds "
            f"{frame.num_channels}; the frame construction changed since the file was written"
        )
    return frame


def frame_settings_of(frame) -> dict[str, Any]:
    """The stored form that rebuilds ``frame`` with :func:`make_frame`: ``N``, ``scales``,
    ``shears``, ``num_channels``."""
    return {"N": int(frame.image_size), "scales": int(frame.scales), "shears": [int(k) for k in frame.shears],
            "num_channels": int(frame.num_channels)}
