"""Termination terms of the LMO: one small named function each, (StepState, TerminationParams) -> (N,) bool.

A fall ends the episode (the article and the issue: "termination on falls"); the time-out is the env's episode
length, reported to RSL-RL apart (`extras["time_outs"]`) so that PPO bootstraps the value there instead of treating
it as a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lerobot_wbvla.lmo.mdp.state import StepState, tilt
from lerobot_wbvla.lmo.mdp.xp import Array, namespace


@dataclass
class TerminationParams:
    # The pelvis below this height (m) is a fall (nominal stance ~0.66 m, deepest squat ~0.53 m).
    min_base_height: float = 0.40
    # The pelvis tilted more than this from the vertical (rad) is a fall.
    max_tilt: float = 0.8


def base_too_low(s: StepState, p: TerminationParams) -> Array:
    return s.base_pos[:, 2] < p.min_base_height


def base_tilted(s: StepState, p: TerminationParams) -> Array:
    return tilt(s.base_quat) > p.max_tilt


def body_on_floor(s: StepState, p: TerminationParams) -> Array:
    """A robot geom other than the foot pads (knee, hand, pelvis, ...) touches the floor."""
    return s.body_floor_contact


def non_finite_state(s: StepState, p: TerminationParams) -> Array:
    """The physics diverged (NaN/inf in the state): end the episode rather than feed it to the policy."""
    xp = namespace(s.base_pos)
    return ~(s.proprio.is_finite() & xp.all(xp.isfinite(s.base_pos), axis=1))


TERMINATION_TERMS: dict[str, Callable[[StepState, TerminationParams], Array]] = {
    "base_too_low": base_too_low,
    "base_tilted": base_tilted,
    "body_on_floor": body_on_floor,
    "non_finite_state": non_finite_state,
}


def fallen(s: StepState, p: TerminationParams, terms: tuple[str, ...] = tuple(TERMINATION_TERMS)) -> Array:
    """(N,) any of the named termination terms."""
    out = namespace(s.base_pos).zeros_bool((s.base_pos.shape[0],), like=s.base_pos)
    for name in terms:
        out |= TERMINATION_TERMS[name](s, p)
    return out
