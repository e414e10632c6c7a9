"""Explaining what LtI's network contributes: rate-distortion explanations (RDE), baselines, the
relevance-ordering test, an adapter for LtI models, figures and the ``ltl explain`` command.

:func:`rde`, the baselines and :func:`relevance_ordering` work for any torch model; the LtI
adapter (:func:`explain_lti`, :class:`LtIExplainer`) explains the U-Net's output through the
image it adds, with noise of the network's training statistics.
"""

from .rde import (DOMAINS, NOISES, RDEResult, draw_noise, expected_distortion, mask_shape, noise_statistics, rde,
                  relative_distortion)
from .baselines import BASELINES, energy_score, gradient, integrated_gradients, random_relevance, smoothgrad
from .ordering import OrderingCurve, relevance_ordering, to_domain
from .lti import LtIExplainer, LtIExplanation, LtINetwork, explain_lti

__all__ = ["rde", "RDEResult", "expected_distortion", "relative_distortion", "draw_noise", "noise_statistics",
           "mask_shape", "DOMAINS", "NOISES", "BASELINES", "energy_score", "gradient", "integrated_gradients",
           "random_relevance", "smoothgrad", "OrderingCurve", "relevance_ordering", "to_domain", "LtIExplainer",
           "LtIExplanation", "LtINetwork", "explain_lti"]
