"""Termination terms of the LMO: one small named function each, (StepState, TerminationParams) -> (N,) bool.

A fall ends the episode (the article and the issue: "termination on falls"); the time-out is the env's episode
length, reported to RSL-RL apart (`extras["time_outs"]`) so that PPO bootstraps the value there instead of treating
it as a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lerobot_wbvla.lmo.mdp.state import StepState, tilt


@dataclass
class TerminationParams:
    # The pelvis below this height (m) is a fall (nominal stance ~0.66 m, deepest squat ~0.53 m).
    min_base_height: float = 0.40
    # The pelvis tilted more than this from the vertical (rad) is a fall.
    max_tilt: float = 0.8


def base_too_low(s: StepState, p: TerminationParams) -> np.ndarray:
    return s.base_pos[:, 2] < p.min_base_height


def base_tilted(s: StepState, p: TerminationParams) -> np.ndarray:
    return tilt(s.base_quat) > p.max_tilt


def body_on_floor(s: StepState, p: TerminationParams) -> np.ndarray:
    """A robot geom other than the foot pads (knee, hand, pelvis, ...) touches the floor."""
    return s.body_floor_contact


def non_finite_state(s: StepState, p: TerminationParams) -> np.ndarray:
    """The physics diverged (NaN/inf in the state): end the episode rather than feed it to the policy."""
    return ~(s.proprio.is_finite() & np.isfinite(s.base_pos).all(axis=1))


TERMINATION_TERMS: dict[str, Callable[[StepState, TerminationParams], np.ndarray]] = {
    "base_too_low": base_too_low,
    "base_tilted": base_tilted,
    "body_on_floor": body_on_floor,
    "non_finite_state": non_finite_state,
}


def fallen(
    s: StepState, p: TerminationParams, terms: tuple[str, ...] = tuple(TERMINATION_TERMS)
) -> np.ndarray:
    """(N,) any of the named termination terms."""
    out = np.zeros(s.base_pos.shape[0], dtype=bool)
    for name in terms:
        out |= TERMINATION_TERMS[name](s, p)
    return out
