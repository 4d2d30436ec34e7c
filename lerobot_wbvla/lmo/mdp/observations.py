"""Observation terms of the LMO (Isaac Lab's manager style: one small named function per block).

Each term maps a `Proprio` (N robots) to an (N, size) block (numpy or torch: lmo/mdp/xp.py). `build_observation`
composes them in the order of an `ObservationLayout`, so the env (training) and the robot's controller
(deployment) build the same vector from the same functions. No hand scaling: RSL-RL's empirical observation normaliser (part of the actor and
of its exports) scales the blocks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lerobot_wbvla.lmo.layout import COMMAND_SIZE, PROPRIO_SIZE, ObservationLayout
from lerobot_wbvla.lmo.mdp.state import heading_frame_xy, yaw_of
from lerobot_wbvla.lmo.mdp.xp import Array, namespace
from lerobot_wbvla.lmo.proprio import Proprio
from lerobot_wbvla.robots.agibot_x2 import lower_body as lb
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS

# The stance the leg joint positions are measured from (and the policy's PD targets are offsets around).
STANCE = np.array([lb.stance_leg_pose()[j] for j in LEG_JOINTS], dtype=np.float64)
NOMINAL_HEIGHT = lb.nominal_height()
# `command` conditioning: tanh(gain * value) turns a velocity into a smoothed tri-state flag (-1, 0, +1); a gain of
# 10 saturates at ~0.25 m/s (rad/s) and reads ~0.5 at 0.05.
COMMAND_FLAG_GAIN = 10.0


def joint_pos_rel(p: Proprio) -> Array:
    """Leg joint positions relative to the stance (rad)."""
    return p.joint_pos - namespace(p.joint_pos).const(STANCE, like=p.joint_pos)


def joint_vel(p: Proprio) -> Array:
    return p.joint_vel


def base_quat(p: Proprio) -> Array:
    """The IMU quaternion with w >= 0 (q and -q are the same rotation; the policy sees one of them)."""
    return namespace(p.quat).where(p.quat[:, :1] < 0, -p.quat, p.quat)


def gyro(p: Proprio) -> Array:
    return p.gyro


def accel(p: Proprio) -> Array:
    return p.accel


def foot_contacts(p: Proprio) -> Array:
    return p.contacts


PROPRIO_TERMS: dict[str, Callable[[Proprio], Array]] = {
    "joint_pos": joint_pos_rel,
    "joint_vel": joint_vel,
    "base_quat": base_quat,
    "gyro": gyro,
    "accel": accel,
    "foot_contacts": foot_contacts,
}


def proprio_vector(p: Proprio) -> Array:
    """(N, 38) the proprioceptive blocks in layout order."""
    return namespace(p.joint_pos).concatenate([term(p) for term in PROPRIO_TERMS.values()], axis=1)


def height_offset(height: Array) -> Array:
    """Commanded pelvis height relative to the nominal stance (m); a height of 0 means nominal (the X2 contract)."""
    return namespace(height).where(height > 0, height - NOMINAL_HEIGHT, 0.0)


def command_flags(loco: Array) -> Array:
    """The paper's command: tanh-smoothed tri-state forward / lateral / yaw flags and the target height offset.
    `loco` is (N, 4): vx, vy, yaw_rate, height (the whole-body action's loco.* entries)."""
    xp = namespace(loco)
    flags = xp.tanh(COMMAND_FLAG_GAIN * loco[:, :3])
    return xp.concatenate([flags, height_offset(loco[:, 3:4])], axis=1)


def locomotion_command(loco: Array) -> Array:
    """The decoupled baseline's command: vx, vy, yaw_rate and the height offset."""
    return namespace(loco).concatenate([loco[:, :3], height_offset(loco[:, 3:4])], axis=1)


def conditioning_block(layout: ObservationLayout, loco: Array, latent: Array | None) -> Array:
    """The conditioning block of `layout` for N robots: z_t (latent), the paper's flags (command) or the
    locomotion command (none)."""
    n = loco.shape[0]
    if layout.conditioning == "latent":
        if latent is None:
            return namespace(loco).zeros((n, layout.latent_dim), like=loco)
        if tuple(latent.shape) != (n, layout.latent_dim):
            raise ValueError(f"z_t has shape {latent.shape}, the layout needs {(n, layout.latent_dim)}")
        return latent
    block = command_flags(loco) if layout.conditioning == "command" else locomotion_command(loco)
    assert block.shape[1] == COMMAND_SIZE
    return block


class ProprioHistory:
    """The last `length` proprioceptive vectors per robot (newest first), for layouts with history > 0. `like`: an
    array of the backend the buffer is kept as (default numpy float64; the warp env: a torch tensor on its
    device)."""

    def __init__(self, num: int, length: int, like: Array | None = None) -> None:
        self.length = length
        like = np.zeros(0) if like is None else like
        self.xp = namespace(like)
        self.buf = self.xp.zeros((num, length, PROPRIO_SIZE), like=like)

    def reset(self, ids: Array | slice, current: Array) -> None:
        """Fill the history of robots `ids` with their current vector (no fake motion at an episode start)."""
        if self.length:
            self.buf[ids] = current[:, None, :]

    def flat(self) -> Array:
        return self.buf.reshape(self.buf.shape[0], -1)

    def push(self, current: Array) -> None:
        if self.length:
            self.buf[:, 1:] = self.xp.copy(self.buf[:, :-1])  # torch refuses overlapping in-place copies
            self.buf[:, 0] = current


def build_observation(
    layout: ObservationLayout,
    p: Proprio,
    loco: Array,
    latent: Array | None,
    history: ProprioHistory | None = None,
) -> Array:
    """(N, layout.size) float32 policy observation. `history` holds the frames before this one (pushed by the
    caller after the call)."""
    parts = [proprio_vector(p), conditioning_block(layout, loco, latent)]
    if layout.history:
        if history is None or history.length != layout.history:
            raise ValueError(f"the layout has history={layout.history}; pass a ProprioHistory of that length")
        parts.append(history.flat())
    xp = namespace(loco)
    obs = xp.float32(xp.concatenate(parts, axis=1))
    if obs.shape[1] != layout.size:
        raise AssertionError(f"built {obs.shape[1]} values for a layout of {layout.size}")
    return obs


def privileged_state(
    arm_joint_pos: Array,
    payload_kg: Array,
    push_force: Array,
    base_quat_world: Array,
    base_lin_vel_world: Array,
    friction: Array,
    motor_strength: Array,
) -> Array:
    """(N, 24) the critic's privileged blocks (the env's PRIVILEGED_BLOCKS order): arm joint positions (14), hand
    payloads (2), the push force acting now (3), the base velocity (vx, vy in the heading frame, vz: 3), friction
    (1) and motor strength (1)."""
    xp = namespace(base_lin_vel_world)
    vel = heading_frame_xy(base_lin_vel_world, yaw_of(base_quat_world))
    return xp.concatenate(
        [
            arm_joint_pos,
            payload_kg,
            push_force,
            xp.concatenate([vel, base_lin_vel_world[:, 2:3]], axis=1),
            friction[:, None],
            motor_strength[:, None],
        ],
        axis=1,
    )
