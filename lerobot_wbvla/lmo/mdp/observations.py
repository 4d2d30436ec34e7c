"""Observation terms of the LMO (Isaac Lab's manager style: one small named function per block).

Each term maps a `Proprio` (N robots) to an (N, size) float32 block. `build_observation` composes them in the
order of an `ObservationLayout`, so the env (training) and the robot's controller (deployment) build the same
vector from the same functions. No hand scaling: RSL-RL's empirical observation normaliser (part of the actor and
of its exports) scales the blocks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lerobot_wbvla.lmo.layout import COMMAND_SIZE, PROPRIO_SIZE, ObservationLayout
from lerobot_wbvla.lmo.proprio import Proprio
from lerobot_wbvla.robots.agibot_x2 import lower_body as lb
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS

# The stance the leg joint positions are measured from (and the policy's PD targets are offsets around).
STANCE = np.array([lb.stance_leg_pose()[j] for j in LEG_JOINTS], dtype=np.float64)
NOMINAL_HEIGHT = lb.nominal_height()
# `command` conditioning: tanh(gain * value) turns a velocity into a smoothed tri-state flag (-1, 0, +1); a gain of
# 10 saturates at ~0.25 m/s (rad/s) and reads ~0.5 at 0.05.
COMMAND_FLAG_GAIN = 10.0


def joint_pos_rel(p: Proprio) -> np.ndarray:
    """Leg joint positions relative to the stance (rad)."""
    return p.joint_pos - STANCE


def joint_vel(p: Proprio) -> np.ndarray:
    return p.joint_vel


def base_quat(p: Proprio) -> np.ndarray:
    """The IMU quaternion with w >= 0 (q and -q are the same rotation; the policy sees one of them)."""
    return np.where(p.quat[:, :1] < 0, -p.quat, p.quat)


def gyro(p: Proprio) -> np.ndarray:
    return p.gyro


def accel(p: Proprio) -> np.ndarray:
    return p.accel


def foot_contacts(p: Proprio) -> np.ndarray:
    return p.contacts


PROPRIO_TERMS: dict[str, Callable[[Proprio], np.ndarray]] = {
    "joint_pos": joint_pos_rel,
    "joint_vel": joint_vel,
    "base_quat": base_quat,
    "gyro": gyro,
    "accel": accel,
    "foot_contacts": foot_contacts,
}


def proprio_vector(p: Proprio) -> np.ndarray:
    """(N, 38) the proprioceptive blocks in layout order."""
    return np.concatenate([term(p) for term in PROPRIO_TERMS.values()], axis=1)


def height_offset(height: np.ndarray) -> np.ndarray:
    """Commanded pelvis height relative to the nominal stance (m); a height of 0 means nominal (the X2 contract)."""
    return np.where(height > 0, height - NOMINAL_HEIGHT, 0.0)


def command_flags(loco: np.ndarray) -> np.ndarray:
    """The paper's command: tanh-smoothed tri-state forward / lateral / yaw flags and the target height offset.
    `loco` is (N, 4): vx, vy, yaw_rate, height (the whole-body action's loco.* entries)."""
    flags = np.tanh(COMMAND_FLAG_GAIN * loco[:, :3])
    return np.concatenate([flags, height_offset(loco[:, 3:4])], axis=1)


def locomotion_command(loco: np.ndarray) -> np.ndarray:
    """The decoupled baseline's command: vx, vy, yaw_rate and the height offset."""
    return np.concatenate([loco[:, :3], height_offset(loco[:, 3:4])], axis=1)


def conditioning_block(layout: ObservationLayout, loco: np.ndarray, latent: np.ndarray | None) -> np.ndarray:
    """The conditioning block of `layout` for N robots: z_t (latent), the paper's flags (command) or the
    locomotion command (none)."""
    n = loco.shape[0]
    if layout.conditioning == "latent":
        if latent is None:
            return np.zeros((n, layout.latent_dim))
        if latent.shape != (n, layout.latent_dim):
            raise ValueError(f"z_t has shape {latent.shape}, the layout needs {(n, layout.latent_dim)}")
        return latent
    block = command_flags(loco) if layout.conditioning == "command" else locomotion_command(loco)
    assert block.shape[1] == COMMAND_SIZE
    return block


class ProprioHistory:
    """The last `length` proprioceptive vectors per robot (newest first), for layouts with history > 0."""

    def __init__(self, num: int, length: int) -> None:
        self.length = length
        self.buf = np.zeros((num, length, PROPRIO_SIZE))

    def reset(self, ids: np.ndarray | slice, current: np.ndarray) -> None:
        """Fill the history of robots `ids` with their current vector (no fake motion at an episode start)."""
        if self.length:
            self.buf[ids] = current[:, None, :]

    def flat(self) -> np.ndarray:
        return self.buf.reshape(self.buf.shape[0], -1)

    def push(self, current: np.ndarray) -> None:
        if self.length:
            self.buf[:, 1:] = self.buf[:, :-1]
            self.buf[:, 0] = current


def build_observation(
    layout: ObservationLayout,
    p: Proprio,
    loco: np.ndarray,
    latent: np.ndarray | None,
    history: ProprioHistory | None = None,
) -> np.ndarray:
    """(N, layout.size) float32 policy observation. `history` holds the frames before this one (pushed by the
    caller after the call)."""
    parts = [proprio_vector(p), conditioning_block(layout, loco, latent)]
    if layout.history:
        if history is None or history.length != layout.history:
            raise ValueError(f"the layout has history={layout.history}; pass a ProprioHistory of that length")
        parts.append(history.flat())
    obs = np.concatenate(parts, axis=1).astype(np.float32)
    if obs.shape[1] != layout.size:
        raise AssertionError(f"built {obs.shape[1]} values for a layout of {layout.size}")
    return obs
