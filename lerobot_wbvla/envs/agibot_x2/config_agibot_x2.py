"""`--env.type=agibot_x2`: the LeRobot env config of the AgiBot X2 twin's task suite (lerobot-eval).

LeRobot builds the env with `gym.make(f"{package_name}/{task}", **gym_kwargs)`; the ids are registered when
`lerobot_wbvla.envs.agibot_x2` is imported, which LeRobot's plugin discovery does through `lerobot_policy_wbvla`
(a gym namespace may not contain dots, so the namespace is that top-level module's name).

The observation keys match what the robot `agibot_x2` records with lerobot-record: `agent_pos` is the robot's
state vector (joints.STATE_KEYS order) -> `observation.state`, `pixels/head` -> `observation.images.head`, and the
action is the whole-body action (joints.ACTION_KEYS order) -> `action`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.configs import FeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig
from lerobot.utils.constants import ACTION, OBS_IMAGES, OBS_STATE

from lerobot_wbvla.robots.agibot_x2.config_agibot_x2 import check_lower_body_options
from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, STATE_KEYS

from .tasks import TASKS

GYM_NAMESPACE = "lerobot_policy_wbvla"
OBS_TYPES = ("pixels_agent_pos", "agent_pos")
BASE_MODES = ("kinematic", "physical")


@EnvConfig.register_subclass("agibot_x2")
@dataclass
class AgibotX2EnvConfig(EnvConfig):
    # Task: pick_place | walk_carry | shelf_place | cart_push (see lerobot_wbvla/envs/agibot_x2/tasks.py).
    task: str | None = "pick_place"
    # Control rate (Hz): one env step = one whole-body action = 1/fps s of physics. Match --robot.control_fps
    # (and --dataset.fps) of the recorded data a policy was trained on.
    fps: int = 30
    # Episode length in env steps; None = the task's default duration times fps.
    episode_length: int | None = None
    # "kinematic": the loco command moves the floating base directly (legs hold the stance);
    # "physical": the legs are driven by the lower-body controller through contact physics.
    base_mode: str = "kinematic"
    # "pixels_agent_pos": head camera + state; "agent_pos": state only (no rendering, for fast scripted runs).
    obs_type: str = "pixels_agent_pos"
    # Head camera resolution.
    observation_height: int = 224
    observation_width: int = 224
    # Camera of env.render() (eval videos, rendered at the head camera's resolution): "head", or "overview" (a
    # third-person camera that follows the robot).
    render_camera: str = "overview"
    # Twin settings (see X2SimConfig).
    physics_hz: int = 200
    lower_body_hz: int = 50
    waist: str = "3dof"
    # What drives the legs with base_mode=physical, as the robot's --robot.lower_body_controller: "stand",
    # "pd_stance" or "lmo" (the trained LMO policy at `lmo_path`: a Hub repo id or an export folder, at
    # `lmo_revision` for a repo id).
    lower_body_controller: str = "stand"
    lmo_path: str | None = None
    lmo_revision: str | None = None
    features: dict[str, PolicyFeature] = field(default_factory=dict)
    features_map: dict[str, str] = field(
        default_factory=lambda: {
            ACTION: ACTION,
            "agent_pos": OBS_STATE,
            "pixels/head": f"{OBS_IMAGES}.head",
        }
    )

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(
                f"--env.task={self.task!r} is not an agibot_x2 task; choose one of {', '.join(TASKS)}"
            )
        if self.obs_type not in OBS_TYPES:
            raise ValueError(
                f"--env.obs_type={self.obs_type!r} is not valid; choose one of {', '.join(OBS_TYPES)}"
            )
        if self.base_mode not in BASE_MODES:
            raise ValueError(
                f"--env.base_mode={self.base_mode!r} is not valid; choose one of {', '.join(BASE_MODES)}"
            )
        if self.fps <= 0 or self.fps > self.physics_hz:
            raise ValueError(f"--env.fps={self.fps} must be in (0, --env.physics_hz={self.physics_hz}]")
        check_lower_body_options("env", self.lower_body_controller, self.lmo_path, self.lmo_revision)
        if self.render_camera not in ("head", "overview"):
            raise ValueError(
                f"--env.render_camera={self.render_camera!r} is not valid; choose head or overview"
            )
        self.features = {
            ACTION: PolicyFeature(type=FeatureType.ACTION, shape=(len(ACTION_KEYS),)),
            "agent_pos": PolicyFeature(type=FeatureType.STATE, shape=(len(STATE_KEYS),)),
        }
        if self.obs_type == "pixels_agent_pos":
            self.features["pixels/head"] = PolicyFeature(
                type=FeatureType.VISUAL, shape=(self.observation_height, self.observation_width, 3)
            )

    @property
    def package_name(self) -> str:
        return GYM_NAMESPACE

    @property
    def max_episode_steps(self) -> int:
        if self.episode_length is not None:
            return self.episode_length
        return int(round(TASKS[self.task].episode_s * self.fps))

    @property
    def gym_kwargs(self) -> dict:
        return {
            "base_mode": self.base_mode,
            "obs_type": self.obs_type,
            "fps": self.fps,
            "image_size": (self.observation_height, self.observation_width),
            "render_camera": self.render_camera,
            "physics_hz": self.physics_hz,
            "lower_body_hz": self.lower_body_hz,
            "waist": self.waist,
            "lower_body_controller": self.lower_body_controller,
            "lmo_path": self.lmo_path,
            "lmo_revision": self.lmo_revision,
            "max_episode_steps": self.max_episode_steps,
        }
