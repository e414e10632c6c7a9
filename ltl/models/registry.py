"""The registry of model kinds: which class reads which checkpoint format and kind.

A model class registers itself with :func:`register` (its ``FORMAT`` and the ``KINDS`` it serves);
checkpoint I/O (:mod:`ltl.models.checkpoint`) looks classes up here and imports none of them.
"""

from __future__ import annotations

__all__ = ["register", "class_of_format", "class_of_kind", "kinds", "formats"]

_BY_FORMAT: dict[str, type] = {}
_BY_KIND: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: register ``cls`` for its ``FORMAT`` and each of its ``KINDS``."""
    for kind in cls.KINDS:
        if kind in _BY_KIND and _BY_KIND[kind] is not cls:
            raise ValueError(f"model kind {kind!r} is registered twice")
        _BY_KIND[kind] = cls
    _BY_FORMAT[cls.FORMAT] = cls
    return cls


def kinds() -> tuple[str, ...]:
    """Every registered model kind, in registration order."""
    return tuple(_BY_KIND)


def formats() -> tuple[str, ...]:
    return tuple(_BY_FORMAT)


def class_of_format(fmt) -> type:
    """The class that reads checkpoint metadata of format ``fmt``; ``ValueError`` otherwise."""
    try:
        return _BY_FORMAT[fmt]
    except (KeyError, TypeError):
        raise ValueError(f"format {fmt!r} is not an ltl model format ({', '.join(map(repr, _BY_FORMAT))})") from None


def class_of_kind(kind: str) -> type:
    """The class of model kind ``kind``; ``ValueError`` listing the kinds otherwise."""
    try:
        return _BY_KIND[kind]
    except (KeyError, TypeError):
        raise ValueError(f"model kind {kind!r} is not one of {', '.join(_BY_KIND)}") from None
