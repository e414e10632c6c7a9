"""From measured projections to sinograms, as in tomography practice; each step a small function.

:func:`preprocess` applies, in this order, and records each step it applies in a list of dicts
that goes into the reconstruction's metadata:

1. :func:`flat_dark` — flat/dark-field normalisation, T = (P − D̄)/(F̄ − D̄) with the mean flat F̄
   and dark D̄;
2. :func:`clip_positive` — transmissions ≤ 0 (or NaN, or pixels with F̄ ≤ D̄) set to a small
   positive floor, so the logarithm is finite;
3. :func:`minus_log` — line integrals y = −ln T (Beer–Lambert);
4. :func:`suppress_rings` (optional) — detector pixels with a wrong gain or offset are stripes
   along the views of a sinogram and rings in the image; the stripe of each pixel is estimated
   from the mean over the views, after M. Boin and A. Haibel, "Compensation of ring artefacts in
   synchrotron tomographic images", Opt. Express 14 (2006) 12071–12075;
5. :func:`shift_detector` by the detector offset and the centre-of-rotation offset, given or
   estimated by :func:`find_center`.

Arrays are numpy float32: projections ``(V, R, D)`` (views, detector rows, detector columns),
sinograms ``(R, V, D)`` — one per detector row, ltl's ``(M, V, D)``. Offsets are in detector pixels:
an offset c means the rotation axis projects onto detector position ``(D − 1)/2 + c`` and is moved
to the centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime.settings import Settings, check_int, check_number

__all__ = ["PreprocessSettings", "flat_dark", "clip_positive", "minus_log", "suppress_rings", "shift_detector",
           "find_center", "preprocess"]


@dataclass(frozen=True)
class PreprocessSettings(Settings):
    """What :func:`preprocess` does besides flat/dark normalisation (which follows the fields given).

    Attributes
    ----------
    log : bool or None
        Take −ln of the (normalised) data: None (default) when flat fields are given, i.e. the
        data are intensities; True for transmissions without flats; False for line integrals.
    clip : float or None
        The floor for non-positive transmissions before the logarithm; None: the smallest positive
        value in the data.
    det_offset : float
        A known detector offset in detector pixels (where the central ray meets the detector,
        from the centre).
    center : float or 'auto'
        The centre-of-rotation offset in detector pixels, or ``'auto'`` to estimate it
        (:func:`find_center`).
    rings : bool
        Suppress ring artefacts (:func:`suppress_rings`).
    ring_size : int
        The median window across the detector, in pixels (odd, ≥ 3): wider stripes need more.
    """

    WHAT = "preprocessing"

    log: bool | None = None
    clip: float | None = None
    det_offset: float = 0.0
    center: float | str = 0.0
    rings: bool = False
    ring_size: int = 5

    def validate(self) -> None:
        if self.log not in (None, True, False):
            raise ValueError(f"log must be true, false or null (automatic), got {self.log!r}")
        check_number("clip", self.clip, positive=True, optional=True)
        check_number("det_offset", self.det_offset)
        if self.center != "auto":
            check_number("center (a number of detector pixels, or 'auto')", self.center)
        check_int("ring_size", self.ring_size, lo=3)
        if self.ring_size % 2 == 0:
            raise ValueError(f"ring_size must be odd, got {self.ring_size}")


def flat_dark(projections: np.ndarray, flats: np.ndarray | None = None,
              darks: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Flat/dark normalisation: ``(P − D̄)/(F̄ − D̄)``, ``(V, R, D)`` → transmissions ``(V, R, D)``.

    ``flats``/``darks`` ``(F, R, D)`` or ``(R, D)`` are averaged over their first axis; no darks
    means D̄ = 0. Pixels where F̄ ≤ D̄ (dead pixels) become NaN, which :func:`clip_positive`
    replaces. Returns the transmissions and a record of the step.
    """
    if flats is None:
        raise ValueError("flat-field normalisation needs flat fields (--flats)")
    shape = projections.shape[1:]

    def mean(a, what):
        a = np.asarray(a, dtype=np.float64)
        a = a[None] if a.ndim == 2 else a
        if a.ndim != 3 or a.shape[1:] != shape:
            raise ValueError(f"{what} must be images of the projections' shape {shape}, got {a.shape}")
        return a.mean(axis=0), a.shape[0]

    f, nf = mean(flats, "flats")
    d, nd = mean(darks, "darks") if darks is not None else (np.zeros(shape), 0)
    den = f - d
    bad = den <= 0
    den[bad] = np.nan
    out = ((projections - d[None]) / den[None]).astype(np.float32)
    return out, {"step": "flat_dark", "flats": nf, "darks": nd, "dead_pixels": int(bad.sum())}


def clip_positive(t: np.ndarray, floor: float | None = None) -> tuple[np.ndarray, dict]:
    """Transmissions with every value ≤ 0 or non-finite replaced by ``floor`` (default: the
    smallest positive finite value), so −ln stays finite. Returns the array and a record."""
    good = np.isfinite(t) & (t > 0)
    if floor is None:
        if not good.any():
            raise ValueError("no positive value in the data; are these intensities? (check the flats and darks)")
        floor = float(t[good].min())
    out = np.where(good, t, np.float32(floor)).astype(np.float32)
    return out, {"step": "clip", "floor": float(floor), "clipped": int((~good).sum())}


def minus_log(t: np.ndarray) -> tuple[np.ndarray, dict]:
    """Line integrals ``−ln t`` of positive transmissions (Beer–Lambert), and a record."""
    if np.any(~(t > 0)):
        raise ValueError("−log needs positive transmissions; clip them first (clip_positive)")
    return (-np.log(t)).astype(np.float32), {"step": "minus_log"}


def suppress_rings(sino: np.ndarray, *, size: int = PreprocessSettings.ring_size) -> tuple[np.ndarray, dict]:
    """Remove stripes (offsets constant along the views) from sinograms ``(M, V, D)`` or ``(V, D)``.

    After Boin & Haibel 2006: the mean over the views of each detector pixel is a smooth profile
    plus the pixel's stripe; the stripe is that mean minus its running median over ``size``
    detector pixels (a median rather than their moving average, so the profile's edges stay), and
    is subtracted from every view. On 128² ellipse sinograms with stripes of 2% of the maximum
    it removes about half of the stripes' energy and changes a clean sinogram by 2–6% of that
    energy (``tests/io/test_preprocess.py``); rings that vary along the scan are beyond it.
    """
    from scipy.ndimage import median_filter

    a = np.asarray(sino, dtype=np.float32)
    if a.ndim not in (2, 3) or a.shape[-1] < size:
        raise ValueError(f"sinograms must be (V, D) or (M, V, D) with D >= {size}, got shape {a.shape}")
    mean = a.mean(axis=-2, keepdims=True)
    stripe = mean - median_filter(mean, size=(1,) * (a.ndim - 1) + (size,), mode="nearest")
    return (a - stripe).astype(np.float32), {"step": "rings", "method": "Boin & Haibel 2006, median profile",
                                             "size": int(size)}


def shift_detector(sino: np.ndarray, shift: float) -> np.ndarray:
    """Move detector position ``(D − 1)/2 + shift`` to the centre: ``out[..., k] = sino[..., k + shift]``
    by linear interpolation (edge values continue past the ends). ``(…, D)`` → ``(…, D)``."""
    from scipy.ndimage import shift as nd_shift

    a = np.asarray(sino, dtype=np.float32)
    if shift == 0:
        return a.copy()
    return nd_shift(a, (0.0,) * (a.ndim - 1) + (-float(shift),), order=1, mode="nearest").astype(np.float32)


def _mirror_pairs(angles: np.ndarray, step: float) -> list[tuple[int, int]]:
    """Views (i, j) with angle_j = angle_i + π within a quarter step (mod 2π)."""
    a = np.mod(angles, 2 * np.pi)
    pairs = []
    for i, ai in enumerate(a):
        diff = np.abs(np.angle(np.exp(1j * (a - ai - np.pi))))
        j = int(np.argmin(diff))
        if diff[j] <= step / 4 and (j, i) not in pairs:
            pairs.append((i, j))
    return pairs


def find_center(sino: np.ndarray, geometry, *, method: str = "auto") -> tuple[float, str]:
    """Estimate the centre-of-rotation offset (detector pixels) of parallel-beam sinograms.

    Parameters
    ----------
    sino : np.ndarray, shape (M, V, D) or (V, D)
        Line integrals of one or more detector rows (they share the axis).
    geometry : Geometry
        Their parallel-beam geometry (angles and detector).
    method : {'auto', 'mirror', 'centroid'}
        ``'mirror'`` registers every view with its mirrored view 180° later (a projection at θ + π
        is the one at θ reflected about the axis), by phase correlation with 1/100-pixel
        upsampling (M. Guizar-Sicairos, S. T. Thurman, J. R. Fienup, Opt. Lett. 33 (2008) 156,
        as :func:`skimage.registration.phase_cross_correlation`); it needs such pairs. ``'centroid'``
        fits the centre of mass of each view, m₁(θ)/m₀ = a cos θ + b sin θ + c, by least squares
        (S. G. Azevedo et al., "Calculation of the rotational centers in computed tomography
        sinograms", IEEE Trans. Nucl. Sci. 37 (1990) 1525): c is the offset. It works on limited
        ranges (measured within 0.3 pixel at 120° with 2% noise, not below about 90°) but needs the
        object inside the field of view. ``'auto'``: mirror when pairs exist, else centroid.

    Returns
    -------
    (float, str)
        The offset c (pass it to :func:`shift_detector`) and the method used.
    """
    if geometry.is_fan:
        raise ValueError("the centre-of-rotation estimate works on parallel-beam scans; give the offset of a "
                         "fan-beam scan (--center PIXELS)")
    a = np.asarray(sino, dtype=np.float64)
    a = a[None] if a.ndim == 2 else a
    if a.shape[1:] != geometry.sino_shape:
        raise ValueError(f"sinograms of shape {a.shape[1:]} do not match the geometry's {geometry.sino_shape}")
    if method not in ("auto", "mirror", "centroid"):
        raise ValueError(f"method must be auto, mirror or centroid, got {method!r}")
    pairs = _mirror_pairs(np.asarray(geometry.angles), geometry.angular_step) if method != "centroid" else []
    if method == "mirror" and not pairs:
        raise ValueError("no views 180° apart for the mirror method; use method='centroid'")
    if pairs:
        from skimage.registration import phase_cross_correlation

        i, j = np.array(pairs).T
        ref = a[:, i].reshape(-1, a.shape[-1])
        moving = a[:, j, ::-1].reshape(-1, a.shape[-1])
        shift = phase_cross_correlation(ref, moving, upsample_factor=100, normalization=None)[0]
        return float(shift[-1]) / 2.0, "mirror"
    t = np.arange(a.shape[-1]) - (a.shape[-1] - 1) / 2.0
    th = np.asarray(geometry.angles)
    design = np.stack([np.cos(th), np.sin(th), np.ones_like(th)], axis=1)
    offsets = []
    for s in a:
        m0, m1 = s.sum(axis=1), (s * t).sum(axis=1)
        if not np.all(m0 > 0):
            raise ValueError("the centroid method needs positive line integrals in every view; "
                             "give --center PIXELS instead")
        coef = np.linalg.lstsq(design * m0[:, None], m1, rcond=None)[0]
        offsets.append(coef[2])
    return float(np.median(offsets)), "centroid"


def preprocess(projections: np.ndarray, geometry, *, flats: np.ndarray | None = None, darks: np.ndarray | None = None,
               settings: PreprocessSettings | dict | None = None, kind: str = "unknown") -> tuple[np.ndarray, list]:
    """Projections ``(V, R, D)`` → sinograms ``(R, V, D)`` float32 and the record of the steps.

    Parameters
    ----------
    projections : np.ndarray, shape (V, R, D)
    geometry : Geometry
        The scan's geometry (its angles and detector; D must match).
    flats, darks : np.ndarray, optional
        Flat and dark fields ``(F, R, D)``; with flats the data are normalised and, unless
        ``settings.log`` is False, turned into line integrals.
    settings : PreprocessSettings or dict, optional
    kind : str
        What the reader knows of the data (``'intensity'``, ``'line_integrals'``, ``'unknown'``).
    """
    s = PreprocessSettings.from_dict(settings) if not isinstance(settings, PreprocessSettings) else settings
    p = np.asarray(projections, dtype=np.float32)
    if p.ndim != 3 or p.shape[0] != geometry.num_angles or p.shape[2] != geometry.det_count:
        raise ValueError(f"projections of shape {p.shape} do not fit (V, R, D) with V = {geometry.num_angles} "
                         f"angles and D = {geometry.det_count} detector pixels")
    if darks is not None and flats is None:
        raise ValueError("dark fields were given without flat fields; give --flats too")
    record = []
    if flats is not None:
        p, r = flat_dark(p, flats, darks)
        record.append(r)
    log = s.log if s.log is not None else (flats is not None or kind == "intensity")
    if log:
        p, r = clip_positive(p, s.clip)
        record.append(r)
        p, r = minus_log(p)
        record.append(r)
    elif not np.all(np.isfinite(p)):
        raise ValueError("the data contain NaN or inf; clean them or take the logarithm with clipping (--log)")
    sino = np.ascontiguousarray(p.transpose(1, 0, 2))
    if s.rings:
        sino, r = suppress_rings(sino, size=s.ring_size)
        record.append(r)
    if s.det_offset:
        sino = shift_detector(sino, s.det_offset)
        record.append({"step": "detector_offset", "pixels": float(s.det_offset)})
    if s.center == "auto":
        c, how = find_center(sino, geometry)
        record.append({"step": "center", "pixels": c, "estimated": how})
    else:
        c = float(s.center)
        if c:
            record.append({"step": "center", "pixels": c, "estimated": None})
    if c:
        sino = shift_detector(sino, c)
    return sino, record
