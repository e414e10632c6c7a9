"""The methods of an evaluation, configured once and run batch by batch on one geometry.

Methods come from the registry (:mod:`ltl.methods`). f_vis is computed once per batch for every
distinct l1-shearlet setting (solver and frame) and shared by the methods that start from it; each
method's time includes that solve. A dataset's stored f_vis stands in for the solve when its
settings are those a method needs (then the solve's time is unknown: ``l1`` has no time and the
learned methods' times are the networks' alone, as the report says).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from .. import methods as registry
from ..geometry import Geometry
from ..runtime.files import json_safe
from ..runtime.progress import sync
from ..shearlets.settings import frame_settings_of
from ..solvers import l1_shearlet
from ..solvers.settings import L1Settings

__all__ = ["METHODS", "LEARNED", "NAMES", "DEFAULT_SETTINGS", "Pipeline", "load_models", "check_settings",
           "parse_methods"]

#: Every method ``ltl evaluate`` can run, from the registry.
METHODS = registry.names()
#: Methods that need a trained model.
LEARNED = registry.names(learned=True)
#: The names a report shows; FBP is evaluated with the Hann window (:data:`DEFAULT_SETTINGS`).
NAMES = {m: registry.label(m) for m in METHODS} | {"fbp": "FBP (Hann)"}
#: Evaluation's own choices where they differ from a method's defaults.
DEFAULT_SETTINGS = {"fbp": {"filter": "hann"}}


def parse_methods(methods: str | Sequence[str]) -> list[str]:
    """Method names from ``'fbp,tv,ltl'`` or a sequence, in order, without repeats
    (:func:`ltl.methods.parse`); ``ValueError`` listing the valid methods otherwise."""
    return registry.parse(methods, allowed=METHODS)


@dataclass
class _Setup:
    """One l1-shearlet setting: solver settings, the frame's stored form, the frame, and whether a
    stored f_vis fits."""

    solver: L1Settings
    frame_settings: dict
    frame: Any
    cached: bool = False


def _model_record(model, source) -> dict:
    from ..models import read_meta

    meta = model.metadata()
    rec = {"kind": model.kind, "checkpoint": str(Path(source).resolve()) if isinstance(source, (str, Path)) else
           "in memory", "model_ltl_version": meta.get("ltl_version"), "architecture": meta.get("model"),
           "geometry": meta.get("geometry_description"), "provenance": meta.get("provenance")}
    if isinstance(source, (str, Path)):
        rec["weights_sha256"] = read_meta(source)[0].get("weights_sha256")
    return json_safe(rec)


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
        want = registry.get(m).model_kind()
        if getattr(model, "kind", None) != want:
            raise ValueError(f"the checkpoint {src} holds a {getattr(model, 'kind', type(model).__name__)!r} model, "
                             f"but it was given for method {m!r}; pass a checkpoint from `ltl train --model {want}`")
        try:
            model.check_geometry(geometry, "data")
        except ValueError as exc:
            raise ValueError(f"checkpoint {src} for {m}: {exc}") from exc
        models[m] = model.eval()
        records[m] = _model_record(model, src)
    return models, records


def check_settings(settings: dict | None) -> dict:
    """Validate the model-based methods' settings (method → dict or typed settings); returns a copy.

    Raises ``ValueError`` for a learned or unknown method, or a setting its typed settings refuse.
    """
    settings = dict(settings or {})
    model_based = registry.names(learned=False)
    bad = [k for k in settings if k not in model_based]
    if bad:
        raise ValueError(f"settings are for {', '.join(model_based)}; got {', '.join(map(repr, bad))} (learned "
                         "methods take theirs from the checkpoint)")
    for k, v in settings.items():
        try:
            registry.get(k).settings_type.from_dict(v)
        except ValueError as exc:
            raise ValueError(f"{k} settings: {exc}") from exc
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
        Method → settings of the model-based methods, as their typed settings or dicts of them
        (:mod:`ltl.methods`): ``fbp`` ``{'filter'}`` (default here 'hann'); ``sirt``; ``cgls``;
        ``tv``; ``l1`` solver and frame settings, nested or flat (``{'lam': .1, 'scales': 3}``).
        Unset values take the methods' defaults.
    l1_default : dict, optional
        ``{'solver': ..., 'frame': ...}`` for ``l1`` where ``settings['l1']`` is not given (e.g. a
        dataset's); else the settings of the first learned model that starts from f_vis; else the
        solver's and frame's defaults.
    device : str or torch.device
    """

    def __init__(self, geometry: Geometry, methods, *, models: dict | None = None, settings: dict | None = None,
                 l1_default: dict | None = None, device="cpu"):
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
        self.instances: dict[str, registry.Method] = {}
        for m in self.methods:
            if m in LEARNED:
                self.instances[m] = registry.create(m, model=self.models[m])
        if "l1" in self.methods and "l1" not in settings:
            if l1_default is not None:
                settings["l1"] = {"solver": l1_default.get("solver") or {}, "frame": l1_default.get("frame") or {}}
            else:
                first = next((i for i in self.instances.values() if i.fvis_settings is not None), None)
                if first is not None:
                    settings["l1"] = registry.ShearletL1Settings(*first.fvis_settings)
        for m in self.methods:
            if m not in LEARNED:
                self.instances[m] = registry.create(m, settings.get(m, DEFAULT_SETTINGS.get(m)))
        self.setups: list[_Setup] = []
        self.uses: dict[str, int] = {}
        for m in [m for m in self.methods if m in LEARNED] + [m for m in self.methods if m not in LEARNED]:
            fs = self.instances[m].fvis_settings
            if fs is not None:
                self.uses[m] = self._setup_of(*fs)

    def _setup_of(self, solver: L1Settings, frame_settings) -> int:
        frame = frame_settings.build(self.geometry.image_size, device=self.device)
        stored = frame_settings_of(frame)
        for i, s in enumerate(self.setups):
            if s.solver == solver and s.frame_settings == stored:
                return i
        self.setups.append(_Setup(solver, stored, frame))
        return len(self.setups) - 1

    # ------------------------------------------------------------------
    def use_cache(self, fvis_settings: dict | None) -> list[int]:
        """Mark the setups whose settings are ``fvis_settings`` (a dataset's) as served by its stored
        f_vis; returns their indices."""
        if not fvis_settings:
            return []
        solver = L1Settings.from_dict(fvis_settings.get("solver"))
        frame = dict(fvis_settings.get("frame") or {})
        hit = []
        for i, s in enumerate(self.setups):
            if s.solver == solver and s.frame_settings == frame:
                s.cached = True
                hit.append(i)
        return hit

    def method_settings(self, m: str) -> dict:
        """JSON-safe settings of method ``m`` (for learned methods, those of their first step)."""
        inst = self.instances[m]
        out = {} if m in self.uses else inst.record()
        if m in self.uses:
            s = self.setups[self.uses[m]]
            out.update(l1_solver=s.solver.to_dict(), frame=s.frame_settings,
                       f_vis="read from the dataset (its solver and frame settings are these)" if s.cached else
                       "computed")
        return json_safe(out)

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
        fbp(self.A, y, filter=DEFAULT_SETTINGS["fbp"]["filter"])
        n = self.geometry.image_size
        with torch.no_grad():
            for s in self.setups:
                s.frame.adjoint(s.frame.forward(torch.zeros(1, n, n, device=self.device)))
            for model in self.models.values():
                z = torch.zeros(1, n, n, device=self.device)
                model.combine(z, model.predict(z))
        sync(self.device)

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
        methods = self.methods if methods is None else parse_methods(methods)
        y = y.to(self.device, torch.float32)
        need = sorted({self.uses[m] for m in methods if m in self.uses})
        fv: dict[int, tuple[torch.Tensor, float | None]] = {}
        for i in need:
            s = self.setups[i]
            if s.cached and cached_fvis is not None:
                fv[i] = (cached_fvis.to(self.device, torch.float32), None)
                continue
            sync(self.device)
            t0 = time.perf_counter()
            f, _ = l1_shearlet(self.A, s.frame, y, **s.solver.kwargs(), progress=False)
            sync(self.device)
            fv[i] = (f, time.perf_counter() - t0)
        out: dict[str, tuple[torch.Tensor, float | None]] = {}
        with torch.no_grad():
            for m in methods:
                sync(self.device)
                t0 = time.perf_counter()
                f = fv[self.uses[m]][0] if m in self.uses else None
                x = self.instances[m].reconstruct(self.A, y, f_vis=f).image
                sync(self.device)
                dt = time.perf_counter() - t0
                if m in self.uses:
                    t_l1 = fv[self.uses[m]][1]
                    dt = None if (m == "l1" and t_l1 is None) else dt + (t_l1 or 0.0)
                out[m] = (x, dt)
        return out
