"""x2_leader on simulated Dynamixel arms: calibration, joint/gripper mapping, trigger spring, faults."""

from __future__ import annotations

import json
import math

import pytest

from lerobot_wbvla.robots.agibot_x2.joints import ARM_JOINTS, GRIPPERS, LEFT_ARM_JOINTS, RIGHT_ARM_JOINTS
from lerobot_wbvla.teleoperators.x2_leader import LeaderArmDisconnectedError, X2Leader, X2LeaderConfig

from .conftest import TICKS_PER_RAD


def make_leader(rig, tmp_path, **kw) -> X2Leader:
    cfg = X2LeaderConfig(
        left_port=rig.left_port, right_port=rig.right_port, id="test", calibration_dir=tmp_path, **kw
    )
    return X2Leader(cfg)


def calibrated_leader(rig, tmp_path, hands, **kw) -> X2Leader:
    hands["rig"] = rig
    leader = make_leader(rig, tmp_path, **kw)
    leader.connect()
    return leader


def test_calibration_maps_the_pose_to_zero_and_moves_to_radians(
    leader_rig, tmp_path, scripted_operator_hands
):
    # Arbitrary shaft angles when the operator holds the calibration pose.
    for side in ("left", "right"):
        for servo in leader_rig.chain(side).servos[:7]:
            servo.move_to(900 + 137 * servo.servo_id)
    scripted_operator_hands["squeeze"] = {"left": 450, "right": -380}  # right trigger reads backwards
    leader = calibrated_leader(leader_rig, tmp_path, scripted_operator_hands, inverted_joints=["right_elbow"])
    assert leader.is_calibrated

    action = leader.get_action()
    assert list(action) == [f"{j}.pos" for j in ARM_JOINTS + GRIPPERS]
    assert all(abs(action[f"{j}.pos"]) < 1e-9 for j in ARM_JOINTS)
    assert action["left_gripper.pos"] == pytest.approx(0.02, abs=0.01)  # sprang back to the open target
    assert action["right_gripper.pos"] == pytest.approx(0.02, abs=0.01)

    # Move joints by hand: +0.5 rad on the left shoulder pitch, the right elbow's servo turns -0.8 rad but is
    # mounted inverted, so the X2 right elbow must read +0.8 rad... and -0.8 when turned the other way.
    left, right = leader_rig.left, leader_rig.right
    left.servo(1).move_to(left.servo(1).shaft + round(0.5 * TICKS_PER_RAD))
    right.servo(4).move_to(right.servo(4).shaft + round(0.8 * TICKS_PER_RAD))
    action = leader.get_action()
    assert action["left_shoulder_pitch.pos"] == pytest.approx(0.5, abs=2e-3)
    assert action["right_elbow.pos"] == pytest.approx(-0.8, abs=2e-3)
    assert action["left_elbow.pos"] == 0.0

    # Squeeze half of each trigger's travel (the right one travels negative): both read ~0.5, then spring back.
    left.servo(8).hold(left.servo(8).shaft + 225)
    right.servo(8).hold(right.servo(8).shaft - 190)
    action = leader.get_action()
    assert action["left_gripper.pos"] == pytest.approx(0.52, abs=0.02)
    assert action["right_gripper.pos"] == pytest.approx(0.52, abs=0.02)
    left.servo(8).release()
    assert leader.get_action()["left_gripper.pos"] == pytest.approx(0.02, abs=0.01)
    leader.disconnect()
    assert not leader.is_connected

    saved = json.loads((tmp_path / "test.json").read_text())
    assert set(saved) == set(ARM_JOINTS + GRIPPERS)
    assert saved["right_elbow"]["drive_mode"] == 1 and saved["left_elbow"]["drive_mode"] == 0
    assert saved["right_gripper"]["drive_mode"] == 1  # reversed automatically during calibration


def test_calibration_file_is_reused_and_a_mismatch_is_detected(leader_rig, tmp_path, scripted_operator_hands):
    leader = calibrated_leader(leader_rig, tmp_path, scripted_operator_hands)
    homing = leader.calibration["left_wrist_roll"].homing_offset
    leader.disconnect()

    # Same servos: connecting again needs no prompt and gives the same readings.
    again = make_leader(leader_rig, tmp_path)
    assert again.calibration["left_wrist_roll"].homing_offset == homing
    again.connect(calibrate=False)
    assert again.is_calibrated
    again.disconnect()

    # Someone changes a servo's homing offset: the file no longer matches; ENTER rewrites the file's values.
    leader_rig.left.servo(7).table[20:24] = (1234).to_bytes(4, "little", signed=True)
    third = make_leader(leader_rig, tmp_path)
    third.connect(calibrate=False)
    assert not third.is_calibrated
    third.disconnect()
    fourth = make_leader(leader_rig, tmp_path)
    fourth.connect()  # prompts; the test's input() answers ENTER = use the file
    assert fourth.is_calibrated
    assert leader_rig.left.servo(7).get("Homing_Offset") == homing
    fourth.disconnect()


def test_a_trigger_that_does_not_move_fails_calibration_clearly(
    leader_rig, tmp_path, scripted_operator_hands
):
    scripted_operator_hands["squeeze"] = {"left": 30, "right": 400}
    with pytest.raises(ValueError, match="left trigger moved only 30 ticks"):
        calibrated_leader(leader_rig, tmp_path, scripted_operator_hands)


def test_unplugged_arm_mid_run_raises_a_clear_error_and_disconnect_is_quiet(
    leader_rig, tmp_path, scripted_operator_hands
):
    leader = calibrated_leader(leader_rig, tmp_path, scripted_operator_hands)
    leader.get_action()
    leader_rig.right.unplug()
    with pytest.raises(LeaderArmDisconnectedError, match=r"right leader arm .* stopped answering"):
        leader.get_action()
    assert not leader.is_connected
    leader.disconnect()  # must not raise: it runs in lerobot-record's cleanup
    assert not leader.buses["left"].is_connected and not leader.buses["right"].is_connected
    # The left arm was released properly (torque off), the right one could not be.
    assert all(not s.torque_enabled for s in leader_rig.left.servos)


def test_power_loss_and_missing_arm(leader_rig, tmp_path, scripted_operator_hands):
    leader = calibrated_leader(leader_rig, tmp_path, scripted_operator_hands)
    leader_rig.left.power_off()
    with pytest.raises(LeaderArmDisconnectedError, match="left leader arm"):
        leader.get_action()
    leader.disconnect()
    leader_rig.left.power_on()

    missing = X2Leader(
        X2LeaderConfig(
            left_port=leader_rig.left_port, right_port="dxlsim://nobody-here", calibration_dir=tmp_path
        )
    )
    with pytest.raises(ConnectionError, match="right leader arm on port 'dxlsim://nobody-here'"):
        missing.connect()
    assert not missing.is_connected


def test_config_validation():
    with pytest.raises(ValueError, match="unknown joint"):
        X2LeaderConfig(left_port="a", right_port="b", inverted_joints=["left_knee"])
    with pytest.raises(ValueError, match="both 'a'"):
        X2LeaderConfig(left_port="a", right_port="a")
    with pytest.raises(ValueError, match="not a Dynamixel model"):
        X2LeaderConfig(left_port="a", right_port="b", joint_model="sts3215")


def test_calibration_pose_offsets_the_joint_angles(leader_rig, tmp_path, scripted_operator_hands):
    pose = {"left_elbow": -0.3, "right_elbow": -0.3}
    leader = calibrated_leader(leader_rig, tmp_path, scripted_operator_hands, calibration_pose=pose)
    action = leader.get_action()
    for j in LEFT_ARM_JOINTS + RIGHT_ARM_JOINTS:
        assert action[f"{j}.pos"] == pytest.approx(pose.get(j, 0.0), abs=1e-9)
    assert math.isfinite(sum(action.values()))
    leader.disconnect()
