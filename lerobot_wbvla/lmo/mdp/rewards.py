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
def orientation(s: StepState, p: RewardParams) -> np.ndarray:
    roll, pitch = roll_pitch(s.base_quat)
    return np.exp(-5.0 * (roll**2 + pitch**2))


def angular_velocity(s: StepState, p: RewardParams) -> np.ndarray:
    return np.exp(-2.0 * np.linalg.norm(s.base_ang_vel, axis=1))


def linear_velocity(s: StepState, p: RewardParams) -> np.ndarray:
    """Tracking of the commanded vx, vy in the heading frame."""
    vel = heading_frame_xy(s.base_lin_vel, yaw_of(s.base_quat))
    return np.exp(-4.0 * np.linalg.norm(vel - s.loco[:, :2], axis=1))


def foot_contact(s: StepState, p: RewardParams) -> np.ndarray:
    return (s.contacts.sum(axis=1) >= 1).astype(np.float64)


def manipulation_support(s: StepState, p: RewardParams) -> np.ndarray:
    """Stance width that widens with the magnitude of the manipulation intent z_t (the article's key term)."""
    if s.latent is None:
        z_norm = np.zeros(s.base_pos.shape[0])
    else:
        z_norm = np.linalg.norm(s.latent, axis=1)
    target = p.stance_width_base + p.stance_width_gain * np.tanh(z_norm / p.latent_norm_scale)
    return np.exp(-3.0 * (stance_width(s) - target) ** 2)


def com_stability(s: StepState, p: RewardParams) -> np.ndarray:
    return np.clip(com_margin(s), 0.0, 1.0)


def energy(s: StepState, p: RewardParams) -> np.ndarray:
    return np.exp(-0.01 * (s.action**2).sum(axis=1))


def smoothness(s: StepState, p: RewardParams) -> np.ndarray:
    return np.exp(-5.0 * ((s.action - s.prev_action) ** 2).sum(axis=1))


# ------------------------------------------------------------------ the paper's options
def _standing(s: StepState) -> np.ndarray:
    return (np.linalg.norm(s.loco[:, :2], axis=1) < STAND_SPEED) & (np.abs(s.loco[:, 2]) < STAND_YAW_RATE)


def direction(s: StepState, p: RewardParams) -> np.ndarray:
    """J_dir: yaw-rate tracking (the paper's heading term for turn commands)."""
    return np.exp(-4.0 * np.abs(s.base_ang_vel[:, 2] - s.loco[:, 2]))


def stand_still(s: StepState, p: RewardParams) -> np.ndarray:
    """J_stand: while the command is to stand, both feet down and the base not drifting (1 when walking)."""
    still = np.exp(-10.0 * np.linalg.norm(s.base_lin_vel[:, :2], axis=1)) * (s.contacts.sum(axis=1) >= 3)
    return np.where(_standing(s), still, 1.0)


def gait(s: StepState, p: RewardParams) -> np.ndarray:
    """Stepping while walking: reward one foot off the floor while the other is down (1 when standing)."""
    left = s.contacts[:, 0:2].max(axis=1) > 0.5
    right = s.contacts[:, 2:4].max(axis=1) > 0.5
    single = (left ^ right).astype(np.float64)
    return np.where(_standing(s), 1.0, single)


REWARD_TERMS: dict[str, Callable[[StepState, RewardParams], np.ndarray]] = {
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
    """Weighted sum of named terms; per-term sums per env for the episode logs."""

    def __init__(self, weights: dict[str, float], params: RewardParams, num_envs: int) -> None:
        unknown = set(weights) - set(REWARD_TERMS)
        if unknown:
            raise ValueError(
                f"unknown reward term(s) {sorted(unknown)}; known: {', '.join(REWARD_TERMS)} (lmo/mdp/rewards.py)"
            )
        self.weights = {k: float(w) for k, w in weights.items() if w != 0.0}
        self.params = params
        self.episode_sums = {k: np.zeros(num_envs) for k in self.weights}

    def compute(self, s: StepState) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        total = np.zeros(s.base_pos.shape[0])
        terms = {}
        for name, w in self.weights.items():
            value = REWARD_TERMS[name](s, self.params)
            terms[name] = value
            total += w * value
            self.episode_sums[name] += w * value
        return total, terms

    def pop_episode_sums(self, ids: np.ndarray, steps: np.ndarray) -> dict[str, float]:
        """Mean per-step weighted reward of each term over the episodes of `ids` that just ended; resets them."""
        out = {}
        for name, sums in self.episode_sums.items():
            out[f"Episode_Reward/{name}"] = float(np.mean(sums[ids] / np.maximum(steps, 1)))
            sums[ids] = 0.0
        return out
