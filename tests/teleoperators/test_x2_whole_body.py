"""x2_whole_body: leader arms + keyboard locomotion -> the whole-body action, driving the real X2 twin."""

from __future__ import annotations

from dataclasses import dataclass

import draccus
import pytest
from lerobot.teleoperators.config import TeleoperatorConfig
from lerobot.teleoperators.utils import make_teleoperator_from_config

from lerobot_wbvla.robots.agibot_x2 import AgibotX2, AgibotX2Config, sim_registry
from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS
from lerobot_wbvla.teleoperators.x2_leader import X2LeaderConfig  # noqa: F401  (registers x2_leader)
from lerobot_wbvla.teleoperators.x2_loco import X2LocoGamepadConfig
from lerobot_wbvla.teleoperators.x2_whole_body import X2WholeBody, X2WholeBodyConfig

from .conftest import TICKS_PER_RAD


@dataclass
class _Cli:
    teleop: TeleoperatorConfig


def test_cli_parses_nested_arms_and_loco_choice():
    args = [
        "--teleop.type=x2_whole_body",
        "--teleop.id=rig1",
        "--teleop.arms.left_port=/dev/ttyUSB0",
        "--teleop.arms.right_port=/dev/ttyUSB1",
        "--teleop.arms.inverted_joints=[right_elbow]",
        "--teleop.loco.type=x2_loco_gamepad",
        "--teleop.loco.max_vx=0.3",
    ]
    cfg = draccus.parse(_Cli, args=args).teleop
    assert isinstance(cfg, X2WholeBodyConfig)
    assert isinstance(cfg.loco, X2LocoGamepadConfig) and cfg.loco.max_vx == 0.3
    leader = cfg.leader_config()
    assert (leader.type, leader.id, leader.inverted_joints) == ("x2_leader", "rig1", ["right_elbow"])
    default = draccus.parse(_Cli, args=args[:4]).teleop
    assert default.loco.type == "x2_loco_keyboard"


def test_whole_body_teleop_drives_the_twin(leader_rig, tmp_path, scripted_operator_hands):
    scripted_operator_hands["rig"] = leader_rig
    cfg = X2WholeBodyConfig(
        id="wb",
        calibration_dir=tmp_path,
        arms=X2LeaderConfig(left_port=leader_rig.left_port, right_port=leader_rig.right_port),
    )
    teleop = make_teleoperator_from_config(cfg)
    assert isinstance(teleop, X2WholeBody)
    assert list(teleop.action_features) == list(ACTION_KEYS)

    robot = AgibotX2(AgibotX2Config(id="wb-twin", head_camera=(48, 64), action_timeout_s=0))
    teleop.connect()
    robot.connect()
    try:
        assert list(teleop.action_features) == list(robot.action_features)
        sim = sim_registry.lookup("wb-twin")
        x0 = sim.base_pose()[0].copy()
        # The operator bends the left elbow to -0.6 rad, squeezes the right trigger fully, holds "w".
        left, right = leader_rig.left, leader_rig.right
        left.servo(4).move_to(left.servo(4).shaft - round(0.6 * TICKS_PER_RAD))
        right.servo(8).hold(right.servo(8).shaft + 400)
        teleop.loco.press("w")
        for _ in range(30):  # one second at 30 Hz
            action = teleop.get_action()
            robot.send_action(action)
        obs = robot.get_observation()
        assert action["left_elbow.pos"] == pytest.approx(-0.6, abs=2e-3)
        assert action["right_gripper.pos"] == pytest.approx(1.0)
        assert obs["left_elbow.pos"] == pytest.approx(-0.6, abs=0.05)
        assert obs["right_gripper.pos"] > 0.8
        moved = sim.base_pose()[0] - x0
        assert moved[0] > 0.3 * teleop.loco.config.max_vx  # walked forward (kinematic base, ramped speed)
        assert abs(moved[1]) < 0.05
    finally:
        robot.disconnect()
        teleop.disconnect()
    assert not teleop.is_connected
