"""Simulated test scans of any phantom families (or of a user's images), for ``ltl evaluate --phantom``.

A model is tested on the families it was trained on and on those it never saw (held out): the
scans record each image's family, and the report splits the scores accordingly.
"""

from __future__ import annotations

from pathlib import Path

from ..data.dataset import TEST_SEEDS
from ..data.phantoms import family_names
from ..geometry import Geometry

__all__ = ["SHIFT_PHANTOMS", "shifted_scans"]

#: Named phantom families for :func:`shifted_scans` (also: ``crops:PATH``, a mix, a path to images).
SHIFT_PHANTOMS = family_names()


def _family_list(spec: str) -> list[str] | None:
    """The families of ``'NAME[,NAME...]'``, or None when ``spec`` is not such a list."""
    from ..data.phantoms import is_family

    names = [x.strip() for x in spec.split(",")]
    return names if names and all(is_family(x) for x in names) else None


def shifted_scans(phantom: str | Path, geometry: Geometry, *, count: int = 8, noise: float = 0.01,
                  photons: float | None = None, seed: int = TEST_SEEDS.start, oversample: int = 2):
    """Simulate scans of phantom families, a mix or a user's images, without the inverse crime.

    Parameters
    ----------
    phantom : str or Path
        ``'FAMILY[,FAMILY...]'``: ``count`` scans of each family of
        :data:`ltl.data.phantoms.FAMILIES` (or ``crops:PATH``), phantom seeds
        ``seed .. seed+count−1``; ``'mix:NAME=W,...'``: ``count`` scans whose families are drawn
        from their seeds; or a PNG/TIFF/NPY file or folder (:func:`ltl.data.load_images`, each
        image normalised to [0, 1]; all of them are used and ``count`` is ignored).
    geometry : Geometry
        The scan geometry (that of the models to test).
    count : int
        Scans per family, or of the mix (default 8).
    noise, photons : float
        Relative Gaussian noise η and optional Poisson photons (:func:`ltl.data.add_noise`).
    seed : int
        First phantom seed (default the first test seed, :data:`ltl.data.TEST_SEEDS`, so that the
        phantoms are none a model was trained or validated on). The noise of a family's scan is
        drawn with its phantom seed, as a dataset's samples are, so ``--phantom ellipses`` gives
        the scans of an ellipse dataset's test samples; a user's images share one noise stream
        seeded with ``seed``.
    oversample : int
        The data are projected from a grid this many times finer (default 2).

    Returns
    -------
    Scan
        Sinograms ``(M, V, D)``, truths ``(M, N, N)`` and ``meta`` recording how they were made
        (for families: ``families`` and ``seeds`` per scan).

    Raises
    ------
    ValueError
        An unknown family name or a bad mix (one line naming the families), or a bad count.
    FileNotFoundError
        A path to images that does not exist.
    """
    import torch

    from .. import __version__
    from ..data import Scan, add_noise, load_images, simulate
    from ..data.phantoms import FAMILIES, IMAGE_SUFFIXES, generate, is_mix, parse_mix, phantom_images

    n = geometry.image_size
    spec = str(phantom)
    names = None if is_mix(spec) else _family_list(spec)
    if is_mix(spec) or names is not None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        seeds = list(range(seed, seed + count))
        if names is None:
            mix = parse_mix(spec)
            fine, families = phantom_images(mix, seeds, n, oversample=oversample)
            name = mix.spec
        else:
            fine = torch.cat([generate(f, count, n, seed=seed, oversample=oversample) for f in names])
            families = [f for f in names for _ in range(count)]
            seeds = seeds * len(names)
            name = ",".join(names)
        clean = simulate(fine, geometry, oversample=oversample, noise=0.0)
        sino = torch.cat([add_noise(clean.sinogram[j:j + 1], noise=noise, photons=photons, seed=s)
                          for j, s in enumerate(seeds)])
        meta = dict(clean.meta, noise=noise, photons=photons, noise_seed=None,
                    noise_seeding="per scan: add_noise(seed=phantom seed)", phantom=name, phantom_seed=seed,
                    count=len(seeds), families=families, seeds=seeds, ltl_version=__version__)
        return Scan(sino, geometry, clean.images, meta)
    p = Path(phantom)
    if not p.exists():
        if "," in spec or (p.suffix.lower() not in IMAGE_SUFFIXES and len(p.parts) == 1):
            bad = [x for x in spec.split(",") if x.strip() not in FAMILIES]
            raise ValueError(f"--phantom {spec}: unknown family {bad[0].strip()!r}; families: {', '.join(FAMILIES)} "
                             "(comma-separated), crops:FOLDER, mix:NAME=W,..., or a file/folder of images")
        raise FileNotFoundError(f"--phantom {p}: no such file or folder; pass a family ({', '.join(FAMILIES)}) or "
                                "images (PNG, TIFF, NPY, or a folder of them)")
    fine = load_images(p, size=n * oversample)
    # the name as given and the file names, not an absolute path of this machine
    name = p.name or str(p)
    if p.is_dir():
        files = sorted(f.name for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        name = f"{name}/ ({', '.join(files[:20])}{', ...' if len(files) > 20 else ''})"
    scan = simulate(fine, geometry, oversample=oversample, noise=noise, photons=photons, seed=seed)
    meta = dict(scan.meta, phantom=name, phantom_seed=seed, count=int(fine.shape[0]), ltl_version=__version__)
    return Scan(scan.sinogram, geometry, scan.images, meta)
