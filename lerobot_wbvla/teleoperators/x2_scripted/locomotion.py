"""Locomotion commands that bring the robot's base to a planar goal pose (x, y, yaw in the world frame).

The whole-body action drives the legs only through `loco.vx/vy/yaw_rate` (base frame) and `loco.height`; this
module turns a goal pose into those numbers with a saturated proportional law, the way an operator steers with a
joystick: turn toward the goal heading, translate in the base frame, slow down near the goal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PlanarPose:
    """Base pose on the floor: position (m) and heading (rad, about world z)."""

    x: float
    y: float
    yaw: float


@dataclass(frozen=True)
class GoToGains:
    """Gains and speed limits of `go_to`; defaults stay well inside AgibotX2Config's limits (0.8/0.4/1.0)."""

    kp_lin: float = 1.5  # 1/s
    kp_yaw: float = 2.0  # 1/s
    max_vx: float = 0.45  # m/s
    max_vy: float = 0.3  # m/s
    max_yaw_rate: float = 0.6  # rad/s
    pos_tol: float = 0.004  # m: dead band (keep below the tolerance used to call a goal reached)
    yaw_tol: float = 0.005  # rad: dead band


def wrap_angle(a: float) -> float:
    """Angle wrapped to (-pi, pi]."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def yaw_of_quat(quat_wxyz: np.ndarray) -> float:
    """Heading (rotation about world z) of a MuJoCo quaternion (w, x, y, z)."""
    w, x, y, z = (float(v) for v in quat_wxyz)
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def go_to(
    current: PlanarPose, goal: PlanarPose, gains: GoToGains = GoToGains()
) -> tuple[float, float, float]:
    """Base-frame (vx, vy, yaw_rate) that moves `current` toward `goal`; all zero once within tolerance."""
    dx, dy = goal.x - current.x, goal.y - current.y
    c, s = math.cos(current.yaw), math.sin(current.yaw)
    ex, ey = c * dx + s * dy, -s * dx + c * dy  # goal offset in the base frame
    eyaw = wrap_angle(goal.yaw - current.yaw)
    vx, vy = gains.kp_lin * ex, gains.kp_lin * ey
    # Scale both axes together when one saturates, so the base still heads straight at the goal.
    scale = min(1.0, gains.max_vx / max(abs(vx), 1e-9), gains.max_vy / max(abs(vy), 1e-9))
    vx, vy = vx * scale, vy * scale
    wz = float(np.clip(gains.kp_yaw * eyaw, -gains.max_yaw_rate, gains.max_yaw_rate))
    if math.hypot(ex, ey) < gains.pos_tol:
        vx = vy = 0.0
    if abs(eyaw) < gains.yaw_tol:
        wz = 0.0
    return float(vx), float(vy), wz


def reached(current: PlanarPose, goal: PlanarPose, pos_tol: float, yaw_tol: float) -> bool:
    """Whether `current` is within `pos_tol` (m) and `yaw_tol` (rad) of `goal`."""
    return (
        math.hypot(goal.x - current.x, goal.y - current.y) <= pos_tol
        and abs(wrap_angle(goal.yaw - current.yaw)) <= yaw_tol
    )
