"""Evaluation: every reconstruction method on the same scans, scored and reported.

:func:`evaluate` runs FBP, SIRT, TV, l1-shearlet, LtI and the learned baselines on a dataset, a
scan file or simulated out-of-distribution scans (:func:`shifted_scans`); :func:`write_report`
writes the report directory (``results.json``, ``results.csv``, ``report.md``, the
reconstructions and figures); :func:`angular_energy` and :func:`missing_wedge_fraction` locate an
error in Fourier space. ``ltl evaluate`` is the command line (:mod:`ltl.cli.evaluate`).
"""

from .inputs import EvalData, load_data
from .pipeline import LEARNED, METHODS, NAMES, Pipeline, check_settings, load_models, parse_methods
from .scoring import QUANTITIES, Evaluation, evaluate, residuals
from .report import REPORT_FILES, check_report_dir, load_reconstructions, markdown_table, write_report
from .shift import SHIFT_PHANTOMS, shifted_scans
from .spectrum import angular_energy, measured_intervals, missing_wedge_fraction, save_angular_figure

__all__ = ["METHODS", "LEARNED", "NAMES", "QUANTITIES", "Evaluation", "Pipeline", "evaluate", "load_data", "EvalData", "check_settings", "load_models", "residuals",
           "parse_methods", "REPORT_FILES", "write_report", "check_report_dir", "load_reconstructions",
           "markdown_table", "SHIFT_PHANTOMS", "shifted_scans", "angular_energy", "missing_wedge_fraction",
           "measured_intervals", "save_angular_figure"]
