"""The interface between the LeRobot robot `agibot_x2` and whatever moves the joints.

Two implementations exist: the MuJoCo twin (`sim_backend.SimBackend`) and the real robot through AimDK
(`aimdk_client.AimdkBackend`, which talks to `scripts/aimdk_bridge.py` on the robot's development computer).
`AgibotX2` (agibot_x2.py) does all validation and safety (limits, step clamping, NaN checks, the command
timeout) *before* calling a backend, so a backend receives only finite, clamped, complete commands.

Construction: `AgibotX2` builds the backend with `backend_cls(config)` where `config` is the full
`AgibotX2Config` (config_agibot_x2.py); the AimDK backend reads `config.aimdk` and `config.gains`.

Conventions for every backend:
- joint names are the LeRobot names of joints.py (no `_joint` suffix); values in rad, rad/s;
- grippers are in [0 = open, 1 = closed];
- `read_state()` returns exactly the keys of `joints.STATE_KEYS` (floats), no images;
- `read_cameras()` returns `{camera name: HxWx3 uint8}` for the cameras named in the config;
- `send_command()` of a simulated backend advances its physics by one control period (1 / control_fps) so that
  recording and replay are deterministic; a hardware backend publishes and returns at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from .joints import AIMDK_GROUPS, ARM_JOINTS, GRIPPERS, group_of  # noqa: F401  (re-exported for backends)


@dataclass(frozen=True)
class JointGains:
    """PD gains of one joint: torque = kp * (q_target - q) - kd * qdot. AimDK JointCommand calls them
    stiffness (N*m/rad) and damping (N*m*s/rad)."""

    kp: float
    kd: float


@dataclass
class LocoCommand:
    """Locomotion command for the lower-body controller (base frame): forward and lateral speed (m/s), yaw rate
    (rad/s) and the pelvis height target (m). AimDK's McLocomotionVelocity carries vx, vy, yaw_rate."""

    vx: float = 0.0
    vy: float = 0.0
    yaw_rate: float = 0.0
    height: float = 0.0

    def is_zero_motion(self) -> bool:
        return self.vx == 0.0 and self.vy == 0.0 and self.yaw_rate == 0.0


@dataclass
class WholeBodyCommand:
    """One tick of the whole-body action, already validated and clamped by `AgibotX2`.

    arm_targets: position target (rad) for each of the 14 arm joints (joints.ARM_JOINTS);
    grippers: closure in [0, 1] for `left_gripper` and `right_gripper`;
    loco: the command for the lower-body controller (legs are never commanded directly here).
    """

    arm_targets: dict[str, float] = field(default_factory=dict)
    grippers: dict[str, float] = field(default_factory=dict)
    loco: LocoCommand = field(default_factory=LocoCommand)


@runtime_checkable
class X2Backend(Protocol):
    """What `AgibotX2` needs from a backend. Every method may raise `ConnectionError` with a clear message."""

    @property
    def is_connected(self) -> bool: ...

    def connect(self) -> None:
        """Open the connection; after it the robot stands, holding its current arm pose (no motion)."""

    def disconnect(self) -> None:
        """Leave the robot safe (hold the current pose with zero locomotion, or damp on hardware if the
        config says so), then close the connection. Must be idempotent."""

    def read_state(self) -> dict[str, float]:
        """Observation without images: keys of joints.STATE_KEYS."""

    def read_cameras(self) -> dict[str, np.ndarray]:
        """Latest image of each enabled camera, HxWx3 uint8."""

    def send_command(self, command: WholeBodyCommand) -> None:
        """Apply arm/gripper targets and the locomotion command (sim: also advance one control period)."""

    def hold(self) -> None:
        """Stop locomotion and hold the arms and grippers where they are now (stiff PD)."""

    def damp(self) -> None:
        """Stop locomotion; arms go to pure damping (kp = 0). The legs keep standing (the lower-body
        controller stays active), so the robot does not fall."""
