"""Locomotion teleops driven headless: injected key events (keyboard) and posted SDL events (gamepad)."""

from __future__ import annotations

import pytest

from lerobot_wbvla.robots.agibot_x2 import lower_body
from lerobot_wbvla.robots.agibot_x2.joints import LOCO_KEYS
from lerobot_wbvla.teleoperators.x2_loco import (
    GamepadDisconnectedError,
    X2LocoGamepad,
    X2LocoGamepadConfig,
    X2LocoKeyboard,
    X2LocoKeyboardConfig,
)


def test_keyboard_keys_to_velocity_and_height():
    kb = X2LocoKeyboard(
        X2LocoKeyboardConfig(max_vx=0.4, max_vy=0.2, max_yaw_rate=0.6, height_rate=0.3, fps=30)
    )
    kb.connect()
    try:
        assert list(kb.action_features) == list(LOCO_KEYS)
        stand = lower_body.nominal_height()
        assert kb.get_action() == {"loco.vx": 0.0, "loco.vy": 0.0, "loco.yaw_rate": 0.0, "loco.height": stand}

        kb.press("w")
        kb.press("a")
        kb.press("e")
        a = kb.get_action()
        assert (a["loco.vx"], a["loco.vy"], a["loco.yaw_rate"]) == (0.4, 0.2, -0.6)
        kb.press("s")  # forward and backward together cancel
        assert kb.get_action()["loco.vx"] == 0.0
        for key in "wase":
            kb.release(key)
        assert kb.get_action()["loco.vx"] == 0.0

        # Hold "f" (down) for 10 calls: 10 * 0.3 / 30 = 0.1 m lower, then it stops at the bottom of the range.
        kb.press("f")
        for _ in range(10):
            a = kb.get_action()
        assert a["loco.height"] == pytest.approx(stand - 0.1)
        for _ in range(100):
            a = kb.get_action()
        assert a["loco.height"] == pytest.approx(lower_body.min_height())
        kb.release("f")
        kb.press("x")  # back to standing
        assert kb.get_action()["loco.height"] == pytest.approx(stand)
    finally:
        kb.disconnect()
    assert not kb.is_connected


@pytest.fixture
def pygame_events():
    import pygame

    def post(kind: str, **attrs):
        etype = {
            "axis": pygame.JOYAXISMOTION,
            "down": pygame.JOYBUTTONDOWN,
            "up": pygame.JOYBUTTONUP,
            "removed": pygame.JOYDEVICEREMOVED,
        }[kind]
        pygame.event.post(pygame.event.Event(etype, joy=0, instance_id=0, **attrs))

    return post


def test_gamepad_sticks_deadzone_buttons_and_unplug(pygame_events):
    cfg = X2LocoGamepadConfig(require_device=False, max_vx=0.5, max_vy=0.3, max_yaw_rate=0.8, deadzone=0.1)
    pad = X2LocoGamepad(cfg)
    pad.connect()
    try:
        stand = lower_body.nominal_height()
        assert pad.get_action()["loco.vx"] == 0.0

        pygame_events("axis", axis=1, value=-1.0)  # left stick fully up = forward
        pygame_events("axis", axis=0, value=0.55)  # right half-way = strafe right (vy < 0)
        pygame_events("axis", axis=3, value=0.05)  # inside the dead zone
        a = pad.get_action()
        assert a["loco.vx"] == pytest.approx(0.5)
        assert a["loco.vy"] == pytest.approx(-0.3 * (0.55 - 0.1) / 0.9)
        assert a["loco.yaw_rate"] == 0.0
        pygame_events("axis", axis=3, value=-1.0)  # right stick left = turn left
        pygame_events("axis", axis=4, value=1.0)  # right stick down = lower the pelvis
        a = pad.get_action()
        assert a["loco.yaw_rate"] == pytest.approx(0.8)
        assert a["loco.height"] == pytest.approx(stand - cfg.height_rate / cfg.fps)
        pygame_events("axis", axis=4, value=0.0)
        pygame_events("down", button=cfg.button_stand)
        assert pad.get_action()["loco.height"] == pytest.approx(stand)
        pygame_events("up", button=cfg.button_stand)
        pygame_events("down", button=3)  # LeRobot's "success" button
        pad.get_action()
        events = pad.get_teleop_events()
        assert any(v for k, v in events.items() if k.value == "success")

        pygame_events("removed")
        with pytest.raises(GamepadDisconnectedError, match="gamepad .* was disconnected"):
            pad.get_action()
    finally:
        pad.disconnect()


def test_gamepad_required_but_absent_is_a_clear_error():
    pad = X2LocoGamepad(X2LocoGamepadConfig(require_device=True, joystick_index=3))
    with pytest.raises(ConnectionError, match="No gamepad at SDL index 3"):
        pad.connect()
    assert not pad.is_connected


def test_loco_config_validation():
    with pytest.raises(ValueError, match="stand_height"):
        X2LocoKeyboardConfig(stand_height=0.9)
    with pytest.raises(ValueError, match="max_vx"):
        X2LocoGamepadConfig(max_vx=0.0)
