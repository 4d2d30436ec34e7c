"""Configuration of the `x2_leader` teleoperator (`--teleop.type=x2_leader`): two 7-DoF leader arms with a
gripper trigger each, one Dynamixel bus per arm."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from lerobot.motors.dynamixel.tables import MODEL_NUMBER_TABLE
from lerobot.teleoperators.config import TeleoperatorConfig

from ...robots.agibot_x2.joints import ARM_JOINTS, GRIPPERS


@dataclass(kw_only=True)
class X2LeaderArmsConfig:
    """Ports, servo models and calibration options of the two leader arms. A plain dataclass (not a registered
    choice) so that `x2_whole_body` can nest it as `--teleop.arms.*`."""

    # Serial port of the left arm's Dynamixel bus: a device path (/dev/ttyUSB0) or a pyserial URL;
    # `dxlsim://<name>?preset=x2_leader_arm` opens simulated servos (teleoperators/dxl_sim).
    left_port: str
    # Serial port of the right arm's Dynamixel bus (same forms as left_port).
    right_port: str
    # Dynamixel model of the seven joint servos of each arm (ids 1-7, shoulder to wrist, X2 joint order).
    joint_model: str = "xl330-m288"
    # Dynamixel model of the gripper-trigger servo of each arm (id 8).
    gripper_model: str = "xl330-m077"
    # X2 joints (or `left_gripper`/`right_gripper`) whose leader servo turns opposite to the X2 joint's positive
    # direction; written to the servo's Drive_Mode (reverse bit) at calibration.
    inverted_joints: list[str] = field(default_factory=list)
    # Where the released trigger springs back to, in its calibrated 0-100 range (0 = released, 100 = squeezed).
    # The trigger servo runs in current-based position mode, so a finger can push it and it returns.
    gripper_open_pos: float = 2.0
    # Smallest trigger travel (encoder ticks, 4096 per turn) accepted during calibration.
    min_gripper_travel: int = 200
    # X2 joint angles (rad) that the leader's calibration pose stands for; joints not listed are 0
    # (arms hanging straight down, the X2 zero pose).
    calibration_pose: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = set(ARM_JOINTS) | set(GRIPPERS)
        bad = [j for j in self.inverted_joints if j not in known]
        if bad:
            raise ValueError(
                f"--teleop.inverted_joints has unknown joint(s) {bad}; use X2 arm joint names or "
                f"left_gripper/right_gripper: {', '.join(ARM_JOINTS + GRIPPERS)}"
            )
        bad = [j for j in self.calibration_pose if j not in ARM_JOINTS]
        if bad:
            raise ValueError(
                f"--teleop.calibration_pose has unknown arm joint(s) {bad}; use {', '.join(ARM_JOINTS)}"
            )
        for name in ("joint_model", "gripper_model"):
            model = getattr(self, name)
            if model not in MODEL_NUMBER_TABLE:
                raise ValueError(
                    f"--teleop.{name}={model!r} is not a Dynamixel model LeRobot knows; "
                    f"choose one of {', '.join(sorted(MODEL_NUMBER_TABLE))}"
                )
        if self.left_port == self.right_port:
            raise ValueError(
                f"--teleop.left_port and --teleop.right_port are both '{self.left_port}'; each arm has its own bus "
                "(both use servo ids 1-8)"
            )
        if not 0.0 <= self.gripper_open_pos <= 100.0:
            raise ValueError(f"--teleop.gripper_open_pos must be in [0, 100], got {self.gripper_open_pos}")


@TeleoperatorConfig.register_subclass("x2_leader")
@dataclass(kw_only=True)
class X2LeaderConfig(TeleoperatorConfig, X2LeaderArmsConfig):
    """`--teleop.type=x2_leader`: the leader arms alone (arm and gripper part of the whole-body action)."""

    @classmethod
    def from_arms(cls, arms: X2LeaderArmsConfig, **teleop_fields) -> X2LeaderConfig:
        """The teleop config for `arms` plus TeleoperatorConfig fields (id, calibration_dir)."""
        return cls(**{f.name: getattr(arms, f.name) for f in fields(X2LeaderArmsConfig)}, **teleop_fields)
