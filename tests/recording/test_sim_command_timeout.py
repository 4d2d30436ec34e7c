"""The robot's wall-clock command watchdog protects hardware; the twin only moves inside `send_action`, so in sim it is
off by default (a stall on a busy machine must not put the twin in "hold" and make the executed action differ from
the recorded one). An explicit `--robot.action_timeout_s` applies to both backends."""

from __future__ import annotations

import time

import pytest

from lerobot_wbvla.robots.agibot_x2 import AgibotX2, AgibotX2Config


def test_command_timeout_defaults_per_backend():
    assert AgibotX2Config().command_timeout_s == 0.0
    assert AgibotX2Config(backend="aimdk").command_timeout_s == 0.5
    assert AgibotX2Config(action_timeout_s=0.3).command_timeout_s == 0.3
    assert AgibotX2Config(backend="aimdk", action_timeout_s=0.2).command_timeout_s == 0.2


def test_a_stall_in_sim_changes_nothing_the_robot_executes():
    robot = AgibotX2(AgibotX2Config(id="stall-x2", head_camera=(48, 64)))
    robot.connect()
    try:
        state = robot.backend.sim.state()
        action = {k: float(state.get(k, 0.0)) for k in robot.action_features}
        action["right_shoulder_pitch.pos"] -= 0.1
        assert robot.send_action(action) == pytest.approx(action, abs=1e-9)
        time.sleep(0.8)  # longer than the hardware timeout: a CPU stall between two actions
        assert robot.safe_state is None
        action["right_shoulder_pitch.pos"] -= 0.1
        assert robot.send_action(action) == pytest.approx(action, abs=1e-9)
        assert robot.backend.sim.targets["right_shoulder_pitch"] == pytest.approx(
            action["right_shoulder_pitch.pos"]
        )
    finally:
        robot.disconnect()
