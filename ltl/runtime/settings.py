"""The base of ltl's typed settings: frozen dataclasses that round-trip to JSON.

Every settings class (solver, frame, training, RDE) defines each default once, as a field default;
functions take the values from there, the command line shows them, and files store
:meth:`Settings.to_dict`. :meth:`Settings.from_dict` refuses unknown keys with the list of valid
ones, so a typo in a settings file or a stale key is a clear error, not a silently ignored value.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, ClassVar, TypeVar

__all__ = ["Settings", "check_int", "check_number"]

S = TypeVar("S", bound="Settings")


def check_int(name: str, v, lo: int = 1, *, optional: bool = False) -> None:
    """``ValueError`` unless ``v`` is an integer >= ``lo`` (or None when ``optional``)."""
    if optional and v is None:
        return
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")


def check_number(name: str, v, *, lo: float | None = None, positive: bool = False, optional: bool = False,
                 below: float | None = None) -> None:
    """``ValueError`` unless ``v`` is a finite real number (> 0 with ``positive``, >= ``lo``,
    < ``below``), or None when ``optional``."""
    if optional and v is None:
        return
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ok = ok and not (positive and v <= 0) and not (lo is not None and v < lo) and not (below is not None and v >= below)
    if not ok:
        what = "a positive number" if positive else "a finite number"
        if lo is not None:
            what += f" >= {lo:g}"
        if below is not None:
            what += f" below {below:g}"
        raise ValueError(f"{name} must be {what}, got {v!r}")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Base of frozen settings dataclasses with a JSON round trip and validation on construction.

    Subclasses add fields with defaults and may override :meth:`validate` (called by
    ``__post_init__``) and :meth:`to_dict` / :meth:`from_dict` for a stored form.
    """

    #: What error messages call these settings ("unknown solver setting(s) ...").
    WHAT: ClassVar[str] = "settings"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` for an invalid value (the base accepts everything)."""

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every field's default value."""
        return {f.name: f.default for f in dataclasses.fields(cls)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values of every field (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls: type[S], d: dict | None, *, ignore: tuple[str, ...] = ()) -> S:
        """Settings from a dict (e.g. a JSON file); missing keys take the defaults.

        Raises ``ValueError`` naming unknown keys (other than ``ignore``) and the valid ones.
        """
        if d is None:
            return cls()
        if isinstance(d, cls):
            return d
        if not isinstance(d, dict):
            raise ValueError(f"{cls.__name__} must be given as a JSON object (dict), got {type(d).__name__}")
        names = cls.field_names()
        bad = sorted(k for k in d if k not in names and k not in ignore)
        if bad:
            raise ValueError(f"unknown {cls.WHAT} setting(s) {bad}; valid keys: {', '.join(names)}")
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names}
        try:
            return cls(**kw)
        except TypeError as exc:  # pragma: no cover - a wrong field type that validate() let through
            raise ValueError(f"{cls.__name__}: {exc}") from exc

    def replace(self: S, **changes) -> S:
        """A copy with ``changes`` (validated)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls: type[S], text: str) -> S:
        try:
            d = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{cls.__name__}: not valid JSON ({exc})") from exc
        return cls.from_dict(d)
