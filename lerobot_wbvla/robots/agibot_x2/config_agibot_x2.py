"""Configuration of the LeRobot robot `agibot_x2` (`--robot.type=agibot_x2`).

One config drives both backends: `backend=sim` (the MuJoCo twin, default) and `backend=aimdk` (the real X2 through
the AimDK bridge). Sim-only fields are ignored by the hardware backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.robots.config import RobotConfig

from lerobot_wbvla.datasets.augment import CameraAugmentConfig

from .config_aimdk import AimdkConfig

BACKENDS = ("sim", "aimdk")
BASE_MODES = ("kinematic", "physical")
WAIST_MODES = ("3dof", "1dof")
SAFE_MODES = ("hold", "damp")
# Command watchdog timeout of the hardware backend when --robot.action_timeout_s is not given (s).
DEFAULT_HARDWARE_ACTION_TIMEOUT_S = 0.5


@RobotConfig.register_subclass("agibot_x2")
@dataclass(kw_only=True)
class AgibotX2Config(RobotConfig):
    # Which backend moves the joints: "sim" (MuJoCo twin) or "aimdk" (hardware through the AimDK bridge).
    backend: str = "sim"
    # Control rate of send_action (Hz). In sim each send_action advances the physics by 1/control_fps.
    # 30 Hz is the article's camera rate.
    control_fps: int = 30

    # Head RGB camera resolution (height, width).
    head_camera: tuple[int, int] = (224, 224)
    # Also report `left_wrist` and `right_wrist` cameras (same resolution as the head camera).
    wrist_cameras: bool = False

    # Largest change of an arm joint target per tick (rad); larger jumps are clamped toward the request.
    max_joint_step: float = 0.15
    # Largest change of a gripper command per tick (fraction of full closure).
    max_gripper_step: float = 0.35
    # Locomotion command limits: |vx| (m/s), |vy| (m/s), |yaw rate| (rad/s), pelvis height range (m; the twin's
    # squat IK spans 0.53..0.675). loco.height = 0 means the nominal standing height.
    max_vx: float = 0.8
    max_vy: float = 0.4
    max_yaw_rate: float = 1.0
    height_range: tuple[float, float] = (0.53, 0.67)
    # Without a new action for this many seconds (wall clock) the robot goes to `on_timeout`. <= 0 disables.
    # None (default): 0.5 s on `backend=aimdk` (a real robot keeps moving while its commands stall), off on
    # `backend=sim` (the twin only advances inside send_action, so nothing moves between actions; a watchdog
    # there would only fire on a slow machine and make the executed action differ from the recorded one).
    # An explicit value applies to both backends. Read the resolved value from `command_timeout_s`.
    action_timeout_s: float | None = None
    # What a command timeout does: "hold" (stiff hold of the current pose, loco stopped) or "damp" (arms limp).
    on_timeout: str = "hold"
    # What disconnect() leaves the robot in: "hold" or "damp".
    on_disconnect: str = "hold"

    # Per-joint PD stiffness overrides (N*m/rad) by joint name, e.g. --robot.kp='{"left_elbow": 60}'.
    kp: dict[str, float] = field(default_factory=dict)
    # Per-joint PD damping overrides (N*m*s/rad) by joint name.
    kd: dict[str, float] = field(default_factory=dict)

    # Name of the lower-body controller that drives the legs at `lower_body_hz` in base_mode=physical
    # (lower_body.py registry): "stand" (balancing stance), "pd_stance", or "lmo" (the trained LMO policy; needs
    # `lmo_path`).
    lower_body_controller: str = "stand"
    # The LMO policy of `lower_body_controller=lmo`: a Hub repo id or a local export folder (lmo/export.py), and
    # the repo's revision (branch, tag or commit; None = main; ignored for a folder).
    lmo_path: str | None = None
    lmo_revision: str | None = None

    # Scene name in scenes.py registry (e.g. "pick_place"); None = floor only.
    scene: str | None = None
    # "kinematic": loco command moves the floating base with a planar velocity controller, legs hold the stance;
    # "physical": legs driven by the lower-body controller through physics.
    base_mode: str = "kinematic"
    # Physics rate of the twin (Hz).
    physics_hz: int = 200
    # Rate of the lower-body controller (Hz).
    lower_body_hz: int = 50
    # "3dof": waist yaw/pitch/roll (public X2 Ultra); "1dof": the paper's prototype (waist pitch and roll locked).
    waist: str = "3dof"
    # Seed of the first sim reset (scene randomisation); None = 0.
    seed: int | None = None
    # Record-time camera augmentation in sim (the article's camera noise and lighting changes): one lighting per
    # episode (re-drawn at every scene reset), fresh noise every frame. The same image function serves train time
    # as a dataset transform (lerobot_wbvla/datasets/augment.py).
    camera_augment: bool = False
    # Ranges the augmentation draws from, e.g. --robot.camera_augment_ranges.brightness=[0.5,1.5].
    camera_augment_ranges: CameraAugmentConfig = field(default_factory=CameraAugmentConfig)

    # Hardware backend (--robot.backend=aimdk): where the AimDK bridge listens.
    aimdk: AimdkConfig = field(default_factory=AimdkConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_choice("backend", self.backend, BACKENDS)
        _check_choice("base_mode", self.base_mode, BASE_MODES)
        _check_choice("waist", self.waist, WAIST_MODES)
        _check_choice("on_timeout", self.on_timeout, SAFE_MODES)
        _check_choice("on_disconnect", self.on_disconnect, SAFE_MODES)
        if self.control_fps <= 0:
            raise ValueError(f"--robot.control_fps must be > 0, got {self.control_fps}")
        if len(self.head_camera) != 2 or min(self.head_camera) <= 0:
            raise ValueError(f"--robot.head_camera must be (height, width) > 0, got {self.head_camera}")
        lo, hi = self.height_range
        if not lo < hi:
            raise ValueError(
                f"--robot.height_range must be (low, high) with low < high, got {self.height_range}"
            )
        check_lower_body_options("robot", self.lower_body_controller, self.lmo_path, self.lmo_revision)
        if self.backend == "aimdk" and self.lower_body_controller != "stand":
            # The bridge drives the legs through the robot's own motion controller (MC); a controller chosen here
            # would silently not run. Running the LMO on the robot side is not built yet.
            raise ValueError(
                f"--robot.lower_body_controller={self.lower_body_controller} is not supported with "
                "--robot.backend=aimdk: on the real X2 the legs are driven by the robot's own motion controller "
                "(MC) through the AimDK bridge, and running the LMO on the robot side is not implemented yet; "
                "leave --robot.lower_body_controller=stand, or use --robot.backend=sim"
            )

    @property
    def lower_body_options(self) -> dict[str, str | None]:
        """Keyword options of the lower-body controller's factory (lower_body.make_lower_body_controller)."""
        return lower_body_options(self.lower_body_controller, self.lmo_path, self.lmo_revision)

    @property
    def command_timeout_s(self) -> float:
        """The command watchdog's timeout in seconds (<= 0: no watchdog): `action_timeout_s`, or its per-backend
        default when None (see the field)."""
        if self.action_timeout_s is not None:
            return float(self.action_timeout_s)
        return DEFAULT_HARDWARE_ACTION_TIMEOUT_S if self.backend == "aimdk" else 0.0

    @property
    def camera_names(self) -> tuple[str, ...]:
        return ("head", "left_wrist", "right_wrist") if self.wrist_cameras else ("head",)


def check_lower_body_options(
    prefix: str, controller: str, lmo_path: str | None, lmo_revision: str | None
) -> None:
    """`lmo` needs a policy, and a policy given to another controller would silently not run: one clear error at
    config time for either (`prefix`: "robot" or "env", for the flag names)."""
    if controller == "lmo" and not lmo_path:
        raise ValueError(
            f"--{prefix}.lower_body_controller=lmo needs the policy: pass --{prefix}.lmo_path=<Hub repo id or "
            "export folder> (written by wbvla-train-lmo)"
        )
    if controller != "lmo" and (lmo_path or lmo_revision):
        raise ValueError(
            f"--{prefix}.lmo_path/--{prefix}.lmo_revision are set but --{prefix}.lower_body_controller="
            f"{controller!r}: the LMO runs only with --{prefix}.lower_body_controller=lmo"
        )


def lower_body_options(
    controller: str, lmo_path: str | None, lmo_revision: str | None
) -> dict[str, str | None]:
    """The factory options of `controller`: the LMO's policy path and revision, none for the others."""
    return {"path": lmo_path, "revision": lmo_revision} if controller == "lmo" else {}


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"--robot.{name}={value!r} is not valid; choose one of {', '.join(choices)}")
