"""The settings of a rate-distortion explanation, each default defined once.

:func:`~ltl.explain.rde`, :func:`~ltl.explain.expected_distortion`,
:func:`~ltl.explain.relevance_ordering` and :func:`~ltl.explain.explain_lti` take their defaults
from :class:`RDESettings`, ``ltl explain`` shows them as its option defaults, and
``explanation.json`` stores the values used.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..runtime.settings import Settings, check_int, check_number

__all__ = ["RDESettings", "DOMAINS", "NOISES"]

#: What one mask component covers: one input coefficient, one pixel of all channels, one channel.
DOMAINS = ("coefficients", "pixels", "channels")
#: Distributions of the obfuscating noise (per channel, with the same mean and standard deviation).
NOISES = ("gaussian", "uniform")


@dataclass(frozen=True)
class RDESettings(Settings):
    """Settings of RDE and of the relevance-ordering test that scores it.

    Attributes
    ----------
    domain : {'coefficients', 'pixels', 'channels'}
        What one mask component covers (see :mod:`ltl.explain.rde`).
    lam : float
        λ > 0, the weight of the rate ‖s‖₁/d (the fraction of components kept); larger λ gives
        sparser masks. λ is the relative distortion one would accept to drop every component.
    steps : int
        Adam steps of the mask optimisation.
    samples : int
        Noise draws per step, and per point of the ordering curves.
    noise : {'gaussian', 'uniform'}
        Distribution of the obfuscating noise, per channel.
    lr : float
        Adam's learning rate (mask units per step), > 0.
    seed : int
        Seed of the noise (and of the baselines and the ordering test in :func:`explain_lti`), >= 0.
    init : float
        Initial value of every mask component, in [0, 1] (1 keeps everything: distortion 0).
    antithetic : bool
        Draw the noise of each step in mirrored pairs ``μ ± σz`` (see :func:`~ltl.explain.rde`).
    points : int
        Fractions kept of the relevance-ordering curves, evenly spaced from 0 to 1 (at least 2).
    """

    WHAT = "RDE"

    domain: str = "coefficients"
    lam: float = 10.0
    steps: int = 300
    samples: int = 16
    noise: str = "gaussian"
    lr: float = 0.05
    seed: int = 0
    init: float = 1.0
    antithetic: bool = True
    points: int = 21

    def validate(self) -> None:
        """``ValueError`` naming the first bad value."""
        if self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {', '.join(DOMAINS)}, got {self.domain!r}")
        if self.noise not in NOISES:
            raise ValueError(f"noise must be one of {', '.join(NOISES)}, got {self.noise!r}")
        check_number("lam", self.lam, positive=True)
        check_int("steps", self.steps)
        check_int("samples", self.samples)
        check_number("lr", self.lr, positive=True)
        check_int("seed", self.seed, lo=0)
        check_number("init", self.init, lo=0.0)
        if self.init > 1:
            raise ValueError(f"init must lie in [0, 1] (1 keeps a component, 0 replaces it by noise), "
                             f"got {self.init!r}")
        if not isinstance(self.antithetic, bool):
            raise ValueError(f"antithetic must be true or false, got {self.antithetic!r}")
        check_int("points", self.points, lo=2)
