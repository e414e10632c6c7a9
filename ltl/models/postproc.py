"""Learned post-processing baselines: a residual U-Net on a first reconstruction.

``y → f₀ → f = max(0, f₀ + U-Net(f₀))`` with ``f₀`` either

``'fbp'``  the filtered back projection (Hann window): FBPConvNet, after K. H. Jin, M. T. McCann,
           E. Froustey, M. Unser, "Deep convolutional neural network for inverse problems in
           imaging", IEEE Trans. Image Process. 26 (2017) 4509–4522, where a U-Net learns the
           residual between the FBP and the truth;
``'l1'``   the l1-shearlet reconstruction f_vis that LtI starts from, so that the comparison with
           LtI isolates what the split into visible and invisible coefficients brings.

The U-Net is :class:`~ltl.models.UNet` with one input and one output channel; its stored
normalisation maps the input image and the residual ``truth − f₀`` to zero mean and unit variance.
Checkpoints are directories with ``model.pt`` and ``model.json`` as for :class:`~ltl.models.LtI`
(format ``'ltl-postproc-model'``, ``kind`` ``'postproc-fbp'`` or ``'postproc-l1'``); read any
ltl model with :func:`ltl.models.load_model`.
"""

from __future__ import annotations

from typing import Any

import torch

from ..geometry import Geometry
from ..shearlets.settings import frame_settings_of, make_frame
from ..solvers.settings import L1Settings
from .base import ScanModel
from .registry import register
from .unet import UNet

__all__ = ["PostProc", "POSTPROC_FORMAT", "SOURCES"]

POSTPROC_FORMAT = "ltl-postproc-model"
POSTPROC_FORMAT_VERSION = 1
#: What the U-Net post-processes: the FBP or the l1-shearlet reconstruction f_vis.
SOURCES = ("fbp", "l1")


@register
class PostProc(ScanModel):
    """A residual U-Net post-processing the FBP or the l1-shearlet reconstruction, for one geometry.

    Parameters
    ----------
    geometry : Geometry
        The scan geometry the model is for; other geometries are refused.
    source : {'fbp', 'l1'}
        The first reconstruction f₀ (see the module notes).
    fbp_filter : str
        FBP window for ``source='fbp'`` (default ``'hann'``, see :func:`ltl.fbp`).
    solver_settings, frame_settings : dict, optional
        l1-shearlet and shearlet frame settings for ``source='l1'`` (as for :class:`~ltl.models.LtI`).
    width, depth, norm : see :class:`~ltl.models.UNet`.
    provenance : dict, optional
        JSON-safe description of the training data and run, kept in the metadata.

    Attributes
    ----------
    net : UNet
        One channel in (f₀), one out (the raw residual after :meth:`UNet.predict`).
    kind : str
        ``'postproc-fbp'`` or ``'postproc-l1'``.

    Notes
    -----
    The method names mirror :class:`~ltl.models.LtI` (``network_input``, ``network_target``,
    ``prediction_from_output``, ``predict``, ``combine``) with f₀ in place of f_vis and the residual
    image ``(B, 1, N, N)`` in place of the invisible coefficients, so that one training loop trains
    both. Computation runs on the model's device.
    """

    def __init__(self, geometry: Geometry, *, source: str = "fbp", fbp_filter: str = "hann",
                 solver_settings: dict | None = None, frame_settings: dict | None = None, width: int = 32,
                 depth: int = 4, norm: str = "batch", provenance: dict | None = None):
        super().__init__()
        from ..operators.fbp import FILTERS

        if not isinstance(geometry, Geometry):
            raise TypeError(f"geometry must be an ltl.Geometry, got {type(geometry).__name__}")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        if fbp_filter not in FILTERS:
            raise ValueError(f"fbp_filter must be one of {', '.join(FILTERS)}, got {fbp_filter!r}")
        self.geometry = geometry
        self.source = source
        self.fbp_filter = fbp_filter
        if source == "l1":
            self.frame = make_frame(geometry.image_size, frame_settings)
            self.solver_settings = L1Settings.from_dict(solver_settings).to_dict()
        else:
            if solver_settings or frame_settings:
                raise ValueError("solver_settings and frame_settings belong to source='l1'; a post-processed FBP "
                                 "has none")
            self.frame = None
            self.solver_settings = None
        self.provenance = dict(provenance or {})
        self.net = UNet(1, 1, width=width, depth=depth, norm=norm)
        self._A = None

    FORMAT = POSTPROC_FORMAT
    KINDS = ("postproc-fbp", "postproc-l1")
    OUTPUT = "output"
    NAME = "PostProc"
    NOUN = "a post-processing U-Net"
    LOAD_HINT = "PostProc.save or `ltl train --model postproc-fbp` (RUN_DIR/model)"

    # ------------------------------------------------------------------ metadata
    @property
    def kind(self) -> str:
        return f"postproc-{self.source}"

    @property
    def model_name(self) -> str:
        return f"{self.kind} model"

    @property
    def device(self) -> torch.device:
        return self.net.in_mean.device

    def metadata(self) -> dict[str, Any]:
        """JSON-safe description that rebuilds this model (without weights) via :meth:`from_metadata`."""
        from ..version import __version__

        net = self.net
        return {
            "format": POSTPROC_FORMAT, "format_version": POSTPROC_FORMAT_VERSION, "kind": self.kind,
            "ltl_version": __version__, "geometry": self.geometry.to_dict(),
            "geometry_description": self.geometry.describe(), "source": self.source,
            "fbp_filter": self.fbp_filter if self.source == "fbp" else None,
            "frame": frame_settings_of(self.frame) if self.frame is not None else None,
            "solver": dict(self.solver_settings) if self.solver_settings is not None else None,
            "model": {"width": net.width, "depth": net.depth, "norm": net.norm, "residual": True,
                      "in_channels": net.in_channels, "out_channels": net.out_channels},
            "normalization": {k: getattr(net, k).cpu().tolist() for k in ("in_mean", "in_std", "out_mean", "out_std")},
            "provenance": self.provenance,
        }

    @classmethod
    def from_metadata(cls, meta: dict) -> "PostProc":
        """A model with the architecture and normalisation of ``meta`` (weights untrained)."""
        try:
            if meta.get("format") != POSTPROC_FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, expected {POSTPROC_FORMAT!r}")
            if meta.get("format_version") != POSTPROC_FORMAT_VERSION:
                raise ValueError(f"format version {meta.get('format_version')}, this ltl reads "
                                 f"{POSTPROC_FORMAT_VERSION}")
            source = meta["source"]
            if meta.get("kind") != f"postproc-{source}":
                raise ValueError(f"kind {meta.get('kind')!r} does not match the source {source!r}")
            m = meta["model"]
            l1 = source == "l1"
            model = cls(Geometry.from_dict(meta["geometry"]), source=source,
                        fbp_filter=meta.get("fbp_filter") or "hann",
                        solver_settings={k: v for k, v in meta["solver"].items() if k != "method"} if l1 else None,
                        frame_settings=meta["frame"] if l1 else None, width=m["width"], depth=m["depth"],
                        norm=m["norm"], provenance=meta.get("provenance"))
            nrm = meta.get("normalization")
            if nrm:
                model.net.set_normalization(nrm["in_mean"], nrm["in_std"], nrm["out_mean"], nrm["out_std"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"model metadata is incomplete or malformed ({type(exc).__name__}: {exc})") from exc
        return model

    def initial(self, y: torch.Tensor, progress: bool = False) -> torch.Tensor:
        """The first reconstruction f₀ of sinograms ``(B, V, D)`` → ``(B, N, N)``: FBP or l1-shearlet
        (with a progress bar when ``progress``)."""
        yb, single = self._check_sino(y)
        if self.source == "fbp":
            from ..operators import fbp

            f = fbp(self.operator, yb, filter=self.fbp_filter)
        else:
            from ..solvers import l1_shearlet

            f, _ = l1_shearlet(self.operator, self.frame, yb, **L1Settings.from_dict(self.solver_settings).kwargs(),
                               progress=progress)
        return f[0] if single else f

    def network_input(self, f0: torch.Tensor, coeffs=None) -> torch.Tensor:
        """The U-Net's raw input ``(B, 1, N, N)``: f₀ (``coeffs`` is ignored; LtI's signature)."""
        return self._check_images(f0, "the first reconstruction")[:, None]

    def network_target(self, f0: torch.Tensor, truth: torch.Tensor, coeffs=None) -> torch.Tensor:
        """What the U-Net learns (raw scale) ``(B, 1, N, N)``: the residual ``truth − f₀``."""
        return (self._check_images(truth, "truth") - self._check_images(f0, "the first reconstruction"))[:, None]

    def prediction_from_output(self, raw: torch.Tensor, f0: torch.Tensor, coeffs=None) -> torch.Tensor:
        """The predicted residual from the U-Net's raw-scale output (the same tensor)."""
        return raw

    def predict(self, f0: torch.Tensor, coeffs=None) -> torch.Tensor:
        """The predicted residual ``(B, 1, N, N)`` (raw scale) of f₀ ``(B, N, N)``."""
        return self.net.predict(self.network_input(f0))

    def combine(self, f0: torch.Tensor, prediction: torch.Tensor, *, coeffs=None, clamp: bool = True) -> torch.Tensor:
        """``f = max(0, f₀ + residual)`` ``(B, N, N)`` (without the clip when ``clamp`` is False)."""
        f0 = self._check_images(f0, "the first reconstruction")
        if prediction.ndim != 4 or prediction.shape[1] != 1:
            raise ValueError(f"prediction must have shape (B, 1, N, N), got {tuple(prediction.shape)}")
        out = f0 + prediction[:, 0].to(f0.dtype)
        return out.clamp_min(0) if clamp else out

    def forward(self, f0: torch.Tensor) -> torch.Tensor:
        """Post-process first reconstructions ``(B, N, N)`` → ``(B, N, N)``."""
        return self.combine(f0, self.predict(f0))

    # ------------------------------------------------------------------ reconstruction
    def reconstruction_parts(self, y: torch.Tensor, full: bool, progress: bool = False) -> dict[str, torch.Tensor]:
        """y → f₀ → f₀ + U-Net(f₀), clipped at 0, for one batch ``(B, V, D)``: ``output``, the first
        reconstruction ``initial`` and the predicted ``residual`` (images ``(B, N, N)``);
        :meth:`reconstruct` (from :class:`~ltl.models.base.ScanModel`) batches them."""
        f0 = self.initial(y, progress=progress)
        r = self.predict(f0)
        return {"output": self.combine(f0, r), "initial": f0, "residual": r[:, 0]}

    def extra_repr(self) -> str:
        return f"{self.kind}: {self.geometry.describe()}; residual U-Net on {self.source}"
