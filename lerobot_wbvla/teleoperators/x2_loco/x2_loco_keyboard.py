"""`x2_loco_keyboard`: walk the X2 from the keyboard.

Built on LeRobot's `KeyboardTeleop` input layer: its pynput listener (when the session can capture keys) fills
`event_queue` with `(key, pressed)` and `_drain_pressed_keys` folds them into `current_pressed`. On a headless
machine the listener cannot start; the teleop then still connects and reads whatever is injected with
`press()` / `release()` (how the tests drive it), and produces "stand still" otherwise.
"""

from __future__ import annotations

from lerobot.teleoperators.keyboard.teleop_keyboard import KeyboardTeleop
from lerobot.utils.decorators import check_if_already_connected, check_if_not_connected

from ...robots.agibot_x2.joints import LOCO_KEYS
from .command import LocoCommand, LocoInput
from .config_x2_loco import X2LocoKeyboardConfig


class X2LocoKeyboard(KeyboardTeleop):
    """Locomotion commands from held keys (see X2LocoKeyboardConfig for the key map)."""

    config_class = X2LocoKeyboardConfig
    name = "x2_loco_keyboard"

    def __init__(self, config: X2LocoKeyboardConfig):
        super().__init__(config)
        self.config = config
        self.command = LocoCommand(config)
        self._connected = False

    @property
    def action_features(self) -> dict[str, type]:
        return dict.fromkeys(LOCO_KEYS, float)

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def is_calibrated(self) -> bool:
        return True

    @property
    def has_listener(self) -> bool:
        """True when real key events are captured (pynput on X11/Windows/macOS), False when headless."""
        return self.listener is not None

    @check_if_already_connected
    def connect(self, calibrate: bool = True) -> None:
        KeyboardTeleop.connect.__wrapped__(self)  # starts pynput when possible, warns otherwise
        self.command.reset()
        self._connected = True

    def _on_release(self, key) -> None:
        # LeRobot's KeyboardTeleop disconnects on Esc; lerobot-record already uses Esc to stop recording, and a
        # disconnected teleop would then fail the last get_action. Only record the release.
        if hasattr(key, "char"):
            key = key.char
        self.event_queue.put((key, False))

    # --- event injection (headless use, tests) ---
    def press(self, key: str) -> None:
        self.event_queue.put((key, True))

    def release(self, key: str) -> None:
        self.event_queue.put((key, False))

    @check_if_not_connected
    def get_action(self) -> dict[str, float]:
        self._drain_pressed_keys()
        held = {key for key, down in self.current_pressed.items() if down}
        c = self.config

        def axis(positive: str, negative: str) -> float:
            return float(positive in held) - float(negative in held)

        return self.command.step(
            LocoInput(
                forward=axis(c.key_forward, c.key_backward),
                lateral=axis(c.key_left, c.key_right),
                turn=axis(c.key_turn_left, c.key_turn_right),
                height=axis(c.key_up, c.key_down),
                stand=c.key_stand in held,
            )
        )

    def disconnect(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        self.current_pressed.clear()
        self._connected = False
