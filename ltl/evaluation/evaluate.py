"""Run reconstruction methods, model-based and learned, on the same scans and score them.

Methods (:data:`METHODS`)
-------------------------
``fbp``           filtered back projection, Hann window (:func:`ltl.fbp`)
``sirt``          SIRT with non-negativity (:func:`ltl.solvers.sirt`)
``tv``            total variation, λ from the data (:func:`ltl.solvers.tv`)
``l1``            l1-shearlet (:func:`ltl.solvers.l1_shearlet`): f_vis
``ltl``           LtI: f_vis, then the U-Net's invisible coefficients (:class:`ltl.models.LtI`)
``postproc-fbp``  FBP + a residual U-Net (FBPConvNet, :class:`ltl.models.PostProc`)
``postproc-l1``   f_vis + a residual U-Net (:class:`ltl.models.PostProc`)
``ltl-nosplit``   LtI without the split: all coefficients predicted (:class:`ltl.models.LtI`)
The last four need a trained model (``ltl train --model ...``) for the scans' geometry.

f_vis is computed once per batch for every distinct l1-shearlet setting (solver and frame) and
shared by the methods that start from it; each method's time includes that solve. A dataset's
stored f_vis stands in for the solve when its settings are those a method needs (then the
solve's time is unknown: ``l1`` has no time and the learned methods' times are the networks'
alone, as the report says); pass ``recompute_fvis=True`` to time everything end to end.

Scores per image: RE, PSNR, SSIM, HaarPSI (:func:`ltl.metrics.all_metrics`) of the reconstruction
clipped to [0, 1] against the truth; the share of the error's energy in the missing wedge
(:func:`~ltl.evaluation.spectrum.missing_wedge_fraction`, same clipped image); the data residual
‖Af − y‖/‖y‖ of the reconstruction as the method returns it (unclipped); seconds per slice.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..geometry import Geometry

__all__ = ["METHODS", "LEARNED", "NAMES", "QUANTITIES", "Evaluation", "Pipeline", "evaluate", "parse_methods",
           "load_data"]

METHODS = ("fbp", "sirt", "tv", "l1", "ltl", "postproc-fbp", "postproc-l1", "ltl-nosplit")
#: Methods that need a trained model.
LEARNED = ("ltl", "postproc-fbp", "postproc-l1", "ltl-nosplit")
_USES_FVIS = ("l1", "ltl", "postproc-l1", "ltl-nosplit")
NAMES = {"fbp": "FBP (Hann)", "sirt": "SIRT", "tv": "TV", "l1": "l1-shearlet", "ltl": "LtI",
         "postproc-fbp": "FBP + U-Net (FBPConvNet)", "postproc-l1": "l1-shearlet + U-Net",
         "ltl-nosplit": "LtI without the split"}
#: Per-image quantities: image metrics (with a truth), data residual, missing-wedge share of the error, time.
QUANTITIES = ("re", "psnr", "ssim", "haarpsi", "wedge_error", "residual", "seconds")
_IMAGE_METRICS = ("re", "psnr", "ssim", "haarpsi", "wedge_error")
_SOLVER_KEYS = {"sirt": ("iters", "tol", "nonneg"), "tv": ("lam", "iters", "tol", "noise", "nonneg"),
                "fbp": ("filter",)}
_FRAME_KEYS = ("scales", "shears")


def parse_methods(methods: str | Sequence[str]) -> list[str]:
    """Method names from ``'fbp,tv,ltl'`` or a sequence, in order, without repeats.

    Raises ``ValueError`` listing the valid methods for an unknown name or an empty list.
    """
    items = methods.split(",") if isinstance(methods, str) else list(methods)
    out: list[str] = []
    for m in items:
        m = str(m).strip().lower()
        if m and m not in out:
            out.append(m)
    bad = [m for m in out if m not in METHODS]
    if bad:
        raise ValueError(f"unknown method{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}; valid methods: "
                         f"{', '.join(METHODS)}")
    if not out:
        raise ValueError(f"no method given; valid methods: {', '.join(METHODS)}")
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _json_safe(o):
    if isinstance(o, dict):
        return {str(k): _json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_json_safe(v) for v in o]
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    if isinstance(o, float) and not np.isfinite(o):
        return None
    if isinstance(o, torch.Tensor):
        return _json_safe(o.tolist())
    if isinstance(o, Path):
        return str(o)
    return o


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


@dataclass
class _Data:
    sinogram: torch.Tensor  # (M, V, D) float32 CPU
    geometry: Geometry
    truth: torch.Tensor | None  # (M, N, N)
    ids: list[int]
    id_kind: str
    info: dict
    seed: int | None = None
    dataset: Any = None  # an LtIDataset with key 'f_vis' for the cache, opened lazily
    fvis_settings: dict | None = None  # {'solver': ..., 'frame': ...} of the stored f_vis


def load_data(data, *, split: str | None = None, limit: int | None = None) -> _Data:
    """Read the scans to evaluate from a dataset file (``.h5``), a scan file (``.npz``), an
    :class:`~ltl.data.LtIDataset` or a :class:`~ltl.data.Scan`; the first ``limit`` images."""
    from ..data import LtIDataset, Scan, load_scan

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    if isinstance(data, LtIDataset):
        split = data.split if split is None else split
        data = data.path
    if isinstance(data, Scan):
        scan, info = data, {"kind": "scan", "meta": _json_safe(dict(data.meta or {}))}
    else:
        p = Path(data)
        if p.suffix.lower() in (".h5", ".hdf5"):
            return _load_dataset(p, split, limit)
        if p.suffix.lower() != ".npz":
            raise ValueError(f"{p}: pass an ltl dataset file (.h5, from `ltl dataset make`) or a scan file (.npz)")
        scan = load_scan(p)
        info = {"kind": "scan file", "path": str(p.resolve()), "meta": _json_safe(dict(scan.meta or {}))}
    m = scan.sinogram.shape[0]
    if m == 0:
        raise ValueError("the scan holds no sinograms; nothing to evaluate")
    k = m if limit is None else min(limit, m)
    meta = scan.meta or {}
    seed = meta.get("phantom_seed", meta.get("noise_seed"))
    return _Data(scan.sinogram[:k].float().contiguous(), scan.geometry,
                 None if scan.images is None else scan.images[:k].float().contiguous(), list(range(k)), "index",
                 dict(info, images=k, of=m), seed if isinstance(seed, int) else None)


def _load_dataset(path: Path, split: str | None, limit: int | None) -> _Data:
    from ..data import LtIDataset

    ds = LtIDataset(path, split=split, keys=("truth", "sinogram"))
    try:
        k = len(ds) if limit is None else min(limit, len(ds))
        items = [ds[i] for i in range(k)]
    finally:
        ds.close()
    s = ds.settings
    info = {"kind": "dataset", "path": str(path.resolve()), "split": split or "all", "images": k, "of": len(ds),
            "settings": {kk: v for kk, v in s.items() if kk != "geometry"}}
    cache = LtIDataset(path, split=split, keys=("f_vis",))
    fvis = {"solver": {kk: v for kk, v in s["solver"].items() if kk != "method"}, "frame": dict(s["frame"])}
    return _Data(torch.stack([it["sinogram"] for it in items]), ds.geometry, torch.stack([it["truth"] for it in items]),
                 [int(it["seed"]) for it in items], "sample seed", info, int(s.get("seed", 0)), cache, fvis)


# --------------------------------------------------------------------------------------------
# the methods
# --------------------------------------------------------------------------------------------


@dataclass
class _Setup:
    """One l1-shearlet setting: solver and frame settings, the frame, and whether a stored f_vis fits."""

    solver: dict
    frame_settings: dict
    frame: Any
    cached: bool = False

    def same(self, solver: dict, frame_settings: dict) -> bool:
        return self.solver == solver and self.frame_settings == frame_settings


def _model_record(model, source) -> dict:
    meta = model.metadata()
    rec = {"kind": model.kind, "checkpoint": str(Path(source).resolve()) if isinstance(source, (str, Path)) else
           "in memory", "model_ltl_version": meta.get("ltl_version"), "architecture": meta.get("model"),
           "geometry": meta.get("geometry_description"), "provenance": meta.get("provenance")}
    if isinstance(source, (str, Path)):
        from ..models._checkpoint import read_meta

        rec["weights_sha256"] = read_meta(source)[0].get("weights_sha256")
    return _json_safe(rec)


def load_models(methods: Sequence[str], checkpoints: dict | None, geometry: Geometry, device) -> tuple[dict, dict]:
    """The trained models of the learned methods in ``methods``, checked against ``geometry``.

    ``checkpoints`` maps a method to a checkpoint directory or a model. Returns
    ``(models, records)``: method → model on ``device`` (eval mode) and method → provenance.
    Raises ``ValueError`` for a missing checkpoint, one of another kind or another geometry.
    """
    from ..models import load_model

    checkpoints = dict(checkpoints or {})
    bad = [k for k in checkpoints if k not in LEARNED]
    if bad:
        raise ValueError(f"checkpoints are for the learned methods {', '.join(LEARNED)}; got {', '.join(map(repr, bad))}")
    models, records = {}, {}
    for m in methods:
        if m not in LEARNED:
            continue
        src = checkpoints.get(m)
        if src is None:
            raise ValueError(f"method {m!r} needs a trained model: pass its checkpoint (from `ltl train --model {m}`) "
                             f"or leave {m} out of the methods")
        if isinstance(src, torch.nn.Module):
            model = src.to(device)
        else:
            try:
                model = load_model(src, map_location=device)
            except ValueError as exc:
                raise ValueError(f"checkpoint for {m}: {exc}") from exc
        if getattr(model, "kind", None) != m:
            raise ValueError(f"the checkpoint {src} holds a {getattr(model, 'kind', type(model).__name__)!r} model, "
                             f"but it was given for method {m!r}; pass a checkpoint from `ltl train --model {m}`")
        try:
            model.check_geometry(geometry, "data")
        except ValueError as exc:
            raise ValueError(f"checkpoint {src} for {m}: {exc}") from exc
        models[m] = model.eval()
        records[m] = _model_record(model, src)
    return models, records


def check_settings(settings: dict | None) -> dict:
    """Validate the model-based methods' settings (see :class:`Pipeline`); returns a copy."""
    settings = {k: dict(v or {}) for k, v in (settings or {}).items()}
    bad = [k for k in settings if k not in METHODS or k in LEARNED]
    if bad:
        raise ValueError(f"settings are for {', '.join(m for m in METHODS if m not in LEARNED)}; got "
                         f"{', '.join(map(repr, bad))} (learned methods take theirs from the checkpoint)")
    for k, allowed in _SOLVER_KEYS.items():
        extra = sorted(set(settings.get(k, {})) - set(allowed))
        if extra:
            raise ValueError(f"unknown {k} setting(s) {extra}; valid: {', '.join(allowed)}")
    if "l1" in settings:
        from ..data.dataset import solver_settings_full

        solver_settings_full({k: v for k, v in settings["l1"].items() if k not in _FRAME_KEYS})
    return settings


class Pipeline:
    """The methods to compare, ready to run on batches of sinograms of one geometry.

    Parameters
    ----------
    geometry : Geometry
    methods : str or sequence of str
        Among :data:`METHODS`.
    models : dict, optional
        Method → trained model for the learned methods (see :func:`load_models`).
    settings : dict, optional
        Method → settings: ``fbp`` ``{'filter'}`` (default 'hann'); ``sirt`` ``{'iters', 'tol',
        'nonneg'}``; ``tv`` ``{'lam', 'iters', 'tol', 'noise', 'nonneg'}``; ``l1`` solver settings
        (``lam, iters, tol, noise, nonneg, lam_factor, primal_step, balance``) and frame settings (``scales, shears``).
        Unset solver settings take the solvers' defaults.
    l1_default : dict, optional
        ``{'solver': ..., 'frame': ...}`` for ``l1`` where ``settings['l1']`` is not given (e.g. a
        dataset's); else the settings of the first learned model that starts from f_vis; else the
        solver's and frame's defaults.
    device : str or torch.device
    """

    def __init__(self, geometry: Geometry, methods, *, models: dict | None = None, settings: dict | None = None,
                 l1_default: dict | None = None, device="cpu"):
        from ..data.dataset import frame_settings_of, make_frame, solver_settings_full
        from ..operators import RadonOperator

        self.geometry = geometry
        self.methods = parse_methods(methods)
        self.device = torch.device(device)
        self.models = dict(models or {})
        missing = [m for m in self.methods if m in LEARNED and m not in self.models]
        if missing:
            raise ValueError(f"no trained model for {', '.join(missing)}; pass models={{method: model}}")
        settings = check_settings(settings)
        self.A = RadonOperator(geometry)
        self.settings: dict[str, dict] = {}
        self.settings["fbp"] = {"filter": settings.get("fbp", {}).get("filter", "hann")}
        self.settings["sirt"] = settings.get("sirt", {})
        self.settings["tv"] = settings.get("tv", {})
        self.setups: list[_Setup] = []
        self.uses: dict[str, int] = {}
        n = geometry.image_size

        def setup_of(solver: dict, frame_settings: dict | None) -> int:
            solver = solver_settings_full(solver)
            frame = make_frame(n, frame_settings, device=self.device)
            fs = frame_settings_of(frame)
            for i, s in enumerate(self.setups):
                if s.same(solver, fs):
                    return i
            self.setups.append(_Setup(solver, fs, frame))
            return len(self.setups) - 1

        for m in self.methods:
            if m in ("ltl", "ltl-nosplit", "postproc-l1"):
                model = self.models[m]
                self.uses[m] = setup_of(model.solver_settings, frame_settings_of(model.frame))
        if "l1" in self.methods:
            given = settings.get("l1")
            if given is not None:
                solver = {k: v for k, v in given.items() if k not in _FRAME_KEYS}
                frame = {k: v for k, v in given.items() if k in _FRAME_KEYS} or None
            elif l1_default is not None:
                solver, frame = l1_default.get("solver") or {}, l1_default.get("frame")
            elif self.uses:
                s = self.setups[next(iter(self.uses.values()))]
                solver, frame = s.solver, s.frame_settings
            else:
                solver, frame = {}, None
            self.uses["l1"] = setup_of(solver, frame)

    # ------------------------------------------------------------------
    def use_cache(self, fvis_settings: dict | None) -> list[int]:
        """Mark the setups whose settings are ``fvis_settings`` (a dataset's) as served by its stored
        f_vis; returns their indices."""
        from ..data.dataset import solver_settings_full

        if not fvis_settings:
            return []
        solver = solver_settings_full(fvis_settings.get("solver"))
        frame = dict(fvis_settings.get("frame") or {})
        hit = []
        for i, s in enumerate(self.setups):
            if s.same(solver, frame):
                s.cached = True
                hit.append(i)
        return hit

    def method_settings(self, m: str) -> dict:
        """JSON-safe settings of method ``m`` (for learned methods, those of their l1 step)."""
        out: dict = {}
        if m in ("fbp", "sirt", "tv"):
            out = dict(self.settings[m])
            if m == "sirt":
                out["defaults"] = "unset values are the solver's defaults"
            if m == "tv":
                out["defaults"] = "unset values are the solver's defaults; λ from the estimated noise level"
        if m == "postproc-fbp":
            out = {"fbp_filter": self.models[m].fbp_filter}
        if m in self.uses:
            s = self.setups[self.uses[m]]
            out.update(l1_solver=s.solver, frame=s.frame_settings,
                       f_vis="read from the dataset (its solver and frame settings are these)" if s.cached else
                       "computed")
        return _json_safe(out)

    def timing_note(self, m: str) -> str:
        if m in self.uses and self.setups[self.uses[m]].cached:
            return "not measured (f_vis read from the dataset)" if m == "l1" else \
                "network only (f_vis read from the dataset; the l1-shearlet solve is not included)"
        return "end to end (sinogram to image)"

    def warm_up(self, y: torch.Tensor) -> None:
        """One-time costs outside the timings: the operator norm, ASTRA's and FFT plans, cuDNN."""
        from ..operators import fbp

        y = y[:1].to(self.device)
        self.A.norm()
        fbp(self.A, y, filter=self.settings["fbp"]["filter"])
        n = self.geometry.image_size
        with torch.no_grad():
            for s in self.setups:
                s.frame.adjoint(s.frame.forward(torch.zeros(1, n, n, device=self.device)))
            for model in self.models.values():
                z = torch.zeros(1, n, n, device=self.device)
                model.combine(z, model.predict(z))
        _sync(self.device)

    def run(self, y: torch.Tensor, *, methods: Sequence[str] | None = None,
            cached_fvis: torch.Tensor | None = None) -> dict[str, tuple[torch.Tensor, float | None]]:
        """Reconstruct a batch of sinograms ``(B, V, D)`` with each method.

        Parameters
        ----------
        y : torch.Tensor, shape (B, V, D)
        methods : sequence of str, optional
            A subset of the pipeline's methods (default all); only their f_vis are computed.
        cached_fvis : torch.Tensor, shape (B, N, N), optional
            The stored f_vis of these scans, used for the setups marked by :meth:`use_cache`.

        Returns
        -------
        dict method → (reconstruction ``(B, N, N)`` on the device, seconds for the batch or None
        when not measured; see :meth:`timing_note`)
        """
        from .. import solvers
        from ..data.dataset import solver_kwargs
        from ..operators import fbp

        methods = self.methods if methods is None else parse_methods(methods)
        y = y.to(self.device, torch.float32)
        need = sorted({self.uses[m] for m in methods if m in self.uses})
        fv: dict[int, tuple[torch.Tensor, float | None]] = {}
        for i in need:
            s = self.setups[i]
            if s.cached and cached_fvis is not None:
                fv[i] = (cached_fvis.to(self.device, torch.float32), None)
                continue
            _sync(self.device)
            t0 = time.perf_counter()
            f, _ = solvers.l1_shearlet(self.A, s.frame, y, **solver_kwargs(s.solver), progress=False)
            _sync(self.device)
            fv[i] = (f, time.perf_counter() - t0)
        out: dict[str, tuple[torch.Tensor, float | None]] = {}
        with torch.no_grad():
            for m in methods:
                _sync(self.device)
                t0 = time.perf_counter()
                f = fv[self.uses[m]][0] if m in self.uses else None
                if m == "fbp":
                    x = fbp(self.A, y, filter=self.settings["fbp"]["filter"])
                elif m == "sirt":
                    x, _ = solvers.sirt(self.A, y, **self.settings["sirt"])
                elif m == "tv":
                    x, _ = solvers.tv(self.A, y, **self.settings["tv"])
                elif m == "l1":
                    x = f
                elif m in ("ltl", "ltl-nosplit"):
                    model = self.models[m]
                    coeffs = model.frame.forward(f)
                    x = model.combine(f, model.predict(f, coeffs), coeffs=coeffs)
                elif m == "postproc-l1":
                    x = self.models[m](f)
                else:  # postproc-fbp
                    model = self.models[m]
                    x = model(model.initial(y))
                _sync(self.device)
                dt = time.perf_counter() - t0
                if m in self.uses:
                    t_l1 = fv[self.uses[m]][1]
                    dt = None if (m == "l1" and t_l1 is None) else dt + (t_l1 or 0.0)
                out[m] = (x, dt)
        return out


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """What :func:`evaluate` returns; :func:`ltl.evaluation.write_report` writes it.

    Attributes
    ----------
    geometry : Geometry
    methods : list of str
    reconstructions : dict method → torch.Tensor ``(M, N, N)`` float32 (CPU, as the methods return them)
    truth : torch.Tensor ``(M, N, N)`` or None
    sinogram : torch.Tensor ``(M, V, D)``
    ids : list of int
        Sample seeds (datasets) or indices (scans) of the M images.
    per_image : dict method → dict quantity → list of M floats (None where not available)
    summary : dict method → dict quantity → ``{'mean', 'std', 'n'}`` (std with ddof=1)
    angular : dict or None
        Mean error energy by frequency direction (see :func:`~ltl.evaluation.spectrum.angular_energy`),
        relative to ‖truth‖², per method, with the bin centres in degrees.
    record : dict
        JSON-safe description: data, geometry, settings, checkpoints, seeds, ltl version.
    """

    geometry: Geometry
    methods: list
    reconstructions: dict
    truth: torch.Tensor | None
    sinogram: torch.Tensor
    ids: list
    per_image: dict
    summary: dict
    angular: dict | None
    record: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """results.json: the record, the summary and every image's numbers."""
        rows = []
        for i, ident in enumerate(self.ids):
            for m in self.methods:
                rows.append({"image": i, "id": ident, "method": m,
                             **{q: self.per_image[m][q][i] for q in QUANTITIES}})
        return _json_safe(dict(self.record, summary=self.summary, per_image=rows, angular_error_energy=self.angular))


def _summary(values: list) -> dict:
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def residuals(A, reconstruction: torch.Tensor, sinogram: torch.Tensor, batch_size: int = 16) -> list[float]:
    """``‖A f − y‖ / ‖y‖`` per image (float64), in batches on the sinograms' device."""
    out = []
    for a in range(0, reconstruction.shape[0], batch_size):
        f = reconstruction[a:a + batch_size].to(sinogram.device, torch.float32)
        y = sinogram[a:a + batch_size].to(torch.float32)
        r = (A(f) - y).double().flatten(1).norm(dim=1) / y.double().flatten(1).norm(dim=1).clamp_min(1e-30)
        out.extend(float(v) for v in r.cpu())
    return out


def evaluate(data, methods, *, checkpoints: dict | None = None, settings: dict | None = None,
             split: str | None = None, limit: int | None = None, device=None, batch_size: int = 8,
             progress: bool = True, recompute_fvis: bool = False, bins: int = 90) -> Evaluation:
    """Run every method on every scan and score it.

    Parameters
    ----------
    data : str, Path, LtIDataset or Scan
        A dataset file from ``ltl dataset make`` (``.h5``; its truth and sinograms, and its f_vis
        as a cache), a scan file (``.npz``, :func:`ltl.data.load_scan`) or a Scan. Without ground
        truth only the data residual and the time are reported.
    methods : str or sequence of str
        Among :data:`METHODS` (``'fbp,tv,ltl'`` or a list).
    checkpoints : dict, optional
        Learned method → checkpoint directory (or model), e.g. ``{'ltl': 'run/best'}``.
    settings : dict, optional
        Settings of the model-based methods (see :class:`Pipeline`). By default ``l1`` uses a
        dataset's stored solver and frame settings (so its f_vis is the stored one).
    split : {'train', 'val', 'test'}, optional
        Samples of a dataset file to use (default all).
    limit : int, optional
        Evaluate only the first ``limit`` images.
    device : str or torch.device, optional
        Default CUDA when torch and ASTRA can use it, else the CPU.
    batch_size : int
        Scans per call of each method (default 8); times are per slice.
    progress : bool
        A progress bar over the batches.
    recompute_fvis : bool
        Ignore a dataset's stored f_vis (so every time is end to end).
    bins : int
        Direction bins of the angular error energy (default 90, 2° each).

    Returns
    -------
    Evaluation

    Raises
    ------
    ValueError
        Unknown methods, a missing checkpoint or one of another kind or geometry, an empty
        dataset or split, bad settings.
    FileNotFoundError
        A missing data file or checkpoint.
    """
    from .. import __version__
    from ..metrics import all_metrics
    from .spectrum import angular_energy, missing_wedge_fraction

    methods = parse_methods(methods)
    check_settings(settings)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if device is None:
        from ..data.dataset import _default_device

        device = _default_device()
    device = torch.device(device)
    d = load_data(data, split=split, limit=limit)
    g = d.geometry
    models, records = load_models(methods, checkpoints, g, device)
    pipe = Pipeline(g, methods, models=models, settings=settings,
                    l1_default=None if (settings or {}).get("l1") is not None else d.fvis_settings, device=device)
    cached = [] if recompute_fvis else pipe.use_cache(d.fvis_settings)
    m_count = d.sinogram.shape[0]
    recs: dict[str, list] = {m: [] for m in methods}
    secs: dict[str, list] = {m: [] for m in methods}
    t_start = time.perf_counter()
    try:
        pipe.warm_up(d.sinogram[:1])
        from tqdm.auto import tqdm

        for a in tqdm(range(0, m_count, batch_size), desc="evaluate", unit="batch", disable=not progress,
                      dynamic_ncols=True):
            b = min(m_count, a + batch_size)
            fv = None
            if cached:
                fv = torch.stack([d.dataset[i]["f_vis"] for i in range(a, b)])
            res = pipe.run(d.sinogram[a:b], cached_fvis=fv)
            for m in methods:
                x, dt = res[m]
                recs[m].append(x.detach().float().cpu())
                secs[m].extend([None if dt is None else dt / (b - a)] * (b - a))
    finally:
        if d.dataset is not None:
            d.dataset.close()
    total_seconds = time.perf_counter() - t_start
    rec = {m: torch.cat(v) for m, v in recs.items()}

    per_image: dict[str, dict[str, list]] = {}
    angular = None
    y_dev = d.sinogram.to(device)
    if d.truth is not None:
        truth_energy = d.truth.double().flatten(1).square().sum(1).clamp_min(1e-30)
        angular = {"bin_centres_deg": None, "bin_width_deg": 180.0 / bins,
                   "normalisation": "Σ|DFT(clip(f) − truth)|²/N² per direction bin over ‖truth‖², mean over images",
                   "methods": {}}
    for m in methods:
        q: dict[str, list] = {k: [None] * m_count for k in QUANTITIES}
        q["residual"] = residuals(pipe.A, rec[m], y_dev)
        q["seconds"] = secs[m]
        if d.truth is not None:
            clipped = rec[m].clamp(0, 1)
            for k, v in all_metrics(clipped, d.truth).items():
                q[k] = [float(x) for x in v]
            err = clipped.double() - d.truth.double()
            q["wedge_error"] = [float(x) for x in missing_wedge_fraction(err, g)]
            centres, e = angular_energy(err, bins)
            angular["bin_centres_deg"] = centres.tolist()
            angular["methods"][m] = (e / truth_energy[:, None]).mean(0).tolist()
        per_image[m] = q
    summary = {m: {k: _summary(per_image[m][k]) for k in QUANTITIES} for m in methods}
    record = {
        "format": "ltl-evaluation", "format_version": 1, "ltl_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "data": d.info, "geometry": g.to_dict(), "geometry_description": g.describe(), "images": m_count,
        "ids": d.ids, "id_kind": d.id_kind, "seed": d.seed, "has_truth": d.truth is not None,
        "device": str(device), "batch_size": batch_size, "recompute_fvis": bool(recompute_fvis),
        "seconds_total": total_seconds,
        "methods": {m: {"name": NAMES[m], "settings": pipe.method_settings(m), "timing": pipe.timing_note(m),
                        **({"checkpoint": records[m]} if m in records else {})} for m in methods},
        "notes": ["RE, PSNR, SSIM, HaarPSI and the error in the missing wedge are computed on the reconstruction "
                  "clipped to [0, 1] (PSNR and SSIM with data range 1).",
                  "The error in the missing wedge (wedge_error) is the share of the error's energy (DC excluded) at "
                  "frequency directions the scan does not measure; a view at angle θ measures the direction θ mod "
                  "180°.",
                  "The data residual ‖Af − y‖/‖y‖ is that of the reconstruction as the method returns it "
                  "(unclipped).",
                  "Seconds are per slice: a batch's time divided by its size (see each method's timing).",
                  "The summary holds the mean and the sample standard deviation (ddof=1) over the images."],
    }
    return Evaluation(g, methods, rec, d.truth, d.sinogram, d.ids, per_image, summary, angular, _json_safe(record))
