"""Test scans from outside the training distribution: Shepp–Logan variants or a user's images.

The models are trained on random ellipses; these scans show how they cope with other images of
the same geometry and noise, without retraining.
"""

from __future__ import annotations

from pathlib import Path

from ..geometry import Geometry

__all__ = ["SHIFT_PHANTOMS", "shifted_scans"]

#: Named phantom families for :func:`shifted_scans` (anything else is a path to images).
SHIFT_PHANTOMS = ("shepp-logan-variants",)


def shifted_scans(phantom: str | Path, geometry: Geometry, *, count: int = 8, noise: float = 0.01,
                  photons: float | None = None, seed: int = 0, oversample: int = 2):
    """Simulate scans of Shepp–Logan variants or of a user's images, without the inverse crime.

    Parameters
    ----------
    phantom : str or Path
        ``'shepp-logan-variants'`` (:func:`ltl.data.phantoms.shepp_logan_variants`, seeds
        ``seed .. seed+count−1``) or a PNG/TIFF/NPY file or folder (:func:`ltl.data.load_images`,
        each image normalised to [0, 1]; all of them are used and ``count`` is ignored).
    geometry : Geometry
        The scan geometry (that of the models to test).
    count : int
        Number of variants (default 8).
    noise, photons : float
        Relative Gaussian noise η and optional Poisson photons (:func:`ltl.data.add_noise`).
    seed : int
        Seed of the variants and of the noise.
    oversample : int
        The data are projected from a grid this many times finer (default 2).

    Returns
    -------
    Scan
        Sinograms ``(M, V, D)``, truths ``(M, N, N)`` and ``meta`` recording how they were made.
    """
    from .. import __version__
    from ..data import Scan, load_images, simulate
    from ..data.phantoms import _IMAGE_SUFFIXES, shepp_logan_variants

    n = geometry.image_size
    if str(phantom) == "shepp-logan-variants":
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        fine = shepp_logan_variants(count, n, seed=seed, oversample=oversample)
        name = "shepp-logan-variants"
    else:
        p = Path(phantom)
        if not p.exists():
            raise FileNotFoundError(f"--phantom {p}: no such file or folder; pass 'shepp-logan-variants' or images "
                                    "(PNG, TIFF, NPY, or a folder of them)")
        fine = load_images(p, size=n * oversample)
        # the name as given and the file names, not an absolute path of this machine
        name = p.name or str(p)
        if p.is_dir():
            files = sorted(f.name for f in p.iterdir() if f.suffix.lower() in _IMAGE_SUFFIXES)
            name = f"{name}/ ({', '.join(files[:20])}{', ...' if len(files) > 20 else ''})"
    scan = simulate(fine, geometry, oversample=oversample, noise=noise, photons=photons, seed=seed)
    meta = dict(scan.meta, phantom=name, phantom_seed=seed, count=int(fine.shape[0]), ltl_version=__version__)
    return Scan(scan.sinogram, geometry, scan.images, meta)
