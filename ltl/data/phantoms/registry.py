"""The phantom families by name, and mixtures of them.

Every family is a function ``family(count, size, *, seed=0, oversample=1)`` returning
``(count, k·size, k·size)`` float32 images in [0, 1] whose k×k block means are the phantoms on the
N = ``size`` grid; phantom i depends on ``seed + i`` alone. :data:`FAMILIES` holds them by name;
``'crops:PATH'`` names crops of a user's images (:class:`~.natural.ImageCrops`).

A mix (``'mix:ellipses=2,polygons=1'``) draws each sample's family from its seed and the weights
(:class:`Mix`), so a sample seed always gives the same phantom, whatever the file or the count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ...runtime.memory import check_fits
from .anatomy import random_anatomy
from .ellipses import random_ellipses, shepp_logan_variants
from .lowcontrast import low_contrast
from .natural import ImageCrops, natural_images
from .polygons import random_polygons
from .textures import random_textures
from .vessels import random_vessels

__all__ = ["Family", "FAMILIES", "MIX_PREFIX", "CROPS_PREFIX", "MIX_STREAM", "DRAW_RULE", "Mix", "family_names",
           "is_family", "family", "generate", "parse_mix", "is_mix", "phantom_images"]


@dataclass(frozen=True)
class Family:
    """A named phantom family: its generator and a one-line description."""

    name: str
    make: Callable[..., torch.Tensor]
    summary: str


#: The phantom families, in the order mixes list them.
FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("ellipses", random_ellipses, "overlapping random ellipses with additive intensities (ltl's original)"),
    Family("polygons", random_polygons, "piecewise-constant occluding polygons and bars with sharp corners"),
    Family("low-contrast", low_contrast, "smooth backgrounds with small low-contrast inclusions"),
    Family("vessels", random_vessels, "branching vessels and thin wires, 0.5–5 pixels wide"),
    Family("textures", random_textures, "regions of gratings, checkerboards, dots, rings and band-limited noise"),
    Family("anatomy", random_anatomy, "body sections: fat, organs, lungs, vertebra and ribs with a cortex, lesions"),
    Family("natural", natural_images, "crops of scikit-image's bundled photographs"),
    Family("shepp-logan-variants", shepp_logan_variants, "seeded variants of the modified Shepp–Logan head"),
)}
MIX_PREFIX = "mix:"
CROPS_PREFIX = "crops:"
#: The random stream of the family draw of a mix.
MIX_STREAM = 11
#: How a mix assigns a family to a sample (recorded in datasets).
DRAW_RULE = (f"sample seed s: u = numpy.random.default_rng([{MIX_STREAM}, s]).random(); the family is the first "
             "whose cumulative share of the weights exceeds u")


def family_names() -> tuple[str, ...]:
    """The names of :data:`FAMILIES`."""
    return tuple(FAMILIES)


def is_family(spec: str) -> bool:
    """Whether ``spec`` names a family: one of :data:`FAMILIES` or ``'crops:PATH'``."""
    return isinstance(spec, str) and (spec in FAMILIES or (spec.startswith(CROPS_PREFIX) and len(spec) > 6))


def _unknown(name: str, where: str = "") -> ValueError:
    return ValueError(f"unknown phantom family {name!r}{where}; families: {', '.join(FAMILIES)}, or crops:FOLDER "
                      "for crops of your own images")


def family(spec: str) -> Callable[..., torch.Tensor]:
    """The generator of the family ``spec`` (a name of :data:`FAMILIES` or ``'crops:PATH'``).

    ``'crops:PATH'`` reads the images now (:class:`~.natural.ImageCrops`); keep the returned
    generator to make many phantoms. ``ValueError`` for an unknown name, ``FileNotFoundError``
    for a missing folder.
    """
    if isinstance(spec, str) and spec in FAMILIES:
        return FAMILIES[spec].make
    if is_family(spec):
        return ImageCrops(spec[len(CROPS_PREFIX):])
    raise _unknown(spec)


def generate(spec: str, count: int, size: int, *, seed: int = 0, oversample: int = 1) -> torch.Tensor:
    """``family(spec)(count, size, seed=seed, oversample=oversample)``: ``(count, k·size, k·size)`` float32.

    A size and count whose images cannot fit in memory are refused first
    (:class:`ltl.runtime.memory.TooLargeError`, a ``ValueError``)."""
    check_phantom_memory(count, size, oversample)
    return family(spec)(count, size, seed=seed, oversample=oversample)


def check_phantom_memory(count, size, oversample: int = 1) -> None:
    """Refuse ``count`` phantoms of ``size``² on the ``oversample``× grid that cannot fit in memory
    (the images as float32 and the rasteriser's float64 working grids)."""
    try:
        c, n, k = float(count), float(size), float(oversample)
    except (TypeError, ValueError):
        return  # the family reports the bad type
    check_fits(c * (k * n) ** 2 * (4 + 16), f"{count:g} phantom(s) of {size:g}² on the {oversample:g}× grid",
               hint="use a smaller --size or --count")


def _weight(name: str, text: str, spec: str) -> float:
    try:
        w = float(text)
    except ValueError:
        w = math.nan
    if not (math.isfinite(w) and w > 0):
        raise ValueError(f"the weight of {name!r} in {spec!r} must be a positive number, got {text!r}")
    return w


@dataclass(frozen=True)
class Mix:
    """Families with positive weights; a sample's family follows from its seed (:data:`DRAW_RULE`).

    Parameters
    ----------
    families : sequence of str
        Family names (:data:`FAMILIES` or ``'crops:PATH'``), each once.
    weights : sequence of float
        Positive, finite; the share of family j is ``weights[j] / sum(weights)``.
    """

    families: tuple[str, ...]
    weights: tuple[float, ...]

    def __post_init__(self):
        object.__setattr__(self, "families", tuple(self.families))
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        if not self.families or len(self.families) != len(self.weights):
            raise ValueError("a mix needs one positive weight per family, and at least one family")
        for f, w in zip(self.families, self.weights):
            if not is_family(f):
                raise _unknown(f, " in the mix")
            if not (math.isfinite(w) and w > 0):
                raise ValueError(f"the weight of {f!r} in the mix must be a positive number, got {w!r}")
        if len(set(self.families)) != len(self.families):
            raise ValueError(f"a family appears twice in the mix {list(self.families)}")

    @property
    def spec(self) -> str:
        """The canonical text, ``'mix:ellipses=1,polygons=2'``."""
        return MIX_PREFIX + ",".join(f"{f}={w:.12g}" for f, w in zip(self.families, self.weights))

    def _cumulative(self) -> np.ndarray:
        w = np.asarray(self.weights, dtype=np.float64)
        return np.cumsum(w) / w.sum()

    def family_of(self, seed: int) -> str:
        """The family of the sample with seed ``seed`` (:data:`DRAW_RULE`)."""
        u = np.random.default_rng([MIX_STREAM, int(seed)]).random()
        j = int(np.searchsorted(self._cumulative(), u, side="right"))
        return self.families[min(j, len(self.families) - 1)]

    def families_of(self, seeds: Sequence[int]) -> list[str]:
        """The family of each seed."""
        return [self.family_of(s) for s in np.asarray(seeds).tolist()]

    def to_dict(self) -> dict:
        """JSON-safe: ``{'families', 'weights', 'draw'}``."""
        return {"families": list(self.families), "weights": list(self.weights), "draw": DRAW_RULE}

    @classmethod
    def from_dict(cls, d: dict) -> "Mix":
        """The inverse of :meth:`to_dict` (``'draw'`` is descriptive and ignored)."""
        return cls(tuple(d["families"]), tuple(d["weights"]))


def is_mix(spec) -> bool:
    """Whether ``spec`` is a mix text (starts with ``'mix:'``)."""
    return isinstance(spec, str) and spec.startswith(MIX_PREFIX)


def parse_mix(spec: str) -> Mix:
    """Parse ``'mix:NAME[=W],NAME[=W],...'`` into a :class:`Mix`, families in :data:`FAMILIES` order.

    Entries: ``NAME=W`` (W > 0), ``NAME`` (weight 1), ``all`` or ``all=W`` (every family of
    :data:`FAMILIES` not given its own weight), ``-NAME`` (leave NAME out, after ``all``). NAME may be ``crops:PATH``
    (listed after the named families, in the order given). So ``mix:all,-vessels`` holds every
    family but the vessels, each with weight 1.

    Raises
    ------
    ValueError
        Not a mix, an empty entry, an unknown family, a weight that is not a positive number, a
        family named twice, or nothing left.
    """
    if not is_mix(spec):
        raise ValueError(f"a mix starts with {MIX_PREFIX!r}, e.g. 'mix:ellipses=1,polygons=1'; got {spec!r}")
    weights: dict[str, float] = {}
    dropped: list[str] = []
    explicit: set[str] = set()
    for entry in spec[len(MIX_PREFIX):].split(","):
        entry = entry.strip()
        if not entry:
            raise ValueError(f"empty entry in {spec!r}; write mix:NAME=WEIGHT,NAME=WEIGHT,...")
        if entry.startswith("-"):
            name = entry[1:]
            if name not in weights:
                raise (_unknown(name, f" in {spec!r}") if not is_family(name) else
                       ValueError(f"{spec!r} leaves out {name!r}, which it does not hold; put -{name} after all"))
            dropped.append(name)
            del weights[name]
            continue
        name, _, w = entry.rpartition("=") if "=" in entry else (entry, "", "1")
        if name == "all":
            for nm in FAMILIES:
                if nm not in explicit:
                    weights[nm] = _weight("all", w, spec)
            continue
        if not is_family(name):
            raise _unknown(name, f" in {spec!r}")
        if name in explicit:
            raise ValueError(f"{name!r} appears twice in {spec!r}")
        explicit.add(name)
        weights[name] = _weight(name, w, spec)
    if not weights:
        raise ValueError(f"{spec!r} leaves no family ({', '.join(dropped)} left out)")
    order = [f for f in FAMILIES if f in weights] + [f for f in weights if f not in FAMILIES]
    return Mix(tuple(order), tuple(weights[f] for f in order))


def phantom_images(spec: str | Mix, seeds: Sequence[int], size: int, *, oversample: int = 1,
                   generators: dict | None = None) -> tuple[torch.Tensor, list[str]]:
    """The phantoms of the sample ``seeds`` for a family or a mix, on the fine grid.

    Parameters
    ----------
    spec : str or Mix
        A family name, ``'crops:PATH'``, a mix text or a :class:`Mix`.
    seeds : sequence of int
        Sample seeds; sample j is the phantom of seed ``seeds[j]`` of its family.
    size, oversample : int
        N and k.
    generators : dict, optional
        A cache of family generators (name → generator), filled on first use, so that
        ``crops:PATH`` reads its images once across calls.

    Returns
    -------
    images : torch.Tensor, shape (M, k·N, k·N)
        float32 in [0, 1].
    families : list of str
        The family of each sample.
    """
    mix = spec if isinstance(spec, Mix) else parse_mix(spec) if is_mix(spec) else Mix((spec,), (1.0,))
    seeds = [int(s) for s in np.asarray(seeds).tolist()]
    if not seeds:
        raise ValueError("no sample seeds given")
    check_phantom_memory(1 if len(set(seeds)) == 1 else len(seeds), size, oversample)
    names = mix.families_of(seeds) if len(mix.families) > 1 else [mix.families[0]] * len(seeds)
    cache = generators if generators is not None else {}

    def gen(name):
        if name not in cache:
            cache[name] = family(name)
        return cache[name]

    if len(set(names)) == 1 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return gen(names[0])(len(seeds), size, seed=seeds[0], oversample=oversample), names
    return torch.cat([gen(f)(1, size, seed=s, oversample=oversample) for f, s in zip(names, seeds)]), names
