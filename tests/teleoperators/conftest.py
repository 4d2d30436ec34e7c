"""Shared helpers for the teleoperator tests: simulated leader arms on `dxlsim://` ports."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from lerobot_wbvla.teleoperators.dxl_sim import ServoChain, register_chain, unregister_chain
from lerobot_wbvla.teleoperators.x2_leader.sim import make_leader_arm_chain

_count = itertools.count()

TICKS_PER_RAD = 4095 / (2 * 3.141592653589793)  # LeRobot's DEGREES normalisation uses 4095 ticks per turn


@dataclass
class LeaderRig:
    left: ServoChain
    right: ServoChain
    left_port: str
    right_port: str

    def chain(self, side: str) -> ServoChain:
        return self.left if side == "left" else self.right


@pytest.fixture
def leader_rig():
    """Two simulated X2 leader arms (7 joints + trigger each) registered under fresh port names."""
    n = next(_count)
    names = (f"x2left{n}", f"x2right{n}")
    left = register_chain(names[0], make_leader_arm_chain())
    right = register_chain(names[1], make_leader_arm_chain())
    yield LeaderRig(left, right, f"dxlsim://{names[0]}", f"dxlsim://{names[1]}")
    for name in names:
        unregister_chain(name)


@pytest.fixture
def scripted_operator_hands(monkeypatch):
    """Answers calibration prompts: ENTER to every `input()`, and a trigger squeeze while ranges are recorded.

    Returns a dict `squeeze` {side: ticks} (signed travel of each trigger shaft) that the test may edit before
    calling connect(); the recorder moves the trigger there and back, then "presses ENTER".
    """
    import lerobot.motors.motors_bus as motors_bus

    state = {"squeeze": {"left": 400, "right": 400}, "rig": None, "side_order": ["left", "right"], "calls": 0}

    monkeypatch.setattr("builtins.input", lambda *a, **k: "")

    def enter_pressed() -> bool:
        rig: LeaderRig = state["rig"]
        side = state["side_order"][0]
        servo = rig.chain(side).servo(8)
        step = state["calls"]
        state["calls"] += 1
        if step == 0:
            state["rest"] = servo.shaft
            servo.move_to(servo.shaft + state["squeeze"][side])
            return False
        servo.move_to(state["rest"])
        state["calls"] = 0
        state["side_order"].append(state["side_order"].pop(0))
        return True

    monkeypatch.setattr(motors_bus, "enter_pressed", enter_pressed)
    return state
