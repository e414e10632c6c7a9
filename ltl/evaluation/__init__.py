"""Evaluation: every reconstruction method on the same scans, scored and reported.

:func:`evaluate` runs FBP, SIRT, TV, l1-shearlet, LtI and the learned baselines on a dataset, a
scan file or simulated scans of any phantom families (:func:`shifted_scans`), and scores them per
family, split into the families the models were trained on and those held out
(:func:`family_breakdown`, from each model's provenance); :func:`write_report`
writes the report directory (``results.json``, ``results.csv``, ``report.md``, the
reconstructions and figures); :func:`angular_energy` and :func:`missing_wedge_fraction` locate an
error in Fourier space. ``ltl evaluate`` is the command line (:mod:`ltl.cli.evaluate`).
"""

from .inputs import EvalData, load_data
from .pipeline import LEARNED, METHODS, NAMES, Pipeline, check_settings, load_models, parse_methods
from .scoring import QUANTITIES, Evaluation, evaluate, residuals
from .families import HELD_OUT, IN_DISTRIBUTION, family_breakdown, trained_families, win_counts
from .report import REPORT_FILES, check_report_dir, family_tables, load_reconstructions, markdown_table, write_report
from .shift import SHIFT_PHANTOMS, shifted_scans
from .spectrum import angular_energy, measured_intervals, missing_wedge_fraction, save_angular_figure

__all__ = ["METHODS", "LEARNED", "NAMES", "QUANTITIES", "Evaluation", "Pipeline", "evaluate", "load_data", "EvalData", "check_settings", "load_models", "residuals",
           "parse_methods", "REPORT_FILES", "write_report", "check_report_dir", "load_reconstructions",
           "markdown_table", "family_tables", "family_breakdown", "trained_families", "win_counts", "IN_DISTRIBUTION",
           "HELD_OUT", "SHIFT_PHANTOMS", "shifted_scans", "angular_energy", "missing_wedge_fraction",
           "measured_intervals", "save_angular_figure"]
