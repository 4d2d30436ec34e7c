"""Proprio: the LMO's proprioceptive readings for N robots as arrays (numpy, or torch tensors in the MuJoCo Warp
env), from the env or from the robot.

One container, filled by the vectorized env from N MjData (`lmo/env/`) and by the robot's `lmo` lower-body
controller from the robot's state dict (`from_state`), so the observation terms of `lmo/mdp/observations.py` are one
implementation for training and deployment: the policy sees on the robot exactly what it saw in training.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lerobot_wbvla.lmo.mdp.xp import Array, namespace
from lerobot_wbvla.robots.agibot_x2.joints import FOOT_CONTACT_KEYS, IMU_KEYS, LEG_JOINTS

LEG_POS_KEYS = tuple(f"{j}.pos" for j in LEG_JOINTS)
LEG_VEL_KEYS = tuple(f"{j}.vel" for j in LEG_JOINTS)
# The robot state keys the LMO reads, in Proprio's field order.
LMO_STATE_KEYS = LEG_POS_KEYS + LEG_VEL_KEYS + IMU_KEYS + FOOT_CONTACT_KEYS


@dataclass
class Proprio:
    joint_pos: Array  # (N, 12) leg joints, joints.LEG_JOINTS order (rad)
    joint_vel: Array  # (N, 12) (rad/s)
    quat: Array  # (N, 4) pelvis IMU orientation, w x y z (world frame)
    gyro: Array  # (N, 3) pelvis IMU angular velocity (rad/s, IMU frame)
    accel: Array  # (N, 3) pelvis IMU specific force (m/s^2, IMU frame; reads +9.81 z standing)
    contacts: Array  # (N, 4) foot pads in contact (0/1), joints.FOOT_CONTACT_KEYS order

    @property
    def num(self) -> int:
        return int(self.joint_pos.shape[0])

    @classmethod
    def from_state(cls, state: Mapping[str, float]) -> Proprio:
        """One robot (N=1) from a state dict with the joints.STATE_KEYS names (what the robot observation and
        the lower-body controller protocol provide). A missing key is a KeyError naming it."""
        missing = [k for k in LMO_STATE_KEYS if k not in state]
        if missing:
            raise KeyError(
                f"the LMO needs these robot state entries, missing: {', '.join(missing)} (joints.STATE_KEYS)"
            )
        v = np.array([state[k] for k in LMO_STATE_KEYS], dtype=np.float64)[None]
        return cls.from_vector(v)

    @classmethod
    def from_vector(cls, v: np.ndarray) -> Proprio:
        """(N, 38) in LMO_STATE_KEYS order -> Proprio (views into v)."""
        return cls(
            joint_pos=v[:, 0:12],
            joint_vel=v[:, 12:24],
            quat=v[:, 24:28],
            gyro=v[:, 28:31],
            accel=v[:, 31:34],
            contacts=v[:, 34:38],
        )

    def is_finite(self) -> Array:
        """(N,) True where every reading is finite."""
        xp = namespace(self.joint_pos)
        parts = (self.joint_pos, self.joint_vel, self.quat, self.gyro, self.accel, self.contacts)
        return xp.all(xp.stack([xp.all(xp.isfinite(p), axis=1) for p in parts], axis=0), axis=0)
