"""What a dataset's ``phantom`` setting means: one family, a mix, or the fixed Shepp–Logan phantom.

:func:`plan_phantom` checks the setting before any file exists and returns a :class:`PhantomPlan`
that names each sample's family and makes its phantom on the fine grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..phantoms import (FAMILIES, Mix, family, is_family, is_mix, parse_mix, phantom_images, shepp_logan)

__all__ = ["PhantomPlan", "plan_phantom"]


@dataclass
class PhantomPlan:
    """The phantoms of a dataset.

    Attributes
    ----------
    phantom : str
        The setting as stored: a family name, ``'shepp-logan'``, ``'crops:PATH'`` or the canonical
        mix text (:attr:`Mix.spec`).
    mix : Mix or None
        The mix, for a mix (then the file holds a ``family`` array).
    extra : dict
        Settings beyond those of a one-family file: ``mix`` (:meth:`Mix.to_dict`) and, for crops
        of a user's images, ``images`` (family → folder name, files and digest).
    generators : dict
        Family name → generator, made once (so a user's images are read once).
    """

    phantom: str
    mix: Mix | None = None
    extra: dict = field(default_factory=dict)
    generators: dict = field(default_factory=dict)

    def families(self, seeds: np.ndarray) -> list[str]:
        """The family of each sample seed."""
        if self.mix is not None:
            return self.mix.families_of(seeds)
        return [self.phantom] * len(seeds)

    def fine(self, seeds: np.ndarray, size: int, oversample: int, pool=None) -> torch.Tensor:
        """The phantoms of ``seeds`` on the fine grid ``(len(seeds), kN, kN)``, one per thread of ``pool``."""
        if self.phantom == "shepp-logan":
            return shepp_logan(size, oversample=oversample).expand(len(seeds), -1, -1).contiguous()
        spec = self.mix if self.mix is not None else self.phantom

        def one(s):
            return phantom_images(spec, [int(s)], size, oversample=oversample, generators=self.generators)[0]

        return torch.cat(list(pool.map(one, seeds)) if pool is not None else [one(s) for s in seeds])


def plan_phantom(phantom) -> PhantomPlan:
    """Check a dataset's ``phantom`` setting and plan its phantoms.

    Raises
    ------
    ValueError
        Not a family, ``'shepp-logan'``, a valid mix or ``'crops:PATH'`` (one line that names the
        families); a mix with an unknown family or a weight that is not a positive number.
    FileNotFoundError
        ``crops:PATH`` of a path that does not exist.
    """
    if isinstance(phantom, str) and (phantom == "shepp-logan" or phantom in FAMILIES):
        return PhantomPlan(phantom, generators={} if phantom == "shepp-logan" else {phantom: FAMILIES[phantom].make})
    if is_mix(phantom):
        mix = parse_mix(phantom)
        plan = PhantomPlan(mix.spec, mix, {"mix": mix.to_dict()})
        names = mix.families
    elif is_family(phantom):
        plan = PhantomPlan(phantom)
        names = (phantom,)
    else:
        raise ValueError(f"phantom must be a family ({', '.join(FAMILIES)}), 'shepp-logan', a mix such as "
                         f"mix:ellipses=1,polygons=1, or crops:FOLDER; got {phantom!r}")
    for name in names:
        plan.generators[name] = family(name)
    images = {k: g.record() for k, g in plan.generators.items() if hasattr(g, "record")}
    if images:
        plan.extra["images"] = images
    return plan
