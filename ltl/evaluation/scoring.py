"""Score every method on the same scans: :func:`evaluate` and its result, :class:`Evaluation`.

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

When the images' phantom families are known (a dataset, a scan file or simulated scans that
record them), the scores are also broken down by family and split into the families the learned
models were trained on and those held out (:mod:`~ltl.evaluation.families`).
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field

import torch

from ..geometry import Geometry
from ..runtime.devices import default_device
from ..runtime.files import json_safe
from .families import family_breakdown, summary_of
from .inputs import load_data
from .pipeline import NAMES, Pipeline, check_settings, load_models, parse_methods

__all__ = ["QUANTITIES", "Evaluation", "evaluate", "residuals"]

#: Per-image quantities: image metrics (with a truth), data residual, missing-wedge share of the error, time.
QUANTITIES = ("re", "psnr", "ssim", "haarpsi", "wedge_error", "residual", "seconds")


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
    families : list of str or None
        The phantom family of each image, where known.
    breakdown : dict or None
        Scores by family, in distribution and held out (:func:`~ltl.evaluation.families.family_breakdown`);
        None without families or ground truth.
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
    families: list | None = None
    breakdown: dict | None = None

    def to_json(self) -> dict:
        """results.json: the record, the summary, the scores by family and every image's numbers."""
        rows = []
        for i, ident in enumerate(self.ids):
            fam = {} if self.families is None else {"family": self.families[i]}
            for m in self.methods:
                rows.append({"image": i, "id": ident, **fam, "method": m,
                             **{q: self.per_image[m][q][i] for q in QUANTITIES}})
        return json_safe(dict(self.record, summary=self.summary, families=self.breakdown, per_image=rows,
                              angular_error_energy=self.angular))


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
    device = default_device() if device is None else torch.device(device)
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
    summary = {m: {k: summary_of(per_image[m][k]) for k in QUANTITIES} for m in methods}
    breakdown = None
    if d.families is not None and d.truth is not None:
        breakdown = family_breakdown(per_image, d.families, methods, records, ("re", "psnr", "ssim", "haarpsi"))
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
    if breakdown is not None:
        record["notes"].append("By family: a learned model's families are those of its training data (its provenance); "
                               "'in distribution' and 'held out' follow the first learned model whose training "
                               "families are known. Wins against TV count the images where a method's PSNR (SSIM) is "
                               "strictly above TV's on the same image.")
    return Evaluation(g, methods, rec, d.truth, d.sinogram, d.ids, per_image, summary, angular, json_safe(record),
                      None if d.families is None else list(d.families), json_safe(breakdown))
