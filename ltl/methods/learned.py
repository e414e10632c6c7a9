"""The learned methods: LtI, LtI without the split, and the post-processing U-Nets.

Each takes a trained model of its own kind (:mod:`ltl.models`); its first step (l1-shearlet or
FBP) uses the settings stored with the model. LtI's optional data-consistent final step is a
setting of the model too (``model.refine_settings``, :meth:`ltl.models.LtI.refine`; off unless
set): ``methods.create("ltl", model=LtI.load(path, refine=True))`` runs it, and the record says so.
``ltl-refined`` runs it on any ``ltl`` model, with the model's refine settings or the measured
defaults (:class:`ltl.solvers.refine.RefineSettings`; docs/visible-part.md), so that LtI with and
without the step can be compared on the same model in one evaluation.
"""

from __future__ import annotations

import torch

from ..shearlets.settings import FrameSettings, frame_settings_of
from ..solvers.settings import L1Settings
from .base import Method, Reconstruction, register

__all__ = ["LtIMethod", "LtIRefined", "LtINoSplit", "PostProcFBP", "PostProcL1"]


class _FromFvis(Method):
    """A learned method whose first step is the model's l1-shearlet solve (f_vis)."""

    @property
    def fvis_settings(self):
        m = self.model
        frame = {k: v for k, v in frame_settings_of(m.frame).items() if k not in ("N", "num_channels")}
        return L1Settings.from_dict(m.solver_settings), FrameSettings.from_dict(frame)

    def _fvis(self, y, f_vis, progress=False):
        return self.model.solve(y, progress=progress) if f_vis is None else f_vis

    def record(self) -> dict:
        s, _ = self.fvis_settings
        rec = {"l1_solver": s.to_dict(), "frame": frame_settings_of(self.model.frame)}
        refine = getattr(self.model, "refine_settings", None)
        return rec if refine is None else rec | {"refine": refine.to_dict()}


@register
class LtIMethod(_FromFvis):
    name = "ltl"
    label = "LtI"
    description = "LtI: f_vis, then the U-Net's invisible coefficients (ltl.models.LtI)"
    learned = True

    def _refine_settings(self):
        return getattr(self.model, "refine_settings", None)

    def reconstruct(self, A, y, *, f_vis=None, progress=False) -> Reconstruction:
        model = self.model
        with torch.no_grad():
            f = self._fvis(y, f_vis, progress)
            coeffs = model.frame.forward(f)
            pred = model.predict(f, coeffs)
            x = model.combine(f, pred, coeffs=coeffs)
            parts = {"f_vis": f, "contribution": model.contribution(pred)}
            refine = self._refine_settings()
            if refine is None:
                return Reconstruction(x, {}, parts)
            parts["f_combined"] = x
            return Reconstruction(model.refine(y, x, pred, settings=refine, progress=progress),
                                  {"refine": refine.to_dict()}, parts)


@register
class LtIRefined(LtIMethod):
    name = "ltl-refined"
    kind = "ltl"
    label = "LtI + final step"
    description = ("LtI, then a data-consistent TV step that keeps the network's invisible coefficients as a prior "
                   "(ltl.solvers.refine)")

    def _refine_settings(self):
        from ..solvers.refine import RefineSettings

        return getattr(self.model, "refine_settings", None) or RefineSettings()

    def record(self) -> dict:
        return super().record() | {"refine": self._refine_settings().to_dict()}


@register
class LtINoSplit(LtIMethod):
    name = "ltl-nosplit"
    label = "LtI without the split"
    description = "LtI without the split: all coefficients predicted (ltl.models.LtI, nosplit)"


@register
class PostProcFBP(Method):
    name = "postproc-fbp"
    label = "FBP + U-Net (FBPConvNet)"
    description = "FBP + a residual U-Net (FBPConvNet, ltl.models.PostProc)"
    learned = True

    def record(self) -> dict:
        return {"fbp_filter": self.model.fbp_filter}

    def reconstruct(self, A, y, *, f_vis=None, progress=False) -> Reconstruction:
        model = self.model
        with torch.no_grad():
            f0 = model.initial(y)
            return Reconstruction(model(f0), {}, {"initial": f0})


@register
class PostProcL1(_FromFvis):
    name = "postproc-l1"
    label = "l1-shearlet + U-Net"
    description = "f_vis + a residual U-Net (ltl.models.PostProc)"
    learned = True

    def reconstruct(self, A, y, *, f_vis=None, progress=False) -> Reconstruction:
        with torch.no_grad():
            f = self._fvis(y, f_vis, progress)
            return Reconstruction(self.model(f), {}, {"f_vis": f})
