"""Scores by phantom family, split into the families a model was trained on and those it never saw.

A learned model's provenance records its training data (``provenance['train_data']['settings']``:
``phantom``, and for a mix ``mix`` with its families and weights); :func:`trained_families` reads
it. :func:`family_breakdown` groups an evaluation's per-image scores by the family of each image:
mean ± std per family and method, and paired win counts against TV (per image, a method's PSNR
above TV's, its SSIM above TV's). The families are split into "in distribution" and "held out" by
the first learned model whose training families are known (the reference model); every learned
model's own status per family is reported too.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data.phantoms import is_mix, parse_mix

__all__ = ["IN_DISTRIBUTION", "HELD_OUT", "UNKNOWN", "WIN_QUANTITIES", "trained_families", "summary_of",
           "win_counts", "family_breakdown"]

IN_DISTRIBUTION = "in distribution"
HELD_OUT = "held out"
UNKNOWN = "unknown"
#: The quantities of the paired comparison with TV (higher is better for both).
WIN_QUANTITIES = ("psnr", "ssim")


def trained_families(provenance: dict | None) -> list[str] | None:
    """The phantom families a model was trained on, from its provenance; None when not recorded.

    Parameters
    ----------
    provenance : dict or None
        A model's ``provenance`` (``model.provenance``, or the ``provenance`` of its checkpoint
        record): ``train_data.settings.mix.families`` (those with a positive weight) for a mix,
        else ``[train_data.settings.phantom]``.
    """
    try:
        s = provenance["train_data"]["settings"]
    except (KeyError, TypeError):
        return None
    if not isinstance(s, dict):
        return None
    mix = s.get("mix")
    if isinstance(mix, dict) and mix.get("families"):
        weights = mix.get("weights") or [1.0] * len(mix["families"])
        return [f for f, w in zip(mix["families"], weights) if w > 0]
    phantom = s.get("phantom")
    if not isinstance(phantom, str):
        return None
    if is_mix(phantom):
        try:
            return list(parse_mix(phantom).families)
        except ValueError:
            return None
    return [phantom]


def summary_of(values: Sequence) -> dict:
    """``{'mean', 'std', 'n'}`` of the values that are not None (std with ddof=1; 0 for one value)."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def win_counts(per_image: dict, method: str, reference: str, index: Sequence[int]) -> dict:
    """Images among ``index`` where ``method`` beats ``reference``: ``{'psnr': k, 'ssim': k, 'n': n}``
    (strictly higher; n counts the images where both have the quantity)."""
    out = {}
    n = 0
    for q in WIN_QUANTITIES:
        a, b = per_image[method][q], per_image[reference][q]
        pairs = [(a[i], b[i]) for i in index if a[i] is not None and b[i] is not None]
        out[q] = int(sum(x > y for x, y in pairs))
        n = max(n, len(pairs))
    out["n"] = n
    return out


def _scores(per_image, methods, quantities, index, reference) -> dict:
    out = {"images": len(index),
           "summary": {m: {q: summary_of([per_image[m][q][i] for i in index]) for q in quantities} for m in methods}}
    if reference in methods:
        out["wins_vs_tv"] = {m: win_counts(per_image, m, reference, index) for m in methods if m != reference}
    return out


def family_breakdown(per_image: dict, families: Sequence[str], methods: Sequence[str], records: dict,
                     quantities: Sequence[str], *, reference: str = "tv") -> dict:
    """Scores per family and for the in-distribution and held-out families.

    Parameters
    ----------
    per_image : dict
        Method → quantity → list of M values (None where not available), as in an Evaluation.
    families : sequence of str
        The family of each of the M images.
    methods : sequence of str
        The methods, in report order.
    records : dict
        Learned method → its checkpoint record, with the model's ``provenance``.
    quantities : sequence of str
        The quantities to summarise.
    reference : str
        The method the win counts compare against (default ``'tv'``; none if it was not run).

    Returns
    -------
    dict
        ``families`` (in order of appearance), ``trained_on`` (learned method → families or None),
        ``status`` (learned method → family → :data:`IN_DISTRIBUTION` / :data:`HELD_OUT` /
        :data:`UNKNOWN`), ``split_by`` (the reference learned model or None), ``by_family``
        (family → ``images``, ``summary`` method → quantity → mean/std/n, and ``wins_vs_tv``
        method → ``{'psnr', 'ssim', 'n'}``) and ``groups`` (``in_distribution``/``held_out`` →
        ``families`` plus the same scores over their images; None without a reference model).
    """
    families = [str(f) for f in families]
    order = list(dict.fromkeys(families))
    trained = {m: trained_families((records.get(m) or {}).get("provenance")) for m in methods if m in records}
    status = {m: {f: UNKNOWN if t is None else IN_DISTRIBUTION if f in t else HELD_OUT for f in order}
              for m, t in trained.items()}
    split_by = next((m for m in methods if trained.get(m) is not None), None)
    by_family = {f: _scores(per_image, methods, quantities, [i for i, x in enumerate(families) if x == f], reference)
                 for f in order}
    groups = None
    if split_by is not None:
        groups = {}
        for key, label in (("in_distribution", IN_DISTRIBUTION), ("held_out", HELD_OUT)):
            chosen = [f for f in order if status[split_by][f] == label]
            index = [i for i, x in enumerate(families) if x in chosen]
            groups[key] = dict(families=chosen, **_scores(per_image, methods, quantities, index, reference))
    return {"families": order, "trained_on": trained, "status": status, "split_by": split_by,
            "by_family": by_family, "groups": groups}
