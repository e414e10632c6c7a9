"""The report directory of an evaluation.

``results.json``         the record (data, geometry, settings, seed, ltl version, checkpoint
                         provenance), the summary (mean ± std per method), the scores by phantom
                         family (``families``: per family, in distribution and held out, with
                         paired win counts against TV) and every image's numbers
``results.csv``          one row per image × method: ``image, id, family, method`` and :data:`QUANTITIES`
``report.md``            Markdown tables of mean ± std per method (overall, in distribution and held
                         out, per family), notes, and the figures
``reconstructions.npz``  ``recon_<method>`` ``(M, N, N)`` float32 as the methods returned them,
                         ``truth`` (if known), ``sinogram``, ``ids``, the geometry arrays of a
                         reconstruction file and ``meta`` (JSON), so every number can be recomputed
``montage.png``          truth, each method and the error maps for the first few images
``angular_error.png``    the error's energy by frequency direction per method, the missing wedge
                         shaded (with ground truth only)

Every file is written to a temporary file and renamed; an existing report is kept unless
``overwrite`` is given.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import torch

from ..runtime.files import atomic_write
from .pipeline import NAMES
from .scoring import QUANTITIES, Evaluation

__all__ = ["REPORT_FILES", "write_report", "check_report_dir", "load_reconstructions", "markdown_table",
           "family_tables"]

REPORT_FILES = ("results.json", "results.csv", "report.md", "reconstructions.npz", "montage.png",
                "angular_error.png")


def check_report_dir(out: str | Path, overwrite: bool = False) -> Path:
    """Refuse a report directory that is a file (or a dangling link) or already holds a report
    file or a link of that name (unless ``overwrite``)."""
    out = Path(out)
    if out.is_symlink() and not out.exists():
        raise FileExistsError(f"{out} is a link to a missing folder; pass a directory for the report")
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file; pass a directory for the report")
    existing = [n for n in REPORT_FILES if (out / n).exists() or (out / n).is_symlink()]
    if existing and not overwrite:
        raise FileExistsError(f"{out} already holds a report ({', '.join(existing)}); choose another --out or pass "
                              "--overwrite")
    return out


def _fmt(s: dict, q: str) -> str:
    if s.get("mean") is None:
        return "–"
    digits = {"psnr": 2}.get(q, 4)
    if q in ("residual", "seconds"):
        return f"{s['mean']:.3g} ± {s['std']:.2g}"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"


def markdown_table(ev: Evaluation) -> str:
    """Mean ± std per method as a Markdown table."""
    cols = [("re", "RE"), ("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("haarpsi", "HaarPSI"),
            ("wedge_error", "error in missing wedge"), ("residual", "‖Af−y‖/‖y‖"), ("seconds", "s / slice")]
    if ev.truth is None:
        cols = [c for c in cols if c[0] in ("residual", "seconds")]
    lines = ["| method | " + " | ".join(c[1] for c in cols) + " |", "| --- |" + " --- |" * len(cols)]
    for m in ev.methods:
        note = "" if ev.record["methods"][m]["timing"].startswith("end to end") else " †"
        cells = [_fmt(ev.summary[m][q], q) + (note if q == "seconds" else "") for q, _ in cols]
        lines.append(f"| {NAMES[m]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


_FAMILY_COLUMNS = [("re", "RE"), ("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("haarpsi", "HaarPSI")]


def _scores_table(ev: Evaluation, scores: dict) -> list[str]:
    """A Markdown table of one group's scores: mean ± std per method, and the win counts against TV."""
    wins = scores.get("wins_vs_tv")
    head = [c[1] for c in _FAMILY_COLUMNS] + (["PSNR > TV", "SSIM > TV"] if wins is not None else [])
    lines = ["| method | " + " | ".join(head) + " |", "| --- |" + " --- |" * len(head)]
    for m in ev.methods:
        cells = [_fmt(scores["summary"][m][q], q) for q, _ in _FAMILY_COLUMNS]
        if wins is not None:
            w = wins.get(m)
            cells += ["–", "–"] if w is None else [f"{w['psnr']}/{w['n']}", f"{w['ssim']}/{w['n']}"]
        lines.append(f"| {NAMES[m]} | " + " | ".join(cells) + " |")
    return lines


def _images(n: int) -> str:
    return f"{n} image" if n == 1 else f"{n} images"


def family_tables(ev: Evaluation) -> str:
    """Markdown: the scores of the in-distribution and the held-out families, then of each family
    ("" when the images' families or their truths are unknown)."""
    b = ev.breakdown
    if not b:
        return ""
    lines = []
    split_by = b.get("split_by")
    learned = list(b["status"])
    if split_by is not None:
        lines += ["## In distribution and held out", "",
                  f"Families split by {NAMES[split_by]} (`{split_by}`), trained on "
                  f"{', '.join(b['trained_on'][split_by])} (from its provenance)."]
        others = [m for m in learned if m != split_by and b["trained_on"][m] != b["trained_on"][split_by]]
        for m in others:
            t = b["trained_on"][m]
            lines.append(f"{NAMES[m]} (`{m}`) was trained on " + (", ".join(t) if t else "unknown families") +
                         "; its status per family is in the family headings below.")
        for key, title in (("in_distribution", "In distribution"), ("held_out", "Held out")):
            g = b["groups"][key]
            lines += ["", f"### {title}: {', '.join(g['families']) or 'none'} ({_images(g['images'])})", ""]
            if g["images"]:
                lines += _scores_table(ev, g)
    elif learned:
        lines += ["No learned model records its training families (no provenance): families are not split into "
                  "in distribution and held out."]
    lines += ["", "## By family", ""]
    for fam in b["families"]:
        f = b["by_family"][fam]
        status = "; ".join(f"{NAMES[m]}: {b['status'][m][fam]}" for m in learned)
        lines += [f"### {fam} ({_images(f['images'])}{'; ' + status if status else ''})", ""]
        lines += _scores_table(ev, f) + [""]
    if any("wins_vs_tv" in f for f in b["by_family"].values()):
        lines.append("Mean ± sample standard deviation; k/n: the images (of n) where the method's PSNR (SSIM) is "
                     "above TV's on the same image.")
    return "\n".join(lines).strip() + "\n"


def _write_text(path: Path, text: str, replace: bool) -> Path:
    return atomic_write(path, lambda f: f.write(text.encode()), replace=replace)


def write_report(ev: Evaluation, out: str | Path, *, overwrite: bool = False, montage: int = 3) -> Path:
    """Write the report directory ``out`` (see the module notes); returns ``out``.

    Parameters
    ----------
    ev : Evaluation
    out : str or Path
        Directory (created if needed).
    overwrite : bool
        Replace an existing report (default: refuse with ``FileExistsError``).
    montage : int
        Images shown in ``montage.png`` (the first ones; default 3, 0 for none).
    """
    out = check_report_dir(out, overwrite)
    made = []  # the folders this call creates, deepest first
    f = out.absolute()
    while not f.exists() and not f.is_symlink() and f != f.parent:
        made.append(f)
        f = f.parent
    written: list[Path] = []
    try:
        return _write_files(ev, out, overwrite, montage, written)
    except BaseException:  # a report that failed half-way: its files go, and the folders it made if empty
        for p in written:
            p.unlink(missing_ok=True)
        for d in made:
            try:
                d.rmdir()
            except OSError:
                break
        raise


def _write_files(ev: Evaluation, out: Path, overwrite: bool, montage: int, written: list) -> Path:
    from .. import __version__
    from ..data.scanfile import atomic_savez
    from ..plotting import save_comparison
    from .spectrum import save_angular_figure

    out.mkdir(parents=True, exist_ok=True)
    g = ev.geometry
    figures = {}

    arrays = {f"recon_{m}": ev.reconstructions[m].numpy().astype(np.float32) for m in ev.methods}
    if ev.truth is not None:
        arrays["truth"] = ev.truth.numpy().astype(np.float32)
    arrays["sinogram"] = ev.sinogram.numpy().astype(np.float32)
    arrays["ids"] = np.asarray(ev.ids, dtype=np.int64)
    arrays.update(angles=np.asarray(g.angles, dtype=np.float64), det_spacing=np.float64(g.det_spacing),
                  image_size=np.int64(g.image_size), det_count=np.int64(g.det_count))
    arrays["meta"] = np.array(json.dumps({"methods": ev.methods, "layout": "recon_<method>: (M, N, N), image i is "
                                          "ids[i]", "geometry": g.to_dict(), "ltl_version": __version__}))
    written.append(atomic_savez(out / "reconstructions.npz", overwrite=overwrite, **arrays))

    k = min(max(int(montage), 0), len(ev.ids))
    if k:
        cases = []
        for i in range(k):
            images = {NAMES[m]: ev.reconstructions[m][i].clamp(0, 1) for m in ev.methods}
            metrics = {NAMES[m]: {q: ev.per_image[m][q][i] for q in ("re", "ssim")} for m in ev.methods} \
                if ev.truth is not None else None
            fam = f" ({ev.families[i]})" if ev.families is not None else ""
            cases.append({"name": f"{ev.record.get('id_kind', 'image')} {ev.ids[i]}{fam}",
                          "truth": ev.truth[i] if ev.truth is not None else None, "images": images,
                          "metrics": metrics})
        written.append(save_comparison(out / "montage.png", cases, replace=overwrite))
        figures["montage"] = "montage.png"
    if ev.angular is not None:
        curves = {NAMES[m]: ev.angular["methods"][m] for m in ev.methods}
        written.append(save_angular_figure(out / "angular_error.png", np.asarray(ev.angular["bin_centres_deg"]),
                                           curves, g, replace=overwrite))
        figures["angular_error"] = "angular_error.png"

    doc = dict(ev.to_json(), figures=figures)
    written.append(_write_text(out / "results.json", json.dumps(doc, indent=1), overwrite))

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["image", "id", "family", "method", *QUANTITIES])
    for i, ident in enumerate(ev.ids):
        fam = "" if ev.families is None else ev.families[i]
        for m in ev.methods:
            w.writerow([i, ident, fam, m, *("" if ev.per_image[m][q][i] is None else repr(float(ev.per_image[m][q][i]))
                                       for q in QUANTITIES)])
    written.append(_write_text(out / "results.csv", buf.getvalue(), overwrite))

    written.append(_write_text(out / "report.md", _markdown(ev, figures), overwrite))
    return out


def _markdown(ev: Evaluation, figures: dict) -> str:
    r = ev.record
    data = r["data"]
    src = data.get("path", "a scan in memory")
    what = {"dataset": f"dataset `{src}`, split {data.get('split')}",
            "scan file": f"scan file `{src}`", "scan": "simulated scans"}.get(data.get("kind"), str(src))
    phantom = (data.get("meta") or {}).get("phantom") or (data.get("settings") or {}).get("phantom")
    if phantom:
        what += f" (phantom {phantom})"
    lines = [f"# ltl evaluation: {len(ev.ids)} images", "",
             f"- data: {what}; {r['images']} of {data.get('of', r['images'])} images ({_plural(r['id_kind'])} "
             f"{_ids(ev.ids)})",
             f"- geometry: {r['geometry_description']}",
             f"- device: {r['device']}, batch size {r['batch_size']}; ltl {r['ltl_version']}; {r['created']}", ""]
    lines += [markdown_table(ev), ""]
    lines += [f"Mean ± sample standard deviation over {len(ev.ids)} images."]
    lines += r["notes"][:4]
    timing = [f"{NAMES[m]}: {r['methods'][m]['timing']}" for m in ev.methods
              if not r["methods"][m]["timing"].startswith("end to end")]
    if timing:
        lines += ["", "† Times: " + "; ".join(timing) + ". The other times are end to end."]
    fam = family_tables(ev)
    if fam:
        lines += ["", fam.rstrip()]
    lines += ["", "## Methods", ""]
    for m in ev.methods:
        rec = r["methods"][m]
        desc = f"- **{NAMES[m]}** (`{m}`): {json.dumps(rec['settings'])}"
        ck = rec.get("checkpoint")
        if ck:
            epochs = (ck.get("provenance") or {}).get("epochs_trained")
            desc += (f"; checkpoint `{ck['checkpoint']}` (sha256 {str(ck.get('weights_sha256'))[:12]}…, "
                     f"ltl {ck.get('model_ltl_version')}{f', {epochs} epochs' if epochs else ''})")
        lines.append(desc)
    if figures:
        lines += ["", "## Figures", ""]
        if "montage" in figures:
            lines += ["Truth, each method (clipped to [0, 1]) and its signed error, for the first images:", "",
                      f"![montage]({figures['montage']})", ""]
        if "angular_error" in figures:
            lines += ["Error energy by frequency direction (mean over the images, relative to ‖truth‖²); the "
                      "shaded directions are the missing wedge the scan does not measure:", "",
                      f"![angular error energy]({figures['angular_error']})", ""]
    if ev.truth is None:
        lines += ["", "No ground truth: only the data residual and the time are reported."]
    lines += ["", "Numbers per image: `results.csv`, `results.json`; reconstructions: `reconstructions.npz`.", ""]
    return "\n".join(lines)


def _plural(kind: str) -> str:
    return "indices" if kind == "index" else f"{kind}s"


def _ids(ids: list) -> str:
    if not ids:
        return ""
    if len(ids) > 2 and list(ids) == list(range(ids[0], ids[0] + len(ids))):
        return f"{ids[0]}–{ids[-1]}"
    return ", ".join(map(str, ids[:8])) + (", …" if len(ids) > 8 else "")


def load_reconstructions(out: str | Path) -> dict:
    """Read ``reconstructions.npz`` of a report: ``{'methods', 'reconstructions' (method → tensor),
    'truth', 'sinogram', 'ids', 'meta'}``."""
    p = Path(out)
    p = p / "reconstructions.npz" if p.is_dir() else p
    if not p.exists():
        raise FileNotFoundError(f"{p} not found; pass a report directory written by ltl evaluate")
    with np.load(p, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        return {"methods": meta["methods"], "meta": meta,
                "reconstructions": {m: torch.from_numpy(z[f"recon_{m}"]) for m in meta["methods"]},
                "truth": torch.from_numpy(z["truth"]) if "truth" in z.files else None,
                "sinogram": torch.from_numpy(z["sinogram"]), "ids": z["ids"].tolist()}
