"""The registry of reconstruction methods: the one place that maps ``'fbp'``, ``'tv'``, ``'ltl'``,
... to code.

>>> from ltl import methods
>>> methods.names()
('fbp', 'sirt', 'cgls', 'tv', 'l1', 'ltl', 'ltl-nosplit', 'postproc-fbp', 'postproc-l1')
>>> tv = methods.create("tv", {"iters": 200})          # doctest: +SKIP
>>> rec = tv.reconstruct(A, y)                           # doctest: +SKIP

``ltl reconstruct``, ``ltl demo``, ``ltl evaluate``, training (the learned names are the model
kinds it trains) and the scripts all dispatch through :func:`create`; their lists of names come
from :func:`names`.
"""

from __future__ import annotations

from typing import Sequence

from .base import REGISTRY, Method, Reconstruction, register
from .model_based import CGLS, FBP, SIRT, TV, FBPSettings, ShearletL1, ShearletL1Settings
from .learned import LtIMethod, LtINoSplit, PostProcFBP, PostProcL1

__all__ = ["Method", "Reconstruction", "register", "REGISTRY", "names", "get", "create", "parse", "label",
           "FBPSettings", "ShearletL1Settings", "FBP", "SIRT", "CGLS", "TV", "ShearletL1", "LtIMethod", "LtINoSplit",
           "PostProcFBP", "PostProcL1"]


def names(*, learned: bool | None = None) -> tuple[str, ...]:
    """The registered method names in listing order; only the learned (or model-based) ones when
    ``learned`` is True (False)."""
    return tuple(n for n, c in REGISTRY.items() if learned is None or c.learned == learned)


def get(name: str) -> type[Method]:
    """The :class:`Method` class registered as ``name``; ``ValueError`` listing the valid names."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; valid methods: {', '.join(REGISTRY)}") from None


def label(name: str) -> str:
    """The name people read for method ``name`` (``'l1'`` → ``'l1-shearlet'``)."""
    return get(name).label


def create(name: str, settings=None, *, model=None) -> Method:
    """A configured method: ``settings`` (its typed settings, or a dict of them) and, for a learned
    method, its trained ``model``."""
    return get(name)(settings, model=model)


def parse(methods: str | Sequence[str], *, allowed: Sequence[str] | None = None) -> list[str]:
    """Method names from ``'fbp,tv,ltl'`` or a sequence, in order, without repeats.

    Raises ``ValueError`` listing the valid methods (``allowed``, default all) for an unknown name
    or an empty list.
    """
    valid = tuple(allowed) if allowed is not None else names()
    items = methods.split(",") if isinstance(methods, str) else list(methods)
    out: list[str] = []
    for m in items:
        m = str(m).strip().lower()
        if m and m not in out:
            out.append(m)
    bad = [m for m in out if m not in valid]
    if bad:
        raise ValueError(f"unknown method{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}; valid methods: "
                         f"{', '.join(valid)}")
    if not out:
        raise ValueError(f"no method given; valid methods: {', '.join(valid)}")
    return out
