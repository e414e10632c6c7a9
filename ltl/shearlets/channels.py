"""Per-channel metadata of a :class:`~ltl.shearlets.ShearletFrame`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._construction import FilterBank

__all__ = ["ShearletChannel", "channels_of"]


@dataclass(frozen=True)
class ShearletChannel:
    """Metadata of one channel (one translation-invariant family of shearlet atoms).

    Angles are radians in the *mathematical* image frame: x along columns (right), y along
    decreasing rows (up), measured counter-clockwise from +x, taken modulo π. In this frame an
    ASTRA parallel-beam view at angle θ measures exactly the frequency direction θ (see
    :mod:`ltl.shearlets.visibility`).

    Attributes
    ----------
    index : int
        Channel index c in the coefficient tensor ``(B, C, N, N)``.
    scale : int
        0 for the low-pass channel, 1..J for detail scales from coarse to fine.
    cone : {'h', 'v'} or None
        'h': frequencies with ``|ξ_y| <= |ξ_x|`` (frequency direction within 45° of horizontal,
        i.e. roughly vertical edges); 'v': ``|ξ_x| < |ξ_y|``; None for the low-pass. Seam channels
        (``|shear| = K_j``) lie on the diagonals and cover both cones; they are listed as 'h'.
    shear : int
        k in ``-K_j..K_j`` ('h', seams included) or ``-K_j+1..K_j-1`` ('v'); 0 for the low-pass.
        The window is centred on slope ``ξ_y/ξ_x = k/K_j`` ('h') or ``ξ_x/ξ_y = k/K_j`` ('v').
    seam : bool
        True for the two diagonal channels per scale glued across both cones.
    frequency_angle : float or None
        Central direction of the channel's frequency support in [0, π), radians (None for the
        low-pass): ``atan(k/K_j)`` ('h') or ``π/2 - atan(k/K_j)`` ('v'), mod π. The atoms oscillate
        along this direction.
    edge_angle : float or None
        Direction of the edges/curves the channel responds to, ``frequency_angle + π/2`` mod π
        (None for the low-pass).
    angular_energy : tuple of float
        Histogram of the channel's frequency energy ``|ψ̂(ξ)|²`` over ``bins`` equal bins of the
        frequency direction in [0, π) (bin b covers ``[bπ/bins, (b+1)π/bins)``); sums to 1. The DC
        term, which has no direction, is spread uniformly.
    """

    index: int
    scale: int
    cone: str | None
    shear: int
    seam: bool
    frequency_angle: float | None
    edge_angle: float | None
    angular_energy: tuple[float, ...]


def channels_of(bank: FilterBank) -> tuple[ShearletChannel, ...]:
    """The :class:`ShearletChannel` of every channel of a filter bank, in channel order."""
    edge = np.mod(bank.frequency_angle + math.pi / 2, math.pi)
    return tuple(
        ShearletChannel(
            index=c,
            scale=int(bank.scale[c]),
            cone=bank.cone[c],
            shear=int(bank.shear[c]),
            seam=bool(bank.seam[c]),
            frequency_angle=None if bank.scale[c] == 0 else float(bank.frequency_angle[c]),
            edge_angle=None if bank.scale[c] == 0 else float(edge[c]),
            angular_energy=tuple(float(x) for x in bank.angular_energy[c]),
        )
        for c in range(bank.filters.shape[0])
    )
