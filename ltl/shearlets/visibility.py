"""Which shearlet channels a limited-angle parallel-beam scan can see.

Fourier slice theorem: the 1D Fourier transform of the projection at view angle θ is the 2D
Fourier transform of the image on the line through the origin in one frequency direction. Which
direction depends on the projector's conventions, so it was measured from ASTRA rather than
assumed (``tests/shearlets/test_visibility.py`` re-checks it):

* ASTRA finding (astra-toolbox 2.5.0, ``'parallel'`` geometry, ``linear`` projector, volume
  ``create_vol_geom(N, N)``, images ``[row, col]``): a Gaussian-windowed plane wave with frequency
  ``(m_row, m_col) = 20·(sin φ, cos φ)`` has its sinogram energy peak at view ``θ = -φ (mod π)``;
  a horizontal line (one row) peaks at θ = 90°, a vertical line (one column) at θ = 0°; a point
  20 columns right of the centre lands at detector offset +20 at θ = 0°, one 20 rows above the
  centre at offset +20 at θ = 90°. So ASTRA's detector axis is ``(cos θ, sin θ)`` in the frame
  ``x = column`` (right), ``y = -row`` (up), and **view θ measures the frequency direction θ
  (mod π) of that frame**, which is the frame all :class:`ShearletChannel` angles use. In array
  terms, view θ samples frequencies ``(m_row, m_col) ∝ (-sin θ, cos θ)``.

A frequency direction φ counts as measured when it lies within half an angular step
(``geometry.angular_step / 2``) of some view angle, modulo π.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..geometry import Geometry
from .frame import ShearletFrame

__all__ = ["measured_direction_mask", "visible_fraction", "visibility", "operator_visibility_ratio"]


def _check(frame, geometry) -> None:
    if not isinstance(frame, ShearletFrame):
        raise TypeError(f"frame must be a ShearletFrame, got {type(frame).__name__}")
    if not isinstance(geometry, Geometry):
        raise TypeError(f"geometry must be an ltl.Geometry, got {type(geometry).__name__}")
    if geometry.image_size != frame.image_size:
        raise ValueError(
            f"geometry is for N={geometry.image_size} but the frame for N={frame.image_size}; "
            f"build ShearletFrame({geometry.image_size}) for this geometry"
        )


def measured_direction_mask(directions: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Whether each frequency direction is measured by ``geometry``.

    Parameters
    ----------
    directions : array_like of float
        Frequency directions in radians (mathematical frame, see module docstring), any shape.
    geometry : Geometry

    Returns
    -------
    numpy.ndarray of bool, same shape
        True where the direction lies within ``geometry.angular_step / 2`` of a view angle,
        modulo π (a relative slack of 1e-9 absorbs rounding).
    """
    phi = np.mod(np.asarray(directions, dtype=np.float64), math.pi)
    ang = np.sort(np.mod(geometry.angles, math.pi))
    tol = 0.5 * geometry.angular_step * (1 + 1e-9) + 1e-12
    idx = np.searchsorted(ang, phi)
    v = ang.size

    def circ(d):
        return np.abs(np.mod(d + math.pi / 2, math.pi) - math.pi / 2)

    d = np.minimum(circ(phi - ang[(idx - 1) % v]), circ(phi - ang[idx % v]))
    return d <= tol


def visible_fraction(frame: ShearletFrame, geometry: Geometry) -> np.ndarray:
    """Fraction of each channel's frequency energy ``Σ|ψ̂_c(ξ)|²`` on measured directions.

    Computed exactly on the DFT grid (the DC point, which has no direction, counts as measured).

    Returns
    -------
    numpy.ndarray, shape (C,), float64 in [0, 1]
    """
    _check(frame, geometry)
    phi = frame.frequency_directions()
    mask = measured_direction_mask(phi, geometry)
    mask[0, 0] = True
    w = frame.half_spectrum_weights()[None, :]
    h2 = np.asarray(frame._bank.filters) ** 2 * w
    total = h2.reshape(h2.shape[0], -1).sum(1)
    seen = (h2 * mask).reshape(h2.shape[0], -1).sum(1)
    return seen / np.where(total > 0, total, 1.0)


def visibility(frame: ShearletFrame, geometry: Geometry, threshold: float = 0.5) -> torch.Tensor:
    """Channels whose frequency energy lies mostly in directions the scan measured.

    Parameters
    ----------
    frame : ShearletFrame
    geometry : Geometry
        Same N as the frame.
    threshold : float
        A channel is visible when :func:`visible_fraction` ``>= threshold`` (default 0.5).

    Returns
    -------
    torch.Tensor of bool, shape (C,), on the frame's device
        True for visible channels; the low-pass channel is always visible.
    """
    if not (isinstance(threshold, (int, float)) and 0.0 <= float(threshold) <= 1.0):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    frac = visible_fraction(frame, geometry)
    vis = frac >= float(threshold)
    vis[np.asarray(frame._bank.scale) == 0] = True
    return torch.from_numpy(vis).to(frame.device)


def operator_visibility_ratio(frame: ShearletFrame, geometry: Geometry, projector: str = "linear") -> np.ndarray:
    """Energy of each atom's projections under the scan relative to a full 180° scan.

    For each channel c the atom ``ψ_c`` is the synthesis of a one-hot coefficient at the image
    centre (``frame.atoms()``) and the ratio is ``‖A ψ_c‖² / ‖A_full ψ_c‖²`` with
    ``A = RadonOperator(geometry)`` and ``A_full = RadonOperator(geometry.full_angle())`` (same
    detector, 180° at the same step, so every measured view is also a view of ``A_full``): the
    share of the atom's projection energy that falls in the measured views.

    Returns
    -------
    numpy.ndarray, shape (C,), float64
        About 1 for channels the scan sees, about 0 for invisible ones.
    """
    _check(frame, geometry)
    from ..operators import RadonOperator

    full = geometry.full_angle()
    a = RadonOperator(geometry, projector=projector)
    a_full = RadonOperator(full, projector=projector)
    atoms = frame.atoms().to(torch.float32)
    with torch.no_grad():
        e = (a(atoms).double() ** 2).sum(dim=(-2, -1))
        e_full = (a_full(atoms).double() ** 2).sum(dim=(-2, -1))
    return (e / e_full).cpu().numpy()
