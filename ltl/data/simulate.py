"""Simulated scans without the inverse crime, with Gaussian and Poisson noise."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import Geometry
from ..operators import RadonOperator
from .phantoms import (FAMILIES, IMAGE_SUFFIXES, block_mean, family_names, is_family, is_mix, load_images, parse_mix,
                       phantom_images, shepp_logan)

__all__ = ["Scan", "simulate", "simulate_phantoms", "add_noise", "PHANTOMS"]

#: Named phantoms of :func:`simulate_phantoms`: the families of :data:`~ltl.data.phantoms.FAMILIES`
#: and the fixed Shepp–Logan phantom (also accepted: ``'mix:...'``, ``'crops:PATH'``, image files).
PHANTOMS = family_names() + ("shepp-logan",)


@dataclass(frozen=True)
class Scan:
    """Sinograms with their geometry and, for simulated data, the ground truth.

    Attributes
    ----------
    sinogram : torch.Tensor, shape (M, V, D)
    geometry : Geometry
    images : torch.Tensor or None, shape (M, N, N)
    meta : dict
        How the scan was made (phantom, noise, seed, ...), JSON-safe.
    """

    sinogram: torch.Tensor
    geometry: Geometry
    images: torch.Tensor | None = None
    meta: dict | None = None


def add_noise(
    sinogram: torch.Tensor,
    *,
    noise: float = 0.0,
    photons: float | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Add noise to clean sinograms ``(M, V, D)``, per sinogram, seeded.

    Parameters
    ----------
    noise : float
        η ≥ 0, relative Gaussian noise: σ = η · max|y| of each sinogram.
    photons : float, optional
        I0 > 0 incident photons per detector pixel: Poisson counts ~ Poisson(I0·exp(−μy)) with μ
        chosen per sinogram so that the most attenuating ray keeps exp(−2) of its photons, then
        y = −log(max(counts, 1)/I0)/μ. Applied before the Gaussian noise.
    seed : int
        Seeds ``np.random.default_rng([1, seed])``.

    Raises
    ------
    TypeError
        ``noise`` or ``photons`` is not a real number (``True`` is not η = 1), or ``seed`` not an integer.
    ValueError
        A negative or non-finite ``noise``, a ``photons`` that is not > 0, a negative ``seed``.
    """
    _check_number(noise, "noise")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if photons is not None:
        _check_number(photons, "photons")
        if not (np.isfinite(photons) and photons > 0):
            raise ValueError(f"photons must be a finite number > 0, got {photons!r}")
    _check_int(seed, "seed")
    rng = np.random.default_rng([1, int(seed)])
    y = sinogram.detach().cpu().double().numpy().copy()
    for i in range(y.shape[0]):
        peak = np.abs(y[i]).max()
        if photons is not None and peak > 0:
            mu = 2.0 / peak
            counts = rng.poisson(photons * np.exp(-mu * np.clip(y[i], 0, None)))
            y[i] = -np.log(np.maximum(counts, 1) / photons) / mu
        if noise > 0:
            y[i] += rng.normal(0.0, noise * peak, size=y[i].shape)
    return torch.from_numpy(y.astype(np.float32)).to(sinogram.device)


def _check_number(v, name: str) -> None:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(v).__name__} {v!r}")


def _check_int(v, name: str, lo: int = 0) -> None:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(v).__name__} {v!r}")
    if v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v}")


def simulate(
    fine_images: torch.Tensor,
    geometry: Geometry,
    *,
    oversample: int = 2,
    noise: float = 0.0,
    photons: float | None = None,
    seed: int = 0,
) -> Scan:
    """Simulate scans of images given on a grid ``oversample`` times finer than the geometry's.

    Parameters
    ----------
    fine_images : torch.Tensor, shape (M, kN, kN)
        Phantoms on the fine grid (k = ``oversample``), values in [0, 1].
    geometry : Geometry
        The scan geometry (N×N reconstruction grid).
    oversample : int
        k; the data are projected from the fine grid onto the geometry's detector, so that
        reconstructing on the N grid does not commit the inverse crime. k = 1 commits it.
    noise, photons, seed
        See :func:`add_noise`.

    Returns
    -------
    Scan
        Noisy sinograms ``(M, V, D)`` and ground truths ``(M, N, N)``, the k×k block means of the
        fine images.
    """
    n = geometry.image_size * oversample
    if fine_images.ndim != 3 or tuple(fine_images.shape[1:]) != (n, n):
        raise ValueError(
            f"fine images must have shape (M, {n}, {n}) for N={geometry.image_size} and "
            f"oversample={oversample}, got {tuple(fine_images.shape)}"
        )
    if not torch.isfinite(fine_images).all():
        raise ValueError("images contain NaN or inf")
    op = RadonOperator(geometry, oversample=oversample)
    clean = op(fine_images.float())
    sino = add_noise(clean, noise=noise, photons=photons, seed=seed)
    meta = {"oversample": oversample, "noise": noise, "photons": photons, "noise_seed": seed}
    return Scan(sino, geometry, block_mean(fine_images.float(), oversample), meta)


def simulate_phantoms(
    phantom: str,
    geometry: Geometry,
    *,
    count: int = 1,
    noise: float = 0.0,
    photons: float | None = None,
    seed: int = 0,
    oversample: int = 2,
) -> Scan:
    """Simulate ``count`` scans of a phantom family, a mix, Shepp–Logan or a user's images.

    Parameters
    ----------
    phantom : str
        A family of :data:`~ltl.data.phantoms.FAMILIES` (``'ellipses'``, ``'polygons'``, ...),
        ``'crops:PATH'`` (crops of the images at PATH), a mix ``'mix:NAME=W,...'``
        (:func:`~ltl.data.phantoms.parse_mix`; each scan's family drawn from its seed),
        ``'shepp-logan'`` (the fixed phantom, ``count`` copies), or an image file or folder
        (:func:`~ltl.data.phantoms.load_images`, resampled to the fine grid with linear
        interpolation; ``count`` is then ignored).
    geometry : Geometry
        The scan geometry (N×N reconstruction grid).
    count : int
        Number of scans; phantom i has seed ``seed + i``.
    noise, photons : float
        See :func:`add_noise`; the noise uses ``seed`` too (one stream over the scans).
    seed : int
        First phantom seed and the noise seed.
    oversample : int
        k: phantoms are made on the k·N grid and projected from it (default 2).

    Returns
    -------
    Scan
        ``meta`` records the phantom, its seed, the count and the noise; for a mix also ``mix``
        and each scan's ``families``, for crops of a user's images the ``images`` they came from.

    Raises
    ------
    ValueError
        An unknown family or a bad mix (one line naming the valid families); a count < 1 or a
        negative seed; images that are not square (they are not stretched), complex, empty or
        not finite.
    TypeError
        ``count`` or ``seed`` not an integer, ``noise`` or ``photons`` not a real number.
    FileNotFoundError
        A path to images that does not exist.
    """
    _check_int(count, "count", 1)
    _check_int(seed, "seed")
    _check_number(noise, "noise")
    if photons is not None:
        _check_number(photons, "photons")
    n = geometry.image_size
    from ..runtime.memory import check_fits

    # the phantoms on the fine grid, their block means and the sinograms, before any is made
    check_fits(4.0 * count * ((oversample * n) ** 2 * 5 + n * n + 2 * geometry.num_angles * geometry.det_count),
               f"{count} scan(s) of {n}² images ({oversample}× grid)", hint="use a smaller --size or --count")
    extra: dict = {}
    if phantom == "shepp-logan":
        fine = shepp_logan(n, oversample=oversample).expand(count, -1, -1).contiguous()
    elif is_family(phantom) or is_mix(phantom):
        if int(count) < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        gens: dict = {}
        fine, fams = phantom_images(phantom, range(seed, seed + count), n, oversample=oversample, generators=gens)
        if is_mix(phantom):
            mix = parse_mix(phantom)
            extra = {"mix": mix.to_dict(), "families": fams}
            phantom = mix.spec
        records = {k: g.record() for k, g in gens.items() if hasattr(g, "record")}
        if records:
            extra["images"] = records
    else:
        _check_image_path(phantom)
        _check_images(phantom)
        fine = load_images(phantom, size=n * oversample)
    scan = simulate(fine, geometry, oversample=oversample, noise=noise, photons=photons, seed=seed)
    meta = dict(scan.meta, phantom=phantom, phantom_seed=seed, count=int(fine.shape[0]), **extra)
    return Scan(scan.sinogram, geometry, scan.images, meta)


def _check_images(path) -> None:
    """Refuse a user's images that would be changed silently: not square (resampling would stretch
    them), complex (the imaginary part would be dropped), empty, or not 2D."""
    from .phantoms.images import image_files, read_image_file

    count = 0
    for f in image_files(path):
        if f.suffix.lower() in (".npy", ".npz"):
            try:
                if f.suffix.lower() == ".npy":
                    raw = [np.load(f, mmap_mode="r", allow_pickle=False)]
                else:
                    with np.load(f, allow_pickle=False) as z:
                        raw = [z[k] for k in z.files]
            except Exception:  # noqa: BLE001 - read_image_file below names an unreadable file
                raw = []
            for a in raw:
                if np.iscomplexobj(a):
                    raise ValueError(f"{f}: the image is complex; ltl simulates real attenuation images (store the "
                                     "magnitude or the real part yourself)")
                if a.size == 0:
                    raise ValueError(f"{f}: the image array is empty (shape {a.shape})")
                if np.issubdtype(a.dtype, np.number) and not np.all(np.isfinite(a)):
                    raise ValueError(f"{f}: image contains NaN or inf")
        for a in read_image_file(f):
            count += 1
            if a.ndim != 2 or a.shape[0] != a.shape[1]:
                raise ValueError(f"{f}: an image of {a.shape[0]}×{a.shape[1]} pixels is not square; ltl does not "
                                 "stretch images: crop or pad it to a square first")
    if count == 0:
        raise ValueError(f"{path}: no images (an empty stack)")


def _check_image_path(phantom) -> None:
    """A clear error for a phantom that is neither a known name nor an existing path."""
    from pathlib import Path

    p = Path(phantom)
    if p.exists():
        return
    if p.suffix.lower() in IMAGE_SUFFIXES or len(p.parts) > 1:
        raise FileNotFoundError(f"no such image file or folder: {p}")
    raise ValueError(f"unknown phantom {str(phantom)!r}: pass a family ({', '.join(FAMILIES)}), 'shepp-logan', "
                     "a mix such as mix:ellipses=1,polygons=1, crops:FOLDER, or an image file or folder")
