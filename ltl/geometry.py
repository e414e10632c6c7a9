"""Immutable 2D parallel-beam geometry, following ASTRA's conventions exactly.

The volume is ``astra.create_vol_geom(N, N)`` (unit pixels, centred on the origin) and the
projection geometry is ``astra.create_proj_geom('parallel', det_spacing, det_count, angles)``.
Images are arrays ``[row, col]`` of shape ``(N, N)``, sinograms arrays ``[angle, detector]`` of
shape ``(V, D)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Geometry"]


def _default_det_count(n: int) -> int:
    return int(math.ceil(math.sqrt(2.0) * n))


@dataclass(frozen=True, eq=False)
class Geometry:
    """A 2D parallel-beam scan geometry.

    Parameters
    ----------
    image_size : int
        N, the side of the square image in pixels (unit pixels, centred on the origin).
    angles : array_like of float, shape (V,)
        Projection angles in radians, finite and pairwise distinct.
    det_count : int, optional
        D, the number of detector pixels. Default ``ceil(sqrt(2) * N)``, enough to cover the
        image's diagonal.
    det_spacing : float, optional
        Width of one detector pixel in image pixels. Default 1.0.

    Raises
    ------
    ValueError
        If a size is not a positive integer, or the angles are empty, non-finite or repeated.

    Examples
    --------
    >>> g = Geometry.limited_angle(128, angular_range_deg=120)
    >>> g.num_angles, g.det_count
    (120, 182)
    """

    image_size: int
    angles: np.ndarray
    det_count: int | None = None
    det_spacing: float = 1.0
    _key: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = self.image_size
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise ValueError(f"image_size must be an integer >= 2, got {n!r}")
        object.__setattr__(self, "image_size", int(n))
        ang = np.asarray(self.angles, dtype=np.float64)
        if ang.ndim == 0:
            ang = ang.reshape(1)
        if ang.ndim != 1 or ang.size == 0:
            raise ValueError(f"angles must be a non-empty 1D array of radians, got shape {ang.shape}")
        if not np.all(np.isfinite(ang)):
            raise ValueError("angles contain NaN or inf; pass finite angles in radians")
        # Angles that agree modulo 2*pi describe the same view.
        wrapped = np.round(np.mod(ang, 2 * np.pi), 9)
        if np.unique(wrapped).size != ang.size:
            raise ValueError("angles contain repeated views (equal modulo 2*pi); pass distinct angles")
        ang = ang.copy()
        ang.setflags(write=False)
        object.__setattr__(self, "angles", ang)
        d = _default_det_count(self.image_size) if self.det_count is None else self.det_count
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"det_count must be a positive integer, got {d!r}")
        object.__setattr__(self, "det_count", int(d))
        s = float(self.det_spacing)
        if not math.isfinite(s) or s <= 0:
            raise ValueError(f"det_spacing must be a finite positive number, got {self.det_spacing!r}")
        object.__setattr__(self, "det_spacing", s)
        object.__setattr__(
            self, "_key", (self.image_size, self.det_count, self.det_spacing, ang.tobytes())
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def limited_angle(
        cls,
        image_size: int,
        *,
        angular_range_deg: float = 120.0,
        step_deg: float = 1.0,
        center_deg: float = 0.0,
        det_count: int | None = None,
        det_spacing: float = 1.0,
    ) -> "Geometry":
        """A scan over ``angular_range_deg`` degrees in steps of ``step_deg``, centred on ``center_deg``.

        The angles are ``deg2rad(center_deg + arange(-range/2, range/2, step))``, so the defaults
        give 120 views from -60° to 59°. ``angular_range_deg=180`` is a full parallel-beam scan.
        """
        if not (math.isfinite(angular_range_deg) and 0 < angular_range_deg <= 360):
            raise ValueError(f"angular_range_deg must be in (0, 360], got {angular_range_deg!r}")
        if not (math.isfinite(step_deg) and 0 < step_deg <= angular_range_deg):
            raise ValueError(
                f"step_deg must be in (0, angular_range_deg={angular_range_deg}], got {step_deg!r}"
            )
        if not math.isfinite(center_deg):
            raise ValueError(f"center_deg must be finite, got {center_deg!r}")
        half = angular_range_deg / 2.0
        count = int(round(angular_range_deg / step_deg))
        deg = center_deg - half + step_deg * np.arange(count)
        return cls(image_size, np.deg2rad(deg), det_count=det_count, det_spacing=det_spacing)

    # ------------------------------------------------------------------ properties
    @property
    def num_angles(self) -> int:
        """V, the number of views."""
        return int(self.angles.size)

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(N, N)``."""
        return (self.image_size, self.image_size)

    @property
    def sino_shape(self) -> tuple[int, int]:
        """``(V, D)``."""
        return (self.num_angles, self.det_count)

    @property
    def angular_step(self) -> float:
        """Mean spacing of the sorted angles in radians (π for a single view)."""
        if self.num_angles < 2:
            return math.pi
        a = np.sort(self.angles)
        return float(np.mean(np.diff(a)))

    @property
    def angular_range_deg(self) -> float:
        """The angular range covered, V·Δθ, in degrees."""
        return float(np.rad2deg(self.angular_step * self.num_angles))

    def full_angle(self) -> "Geometry":
        """The same detector with 180° of views at this geometry's angular step (at least 1 view)."""
        step = self.angular_step
        count = max(1, int(round(math.pi / step)))
        return Geometry(self.image_size, np.arange(count) * (math.pi / count),
                        det_count=self.det_count, det_spacing=self.det_spacing)

    # ------------------------------------------------------------------ ASTRA
    def astra_vol_geom(self, oversample: int = 1) -> dict:
        """ASTRA's volume geometry: N×N unit pixels centred on the origin, or, with
        ``oversample`` k, kN×kN pixels of side 1/k over the same square."""
        import astra

        n = self.image_size
        if oversample == 1:
            return astra.create_vol_geom(n, n)
        h = n / 2.0
        return astra.create_vol_geom(oversample * n, oversample * n, -h, h, -h, h)

    def astra_proj_geom(self) -> dict:
        import astra

        return astra.create_proj_geom("parallel", self.det_spacing, self.det_count, self.angles)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; ``Geometry.from_dict(g.to_dict()) == g``."""
        return {
            "image_size": self.image_size,
            "angles": [float(a) for a in self.angles],
            "det_count": self.det_count,
            "det_spacing": self.det_spacing,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Geometry":
        missing = [k for k in ("image_size", "angles") if k not in d]
        if missing:
            raise ValueError(f"geometry is missing the key(s) {missing}")
        return cls(int(d["image_size"]), np.asarray(d["angles"], dtype=np.float64),
                   det_count=d.get("det_count"), det_spacing=float(d.get("det_spacing", 1.0)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, s: str) -> "Geometry":
        return cls.from_dict(json.loads(s))

    # ------------------------------------------------------------------ identity
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Geometry) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def describe(self) -> str:
        """A one-line human summary, e.g. for error messages."""
        a = np.rad2deg(self.angles)
        return (f"N={self.image_size}, {self.num_angles} views from {a.min():.1f}° to {a.max():.1f}°, "
                f"{self.det_count} detectors × {self.det_spacing:g}")

    def __repr__(self) -> str:
        a = np.rad2deg(self.angles)
        if self.num_angles > 1 and np.allclose(np.diff(a), a[1] - a[0]):
            step = a[1] - a[0]
            rng = step * self.num_angles
            centre = round(a[0] + rng / 2, 9) + 0.0
            return (f"Geometry.limited_angle({self.image_size}, angular_range_deg={rng:g}, "
                    f"step_deg={step:g}, center_deg={centre:g}, det_count={self.det_count}, "
                    f"det_spacing={self.det_spacing:g})")
        return (f"Geometry({self.image_size}, angles=np.deg2rad({np.round(a, 6).tolist()}), "
                f"det_count={self.det_count}, det_spacing={self.det_spacing:g})")
