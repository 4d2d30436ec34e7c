"""The LeRobot robot `agibot_x2` on its sim backend: registration, features, actions, safety and bad input."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from lerobot.robots.utils import make_robot_from_config

from lerobot_wbvla.robots.agibot_x2 import AgibotX2, AgibotX2Config, sim_registry
from lerobot_wbvla.robots.agibot_x2.agibot_x2 import ActionError
from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, ARM_JOINTS, STATE_KEYS
from lerobot_wbvla.robots.agibot_x2.params import joint_params


def _config(tmp_path: Path, **kw) -> AgibotX2Config:
    kw.setdefault("action_timeout_s", 0.0)  # timeouts off unless a test is about them
    return AgibotX2Config(id=f"x2-test-{tmp_path.name}", calibration_dir=tmp_path / "calib", **kw)


@pytest.fixture
def robot(tmp_path):
    r = make_robot_from_config(_config(tmp_path))
    r.connect()
    yield r
    r.disconnect()


def _hold_action(robot: AgibotX2) -> dict[str, float]:
    obs = robot.get_observation()
    act = {k: float(obs[k]) for k in ACTION_KEYS if k.endswith(".pos")}
    act.update({"loco.vx": 0.0, "loco.vy": 0.0, "loco.yaw_rate": 0.0, "loco.height": 0.0})
    return act


def test_robot_type_resolves_from_the_cli_after_import(tmp_path):
    code = (
        "import draccus, dataclasses\n"
        "from lerobot.robots.config import RobotConfig\n"
        "import lerobot_wbvla.robots.agibot_x2\n"
        "@dataclasses.dataclass\n"
        "class C:\n"
        "    robot: RobotConfig\n"
        "c = draccus.parse(C, args=['--robot.type=agibot_x2', '--robot.base_mode=physical', "
        "'--robot.head_camera=[96, 128]'])\n"
        "print(type(c.robot).__name__, c.robot.type, c.robot.base_mode, tuple(c.robot.head_camera))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["AgibotX2Config", "agibot_x2", "physical", "(96,", "128)"]


def test_features_follow_the_contract(tmp_path):
    r = make_robot_from_config(_config(tmp_path, wrist_cameras=True, head_camera=(96, 128)))
    assert isinstance(r, AgibotX2)
    assert list(r.action_features) == list(ACTION_KEYS) and len(ACTION_KEYS) == 20
    assert ACTION_KEYS[:2] == ("left_shoulder_pitch.pos", "left_shoulder_roll.pos")
    assert ACTION_KEYS[-4:] == ("loco.vx", "loco.vy", "loco.yaw_rate", "loco.height")
    feats = r.observation_features
    assert [k for k in feats if feats[k] is float] == list(STATE_KEYS)
    assert len(STATE_KEYS) == 33 * 2 + 10 + 4
    assert feats["head"] == (96, 128, 3) and feats["left_wrist"] == (96, 128, 3)
    assert not r.is_connected
    with pytest.raises(ConnectionError):
        r.get_observation()


def test_connect_observe_act_and_registry(robot):
    obs = robot.get_observation()
    assert set(obs) == set(robot.observation_features)
    assert obs["head"].shape == (224, 224, 3) and obs["head"].dtype == np.uint8
    assert sim_registry.lookup(robot.id) is robot.backend.sim
    sim = robot.backend.sim
    t0 = sim.sim_time
    act = _hold_action(robot)
    act["loco.vx"] = 0.4
    for _ in range(60):
        sent = robot.send_action(act)
    assert sim.sim_time - t0 == pytest.approx(2.0, abs=0.006)  # one control period (1/30 s) per action
    assert sent["loco.vx"] == 0.4
    assert sim.base_pose()[0][0] == pytest.approx(0.4 * 2.0 - 0.4**2 / 3.0, abs=0.03)


def test_targets_are_clamped_to_limits_and_to_a_max_step_per_tick(robot):
    act = _hold_action(robot)
    start = act["left_elbow.pos"]
    start_grip = act["left_gripper.pos"]  # the measured opening (settled: a hair inside the open stop)
    act["left_elbow.pos"] = -10.0  # far beyond the -2.356 limit
    act["right_shoulder_yaw.pos"] = 10.0
    act["left_gripper.pos"] = 3.0
    act["loco.vx"] = 5.0
    act["loco.height"] = 0.1
    sent = robot.send_action(act)
    step = robot.config.max_joint_step
    assert sent["left_elbow.pos"] == pytest.approx(start - step)
    assert sent["left_gripper.pos"] == pytest.approx(start_grip + robot.config.max_gripper_step)
    assert sent["loco.vx"] == robot.config.max_vx
    assert sent["loco.height"] == robot.config.height_range[0]
    for _ in range(40):
        sent = robot.send_action(act)
    lo = joint_params("left_elbow").range[0]
    assert sent["left_elbow.pos"] == pytest.approx(lo)
    assert sent["right_shoulder_yaw.pos"] == pytest.approx(joint_params("right_shoulder_yaw").range[1])
    assert sent["left_gripper.pos"] == 1.0
    obs = robot.get_observation()
    assert obs["left_elbow.pos"] >= lo - 0.02  # the joint itself stays inside its range


def test_nan_or_inf_in_an_action_holds_and_raises(robot):
    act = _hold_action(robot)
    act["loco.vx"] = 0.5
    for _ in range(15):
        robot.send_action(act)
    sim = robot.backend.sim
    bad = dict(act, **{"right_elbow.pos": math.nan, "loco.yaw_rate": math.inf})
    with pytest.raises(ActionError, match=r"right_elbow\.pos.*loco\.yaw_rate|loco\.yaw_rate.*right_elbow"):
        robot.send_action(bad)
    assert robot.safe_state == "hold"
    assert sim.loco.vx == 0.0  # locomotion stopped
    for j in ARM_JOINTS:
        assert sim.targets[j] == pytest.approx(sim.observation()[f"{j}.pos"], abs=1e-9)
    x = sim.base_pose()[0][0]
    sim.advance(1.0)
    assert sim.base_pose()[0][0] - x < 0.5 * 0.5  # decelerating, not cruising on
    robot.send_action(act)  # a finite action resumes
    assert robot.safe_state is None


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda a: a.update({"left_knee.pos": 0.1}), r"unknown key\(s\) \['left_knee\.pos'\]"),
        (lambda a: a.update({"loco.speed": 0.1}), r"'loco\.speed'"),
        (lambda a: a.pop("right_gripper.pos"), r"missing key\(s\) \['right_gripper\.pos'\]"),
        (lambda a: a.update({"loco.vx": np.zeros(3)}), r"'loco\.vx' must be a scalar"),
        (lambda a: a.update({"left_elbow.pos": "abc"}), r"'left_elbow\.pos' must be a number, got str 'abc'"),
        (lambda a: a.update({"loco.vy": object()}), r"'loco\.vy' must be a number, got object"),
    ],
)
def test_bad_action_keys_are_rejected_by_name(robot, mutate, match):
    act = _hold_action(robot)
    mutate(act)
    t0 = robot.backend.sim.sim_time
    with pytest.raises(ActionError, match=match):
        robot.send_action(act)
    assert robot.backend.sim.sim_time == t0  # nothing was sent


def test_an_action_without_loco_keys_drives_the_arms_with_locomotion_stopped(robot, caplog):
    """lerobot-rollout sends only the `.pos` keys of the action: arms and grippers, no loco.* (LeRobot 0.6.1)."""
    sim = robot.backend.sim
    act = _hold_action(robot)
    act["loco.vx"] = 0.5
    robot.send_action(act)
    assert sim.loco.vx == 0.5
    arm_only = {k: v for k, v in act.items() if not k.startswith("loco.")}
    arm_only["left_elbow.pos"] += 0.1
    with caplog.at_level("WARNING"):
        sent = robot.send_action(arm_only)
        robot.send_action(arm_only)
    assert [k for k in sent if k.startswith("loco.")] == [
        "loco.vx",
        "loco.vy",
        "loco.yaw_rate",
        "loco.height",
    ]
    assert sent["loco.vx"] == sent["loco.height"] == 0.0 and sim.loco.vx == 0.0  # stopped, nominal height
    assert sent["left_elbow.pos"] == pytest.approx(act["left_elbow.pos"] + 0.1)
    assert sum("no loco.* keys" in r.getMessage() for r in caplog.records) == 1  # said once per connection
    partial = dict(arm_only, **{"loco.vx": 0.2})
    with pytest.raises(
        ActionError, match=r"missing key\(s\) \['loco\.vy', 'loco\.yaw_rate', 'loco\.height'\]"
    ):
        robot.send_action(partial)  # some loco keys but not all: still a malformed action


def test_action_vectors_need_the_contract_length(robot):
    vec = np.array([_hold_action(robot)[k] for k in ACTION_KEYS])
    sent = robot.send_action(vec)
    assert list(sent) == list(ACTION_KEYS)
    with pytest.raises(ActionError, match=r"shape \(19,\); expected \(20,\)"):
        robot.send_action(vec[:19])
    with pytest.raises(ActionError, match=r"shape \(2, 20\)"):
        robot.send_action(np.stack([vec, vec]))
    words = [str(v) for v in vec]
    words[3] = "abc"
    t0 = robot.backend.sim.sim_time
    with pytest.raises(ActionError, match=r"entry 3 \('left_elbow\.pos'\) must be a number, got str 'abc'"):
        robot.send_action(words)
    assert robot.backend.sim.sim_time == t0  # nothing was sent


def test_the_robot_has_a_readable_name_with_or_without_an_id(tmp_path):
    assert str(AgibotX2(_config(tmp_path))) == f"x2-test-{tmp_path.name} AgibotX2"  # LeRobot's form
    anonymous = AgibotX2(AgibotX2Config(action_timeout_s=0.0))
    assert anonymous.id is None
    assert str(anonymous) == "AgibotX2 (sim backend)"  # LeRobot printed "None AgibotX2"
    assert "None" not in str(anonymous)


def test_no_action_for_longer_than_the_timeout_holds(tmp_path):
    r = make_robot_from_config(_config(tmp_path, action_timeout_s=0.2))
    r.connect()
    try:
        act = _hold_action(r)
        act["loco.vx"] = 0.5
        act["left_shoulder_pitch.pos"] -= 0.1
        r.send_action(act)
        assert r.safe_state is None
        time.sleep(0.6)
        assert r.safe_state == "hold"
        sim = r.backend.sim
        assert sim.loco.vx == 0.0
        assert sim.targets["left_shoulder_pitch"] == pytest.approx(
            sim.observation()["left_shoulder_pitch.pos"]
        )
        r.send_action(act)
        assert r.safe_state is None
    finally:
        r.disconnect()


def test_timeout_in_damp_mode_makes_the_arms_limp_but_keeps_standing(tmp_path):
    r = make_robot_from_config(
        _config(tmp_path, action_timeout_s=0.2, on_timeout="damp", base_mode="physical")
    )
    r.connect()
    try:
        act = _hold_action(r)
        act["left_shoulder_pitch.pos"] -= 0.15
        r.send_action(act)
        time.sleep(0.6)
        assert r.safe_state == "damp"
        sim = r.backend.sim
        aid = sim.act["left_shoulder_pitch"]
        assert sim.model.actuator_gainprm[aid, 0] == 0.0 and sim.model.actuator_biasprm[aid, 2] < 0
        sim.advance(3.0)
        assert sim.base_pose()[0][2] > 0.62 and sim.tilt() < 0.1  # legs still stand
        r.send_action(act)  # resuming restores the arm stiffness
        assert sim.model.actuator_gainprm[aid, 0] > 0
    finally:
        r.disconnect()


def test_disconnect_leaves_the_robot_holding_with_locomotion_stopped(tmp_path):
    r = make_robot_from_config(_config(tmp_path))
    r.connect()
    act = _hold_action(r)
    act["loco.vx"] = 0.6
    act["right_elbow.pos"] = -1.2
    for _ in range(20):
        r.send_action(act)
    sim = r.backend.sim
    r.disconnect()
    assert not r.is_connected
    with pytest.raises(KeyError, match="No live X2 twin"):
        sim_registry.lookup(r.id)
    assert sim.loco.vx == 0.0
    q = sim.observation()["right_elbow.pos"]
    assert sim.targets["right_elbow"] == pytest.approx(q)
    x = sim.base_pose()[0][0]
    sim.advance(2.0)
    assert sim.base_pose()[0][0] - x < 0.6**2 / (2 * 1.5) + 0.03  # only the braking distance (+ weld lag)
    assert sim.observation()["right_elbow.pos"] == pytest.approx(q, abs=0.02)
    with pytest.raises(ConnectionError):
        r.send_action(act)
    r.disconnect()  # idempotent


def test_bad_config_values_are_named():
    with pytest.raises(ValueError, match="base_mode"):
        AgibotX2Config(base_mode="flying")
    with pytest.raises(ValueError, match="on_timeout"):
        AgibotX2Config(on_timeout="panic")


def test_unknown_gain_override_is_named(tmp_path):
    r = make_robot_from_config(_config(tmp_path, kp={"left_elbw": 10.0}))
    with pytest.raises(ValueError, match="left_elbw"):
        r.connect()
