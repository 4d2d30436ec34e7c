"""The LeRobot robot `agibot_x2` (AgiBot X2 Ultra, whole-body action interface).

Action (docs/CONTRACTS.md): 14 arm joint targets, 2 gripper closures and a locomotion command
(`loco.vx`, `loco.vy`, `loco.yaw_rate`, `loco.height`); the legs are driven on the robot side by a lower-body
controller. Observation: joint positions/velocities, IMU, foot contacts, head camera (+ wrist cameras).

Safety lives here, in front of every backend:
- arm targets are clamped to the published joint ranges and to `max_joint_step` rad per tick (relative to the
  previous target), grippers to [0, 1] and `max_gripper_step`, loco values to the configured limits;
- NaN/inf in an action -> the robot holds and `send_action` raises ValueError naming the keys;
- unknown keys, missing keys or a wrong-length vector -> ValueError naming them (nothing is sent). One exception:
  a dict with none of the four `loco.*` keys is an arm-only action and locomotion stays stopped at the nominal
  height (a warning says so once per connection): `lerobot-rollout` (LeRobot 0.6.1) sends a robot only its
  `.pos`/`.vel` action keys, so this is how a policy drives the X2 there;
- no action for `action_timeout_s` (wall clock; default on hardware only, see the config) -> a watchdog thread
  switches the robot to `on_timeout` (hold or damp) until the next valid action;
- when the sim backend's twin was reset (a new scene), the per-tick step limits restart from the reset pose;
- disconnect leaves the robot in `on_disconnect` (hold or damp) with locomotion stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np
from lerobot.robots.robot import Robot

from .backend import LocoCommand, WholeBodyCommand, X2Backend
from .config_agibot_x2 import AgibotX2Config
from .joints import ACTION_KEYS, ARM_JOINTS, GRIPPERS, LOCO_KEYS, STATE_KEYS
from .params import joint_params

logger = logging.getLogger(__name__)


class ActionError(ValueError):
    """A whole-body action that cannot be executed (bad keys, bad shape, non-finite values)."""


def make_backend(config: AgibotX2Config) -> X2Backend:
    if config.backend == "sim":
        from .sim_backend import SimBackend

        return SimBackend(config)
    if config.backend == "aimdk":
        try:
            from .aimdk_client import AimdkBackend
        except ImportError as e:
            raise ImportError(
                f"--robot.backend=aimdk needs lerobot_wbvla.robots.agibot_x2.aimdk_client.AimdkBackend: {e}"
            ) from e
        return AimdkBackend(config)
    raise ValueError(f"Unknown --robot.backend={config.backend!r}; use 'sim' or 'aimdk'")


class AgibotX2(Robot):
    """AgiBot X2 Ultra with a whole-body action (arms + grippers + locomotion command)."""

    config_class = AgibotX2Config
    name = "agibot_x2"

    def __init__(self, config: AgibotX2Config) -> None:
        super().__init__(config)
        self.config = config
        self.backend: X2Backend | None = None
        self._lock = threading.RLock()
        # Last sent arm targets and gripper closures (ACTION_KEYS order): the per-tick step limits start here.
        self._last_pos = np.zeros(len(ARM_JOINTS) + len(GRIPPERS))
        self._last_action_time = 0.0
        self._safe_state: str | None = None  # "hold"/"damp" after a timeout or fault, None while commanded
        self._watchdog: threading.Thread | None = None
        self._stop = threading.Event()
        self._ranges = {j: joint_params(j).range for j in ARM_JOINTS}
        # Limits over the action vector (ACTION_KEYS order: arms, grippers, vx, vy, yaw_rate; loco.height is
        # clamped apart, 0 = nominal height) and per-tick steps over arms + grippers, built once: _clamp runs on
        # every control tick.
        c = config
        self._n_pos = len(ARM_JOINTS) + len(GRIPPERS)
        self._lo = np.array([self._ranges[j][0] for j in ARM_JOINTS] + [0.0] * len(GRIPPERS))
        self._hi = np.array([self._ranges[j][1] for j in ARM_JOINTS] + [1.0] * len(GRIPPERS))
        self._lo = np.concatenate([self._lo, [-c.max_vx, -c.max_vy, -c.max_yaw_rate]])
        self._hi = np.concatenate([self._hi, [c.max_vx, c.max_vy, c.max_yaw_rate]])
        self._step = np.array([c.max_joint_step] * len(ARM_JOINTS) + [c.max_gripper_step] * len(GRIPPERS))
        self._neg_step = -self._step
        self._warned_no_loco = False

    def __str__(self) -> str:
        """LeRobot's "<id> <class>" when an id is set; otherwise the class and backend (LeRobot printed
        "None AgibotX2")."""
        if self.id:
            return f"{self.id} {type(self).__name__}"
        return f"{type(self).__name__} ({self.config.backend} backend)"

    # ------------------------------------------------------------------ features
    @cached_property
    def observation_features(self) -> dict[str, Any]:
        h, w = self.config.head_camera
        feats: dict[str, Any] = dict.fromkeys(STATE_KEYS, float)
        for cam in self.config.camera_names:
            feats[cam] = (h, w, 3)
        return feats

    @cached_property
    def action_features(self) -> dict[str, type]:
        return dict.fromkeys(ACTION_KEYS, float)

    @property
    def cameras(self) -> dict[str, tuple[int, int, int]]:
        """Camera name -> (H, W, 3). lerobot-record sizes its image writer with `len(robot.cameras)` (added by the
        recording area so that `lerobot-record --robot.type=agibot_x2` runs)."""
        h, w = self.config.head_camera
        return {cam: (h, w, 3) for cam in self.config.camera_names}

    # ------------------------------------------------------------------ lifecycle
    @property
    def is_connected(self) -> bool:
        return self.backend is not None and self.backend.is_connected

    @property
    def is_calibrated(self) -> bool:
        return True  # joint encoders are absolute; nothing to calibrate

    def calibrate(self) -> None:
        pass

    def configure(self) -> None:
        pass

    @property
    def safe_state(self) -> str | None:
        """ "hold" or "damp" while the robot is in a safe state (after a timeout or a bad action), else None."""
        return self._safe_state

    def connect(self, calibrate: bool = True) -> None:
        if self.is_connected:
            raise ConnectionError(f"{self} is already connected")
        backend = make_backend(self.config)
        backend.connect()
        self.backend = backend
        self._warned_no_loco = False
        self._sync_targets_to_state()
        self._last_action_time = time.monotonic()
        # After connect the robot holds its pose; the watchdog arms with the first action.
        self._safe_state = "hold"
        if self.config.command_timeout_s > 0:
            self._stop.clear()
            self._watchdog = threading.Thread(target=self._watch, name=f"{self}-watchdog", daemon=True)
            self._watchdog.start()
        logger.info("%s connected (backend=%s)", self, self.config.backend)

    def disconnect(self) -> None:
        if self.backend is None:
            return
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=2.0)
            self._watchdog = None
        with self._lock:
            self.backend.disconnect()
            self.backend = None
        logger.info("%s disconnected (left in %s)", self, self.config.on_disconnect)

    def _require_connected(self) -> X2Backend:
        if not self.is_connected:
            raise ConnectionError(f"{self} is not connected; call connect() first")
        return self.backend

    # ------------------------------------------------------------------ observation
    def get_observation(self) -> dict[str, Any]:
        with self._lock:
            backend = self._require_connected()
            obs: dict[str, Any] = backend.read_state()
            obs.update(backend.read_cameras())
        return obs

    # ------------------------------------------------------------------ action
    def send_action(self, action: Mapping[str, Any] | np.ndarray) -> dict[str, float]:
        """Validate, clamp and send one whole-body action; returns what was actually sent."""
        with self._lock:
            backend = self._require_connected()
            twin_reset = getattr(backend, "take_twin_reset", None)  # sim backend only
            if twin_reset is not None and twin_reset():
                self._sync_targets_to_state()  # a new scene: step limits start from the reset pose
            values = self._parse(action)
            finite = np.isfinite(values)
            if not finite.all():
                bad = [k for k, ok in zip(ACTION_KEYS, finite.tolist(), strict=True) if not ok]
                self._enter_safe_state("hold")
                raise ActionError(
                    f"agibot_x2 action has non-finite values for {bad}; the robot now holds its pose. "
                    "Fix the policy/teleop output and send a finite action to resume."
                )
            command, sent = self._clamp(values)
            backend.send_command(command)
            self._last_pos = np.fromiter(
                sent.values(), float, self._n_pos
            )  # arms + grippers lead ACTION_KEYS
            self._last_action_time = time.monotonic()
            self._safe_state = None
        return sent

    def _parse(self, action: Mapping[str, Any] | np.ndarray) -> np.ndarray:
        """The action as a float64 vector in ACTION_KEYS order (a dict is checked for unknown/missing keys)."""
        if not isinstance(action, Mapping):
            try:
                arr = np.asarray(action, dtype=float)
            except (TypeError, ValueError):
                raise ActionError(self._non_numeric_vector(action)) from None
            if arr.ndim != 1 or arr.shape[0] != len(ACTION_KEYS):
                raise ActionError(
                    f"agibot_x2 action vector has shape {arr.shape}; expected ({len(ACTION_KEYS)},) in the order "
                    f"{list(ACTION_KEYS)}"
                )
            return arr
        unknown = sorted(set(action) - set(ACTION_KEYS))
        if unknown:
            raise ActionError(
                f"agibot_x2 action has unknown key(s) {unknown}; expected exactly {list(ACTION_KEYS)}"
            )
        missing = [k for k in ACTION_KEYS if k not in action]
        arm_only = missing == list(LOCO_KEYS)  # no locomotion command at all: 0 = stop, nominal height
        if missing and not arm_only:
            raise ActionError(f"agibot_x2 action is missing key(s) {missing}; expected {list(ACTION_KEYS)}")
        if arm_only and not self._warned_no_loco:
            self._warned_no_loco = True
            logger.warning(
                "%s: the actions carry no loco.* keys (lerobot-rollout sends only .pos/.vel keys): arms and "
                "grippers follow them, locomotion stays stopped at the nominal height",
                self,
            )
        out = np.empty(len(ACTION_KEYS))
        for i, k in enumerate(ACTION_KEYS):
            v = action.get(k, 0.0) if arm_only else action[k]
            try:
                arr = np.asarray(v, dtype=float)
            except (TypeError, ValueError):
                raise ActionError(
                    f"agibot_x2 action key {k!r} must be a number, got {type(v).__name__} {v!r:.40}; nothing was "
                    "sent"
                ) from None
            if arr.size != 1:
                raise ActionError(f"agibot_x2 action key {k!r} must be a scalar, got shape {arr.shape}")
            out[i] = float(arr.reshape(()))
        return out

    @staticmethod
    def _non_numeric_vector(action: Any) -> str:
        """The error line for an action vector that numpy cannot read as floats, naming the first bad entry."""
        try:
            items = list(action)
        except TypeError:
            return f"agibot_x2 action must be a dict or a vector of numbers, got {type(action).__name__}"
        for i, v in enumerate(items):
            try:
                float(v)
            except (TypeError, ValueError):
                key = ACTION_KEYS[i] if i < len(ACTION_KEYS) else f"index {i}"
                return (
                    f"agibot_x2 action vector entry {i} ({key!r}) must be a number, got {type(v).__name__} "
                    f"{v!r:.40}; nothing was sent"
                )
        return f"agibot_x2 action vector must hold numbers only, in the order {list(ACTION_KEYS)}"

    def _clamp(self, values: np.ndarray) -> tuple[WholeBodyCommand, dict[str, float]]:
        """Joint ranges, per-tick steps and loco limits applied to a finite action vector (ACTION_KEYS order);
        returns the backend command and the sent action dict. Vectorised over arms + grippers + vx/vy/yaw_rate
        (one numpy op per stage: this runs on every control tick)."""
        cfg = self.config
        minimum, maximum = np.minimum, np.maximum
        n_pos = self._n_pos
        clipped = minimum(maximum(values[: n_pos + 3], self._lo), self._hi)
        prev = self._last_pos
        pos = prev + minimum(maximum(clipped[:n_pos] - prev, self._neg_step), self._step)
        height = float(values[n_pos + 3])
        if height > 0:
            height = min(max(height, cfg.height_range[0]), cfg.height_range[1])
        else:
            height = 0.0  # nominal standing height
        sent_values = pos.tolist() + clipped[n_pos:].tolist() + [height]
        sent = dict(zip(ACTION_KEYS, sent_values, strict=True))
        n_arm = len(ARM_JOINTS)
        command = WholeBodyCommand(
            arm_targets=dict(zip(ARM_JOINTS, sent_values[:n_arm], strict=True)),
            grippers=dict(zip(GRIPPERS, sent_values[n_arm:n_pos], strict=True)),
            loco=LocoCommand(*sent_values[n_pos:]),
        )
        return command, sent

    # ------------------------------------------------------------------ safety
    def _sync_targets_to_state(self) -> None:
        state = self.backend.read_state()
        arm = [float(state[f"{j}.pos"]) for j in ARM_JOINTS]
        self._last_pos = np.array(arm + [float(min(max(state[f"{g}.pos"], 0.0), 1.0)) for g in GRIPPERS])

    def _enter_safe_state(self, mode: str) -> None:
        """Hold or damp through the backend; later step limits start from the pose the robot is in."""
        with self._lock:
            if not self.is_connected:
                return
            if mode == "damp":
                self.backend.damp()
            else:
                self.backend.hold()
            self._sync_targets_to_state()
            self._safe_state = mode

    def _watch(self) -> None:
        timeout_s = self.config.command_timeout_s
        period = max(0.01, min(0.05, timeout_s / 4))
        while not self._stop.wait(period):
            if self._safe_state is None and time.monotonic() - self._last_action_time > timeout_s:
                logger.warning(
                    "%s: no action for %.2f s; switching to %s",
                    self,
                    timeout_s,
                    self.config.on_timeout,
                )
                try:
                    self._enter_safe_state(self.config.on_timeout)
                except Exception:  # the watchdog must never die silently mid-run
                    logger.exception("%s: watchdog could not enter the safe state", self)
