"""The protocol every reconstruction method follows, and the registry that maps names to code.

A :class:`Method` is a configured reconstruction: a name from the registry, typed settings, and
for learned methods a trained model. ``reconstruct(A, y)`` turns sinograms ``(B, V, D)`` into
images ``(B, N, N)`` on y's device. Methods that start from the l1-shearlet reconstruction f_vis
(``l1`` and the learned methods that refine it) say so with :attr:`Method.fvis_settings`, so
that a caller running several of them on the same data (``ltl evaluate``) solves once and passes
``f_vis`` to each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from ..runtime.settings import Settings

__all__ = ["Method", "Reconstruction", "REGISTRY", "register"]

#: name → Method subclass, in the order methods are listed to users.
REGISTRY: dict[str, type["Method"]] = {}


def register(cls: type["Method"]) -> type["Method"]:
    """Class decorator: add a :class:`Method` subclass to :data:`REGISTRY` under ``cls.name``."""
    if cls.name in REGISTRY:
        raise ValueError(f"method {cls.name!r} is registered twice")
    REGISTRY[cls.name] = cls
    return cls


@dataclass
class Reconstruction:
    """What :meth:`Method.reconstruct` returns.

    Attributes
    ----------
    image : torch.Tensor, shape (B, N, N)
        The reconstruction on y's device, as the method returns it (not clipped unless the method
        clips).
    info : dict
        JSON-safe record of the run: the settings used, and for iterative solvers ``iterations``,
        ``converged`` and ``objective`` per slice.
    parts : dict of torch.Tensor
        Intermediate images a method exposes (LtI: ``f_vis`` and the network's ``contribution``).
    """

    image: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)
    parts: dict[str, torch.Tensor] = field(default_factory=dict)


class Method(ABC):
    """A reconstruction method with its settings (and model, for learned methods).

    Class attributes
    ----------------
    name : str
        The registry key (``'tv'``), used on the command line and in reports.
    label : str
        The name people read (``'TV'``, ``'l1-shearlet'``, ``'LtI'``).
    settings_type : type of Settings or None
        The typed settings; None for learned methods, which take theirs from the model.
    learned : bool
        Needs a trained model of kind ``name`` (``ltl train --model NAME``).
    description : str
        One line for listings.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    settings_type: ClassVar[type[Settings] | None] = None
    learned: ClassVar[bool] = False
    #: The kind of trained model a learned method takes (its name, unless it is a way of running
    #: another method's models: ``ltl-refined`` runs ``ltl`` models).
    kind: ClassVar[str | None] = None

    @classmethod
    def model_kind(cls) -> str:
        """The kind of model this learned method takes (:attr:`kind`, else its name)."""
        return cls.kind or cls.name

    def __init__(self, settings: Settings | dict | None = None, *, model=None):
        if self.settings_type is None:
            if settings:
                raise ValueError(f"method {self.name!r} takes its settings from its trained model; pass none")
            self.settings = None
        else:
            self.settings = self.settings_type.from_dict(settings)
        if self.learned:
            self._check_model(model)
        elif model is not None:
            raise ValueError(f"method {self.name!r} is model-based; it takes no trained model")
        self.model = model

    def _check_model(self, model) -> None:
        if model is None:
            raise ValueError(f"method {self.name!r} needs a trained model: pass its checkpoint (from `ltl train "
                             f"--model {self.name}`)")
        kind = getattr(model, "kind", None)
        if kind != self.model_kind():
            raise ValueError(f"the model is a {kind or type(model).__name__!r} model, but it was given for method "
                             f"{self.name!r}; pass a checkpoint from `ltl train --model {self.model_kind()}`")

    # ------------------------------------------------------------------ f_vis sharing
    @property
    def fvis_settings(self) -> tuple[Any, Any] | None:
        """``(L1Settings, frame settings)`` of the f_vis this method starts from, or None."""
        return None

    # ------------------------------------------------------------------ running
    @abstractmethod
    def reconstruct(self, A, y: torch.Tensor, *, f_vis: torch.Tensor | None = None,
                    progress: bool = False) -> Reconstruction:
        """Reconstruct sinograms ``y`` ``(B, V, D)`` of ``A``'s geometry.

        ``f_vis`` (``(B, N, N)``), when given, is the l1-shearlet reconstruction of ``y`` with
        :attr:`fvis_settings`, and replaces that solve. ``progress`` shows a bar for iterative work.
        """

    def record(self) -> dict[str, Any]:
        """JSON-safe settings of this method (for learned methods, those of their first step)."""
        return {} if self.settings is None else self.settings.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.record()!r})"
