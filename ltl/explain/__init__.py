"""Explaining what LtI's network contributes: rate-distortion explanations (RDE), baselines, the
relevance-ordering test, an adapter for LtI models and figures (the command ``ltl explain`` is
:mod:`ltl.cli.explain`).

:func:`rde`, the baselines and :func:`relevance_ordering` work for any torch model; the LtI
adapter (:func:`explain_lti`, :class:`LtIExplainer`) explains the U-Net's output through the
image it adds, with noise of the network's training statistics. :class:`RDESettings` holds the
settings of an explanation and their defaults.
"""

from .settings import DOMAINS, NOISES, RDESettings
from .noise import Problem, check_region, draw_noise, mask_shape, noise_statistics, relative_distortion
from .rde import RDEResult, expected_distortion, rde
from .baselines import BASELINES, energy_score, gradient, integrated_gradients, random_relevance, smoothgrad
from .ordering import OrderingCurve, relevance_ordering, to_domain
from .lti import LtIExplainer, LtIExplanation, LtINetwork, explain_lti

__all__ = ["rde", "RDEResult", "RDESettings", "expected_distortion", "relative_distortion", "draw_noise",
           "noise_statistics", "mask_shape", "check_region", "Problem", "DOMAINS", "NOISES", "BASELINES",
           "energy_score", "gradient", "integrated_gradients", "random_relevance", "smoothgrad", "OrderingCurve",
           "relevance_ordering", "to_domain", "LtIExplainer", "LtIExplanation", "LtINetwork", "explain_lti"]
