"""Action terms of the LMO: the policy's action -> leg PD targets, and which (delayed) action each physics step
sees.

Shared by both backends (numpy in the CPU env, torch in the MuJoCo Warp env: lmo/mdp/xp.py) and the same contract
as the robot's `lmo` controller: targets = clip(stance + action_scale * action, joint range).
"""

from __future__ import annotations

import numpy as np

from lerobot_wbvla.lmo.mdp.observations import STANCE
from lerobot_wbvla.lmo.mdp.xp import Array, namespace


def leg_pd_targets(actions: Array, action_scale: float, lo: np.ndarray, hi: np.ndarray) -> Array:
    """(..., 12) leg PD targets of (already clipped) actions: the stance plus the scaled action, in the joint
    range [lo, hi]."""
    xp = namespace(actions)
    return xp.clip(xp.const(STANCE, like=actions) + action_scale * actions, lo, hi)


def delayed_slots(lag: np.ndarray, decimation: int, depth: int) -> np.ndarray:
    """(N, decimation) for each env and physics step of a control period, the slot of the action history (0 = this
    step's action, 1 = the one before, ...) that the motors see through the env's action delay of `lag` physics
    steps: exact to the physics step, at most depth - 1 periods old."""
    s = np.arange(decimation)[None, :]
    k = (s - np.asarray(lag, dtype=int)[:, None]) // decimation  # 0 = this period, -1 the one before, ...
    return np.minimum(-k, depth - 1)
