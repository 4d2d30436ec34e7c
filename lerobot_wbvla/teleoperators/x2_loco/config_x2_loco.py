"""Configurations of the locomotion teleoperators: `x2_loco_keyboard` and `x2_loco_gamepad`.

Both produce the locomotion part of the whole-body action (docs/CONTRACTS.md): `loco.vx`, `loco.vy` (m/s, base
frame, +x forward, +y left), `loco.yaw_rate` (rad/s, + = turn left) and `loco.height` (m, pelvis height target).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import draccus
from lerobot.teleoperators.config import TeleoperatorConfig

from ...robots.agibot_x2 import lower_body


@dataclass(kw_only=True)
class X2LocoTeleopConfig(TeleoperatorConfig, draccus.ChoiceRegistry):
    """Speed limits and height handling shared by the keyboard and the gamepad.

    It is also a choice type of its own (draccus treats a class as one when `ChoiceRegistry` is a direct base),
    with a registry holding only the locomotion teleops, so that `x2_whole_body` can nest one as
    `--teleop.loco.type=...`. A field typed with LeRobot's full teleop registry would contain `x2_whole_body`
    itself, which draccus cannot expand."""

    _choice_registry: ClassVar[dict[str, Any]] = {}

    # Forward speed (m/s) at full stick / while the forward key is held. X2 daily-use speed is <= 0.8 m/s.
    max_vx: float = 0.5
    # Sideways speed (m/s) at full stick / key.
    max_vy: float = 0.3
    # Yaw rate (rad/s) at full stick / key.
    max_yaw_rate: float = 0.8
    # Pelvis height (m) of the standing pose; the command starts here and the "stand" input returns here.
    # Default: the X2 stance's pelvis height (robots/agibot_x2/lower_body.nominal_height, ~0.663 m).
    stand_height: float = field(default_factory=lower_body.nominal_height)
    # Lowest and highest pelvis height target (m), squat to stand. Default: what the X2 lower body reaches
    # (lower_body.min_height / max_height, ~0.53-0.675 m).
    height_range: tuple[float, float] = field(
        default_factory=lambda: (lower_body.min_height(), lower_body.max_height())
    )
    # Height change (m/s) while the up/down input is fully on.
    height_rate: float = 0.15
    # Rate (Hz) at which get_action is called (lerobot-record's --dataset.fps); the height integrates over 1/fps.
    fps: int = 30

    def __post_init__(self) -> None:
        lo, hi = self.height_range
        if not lo < hi:
            raise ValueError(
                f"--teleop.height_range must be (low, high) with low < high, got {self.height_range}"
            )
        if not lo <= self.stand_height <= hi:
            raise ValueError(
                f"--teleop.stand_height={self.stand_height} is outside --teleop.height_range={self.height_range}"
            )
        for name in ("max_vx", "max_vy", "max_yaw_rate", "height_rate", "fps"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--teleop.{name} must be > 0, got {getattr(self, name)}")


@X2LocoTeleopConfig.register_subclass("x2_loco_keyboard")
@TeleoperatorConfig.register_subclass("x2_loco_keyboard")
@dataclass(kw_only=True)
class X2LocoKeyboardConfig(X2LocoTeleopConfig):
    """Hold keys to walk: w/s forward/back, a/d left/right, q/e turn left/right, r/f raise/lower the pelvis,
    x back to the standing height. (lerobot-record keeps the arrow keys and Esc for episode control.)"""

    key_forward: str = "w"
    key_backward: str = "s"
    key_left: str = "a"
    key_right: str = "d"
    key_turn_left: str = "q"
    key_turn_right: str = "e"
    key_up: str = "r"
    key_down: str = "f"
    key_stand: str = "x"


@X2LocoTeleopConfig.register_subclass("x2_loco_gamepad")
@TeleoperatorConfig.register_subclass("x2_loco_gamepad")
@dataclass(kw_only=True)
class X2LocoGamepadConfig(X2LocoTeleopConfig):
    """Left stick walks (up = forward, sideways = strafe), right stick turns (sideways) and raises/lowers the
    pelvis (up/down); the `button_stand` button returns to the standing height. Axis numbers are SDL's raw joystick
    axes (Xbox-style pads: 0 left X, 1 left Y, 3 right X, 4 right Y; stick up/left reads negative)."""

    # Which joystick (SDL device index) to use.
    joystick_index: int = 0
    axis_forward: int = 1
    axis_lateral: int = 0
    axis_turn: int = 3
    axis_height: int = 4
    button_stand: int = 2
    # Stick values below this magnitude read as 0 (stick drift).
    deadzone: float = 0.1
    # Fail at connect when no gamepad is plugged in. With false the teleop waits for events (headless tests inject
    # them with pygame.event.post).
    require_device: bool = True
