"""Gymnasium env of the AgiBot X2 twin for `lerobot-eval --env.type=agibot_x2`.

The env drives the real robot class `AgibotX2` with its `sim` backend, so a policy meets exactly the action
interface it would meet under lerobot-record or on hardware: the whole-body action vector (joints.ACTION_KEYS
order) goes through `AgibotX2.send_action` (joint-range and per-tick clamps, loco limits, errors on bad shapes or
non-finite values), and each step advances the physics by 1/fps s. Observations are what the robot records:
`agent_pos` = the state vector in joints.STATE_KEYS order, `pixels/head` = the head camera.

Reset builds a fresh twin seeded with the episode's seed (robot.connect() with `config.seed`; building the model
takes ~20 ms), so the robot's internal command state always starts from the standing pose.
Success is `tasks.SuccessCheck` held for `SUCCESS_HOLD_S` seconds in a row; the episode terminates on success.
"""

from __future__ import annotations

import logging
from typing import Any

import gymnasium as gym
import numpy as np

from lerobot_wbvla.robots.agibot_x2.agibot_x2 import AgibotX2
from lerobot_wbvla.robots.agibot_x2.config_agibot_x2 import AgibotX2Config
from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, ARM_JOINTS, STATE_KEYS
from lerobot_wbvla.robots.agibot_x2.params import joint_params
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim

from .tasks import SUCCESS_HOLD_S, TASKS, SuccessCheck, SuccessMonitor

logger = logging.getLogger(__name__)


class AgibotX2Env(gym.Env):
    """One task of the X2 suite. See the module docstring; kwargs mirror `AgibotX2EnvConfig.gym_kwargs`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        task: str = "pick_place",
        base_mode: str = "kinematic",
        obs_type: str = "pixels_agent_pos",
        fps: int = 30,
        image_size: tuple[int, int] = (224, 224),
        render_camera: str = "overview",
        physics_hz: int = 200,
        lower_body_hz: int = 50,
        waist: str = "3dof",
        lower_body_controller: str = "stand",
        lmo_path: str | None = None,
        lmo_revision: str | None = None,
        render_mode: str = "rgb_array",
        robot_id: str | None = None,
    ) -> None:
        if task not in TASKS:
            raise ValueError(f"Unknown agibot_x2 task {task!r}; choose one of {', '.join(TASKS)}")
        if obs_type not in ("pixels_agent_pos", "agent_pos"):
            raise ValueError(f"obs_type must be 'pixels_agent_pos' or 'agent_pos', got {obs_type!r}")
        self.spec_task = TASKS[task]
        self.task = task
        self.obs_type = obs_type
        self.fps = int(fps)
        self.render_mode = render_mode
        self.render_camera = render_camera
        self.metadata = {**self.metadata, "render_fps": self.fps}
        h, w = (int(v) for v in image_size)
        self.robot_config = AgibotX2Config(
            id=robot_id or f"agibot_x2_env_{id(self):x}",
            backend="sim",
            control_fps=self.fps,
            head_camera=(h, w),
            scene=self.spec_task.scene,
            base_mode=base_mode,
            physics_hz=physics_hz,
            lower_body_hz=lower_body_hz,
            waist=waist,
            lower_body_controller=lower_body_controller,
            lmo_path=lmo_path,
            lmo_revision=lmo_revision,
            action_timeout_s=0.0,  # an env is stepped by the policy at its own pace: no wall-clock watchdog
            seed=0,
        )
        self.robot = AgibotX2(self.robot_config)
        self.task_description = ""
        self._monitor: SuccessMonitor | None = None

        low = np.empty(len(ACTION_KEYS), dtype=np.float32)
        high = np.empty(len(ACTION_KEYS), dtype=np.float32)
        cfg = self.robot_config
        for i, key in enumerate(ACTION_KEYS):
            name = key.rsplit(".", 1)[0]
            if name in ARM_JOINTS:
                low[i], high[i] = joint_params(name).range
            elif key.endswith("gripper.pos"):
                low[i], high[i] = 0.0, 1.0
            elif key == "loco.vx":
                low[i], high[i] = -cfg.max_vx, cfg.max_vx
            elif key == "loco.vy":
                low[i], high[i] = -cfg.max_vy, cfg.max_vy
            elif key == "loco.yaw_rate":
                low[i], high[i] = -cfg.max_yaw_rate, cfg.max_yaw_rate
            else:  # loco.height: 0 = nominal standing height, else the pelvis height target
                low[i], high[i] = 0.0, cfg.height_range[1]
        self.action_space = gym.spaces.Box(low=low, high=high, dtype=np.float32)
        spaces: dict[str, gym.Space] = {
            "agent_pos": gym.spaces.Box(-np.inf, np.inf, shape=(len(STATE_KEYS),), dtype=np.float32)
        }
        if obs_type == "pixels_agent_pos":
            spaces["pixels"] = gym.spaces.Dict(
                {"head": gym.spaces.Box(0, 255, shape=(h, w, 3), dtype=np.uint8)}
            )
        self.observation_space = gym.spaces.Dict(spaces)

    # ------------------------------------------------------------------ twin access
    @property
    def sim(self) -> X2Sim:
        """The live twin of the current episode (rebuilt on every reset)."""
        if not self.robot.is_connected:
            raise RuntimeError("AgibotX2Env: call reset() first")
        return self.robot.backend.sim

    @property
    def success_check(self) -> SuccessCheck:
        if self._monitor is None:
            raise RuntimeError("AgibotX2Env: call reset() first")
        return self._monitor.check

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        scene_seed = int(seed) if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        if self.robot.is_connected:
            self.robot.disconnect()
        self.robot_config.seed = scene_seed  # read by the sim backend when it builds the twin
        self.robot.connect()
        sim = self.sim
        self.task_description = sim.task
        self._monitor = SuccessMonitor(SuccessCheck(self.spec_task, sim.model), SUCCESS_HOLD_S)
        self._monitor.reset(sim.data, sim.sim_time)
        return self._observation(), {"is_success": False, "seed": scene_seed}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict[str, Any]]:
        arr = np.asarray(action)
        if arr.shape != (len(ACTION_KEYS),):
            raise ValueError(
                f"agibot_x2 env action has shape {arr.shape}; expected ({len(ACTION_KEYS)},): the whole-body "
                f"action in the order {list(ACTION_KEYS)}"
            )
        self.robot.send_action(arr.astype(np.float64))
        success = self._update_success()
        obs = self._observation()
        info = {"is_success": success}
        return obs, float(success), success, False, info

    def render(self) -> np.ndarray:
        return self.sim.render(self.render_camera)

    def close(self) -> None:
        if self.robot.is_connected:
            self.robot.disconnect()

    # ------------------------------------------------------------------ helpers
    def _update_success(self) -> bool:
        sim = self.sim
        return self._monitor.update(sim.data, sim.sim_time)

    def _observation(self) -> dict[str, Any]:
        sim = self.sim
        # The twin's state vector is in joints.STATE_KEYS order (the robot's observation dict, as an array).
        obs: dict[str, Any] = {"agent_pos": sim.state_vector().astype(np.float32)}
        if self.obs_type == "pixels_agent_pos":
            obs["pixels"] = {"head": sim.render("head")}
        return obs
