"""Lower-body controllers: what drives the legs, given the robot state and the locomotion command.

The whole-body action never commands the legs; a lower-body controller does, at `lower_body_hz` (50 Hz by
default). Until the LMO policy exists the built-in controllers stand and squat (pelvis height from `loco.height`);
neither can walk, so in `base_mode=physical` they ignore vx/vy/yaw_rate and say so (a warning once per episode):
- `stand` (default, balance.py): a model-based balance controller: CoM over the feet from the measured state
  (capture-point ankle strategy, hip strategy, pelvis shift through leg IK, gravity feed-forward, payload observer);
- `pd_stance`: the plain stiff PD stance (squat-IK pose, IMU pitch fed back into the hips), the baseline it is
  compared with (bench/stand_balance.py).
The LMO policy (lmo/controller.py) implements the same protocol and registers itself here with
`@register_lower_body_controller("lmo")`; `--robot.lower_body_controller=lmo --robot.lmo_path=...` selects it.
A factory may take keyword options (the LMO: its policy's path and revision); `make_lower_body_controller(name,
**options)` passes them on and names the options a factory does not take. The registry is how robots/ uses a
controller defined in a learning layer without importing it (the plugin imports lmo/controller.py).
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from . import params as P
from .backend import LocoCommand
from .joints import LEFT_LEG_JOINTS, RIGHT_LEG_JOINTS

logger = logging.getLogger(__name__)


@runtime_checkable
class LowerBodyController(Protocol):
    """Computes leg joint position targets (and optionally waist targets) at the lower-body rate.

    `state` holds the robot observation without images (joints.STATE_KEYS: joint `.pos`/`.vel`, IMU, foot
    contacts); `loco` the current locomotion command; `dt` the controller period (s). The result maps joint
    names (joints.LEG_JOINTS, optionally joints.WAIST_JOINTS) to position targets in rad; joints left out keep
    their previous targets. The PD gains of the twin/robot turn targets into torques.
    """

    def reset(self) -> None: ...

    def compute(self, state: Mapping[str, float], loco: LocoCommand, dt: float) -> dict[str, float]: ...


_REGISTRY: dict[str, Callable[..., LowerBodyController]] = {}


def register_lower_body_controller(name: str) -> Callable:
    """Class/factory decorator: make a controller selectable by name (`--robot.lower_body_controller=name`)."""

    def wrap(factory: Callable[..., LowerBodyController]):
        _REGISTRY[name] = factory
        return factory

    return wrap


def make_lower_body_controller(name: str, **options: Any) -> LowerBodyController:
    """A new controller `name`, built with the keyword `options` its factory takes (e.g. the LMO's `path`)."""
    if name not in _REGISTRY:
        raise ValueError(
            f"Unknown lower-body controller {name!r}; registered: {', '.join(sorted(_REGISTRY))}. "
            "Import the module that registers it first (the plugin lerobot_policy_wbvla imports them all, "
            "`lmo` included)."
        )
    factory = _REGISTRY[name]
    if options:
        try:
            inspect.signature(factory).bind(**options)
        except TypeError as e:
            raise ValueError(
                f"lower-body controller {name!r} does not take the option(s) {sorted(options)}: {e}"
            ) from None
    return factory(**options)


def nominal_height() -> float:
    """Pelvis height of the standing pose (params.STANCE_LEG) with flat feet on the floor (m)."""
    hip = P.STANCE_LEG["hip_pitch"]
    knee = P.STANCE_LEG["knee"]
    return P.THIGH_LENGTH * math.cos(hip) + P.SHANK_LENGTH * math.cos(knee + hip) + P.ANKLE_TO_SOLE


def min_height() -> float:
    """Lowest pelvis of the squat IK (m): below ~0.52 m the ankle pitch passes its -0.803 rad limit."""
    return 0.53


def max_height() -> float:
    """Highest pelvis the squat IK reaches with the knee still bent by 0.05 rad (m)."""
    return _height_of_knee(0.05)


def _height_of_knee(knee: float) -> float:
    a, b = P.THIGH_LENGTH, P.SHANK_LENGTH
    return math.sqrt(a * a + b * b + 2 * a * b * math.cos(knee)) + P.ANKLE_TO_SOLE


def stance_leg_pose(height: float | None = None) -> dict[str, float]:
    """Leg joint angles that put the pelvis at `height` (m) with flat feet under the hips (sagittal two-link IK:
    thigh from hip pitch to knee, shank from knee to ankle). None = params.STANCE_LEG."""
    if height is None:
        pose = dict(P.STANCE_LEG)
    else:
        a, b = P.THIGH_LENGTH, P.SHANK_LENGTH
        d = min(max(height, min_height()), max_height()) - P.ANKLE_TO_SOLE
        cos_inner = (a * a + b * b - d * d) / (2 * a * b)
        inner = math.acos(max(-1.0, min(1.0, cos_inner)))
        knee = math.pi - inner
        alpha = math.asin(max(-1.0, min(1.0, b * math.sin(inner) / d)))  # thigh forward of vertical
        pose = {
            "hip_pitch": -alpha,
            "hip_roll": 0.0,
            "hip_yaw": 0.0,
            "knee": knee,
            "ankle_pitch": -(knee - alpha),
            "ankle_roll": 0.0,
        }
    out: dict[str, float] = {}
    for joints in (LEFT_LEG_JOINTS, RIGHT_LEG_JOINTS):
        for name in joints:
            out[name] = pose[name.split("_", 1)[1]]
    return out


class WalkWarning:
    """For controllers that cannot walk: `warn_if_walking(loco)` logs one warning per episode (reset) when the
    command asks for motion, so a user driving vx/vy/yaw_rate in `base_mode=physical` learns why nothing moves."""

    def reset(self) -> None:
        self._walk_warned = False

    def warn_if_walking(self, loco: LocoCommand) -> None:
        if not getattr(self, "_walk_warned", False) and not loco.is_zero_motion():
            self._walk_warned = True
            logger.warning(
                "The '%s' lower-body controller cannot walk: loco vx=%.3g vy=%.3g yaw_rate=%.3g is ignored (the "
                "robot only stands and squats). Use base_mode=kinematic to move the base, or a walking "
                "controller (the LMO policy) when one is registered.",
                getattr(self, "name", type(self).__name__),
                loco.vx,
                loco.vy,
                loco.yaw_rate,
            )


@register_lower_body_controller("pd_stance")
class PDStanceController(WalkWarning):
    """PD stance: legs at the squat-IK pose for the commanded pelvis height (height 0 = nominal stance), the
    height slewed at `height_rate` m/s. The pelvis pitch read from the IMU is fed back into the hip pitch targets
    (gain `pitch_gain`) to keep the pelvis upright while the knees sag under load in a squat. No balance strategy:
    it tips over under a forward load the ankles cannot hold (kept as the baseline of bench/stand_balance.py).
    Does not walk: vx, vy and yaw_rate are ignored (with a warning once per episode)."""

    name = "pd_stance"

    def __init__(self, height_rate: float = 0.15, pitch_gain: float = 1.0) -> None:
        self.height_rate = height_rate
        self.pitch_gain = pitch_gain
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._height: float | None = None

    def compute(self, state: Mapping[str, float], loco: LocoCommand, dt: float) -> dict[str, float]:
        self.warn_if_walking(loco)
        target = loco.height if loco.height > 0 else nominal_height()
        if self._height is None:
            self._height = nominal_height()
        step = self.height_rate * dt
        self._height += max(-step, min(step, target - self._height))
        out = stance_leg_pose(self._height)
        pitch = pelvis_pitch(state)
        for joint in ("left_hip_pitch", "right_hip_pitch"):
            out[joint] += self.pitch_gain * pitch
        return out


def pelvis_pitch(state: Mapping[str, float]) -> float:
    """Pelvis pitch (rad, positive = leaning forward) from the IMU quaternion in a state dict (0 if absent)."""
    w = state.get("imu.quat_w", 1.0)
    x = state.get("imu.quat_x", 0.0)
    y = state.get("imu.quat_y", 0.0)
    z = state.get("imu.quat_z", 0.0)
    return math.asin(max(-1.0, min(1.0, 2.0 * (w * y - z * x))))


# The default controller lives in its own module (it needs the robot model); importing it registers `stand`.
from . import balance  # noqa: E402,F401
