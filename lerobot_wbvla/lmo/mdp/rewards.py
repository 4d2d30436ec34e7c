"""Reward terms of the LMO: one small named function per term, (StepState, RewardParams) -> (N,) array.

The default set and weights are the article's `LMORewardFunction` (orientation 0.25, angular velocity 0.10, linear
velocity tracking 0.10, foot contact 0.05, manipulation support 0.20, CoM stability 0.15, energy 0.05, smoothness
0.10), with its kernels. The paper's terms are options with weight 0 by default: J_dir (heading / yaw-rate
tracking), J_stand (feet still and stance kept when the command is to stand) and a gait term (feet air time while
walking). Each term's per-step value is logged by the env as `Episode_Reward/<name>` (RSL-RL's convention).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lerobot_wbvla.lmo.mdp.state import (
    StepState,
    com_margin,
    heading_frame_xy,
    roll_pitch,
    stance_width,
    yaw_of,
)
from lerobot_wbvla.lmo.mdp.xp import Array, namespace

# Commands below these magnitudes count as "stand still" (J_stand, gait).
STAND_SPEED = 0.05  # m/s
STAND_YAW_RATE = 0.05  # rad/s


@dataclass
class RewardParams:
    # manipulation_support: target stance width = base + gain * tanh(|z| / latent_norm_scale) (the article's
    # 0.3 + 0.15 tanh(|z| / 10)); with no latent the target is the base width.
    stance_width_base: float = 0.3
    stance_width_gain: float = 0.15
    latent_norm_scale: float = 10.0
    # Policy period (s), for the gait term's air time.
    dt: float = 0.02


# ------------------------------------------------------------------ the article's terms
def orientation(s: StepState, p: RewardParams) -> Array:
    roll, pitch = roll_pitch(s.base_quat)
    return namespace(roll).exp(-5.0 * (roll**2 + pitch**2))


def angular_velocity(s: StepState, p: RewardParams) -> Array:
    xp = namespace(s.base_ang_vel)
    return xp.exp(-2.0 * xp.norm(s.base_ang_vel, axis=1))


def linear_velocity(s: StepState, p: RewardParams) -> Array:
    """Tracking of the commanded vx, vy in the heading frame."""
    xp = namespace(s.base_lin_vel)
    vel = heading_frame_xy(s.base_lin_vel, yaw_of(s.base_quat))
    return xp.exp(-4.0 * xp.norm(vel - s.loco[:, :2], axis=1))


def foot_contact(s: StepState, p: RewardParams) -> Array:
    xp = namespace(s.contacts)
    return xp.as_float(xp.sum(s.contacts, axis=1) >= 1, like=s.contacts)


def manipulation_support(s: StepState, p: RewardParams) -> Array:
    """Stance width that widens with the magnitude of the manipulation intent z_t (the article's key term)."""
    xp = namespace(s.base_pos)
    if s.latent is None:
        z_norm = xp.zeros((s.base_pos.shape[0],), like=s.base_pos)
    else:
        z_norm = xp.norm(s.latent, axis=1)
    target = p.stance_width_base + p.stance_width_gain * xp.tanh(z_norm / p.latent_norm_scale)
    return xp.exp(-3.0 * (stance_width(s) - target) ** 2)


def com_stability(s: StepState, p: RewardParams) -> Array:
    margin = com_margin(s)
    return namespace(margin).clip(margin, 0.0, 1.0)


def energy(s: StepState, p: RewardParams) -> Array:
    xp = namespace(s.action)
    return xp.exp(-0.01 * xp.sum(s.action**2, axis=1))


def smoothness(s: StepState, p: RewardParams) -> Array:
    xp = namespace(s.action)
    return xp.exp(-5.0 * xp.sum((s.action - s.prev_action) ** 2, axis=1))


# ------------------------------------------------------------------ the paper's options
def _standing(s: StepState) -> Array:
    xp = namespace(s.loco)
    return (xp.norm(s.loco[:, :2], axis=1) < STAND_SPEED) & (xp.abs(s.loco[:, 2]) < STAND_YAW_RATE)


def direction(s: StepState, p: RewardParams) -> Array:
    """J_dir: yaw-rate tracking (the paper's heading term for turn commands)."""
    xp = namespace(s.base_ang_vel)
    return xp.exp(-4.0 * xp.abs(s.base_ang_vel[:, 2] - s.loco[:, 2]))


def stand_still(s: StepState, p: RewardParams) -> Array:
    """J_stand: while the command is to stand, both feet down and the base not drifting (1 when walking)."""
    xp = namespace(s.base_lin_vel)
    still = xp.exp(-10.0 * xp.norm(s.base_lin_vel[:, :2], axis=1)) * (xp.sum(s.contacts, axis=1) >= 3)
    return xp.where(_standing(s), still, 1.0)


def gait(s: StepState, p: RewardParams) -> Array:
    """Stepping while walking: reward one foot off the floor while the other is down (1 when standing)."""
    xp = namespace(s.contacts)
    left = xp.amax(s.contacts[:, 0:2], axis=1) > 0.5
    right = xp.amax(s.contacts[:, 2:4], axis=1) > 0.5
    single = xp.as_float(left ^ right, like=s.contacts)
    return xp.where(_standing(s), 1.0, single)


REWARD_TERMS: dict[str, Callable[[StepState, RewardParams], Array]] = {
    "orientation": orientation,
    "angular_velocity": angular_velocity,
    "linear_velocity": linear_velocity,
    "foot_contact": foot_contact,
    "manipulation_support": manipulation_support,
    "com_stability": com_stability,
    "energy": energy,
    "smoothness": smoothness,
    "direction": direction,
    "stand_still": stand_still,
    "gait": gait,
}

ARTICLE_WEIGHTS: dict[str, float] = {
    "orientation": 0.25,
    "angular_velocity": 0.10,
    "linear_velocity": 0.10,
    "foot_contact": 0.05,
    "manipulation_support": 0.20,
    "com_stability": 0.15,
    "energy": 0.05,
    "smoothness": 0.10,
}


class RewardManager:
    """Weighted sum of named terms; per-term sums per env for the episode logs. `like`: an array of the backend
    (numpy: the CPU env; a torch tensor on the device: the warp env) that the sums are kept as."""

    def __init__(
        self, weights: dict[str, float], params: RewardParams, num_envs: int, like: Array | None = None
    ) -> None:
        unknown = set(weights) - set(REWARD_TERMS)
        if unknown:
            raise ValueError(
                f"unknown reward term(s) {sorted(unknown)}; known: {', '.join(REWARD_TERMS)} (lmo/mdp/rewards.py)"
            )
        self.weights = {k: float(w) for k, w in weights.items() if w != 0.0}
        self.params = params
        like = np.zeros(0) if like is None else like
        self.episode_sums = {k: namespace(like).zeros((num_envs,), like=like) for k in self.weights}

    def compute(self, s: StepState) -> tuple[Array, dict[str, Array]]:
        total = namespace(s.base_pos).zeros((s.base_pos.shape[0],), like=s.base_pos)
        terms = {}
        for name, w in self.weights.items():
            value = REWARD_TERMS[name](s, self.params)
            terms[name] = value
            total += w * value
            self.episode_sums[name] += w * value
        return total, terms

    def pop_episode_sums(self, ids: Array, steps: np.ndarray) -> dict[str, float]:
        """Mean per-step weighted reward of each term over the episodes of `ids` that just ended; resets them."""
        out = {}
        for name, sums in self.episode_sums.items():
            xp = namespace(sums)
            out[f"Episode_Reward/{name}"] = xp.scalar_mean(
                sums[ids] / xp.const(np.maximum(steps, 1), like=sums)
            )
            sums[ids] = 0.0
        return out
