"""Settings of the `aimdk` backend of `agibot_x2` (`--robot.aimdk.<field>`): where the bridge listens and how the
client drives AimDK. The robot-level fields it also uses are `action_timeout_s` / `on_timeout` (watchdog),
`on_disconnect`, `kp` / `kd` (arm and gripper-side gains), `head_camera` and `wrist_cameras`.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import aimdk_protocol as proto

IMU_CHOICES = ("torso", "chest")


@dataclass
class AimdkConfig:
    """Where the AimDK bridge (scripts/aimdk_bridge.py, on the robot's PC2) listens, and client behaviour."""

    # Address of the robot's development computer (PC2, Jetson Orin NX) per the AimDK docs.
    host: str = "10.0.1.41"
    # ZMQ port of the bridge's request/command channel (client -> bridge).
    command_port: int = proto.COMMAND_PORT
    # ZMQ port carrying joint/hand/IMU state (bridge -> client).
    state_port: int = proto.STATE_PORT
    # ZMQ port carrying camera images (bridge -> client).
    camera_port: int = proto.CAMERA_PORT
    # Seconds to wait for the bridge's hello reply and for the first state message on connect before failing.
    connect_timeout_s: float = 5.0
    # Seconds one request may take (the bridge itself retries AimDK services up to 8 x 0.25 s) and extra tries.
    request_timeout_s: float = 3.0
    request_retries: int = 2
    # read_state() fails when the newest state is older than this (s); read_cameras() uses camera_timeout_s.
    state_timeout_s: float = 0.25
    camera_timeout_s: float = 1.0
    # On connect, bring MC from PASSIVE/DAMPING/JOINT_DEFAULT to STAND_DEFAULT (JOINT_DEFAULT first). Only with both
    # feet on the ground (or the robot on its lift); when false, connect fails unless MC already stands.
    auto_stand: bool = False
    # Name, priority (0-100) and timeout (ms) of the McLocomotionVelocity input source registered with MC.
    input_source: str = "lerobot_wbvla"
    input_source_priority: int = 40
    input_source_timeout_ms: int = 1000
    # OmniPicker speed/acceleration (fraction 0..1 of its maximum) and gripping force (fraction 0..1).
    gripper_speed: float = 1.0
    gripper_effort: float = 0.5
    # Which IMU fills `imu.*`: "torso" (pelvis, like the twin's imu site) or "chest".
    imu: str = "torso"
    # AimDK publishes no foot contact: a foot counts as in contact when |knee effort| >= this (N*m).
    contact_knee_effort_nm: float = 5.0
    # |velocity| below this is sent as exactly 0 (MC has start thresholds, ~0.2 m/s and ~0.1 rad/s).
    velocity_deadband: float = 0.005
    # MC mode to switch to on disconnect after holding, e.g. "DAMPING_DEFAULT" (only with the robot on a lift);
    # "" leaves MC as it is (standing).
    disconnect_mc_action: str = ""

    def __post_init__(self) -> None:
        if self.imu not in IMU_CHOICES:
            raise ValueError(
                f"--robot.aimdk.imu={self.imu!r} is not valid; choose one of {', '.join(IMU_CHOICES)}"
            )
        if self.disconnect_mc_action and self.disconnect_mc_action not in proto.MC_ACTIONS:
            raise ValueError(
                f"--robot.aimdk.disconnect_mc_action={self.disconnect_mc_action!r} is not an AimDK mode; use one of "
                f"{', '.join(proto.MC_ACTIONS)} or ''"
            )
        for name in ("gripper_speed", "gripper_effort"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"--robot.aimdk.{name} must be in [0, 1], got {value}")
        for name in ("connect_timeout_s", "request_timeout_s", "state_timeout_s", "camera_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--robot.aimdk.{name} must be > 0, got {getattr(self, name)}")
