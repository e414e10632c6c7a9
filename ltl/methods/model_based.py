"""The model-based methods: FBP, SIRT, CGLS, TV and l1-shearlet."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..runtime.settings import Settings
from ..shearlets.settings import FrameSettings, frame_settings_of
from ..solvers import cgls, l1_shearlet, sirt, tv
from ..solvers.settings import CGLSSettings, L1Settings, SIRTSettings, TVSettings
from .base import Method, Reconstruction, register

__all__ = ["FBPSettings", "ShearletL1Settings", "FBP", "SIRT", "CGLS", "TV", "ShearletL1"]


@dataclass(frozen=True)
class FBPSettings(Settings):
    """Settings of filtered back projection: the ``filter`` window (``'ram-lak'``, see :func:`ltl.fbp`)."""

    WHAT = "fbp"

    filter: str = "ram-lak"

    def validate(self) -> None:
        from ..operators.fbp import FILTERS

        if self.filter not in FILTERS:
            raise ValueError(f"filter must be one of {', '.join(FILTERS)}, got {self.filter!r}")


@dataclass(frozen=True)
class ShearletL1Settings(Settings):
    """Settings of the ``l1`` method: the solver's (:class:`~ltl.solvers.settings.L1Settings`) and the
    frame's (:class:`~ltl.shearlets.settings.FrameSettings`).

    :meth:`from_dict` takes either ``{'solver': {...}, 'frame': {...}}`` or one flat dict of both
    (``{'lam': 0.1, 'scales': 3}``).
    """

    solver: L1Settings = field(default_factory=L1Settings)
    frame: FrameSettings = field(default_factory=FrameSettings)

    def validate(self) -> None:
        if not isinstance(self.solver, L1Settings) or not isinstance(self.frame, FrameSettings):
            raise ValueError("ShearletL1Settings needs an L1Settings and a FrameSettings")

    def to_dict(self) -> dict:
        return {"solver": self.solver.to_dict(), "frame": self.frame.to_dict()}

    @classmethod
    def from_dict(cls, d, *, ignore=()):
        if d is None or isinstance(d, cls):
            return cls() if d is None else d
        if not isinstance(d, dict):
            raise ValueError(f"l1 settings must be a JSON object, got {type(d).__name__}")
        if set(d) <= {"solver", "frame"}:
            solver, frame = d.get("solver"), d.get("frame")
            frame = {k: v for k, v in (frame or {}).items() if k not in ("N", "num_channels")}
        else:
            names = FrameSettings.field_names()
            solver = {k: v for k, v in d.items() if k not in names}
            frame = {k: v for k, v in d.items() if k in names}
        return cls(L1Settings.from_dict(solver), FrameSettings.from_dict(frame))


def _solver_info(x: torch.Tensor, info) -> Reconstruction:
    return Reconstruction(x, {**info.params, "iterations": info.iterations, "converged": info.converged,
                              "objective": list(info.objective)})


@register
class FBP(Method):
    name = "fbp"
    label = "FBP"
    description = "filtered back projection (ltl.fbp)"
    settings_type = FBPSettings

    def reconstruct(self, A, y, *, f_vis=None, progress=False) -> Reconstruction:
        from ..operators import fbp

        return Reconstruction(fbp(A, y, filter=self.settings.filter), {"filter": self.settings.filter})


class _SolverMethod(Method):
    """A method that is one solver call with its typed settings (``solver``, a staticmethod)."""

    solver = None

    def reconstruct(self, A, y, *, f_vis=None, progress=False) -> Reconstruction:
        return _solver_info(*self.solver(A, y, **self.settings.kwargs(), progress=progress))


@register
class SIRT(_SolverMethod):
    name = "sirt"
    label = "SIRT"
    description = "SIRT with non-negativity (ltl.solvers.sirt)"
    settings_type = SIRTSettings
    solver = staticmethod(sirt)


@register
class CGLS(_SolverMethod):
    name = "cgls"
    label = "CGLS"
    description = "conjugate gradients on the normal equations (ltl.solvers.cgls)"
    settings_type = CGLSSettings
    solver = staticmethod(cgls)


@register
class TV(_SolverMethod):
    name = "tv"
    label = "TV"
    description = "total variation, λ from the noise level (ltl.solvers.tv)"
    settings_type = TVSettings
    solver = staticmethod(tv)


class _Frames:
    """Frames built on first use per (image size, device)."""

    def __init__(self):
        self._frames: dict = {}

    def get(self, settings: FrameSettings, n: int, device: torch.device):
        key = (int(n), str(device))
        if key not in self._frames:
            self._frames[key] = settings.build(n, device=device)
        return self._frames[key]


@register
class ShearletL1(Method):
    name = "l1"
    label = "l1-shearlet"
    description = "l1-shearlet sparse regularisation (ltl.solvers.l1_shearlet): f_vis"
    settings_type = ShearletL1Settings

    def __init__(self, settings=None, *, model=None):
        super().__init__(settings, model=model)
        self._frames = _Frames()

    @property
    def fvis_settings(self):
        return self.settings.solver, self.settings.frame

    def frame(self, n: int, device) -> object:
        """The shearlet frame on the ``n × n`` grid on ``device`` (built once)."""
        return self._frames.get(self.settings.frame, n, torch.device(device))

    def reconstruct(self, A, y, *, f_vis=None, progress=False) -> Reconstruction:
        n = int(A.domain_shape[-1])
        frame = self.frame(n, y.device)
        if f_vis is not None:
            return Reconstruction(f_vis, {"f_vis": "given"})
        x, info = l1_shearlet(A, frame, y, **self.settings.solver.kwargs(), progress=progress)
        rec = _solver_info(x, info)
        rec.info["scales"] = frame.scales
        rec.info["frame"] = frame_settings_of(frame)
        return rec
