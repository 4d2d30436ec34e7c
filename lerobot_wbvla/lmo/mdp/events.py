"""Domain randomization events of the LMO: one small named function per randomized quantity.

Every env owns its own copy of the twin's MjModel (lmo/env/), so a reset event simply writes the sampled physical
parameters into that env's model; interval events (pushes) write `xfrc_applied` of its data. Each function returns
the sampled value, which the env keeps per env (for logs and for `wbvla-eval-lmo`'s per-episode tables).

Ranges are the article's `domain_rand` (friction 0.3-1.5, payload 0-5 kg in the hands, motor strength 0.8-1.2,
pushes 0-50 N, latent noise 0.05, terrain roughness 0-5 cm, CoM displacement 0-5 cm) plus the paper's action lag 2-8
and IMU lag 1-10 physics steps (lmo/env/config_env.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from lerobot_wbvla.robots.agibot_x2 import scenes
from lerobot_wbvla.robots.agibot_x2.disturbances import set_hand_payload

START_PAD_M = 0.6


@dataclass
class NominalParams:
    """The unrandomized values an env's model is reset to before each sample (read once from the twin)."""

    friction: np.ndarray  # (ngeom, 3)
    leg_gain: np.ndarray  # (12,) actuator_gainprm[:, 0] of the leg actuators
    leg_bias: np.ndarray  # (12, 2) actuator_biasprm[:, 1:3]
    leg_forcerange: np.ndarray  # (12, 2)
    torso_ipos: np.ndarray  # (3,)

    @classmethod
    def of(cls, model: mujoco.MjModel, leg_act: np.ndarray, torso: int) -> NominalParams:
        return cls(
            friction=model.geom_friction.copy(),
            leg_gain=model.actuator_gainprm[leg_act, 0].copy(),
            leg_bias=model.actuator_biasprm[leg_act, 1:3].copy(),
            leg_forcerange=model.actuator_forcerange[leg_act].copy(),
            torso_ipos=model.body_ipos[torso].copy(),
        )


def randomize_friction(
    model: mujoco.MjModel, rng: np.random.Generator, lo: float, hi: float, geoms: np.ndarray
) -> float:
    """Sliding friction of the ground and the foot pads (MuJoCo takes the larger of the two geoms')."""
    mu = float(rng.uniform(lo, hi))
    model.geom_friction[geoms, 0] = mu
    return mu


def hand_payloads(rng: np.random.Generator, lo: float, hi: float, split: str) -> tuple[float, float]:
    """(left, right) masses (kg) of one episode's load drawn from [lo, hi] (DomainRandConfig.payload_split): the
    total shared by a uniform fraction (random) or in halves (equal), or each hand's own draw (per_hand)."""
    if split == "per_hand":
        return float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi))
    total = float(rng.uniform(lo, hi))
    left = total * (float(rng.uniform(0.0, 1.0)) if split == "random" else 0.5)
    return left, total - left


def randomize_payload(
    model: mujoco.MjModel,
    rng: np.random.Generator,
    lo: float,
    hi: float,
    scratch: mujoco.MjData,
    split: str = "random",
) -> tuple[float, float]:
    """A load (kg) held in the hands (`hand_payloads`), each hand's share at its tool point
    (disturbances.set_hand_payload: the twin's own payload). `scratch` (the env's MjData, whose state is set
    afterwards) is overwritten."""
    masses = hand_payloads(rng, lo, hi, split)
    for side, mass in zip(("left", "right"), masses, strict=True):
        set_hand_payload(model, side, mass, scratch)
    return masses


def randomize_motor_strength(
    model: mujoco.MjModel,
    rng: np.random.Generator,
    lo: float,
    hi: float,
    leg_act: np.ndarray,
    nominal: NominalParams,
) -> float:
    """Scale the leg actuators' PD gains and torque limits together (a weaker or stronger motor)."""
    k = float(rng.uniform(lo, hi))
    model.actuator_gainprm[leg_act, 0] = nominal.leg_gain * k
    model.actuator_biasprm[leg_act, 1:3] = nominal.leg_bias * k
    model.actuator_forcerange[leg_act] = nominal.leg_forcerange * k
    return k


def randomize_com(
    model: mujoco.MjModel, rng: np.random.Generator, max_offset: float, torso: int, nominal: NominalParams
) -> np.ndarray:
    """Move the torso's centre of mass by up to `max_offset` (m) in a random horizontal direction."""
    r = rng.uniform(0.0, max_offset)
    angle = rng.uniform(-np.pi, np.pi)
    offset = np.array([r * np.cos(angle), r * np.sin(angle), 0.0])
    model.body_ipos[torso] = nominal.torso_ipos + offset
    return offset


def randomize_terrain(model: mujoco.MjModel, rng: np.random.Generator, lo: float, hi: float) -> float:
    """Bumps of up to `roughness` m (0 = flat) on the `terrain` heightfield of the rough_floor scene: smooth noise
    on a 0.4 m grid, upsampled to the 0.1 m heightfield. Returns the roughness."""
    roughness = float(rng.uniform(lo, hi))
    hid = model.hfield("terrain").id
    n = int(model.hfield_nrow[hid])
    coarse = rng.uniform(0.0, 1.0, size=(n // 4 + 2, n // 4 + 2))
    x = np.linspace(0, coarse.shape[0] - 1.001, n)
    i0 = x.astype(int)
    f = x - i0
    rows = coarse[i0] * (1 - f)[:, None] + coarse[i0 + 1] * f[:, None]
    field = rows[:, i0] * (1 - f)[None] + rows[:, i0 + 1] * f[None]
    # A flat start pad: no bumps within START_PAD_M of the origin (where every episode starts), full height beyond
    # twice that, so that a reset never puts a foot inside a bump.
    half = float(model.hfield_size[hid, 0])
    xy = np.linspace(-half, half, n)
    r = np.hypot(xy[:, None], xy[None, :])
    field = field * np.clip((r - START_PAD_M) / START_PAD_M, 0.0, 1.0)
    adr = int(model.hfield_adr[hid])
    model.hfield_data[adr : adr + n * n] = (roughness / scenes.TERRAIN_MAX_HEIGHT) * field.reshape(-1)
    return roughness


@dataclass
class Push:
    """A horizontal force on the torso for `duration` s starting at `start` s into the episode."""

    start: float
    duration: float
    force: np.ndarray  # (3,) world frame, N


def sample_push(rng: np.random.Generator, lo: float, hi: float, start: float, duration: float) -> Push:
    magnitude = rng.uniform(lo, hi)
    angle = rng.uniform(-np.pi, np.pi)
    return Push(start, duration, np.array([magnitude * np.cos(angle), magnitude * np.sin(angle), 0.0]))


def sample_lag(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A delay in physics steps, uniform over [lo, hi] (inclusive)."""
    return int(rng.integers(lo, hi + 1))
