"""LtI, "Learning the Invisible": l1-shearlet for what the data see, a U-Net for what they cannot.

``y → f_vis = l1_shearlet(A, SH, y) → SH(f_vis) → split by the visibility mask →
U-Net(visible [, f_vis]) → invisible → f_ltl = max(0, SHᵀ(vis·SH(f_vis) + inv·prediction))``.

Two refinements of the split, both on by default for new models and recorded in the metadata:

``predict_lowpass``  The low-pass channel is visible as a whole but not in every direction: at a
                     120° range its missing wedge holds a third of the image's lowest frequencies,
                     which no sparsity prior fills in. With this flag the low-pass is predicted too
                     (``mask[0]`` is False). Measured at 256², 120°, 1% noise on four test ellipses,
                     with the truth's coefficients as a perfect "prediction": l1-shearlet RE 0.131;
                     invisible channels replaced 0.077; invisible + low-pass replaced 0.044.
``residual``         The network predicts the correction of f_vis's coefficients in the predicted
                     channels, ``prediction = SH(f_vis)_inv + U-Net(...)``; the invisible channels of
                     f_vis are ≈ 0, so this matters only for the partly visible low-pass, whose
                     measured part the network then need not reproduce.

An optional final step, off by default (``refine``; :meth:`LtI.refine`): the visible channels
carry l1-shearlet's fine-scale noise, so LtI's SSIM trails TV even where its RE leads. The step
solves ``min_{f≥0} ½‖Af−y‖² + λ TV(f) + μ/2‖SH(f)_inv − prediction‖²`` by PDHG from f_ltl
(:func:`ltl.solvers.refine.refine`), λ = 1·σ·κ (half of TV's default), μ = 0.3·κ², 100 iterations:
TV cleans what the data see, the prior keeps what the network added. Chosen among four kinds of
fix on 12 validation phantoms of six families (``scripts/visible_part.py``; a better visible
solver, l1 + TV; reweighted l1; shrinking the fine visible scales + a data-consistency step; and
this step, with and without the prior); on 18 test phantoms of the same six families it lifts
LtI's mean PSNR by 1.5 dB (30.26 → 31.80; TV 29.86) and its SSIM from 0.872 to 0.926 (TV 0.910),
above TV in PSNR on 17 and in SSIM on 16 of the 18; see
``docs/visible-part.md``. It costs 100 PDHG iterations, each one A, Aᵀ, SH, SHᵀ and ∇ (9.8 s
per 256² slice measured on a shared 2-core CPU). With it on, the checkpoint metadata gain
``refine`` (its settings); without it they are unchanged.

An ablation, off by default: ``nosplit`` gives "LtI without the split". Nothing is taken from
f_vis as it is; the network sees all of SH(f_vis) (and f_vis) and predicts all coefficients (as
corrections of SH(f_vis) when ``residual``), ``f = max(0, SHᵀ(prediction))``. Its metadata
``kind`` is ``'ltl-nosplit'`` (``'ltl'`` otherwise).

Checkpoint format (a directory, written by :meth:`LtI.save`)
------------------------------------------------------------
``model.pt``    ``torch.save(state_dict)``: the U-Net's weights and normalisation buffers and the
                mask; loaded with ``torch.load(..., weights_only=True)``
``model.json``  metadata: format, kind, ltl version, geometry, frame settings, visibility mask and
                threshold, solver settings, network config, normalisation, training provenance,
                and the SHA-256 of ``model.pt``
Each file is written to a temporary file and moved into place with ``os.replace``; the weights
go first, so a metadata file always describes complete weights (the hash catches a mismatch).
"""

from __future__ import annotations

from typing import Any

import torch

from ..geometry import Geometry
from ..shearlets.settings import frame_settings_of, make_frame
from ..solvers import l1_shearlet
from ..solvers.refine import RefineSettings, refine_parameters
from ..solvers.refine import refine as refine_solve
from ..solvers.settings import L1Settings
from .base import ScanModel
from .checkpoint import META_NAME, WEIGHTS_NAME
from .registry import register
from .unet import UNet

__all__ = ["LtI", "MODEL_FORMAT", "WEIGHTS_NAME", "META_NAME"]

MODEL_FORMAT = "ltl-lti-model"
MODEL_FORMAT_VERSION = 1


@register
class LtI(ScanModel):
    """The LtI reconstruction model for one scan geometry.

    Parameters
    ----------
    geometry : Geometry
        The scan geometry the model is for; other geometries are refused.
    frame_settings : dict, optional
        ``ShearletFrame`` settings (``scales``, ``shears``); default the frame's defaults.
    mask : bool tensor or sequence, shape (C,), optional
        Visible channels; default :func:`ltl.shearlets.visibility` of the frame and geometry.
    threshold : float
        Visibility threshold when ``mask`` is not given (default 0.5).
    solver_settings : dict, optional
        l1-shearlet settings (``lam``, ``iters``, ``tol``, ...); defaults from the solver.
    width, depth, norm : see :class:`~ltl.models.UNet`.
    use_fvis : bool
        Feed f_vis as an extra input channel (default True).
    predict_lowpass : bool
        Predict the low-pass channel as well (see the module notes; default True).
    residual : bool
        The U-Net predicts corrections of SH(f_vis) in the predicted channels (default True).
    nosplit : bool
        "LtI without the split" (see the module notes): the network takes all channels of
        SH(f_vis) and predicts all of them; ``mask`` is then all False (default False).
    provenance : dict, optional
        JSON-safe description of the training data and run, kept in the metadata.
    refine : RefineSettings, dict, True or None
        The optional data-consistent final step (:meth:`refine`, see the module notes): None
        (default) or False leaves it off; True takes :class:`~ltl.solvers.refine.RefineSettings`'
        defaults. Settable later as :attr:`refine_settings`; kept in the metadata only when on.

    Attributes
    ----------
    frame : ShearletFrame
    net : UNet
        Visible channels (+ f_vis) → invisible channels, normalised.
    mask : torch.Tensor, bool, (C,)
        Buffer: True for channels taken from f_vis ("visible"), False for those the network
        predicts ("invisible", with ``predict_lowpass`` the low-pass too); ``vis_index`` /
        ``inv_index`` are the channel indices.

    Notes
    -----
    Computation runs on the model's device (``model.to('cuda')``); inputs are moved there. The
    shearlet frame keeps a copy of its filters on every device it meets.
    """

    def __init__(self, geometry: Geometry, *, frame_settings: dict | None = None, mask=None, threshold: float = 0.5,
                 solver_settings: dict | None = None, width: int = 32, depth: int = 4, norm: str = "batch",
                 use_fvis: bool = True, predict_lowpass: bool = True, residual: bool = True,
                 nosplit: bool = False, provenance: dict | None = None,
                 refine: RefineSettings | dict | bool | None = None):
        super().__init__()
        if not isinstance(geometry, Geometry):
            raise TypeError(f"geometry must be an ltl.Geometry, got {type(geometry).__name__}")
        self.geometry = geometry
        self.frame = make_frame(geometry.image_size, frame_settings)
        c = self.frame.num_channels
        self.nosplit = bool(nosplit)
        if self.nosplit:
            mask = torch.zeros(c, dtype=torch.bool) if mask is None else mask
            if bool(torch.as_tensor(mask).any()):
                raise ValueError("an LtI model without the split (nosplit=True) predicts every channel; its mask "
                                 "must be all False")
        elif mask is None:
            from ..shearlets import visibility

            mask = visibility(self.frame, geometry, threshold=threshold)
            if predict_lowpass:
                mask = mask.clone()
                mask[0] = False
        mask = torch.as_tensor(mask).detach().to("cpu", torch.bool).reshape(-1)
        if mask.numel() != c:
            raise ValueError(f"mask must have one entry per frame channel ({c}), got {mask.numel()}")
        if not self.nosplit and (bool(mask.all()) or not bool(mask.any())):
            raise ValueError("the visibility mask must mark some channels visible and some invisible; "
                             f"for {geometry.describe()} it marks {int(mask.sum())} of {c} visible")
        self.threshold = float(threshold)
        self.use_fvis = bool(use_fvis)
        self.predict_lowpass = bool(predict_lowpass)
        self.residual = bool(residual)
        self.solver_settings = L1Settings.from_dict(solver_settings).to_dict()
        self.provenance = dict(provenance or {})
        self.register_buffer("mask", mask)
        self.register_buffer("vis_index", torch.nonzero(mask).flatten(), persistent=False)
        self.register_buffer("inv_index", torch.nonzero(~mask).flatten(), persistent=False)
        n_vis = int(mask.sum())
        n_in = c if self.nosplit else n_vis
        self.net = UNet(n_in + int(self.use_fvis), c - n_vis, width=width, depth=depth, norm=norm)
        self._A = None
        self._filter_cache: dict = {}
        self.refine_settings = refine

    FORMAT = MODEL_FORMAT
    KINDS = ("ltl", "ltl-nosplit")
    OPTIONS = ("refine",)
    OUTPUT = "f_ltl"
    NAME = "LtI"
    NOUN = "an LtI model"
    LOAD_HINT = "LtI.save or `ltl train` (RUN_DIR/model)"

    # ------------------------------------------------------------------ metadata
    @property
    def model_name(self) -> str:
        return "LtI model without the split" if self.nosplit else "LtI model"

    @property
    def device(self) -> torch.device:
        return self.mask.device

    @property
    def num_visible(self) -> int:
        return int(self.vis_index.numel())

    @property
    def num_invisible(self) -> int:
        return int(self.inv_index.numel())

    @property
    def refine_settings(self) -> RefineSettings | None:
        """The data-consistent final step's settings, or None when it is off (the default)."""
        return self._refine

    @refine_settings.setter
    def refine_settings(self, value: RefineSettings | dict | bool | None) -> None:
        if value is None or value is False:
            self._refine = None
        elif value is True:
            self._refine = RefineSettings()
        elif isinstance(value, RefineSettings):
            self._refine = value
        elif isinstance(value, dict):
            self._refine = RefineSettings.from_dict(value)
        else:
            raise ValueError(f"refine must be RefineSettings, a dict of them, True, False or None, got {value!r}")

    @property
    def kind(self) -> str:
        """``'ltl'``, or ``'ltl-nosplit'`` for the model without the split."""
        return "ltl-nosplit" if self.nosplit else "ltl"

    def metadata(self) -> dict[str, Any]:
        """JSON-safe description that rebuilds this model (without weights) via :meth:`from_metadata`."""
        from ..version import __version__

        net = self.net
        return {
            "format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION, "kind": self.kind,
            "ltl_version": __version__, "geometry": self.geometry.to_dict(), "geometry_description": self.geometry.describe(),
            "frame": frame_settings_of(self.frame), "mask": [bool(v) for v in self.mask.cpu().tolist()],
            "threshold": self.threshold, "solver": dict(self.solver_settings),
            "model": {"width": net.width, "depth": net.depth, "norm": net.norm, "use_fvis": self.use_fvis,
                      "predict_lowpass": self.predict_lowpass, "residual": self.residual,
                      "nosplit": self.nosplit, "in_channels": net.in_channels, "out_channels": net.out_channels},
            "normalization": {k: getattr(net, k).cpu().tolist() for k in ("in_mean", "in_std", "out_mean", "out_std")},
            "provenance": self.provenance,
        } | ({} if self._refine is None else {"refine": self._refine.to_dict()})

    @classmethod
    def kind_of(cls, meta: dict) -> str:
        """``meta['kind']``; checkpoints written before kinds existed: from ``model.nosplit``."""
        return meta.get("kind") or ("ltl-nosplit" if (meta.get("model") or {}).get("nosplit") else "ltl")

    @classmethod
    def from_metadata(cls, meta: dict) -> "LtI":
        """A model with the architecture, mask and normalisation of ``meta`` (weights untrained)."""
        try:
            if meta.get("format") != MODEL_FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, expected {MODEL_FORMAT!r}")
            if meta.get("format_version") != MODEL_FORMAT_VERSION:
                raise ValueError(f"format version {meta.get('format_version')}, this ltl reads {MODEL_FORMAT_VERSION}")
            m = meta["model"]
            kind = meta.get("kind", "ltl-nosplit" if m.get("nosplit") else "ltl")
            if kind not in ("ltl", "ltl-nosplit") or (kind == "ltl-nosplit") != bool(m.get("nosplit", False)):
                raise ValueError(f"kind {kind!r} does not describe an LtI model (nosplit={m.get('nosplit')})")
            g = Geometry.from_dict(meta["geometry"])
            model = cls(g, frame_settings=meta["frame"], mask=meta["mask"], threshold=meta.get("threshold", 0.5),
                        solver_settings={k: v for k, v in meta["solver"].items() if k != "method"},
                        width=m["width"], depth=m["depth"], norm=m["norm"], use_fvis=bool(m["use_fvis"]),
                        predict_lowpass=bool(m.get("predict_lowpass", False)), residual=bool(m.get("residual", False)),
                        nosplit=bool(m.get("nosplit", False)), provenance=meta.get("provenance"),
                        refine=meta.get("refine"))
            nrm = meta.get("normalization")
            if nrm:
                model.net.set_normalization(nrm["in_mean"], nrm["in_std"], nrm["out_mean"], nrm["out_std"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"model metadata is incomplete or malformed ({type(exc).__name__}: {exc})") from exc
        return model

    # ------------------------------------------------------------------ geometry
    # ------------------------------------------------------------------ pieces
    def solve(self, y: torch.Tensor, *, progress: bool = False, return_info: bool = False):
        """f_vis = l1-shearlet reconstruction of sinograms ``(B, V, D)`` → ``(B, N, N)``.

        ``progress`` shows the solver's bar (iterations, rate and ETA); with ``return_info`` the
        result is ``(f_vis, info)``, ``info`` the solver's :class:`~ltl.solvers.SolverInfo`
        (``converged`` False when it stopped at ``iters`` before its tolerance).
        """
        yb, single = self._check_sino(y)
        f, info = l1_shearlet(self.operator, self.frame, yb, **L1Settings.from_dict(self.solver_settings).kwargs(),
                              progress=progress)
        f = f[0] if single else f
        return (f, info) if return_info else f

    def analysis(self, f: torch.Tensor, part: str = "all") -> torch.Tensor:
        """Shearlet coefficients of images ``(B, N, N)``: all ``(B, C, N, N)``, or only the
        ``'visible'`` / ``'invisible'`` channels (computed alone, cheaper than splitting SH(f))."""
        if part == "all":
            return self.frame.forward(f)
        if part not in ("visible", "invisible"):
            raise ValueError(f"part must be 'all', 'visible' or 'invisible', got {part!r}")
        f = self._check_images(f, "images")
        key = (part, str(f.device), f.dtype)
        h = self._filter_cache.get(key)
        if h is None:
            idx = (self.vis_index if part == "visible" else self.inv_index).cpu()
            h = self.frame.filters.index_select(0, idx.to(self.frame.filters.device)).to(f.device, f.dtype).contiguous()
            self._filter_cache[key] = h
        n = self.geometry.image_size
        return torch.fft.irfft2(torch.fft.rfft2(f).unsqueeze(1) * h, s=(n, n))

    def split(self, coeffs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, N, N)`` → visible ``(B, C_vis, N, N)``, invisible ``(B, C_inv, N, N)``."""
        return coeffs.index_select(1, self.vis_index.to(coeffs.device)), coeffs.index_select(1, self.inv_index.to(coeffs.device))

    def network_input(self, f_vis: torch.Tensor, coeffs: torch.Tensor | None = None) -> torch.Tensor:
        """The U-Net's raw input ``(B, C_vis [+1], N, N)``: visible channels of SH(f_vis) [and f_vis]
        (all ``C`` channels without the split)."""
        f_vis = self._check_images(f_vis, "f_vis")
        if self.nosplit:
            vis = self.frame.forward(f_vis) if coeffs is None else coeffs
        else:
            vis = self.analysis(f_vis, "visible") if coeffs is None else self.split(coeffs)[0]
        return torch.cat([vis, f_vis[:, None]], dim=1) if self.use_fvis else vis

    def _base(self, f_vis: torch.Tensor, coeffs: torch.Tensor | None) -> torch.Tensor | None:
        """SH(f_vis) in the predicted channels when the network predicts corrections, else None."""
        if not self.residual:
            return None
        return self.analysis(f_vis, "invisible") if coeffs is None else self.split(coeffs)[1]

    def network_target(self, f_vis: torch.Tensor, truth: torch.Tensor,
                       coeffs: torch.Tensor | None = None) -> torch.Tensor:
        """What the U-Net learns (raw scale) ``(B, C_inv, N, N)``: the truth's coefficients in the
        predicted channels, minus f_vis's there when ``residual``."""
        t = self.analysis(self._check_images(truth, "truth"), "invisible")
        base = self._base(f_vis, coeffs)
        return t if base is None else t - base

    def prediction_from_output(self, raw: torch.Tensor, f_vis: torch.Tensor,
                               coeffs: torch.Tensor | None = None) -> torch.Tensor:
        """The predicted coefficients from the U-Net's raw-scale output (adds SH(f_vis) when ``residual``)."""
        base = self._base(f_vis, coeffs)
        return raw if base is None else raw + base.to(raw.dtype)

    def predict(self, f_vis: torch.Tensor, coeffs: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted invisible coefficients ``(B, C_inv, N, N)`` (raw scale) from f_vis ``(B, N, N)``."""
        return self.prediction_from_output(self.net.predict(self.network_input(f_vis, coeffs)), f_vis, coeffs)

    def _full(self, base: torch.Tensor | None, prediction: torch.Tensor) -> torch.Tensor:
        b, ci, n, _ = prediction.shape
        if ci != self.num_invisible:
            raise ValueError(f"prediction must have {self.num_invisible} invisible channels, got {ci}")
        if base is None:
            full = prediction.new_zeros(b, self.frame.num_channels, n, n)
        else:
            full = base.clone()
        full[:, self.inv_index.to(prediction.device)] = prediction.to(full.dtype)
        return full

    def contribution(self, prediction: torch.Tensor) -> torch.Tensor:
        """The network's part of the image, ``SHᵀ(inv·prediction)`` ``(B, N, N)``."""
        return self.frame.adjoint(self._full(None, prediction.float()))

    def combine(self, f_vis: torch.Tensor, prediction: torch.Tensor, *, coeffs: torch.Tensor | None = None,
                clamp: bool = True) -> torch.Tensor:
        """``f_ltl = max(0, SHᵀ(vis·SH(f_vis) + inv·prediction))``, ``(B, N, N)``.

        Parameters
        ----------
        f_vis : torch.Tensor, shape (B, N, N)
        prediction : torch.Tensor, shape (B, C_inv, N, N)
            Invisible coefficients (raw scale, as :meth:`predict` returns).
        coeffs : torch.Tensor, shape (B, C, N, N), optional
            SH(f_vis) if already computed.
        clamp : bool
            Clip at 0 (default True).
        """
        f_vis = self._check_images(f_vis, "f_vis")
        if coeffs is None:
            coeffs = self.frame.forward(f_vis.float())
        out = self.frame.adjoint(self._full(coeffs, prediction))
        return out.clamp_min(0) if clamp else out

    def refine(self, y: torch.Tensor, f_ltl: torch.Tensor, prediction: torch.Tensor, *,
               settings: RefineSettings | dict | None = None, progress: bool = False, return_info: bool = False):
        """The data-consistent final step from f_ltl, with the network's coefficients as a prior.

        ``argmin_{f≥0} ½‖Af − y‖² + λ R(f) + μ/2 ‖SH(f)_inv − prediction‖²`` by
        :func:`~ltl.solvers.refine.refine` started at ``f_ltl``, with R = TV (or the weighted
        shearlet-ℓ1 of the l1 step), λ = c·σ·κ and μ = m·κ² (:func:`~ltl.solvers.refine.refine_parameters`).

        Parameters
        ----------
        y : torch.Tensor, shape (B, V, D) or (V, D)
            The sinograms f_ltl was reconstructed from.
        f_ltl : torch.Tensor, shape (B, N, N) or (N, N)
            The start: :meth:`combine` of f_vis and ``prediction``.
        prediction : torch.Tensor, shape (B, C_inv, N, N) or (C_inv, N, N)
            The predicted coefficients (:meth:`predict`), the prior on the predicted channels.
        settings : RefineSettings or dict, optional
            Default :attr:`refine_settings`, else :class:`~ltl.solvers.refine.RefineSettings`' defaults.
        progress : bool
            Show the solver's progress bar.
        return_info : bool
            Return ``(f, SolverInfo)``.

        Returns
        -------
        torch.Tensor, shape of ``f_ltl``
            The refined image, ≥ 0, on the model's device.
        """
        if settings is None:
            s = self._refine or RefineSettings()
        else:
            s = settings if isinstance(settings, RefineSettings) else RefineSettings.from_dict(settings)
        yb, single = self._check_sino(y)
        f0 = (f_ltl[None] if single and f_ltl.ndim == 2 else f_ltl).to(self.device, torch.float32)
        pr = (prediction[None] if single and prediction.ndim == 3 else prediction).to(self.device, torch.float32)
        self._check_images(f0, "f_ltl")
        lam, mu = refine_parameters(self.operator, yb, s)
        reg = {"tv_lam": lam} if s.reg == "tv" else {"l1_lam": lam}
        f, info = refine_solve(self.operator, yb, f0, frame=self.frame, prior=pr, channels=self.inv_index, mu=mu,
                               iters=s.iters, tol=s.tol, primal_step=s.primal_step, balance=s.balance,
                               progress=progress, **reg)
        f = f[0] if single else f
        return (f, info) if return_info else f

    # ------------------------------------------------------------------ reconstruction
    def reconstruction_parts(self, y: torch.Tensor, full: bool, progress: bool = False) -> dict[str, torch.Tensor]:
        """y → f_vis → U-Net → f_ltl for one batch ``(B, V, D)``.

        Returns ``f_ltl`` and ``f_vis`` ``(B, N, N)``, and with ``full`` the network's
        ``contribution`` ``SHᵀ(inv·prediction)`` ``(B, N, N)`` and the predicted coefficients
        ``prediction`` ``(B, C_inv, N, N)``; :meth:`reconstruct` (from
        :class:`~ltl.models.base.ScanModel`) batches them. With :attr:`refine_settings` on,
        ``f_ltl`` is the refined image (:meth:`refine`) and ``full`` adds the plain combination
        as ``f_combined``. ``progress``: the bars of the iterative steps.
        """
        f_vis = self.solve(y, progress=progress)
        coeffs = self.frame.forward(f_vis)
        pred = self.predict(f_vis, coeffs)
        f_ltl = self.combine(f_vis, pred, coeffs=coeffs)
        out = {"f_ltl": f_ltl, "f_vis": f_vis}
        if self._refine is not None:
            out["f_ltl"] = self.refine(y, f_ltl, pred, progress=progress)
            if full:
                out["f_combined"] = f_ltl
        if full:
            out.update(contribution=self.contribution(pred), prediction=pred)
        return out

    def extra_repr(self) -> str:
        return (f"{self.geometry.describe()}; {self.frame.num_channels} channels, {self.num_visible} visible, "
                f"{self.num_invisible} predicted (low-pass: {self.predict_lowpass}, residual: {self.residual}); "
                f"f_vis input: {self.use_fvis}{'; without the split' if self.nosplit else ''}"
                f"{'' if self._refine is None else '; refined (' + self._refine.reg + ')'}")
