"""Locomotion teleoperators for the AgiBot X2: `x2_loco_keyboard` and `x2_loco_gamepad`."""

from .command import LocoCommand, LocoInput
from .config_x2_loco import X2LocoGamepadConfig, X2LocoKeyboardConfig, X2LocoTeleopConfig
from .x2_loco_gamepad import GamepadDisconnectedError, X2LocoGamepad
from .x2_loco_keyboard import X2LocoKeyboard

__all__ = [
    "GamepadDisconnectedError",
    "LocoCommand",
    "LocoInput",
    "X2LocoGamepad",
    "X2LocoGamepadConfig",
    "X2LocoKeyboard",
    "X2LocoKeyboardConfig",
    "X2LocoTeleopConfig",
]
