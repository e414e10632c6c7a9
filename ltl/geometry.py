"""Immutable 2D scan geometry (parallel or fan beam), following ASTRA's conventions exactly.

The volume is ``astra.create_vol_geom(N, N)`` (unit pixels, centred on the origin) and the
projection geometry is ``astra.create_proj_geom('parallel', det_spacing, det_count, angles)``, or
for a fan beam ``astra.create_proj_geom('fanflat', det_spacing, det_count, angles, source_origin,
origin_det)`` (a flat detector; every length in image pixels). Images are arrays ``[row, col]`` of
shape ``(N, N)``, sinograms arrays ``[angle, detector]`` of shape ``(V, D)``.

A fan-beam ray at source angle β through detector position u (``(k − (D − 1)/2)·det_spacing`` for
pixel k) is the parallel-beam ray at angle θ = β − γ and detector position t = R·sin γ, where
γ = atan(u / (R + O)), R the source–origin and O the origin–detector distance (checked against
ASTRA's own projections in the tests); its conjugate (the same line) is (β + π − 2γ, −γ).
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


def _fan_det_count(n: int, spacing: float, source_origin: float, origin_det: float) -> int:
    """Detector pixels that cover the fan through the circle around the N×N image."""
    r = n / math.sqrt(2.0)
    half = (source_origin + origin_det) * math.tan(math.asin(min(r / source_origin, 1.0)))
    return int(math.ceil(2.0 * half / spacing))


def _positive(value, what: str, *, zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not math.isfinite(v) or v < 0 or (v == 0 and not zero):
        raise ValueError(f"{what} must be a finite number {'>= 0' if zero else '> 0'} in image pixels, got {value!r}")
    return v


@dataclass(frozen=True, eq=False)
class Geometry:
    """A 2D scan geometry: parallel beam, or fan beam on a flat detector.

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
    source_origin, origin_det : float, optional
        A fan beam (:meth:`fan_beam`): the distances source–rotation axis R and rotation
        axis–detector O in image pixels. Both None (the default) is a parallel beam. For a fan
        beam the default ``det_count`` covers the fan through the image's circumscribed circle.

    Raises
    ------
    ValueError
        If a size is not a positive integer, the angles are empty, non-finite or repeated, or the
        fan's source lies inside the image's circumscribed circle.

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
    source_origin: float | None = None
    origin_det: float | None = None
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
        s = float(self.det_spacing)
        if not math.isfinite(s) or s <= 0:
            raise ValueError(f"det_spacing must be a finite positive number, got {self.det_spacing!r}")
        object.__setattr__(self, "det_spacing", s)
        fan = (self.source_origin, self.origin_det)
        if (fan[0] is None) != (fan[1] is None):
            raise ValueError("a fan beam needs both source_origin and origin_det (in image pixels); "
                             "pass neither for a parallel beam")
        if fan[0] is not None:
            so = _positive(fan[0], "source_origin")
            od = _positive(fan[1], "origin_det", zero=True)
            if so <= self.image_size / math.sqrt(2.0):
                raise ValueError(f"source_origin={so:g} puts the source inside the image's circumscribed circle "
                                 f"(radius {self.image_size / math.sqrt(2.0):.1f} pixels); the source must lie outside it")
            object.__setattr__(self, "source_origin", so)
            object.__setattr__(self, "origin_det", od)
        if self.det_count is None:
            d = (_default_det_count(self.image_size) if fan[0] is None
                 else _fan_det_count(self.image_size, s, self.source_origin, self.origin_det))
        else:
            d = self.det_count
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"det_count must be a positive integer, got {d!r}")
        object.__setattr__(self, "det_count", int(d))
        key = (self.image_size, self.det_count, self.det_spacing, ang.tobytes())
        if self.is_fan:  # the parallel key stays as it was: caches and stored models keep their identity
            key = key + ("fan", self.source_origin, self.origin_det)
        object.__setattr__(self, "_key", key)

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

    @classmethod
    def fan_beam(cls, image_size: int, *, source_origin: float, origin_det: float, angular_range_deg: float = 360.0,
                 step_deg: float = 1.0, start_deg: float = 0.0, angles=None, det_count: int | None = None,
                 det_spacing: float | None = None) -> "Geometry":
        """A fan-beam scan on a flat detector (ASTRA ``fanflat``); every length in image pixels.

        Parameters
        ----------
        image_size : int
            N, the side of the reconstructed square in pixels.
        source_origin, origin_det : float
            R, the source–rotation axis distance, and O, the rotation axis–detector distance.
        angular_range_deg, step_deg, start_deg : float
            Source angles β = ``start_deg + step_deg·k`` degrees, k = 0 … range/step − 1 (default
            a full turn, 0° to 359°). A short scan covers 180° plus the fan angle
            (:attr:`fan_angle_deg`).
        angles : array_like, optional
            Explicit source angles in radians instead of the three above.
        det_count : int, optional
            D; default: enough pixels for the fan through the image's circumscribed circle.
        det_spacing : float, optional
            Detector pixel width in image pixels; default the magnification (R + O)/R, so that a
            detector pixel seen at the rotation axis is one image pixel.

        Examples
        --------
        >>> g = Geometry.fan_beam(128, source_origin=400, origin_det=200)
        >>> g.num_angles, g.det_count, round(g.fan_angle_deg, 1)
        (360, 186, 26.2)
        """
        if angles is None:
            if not (math.isfinite(angular_range_deg) and 0 < angular_range_deg <= 360):
                raise ValueError(f"angular_range_deg must be in (0, 360], got {angular_range_deg!r}")
            if not (math.isfinite(step_deg) and 0 < step_deg <= angular_range_deg):
                raise ValueError(f"step_deg must be in (0, angular_range_deg={angular_range_deg}], got {step_deg!r}")
            if not math.isfinite(start_deg):
                raise ValueError(f"start_deg must be finite, got {start_deg!r}")
            angles = np.deg2rad(start_deg + step_deg * np.arange(int(round(angular_range_deg / step_deg))))
        so = _positive(source_origin, "source_origin")
        od = _positive(origin_det, "origin_det", zero=True)
        spacing = (so + od) / so if det_spacing is None else det_spacing
        return cls(image_size, angles, det_count=det_count, det_spacing=spacing, source_origin=so, origin_det=od)

    # ------------------------------------------------------------------ properties
    @property
    def is_fan(self) -> bool:
        """True for a fan beam, False for a parallel beam."""
        return self.source_origin is not None

    @property
    def beam(self) -> str:
        """``'parallel'`` or ``'fan'``."""
        return "fan" if self.is_fan else "parallel"

    @property
    def magnification(self) -> float:
        """(R + O)/R for a fan beam, 1 for a parallel beam."""
        return (self.source_origin + self.origin_det) / self.source_origin if self.is_fan else 1.0

    @property
    def fan_angle_deg(self) -> float:
        """The full opening angle 2δ of the fan onto the detector in degrees (0 for a parallel beam)."""
        if not self.is_fan:
            return 0.0
        half = 0.5 * self.det_count * self.det_spacing
        return float(np.rad2deg(2.0 * math.atan(half / (self.source_origin + self.origin_det))))

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
        """The same detector with a complete scan at this geometry's angular step (at least 1 view):
        180° for a parallel beam, a full turn (360°) for a fan beam."""
        turn = 2 * math.pi if self.is_fan else math.pi
        count = max(1, int(round(turn / self.angular_step)))
        return Geometry(self.image_size, np.arange(count) * (turn / count), det_count=self.det_count,
                        det_spacing=self.det_spacing, source_origin=self.source_origin, origin_det=self.origin_det)

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
        """ASTRA's projection geometry: ``'parallel'`` or ``'fanflat'``."""
        import astra

        if self.is_fan:
            return astra.create_proj_geom("fanflat", self.det_spacing, self.det_count, self.angles,
                                          self.source_origin, self.origin_det)
        return astra.create_proj_geom("parallel", self.det_spacing, self.det_count, self.angles)

    def to_astra(self) -> tuple[dict, dict]:
        """``(proj_geom, vol_geom)``, ASTRA's geometry dicts of this geometry (:meth:`from_astra` inverts it)."""
        return self.astra_proj_geom(), self.astra_vol_geom()

    @classmethod
    def from_astra(cls, proj_geom: dict, vol_geom: dict) -> "Geometry":
        """The Geometry of ASTRA's 2D geometry dicts: ``'parallel'``, ``'fanflat'``, or their ``_vec``
        forms when they describe such a scan (no detector shift or tilt).

        ``vol_geom`` must be N×N unit pixels centred on the origin (``astra.create_vol_geom(N, N)``),
        ltl's image grid. Raises ``ValueError`` naming what does not fit; a shifted detector is
        corrected on the data instead (:func:`ltl.data.preprocess.shift_detector`).
        """
        import astra

        if not isinstance(proj_geom, dict) or not isinstance(vol_geom, dict):
            raise ValueError("from_astra needs ASTRA's proj_geom and vol_geom dicts")
        n = int(vol_geom.get("GridColCount", 0))
        win = vol_geom.get("option", {})
        box = [win.get(k, None) for k in ("WindowMinX", "WindowMaxX", "WindowMinY", "WindowMaxY")]
        if n < 2 or vol_geom.get("GridRowCount") != n or not np.allclose(box, [-n / 2, n / 2, -n / 2, n / 2]):
            raise ValueError(f"vol_geom must be N×N unit pixels centred on the origin (astra.create_vol_geom(N, N)), "
                             f"got {vol_geom.get('GridRowCount')}×{vol_geom.get('GridColCount')} over {box}")
        kind = proj_geom.get("type")
        d = int(proj_geom.get("DetectorCount", 0))
        if kind == "parallel":
            return cls(n, proj_geom["ProjectionAngles"], det_count=d, det_spacing=proj_geom["DetectorWidth"])
        if kind == "fanflat":
            return cls(n, proj_geom["ProjectionAngles"], det_count=d, det_spacing=proj_geom["DetectorWidth"],
                       source_origin=proj_geom["DistanceOriginSource"], origin_det=proj_geom["DistanceOriginDetector"])
        if kind not in ("parallel_vec", "fanflat_vec"):
            raise ValueError(f"ASTRA geometry type {kind!r} is not a 2D parallel or fanflat geometry")
        v = np.asarray(proj_geom["Vectors"], dtype=np.float64)
        fan = dict(source_origin=float(np.hypot(v[:, 0], v[:, 1]).mean()),
                   origin_det=float(np.hypot(v[:, 2], v[:, 3]).mean())) if kind == "fanflat_vec" else {}
        g = cls(n, np.unwrap(np.arctan2(v[:, 5], v[:, 4])), det_count=d, det_spacing=float(np.hypot(v[:, 4], v[:, 5]).mean()), **fan)
        ref = astra.geom_2vec(g.astra_proj_geom())["Vectors"]
        if not np.allclose(ref, v, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(v).max())):
            raise ValueError(f"this {kind} geometry has a shifted or tilted detector (or a varying distance), which "
                             "ltl's Geometry does not hold; shift the data with ltl.data.preprocess.shift_detector")
        return g

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; ``Geometry.from_dict(g.to_dict()) == g``."""
        d = {
            "image_size": self.image_size,
            "angles": [float(a) for a in self.angles],
            "det_count": self.det_count,
            "det_spacing": self.det_spacing,
        }
        if self.is_fan:
            d.update(beam="fan", source_origin=self.source_origin, origin_det=self.origin_det)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Geometry":
        missing = [k for k in ("image_size", "angles") if k not in d]
        if missing:
            raise ValueError(f"geometry is missing the key(s) {missing}")
        beam = d.get("beam", "parallel")
        if beam not in ("parallel", "fan"):
            raise ValueError(f"geometry has beam {beam!r}; ltl knows 'parallel' and 'fan'")
        fan = {}
        if beam == "fan":
            if "source_origin" not in d or "origin_det" not in d:
                raise ValueError("a fan-beam geometry needs the keys 'source_origin' and 'origin_det'")
            fan = dict(source_origin=float(d["source_origin"]), origin_det=float(d["origin_det"]))
        return cls(int(d["image_size"]), np.asarray(d["angles"], dtype=np.float64),
                   det_count=d.get("det_count"), det_spacing=float(d.get("det_spacing", 1.0)), **fan)

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
        fan = (f"fan beam (source–axis {self.source_origin:g}, axis–detector {self.origin_det:g}), "
               if self.is_fan else "")
        return (f"N={self.image_size}, {fan}{self.num_angles} views from {a.min():.1f}° to {a.max():.1f}°, "
                f"{self.det_count} detectors × {self.det_spacing:g}")

    def __repr__(self) -> str:
        a = np.rad2deg(self.angles)
        if self.is_fan:
            head = f"Geometry.fan_beam({self.image_size}, source_origin={self.source_origin!r}, origin_det={self.origin_det!r}, "
            tail = f"det_count={self.det_count}, det_spacing={self.det_spacing!r})"
            step = a[1] - a[0] if self.num_angles > 1 else 360.0
            if np.allclose(np.deg2rad(a[0] + step * np.arange(self.num_angles)), self.angles, rtol=0, atol=1e-12):
                return head + f"angular_range_deg={step * self.num_angles:g}, step_deg={step:g}, start_deg={a[0]:g}, " + tail
            return head + f"angles=np.deg2rad({np.round(a, 6).tolist()}), " + tail
        if self.num_angles > 1 and np.allclose(np.diff(a), a[1] - a[0]):
            step = a[1] - a[0]
            rng = step * self.num_angles
            centre = round(a[0] + rng / 2, 9) + 0.0
            return (f"Geometry.limited_angle({self.image_size}, angular_range_deg={rng:g}, "
                    f"step_deg={step:g}, center_deg={centre:g}, det_count={self.det_count}, "
                    f"det_spacing={self.det_spacing:g})")
        return (f"Geometry({self.image_size}, angles=np.deg2rad({np.round(a, 6).tolist()}), "
                f"det_count={self.det_count}, det_spacing={self.det_spacing:g})")
