"""Turns normalised locomotion inputs (keys or sticks) into the `loco.*` part of the whole-body action.

One implementation for every input device, so the keyboard and the gamepad give the same command for the same
intent: velocities scale with the input (in [-1, 1]), the pelvis height integrates the up/down input at
`height_rate` and stays inside `height_range`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...robots.agibot_x2.joints import LOCO_KEYS
from .config_x2_loco import X2LocoTeleopConfig


@dataclass
class LocoInput:
    """Normalised intent, each in [-1, 1]: forward (+ forward), lateral (+ left), turn (+ left),
    height (+ up); `stand` resets the height to the standing height."""

    forward: float = 0.0
    lateral: float = 0.0
    turn: float = 0.0
    height: float = 0.0
    stand: bool = False


def _clip(value: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, value))


class LocoCommand:
    """Stateful mapping `LocoInput` -> `{loco.vx, loco.vy, loco.yaw_rate, loco.height}`."""

    def __init__(self, config: X2LocoTeleopConfig) -> None:
        self.config = config
        self.height = config.stand_height

    def reset(self) -> None:
        self.height = self.config.stand_height

    def step(self, inp: LocoInput) -> dict[str, float]:
        c = self.config
        if inp.stand:
            self.height = c.stand_height
        else:
            self.height = _clip(
                self.height + _clip(inp.height, -1, 1) * c.height_rate / c.fps, *c.height_range
            )
        values = (
            _clip(inp.forward, -1, 1) * c.max_vx,
            _clip(inp.lateral, -1, 1) * c.max_vy,
            _clip(inp.turn, -1, 1) * c.max_yaw_rate,
            self.height,
        )
        return {key: float(v) for key, v in zip(LOCO_KEYS, values, strict=True)}
