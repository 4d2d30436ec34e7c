"""Physical honesty of the X2 twin: joint torques within the published limits at every physics step (scripted
episodes of every task included), arm-body and arm-arm self-collision, a settled and bit-reproducible reset, and
a gripper reading that matches the finger. Real MuJoCo physics throughout."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from lerobot_wbvla.envs.agibot_x2 import AgibotX2EnvConfig
from lerobot_wbvla.envs.agibot_x2.env import AgibotX2Env
from lerobot_wbvla.robots.agibot_x2 import mjcf
from lerobot_wbvla.robots.agibot_x2 import params as P
from lerobot_wbvla.robots.agibot_x2.agibot_x2 import AgibotX2
from lerobot_wbvla.robots.agibot_x2.config_agibot_x2 import AgibotX2Config
from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, BODY_JOINTS
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim, X2SimConfig
from lerobot_wbvla.teleoperators.x2_scripted.operator import ScriptedOperator, action_vector

# Left forearm swung across the belly (upper arm hanging, rotated inward, elbow folded): without self-collision the
# hand ends inside the torso.
ARM_INTO_TORSO = {
    "left_shoulder_pitch.pos": 0.0,
    "left_shoulder_roll.pos": 0.0,
    "left_shoulder_yaw.pos": -1.57,
    "left_elbow.pos": -2.2,
}
# Both forearms folded inward in front of the chest: they cross each other without self-collision.
ARMS_CROSSED = {
    "left_shoulder_pitch.pos": -1.3,
    "left_shoulder_roll.pos": 0.1,
    "left_shoulder_yaw.pos": -1.57,
    "left_elbow.pos": -1.5,
    "right_shoulder_pitch.pos": -1.3,
    "right_shoulder_roll.pos": -0.1,
    "right_shoulder_yaw.pos": 1.57,
    "right_elbow.pos": -1.5,
}


def _run(sim: X2Sim, seconds: float, fps: int = 30) -> None:
    for _ in range(round(seconds * fps)):
        sim.advance(1.0 / fps)


def _over_limit(sim: X2Sim) -> dict[str, tuple[float, float]]:
    peaks = sim.peak_torques()
    return {
        j: (peaks[j], sim.torque_limits[j]) for j in BODY_JOINTS if peaks[j] > sim.torque_limits[j] * 1.000001
    }


# ---------------------------------------------------------------------- torque limits
def test_torque_monitor_is_off_by_default_and_sees_every_physics_step():
    assert all(v == 0.0 for v in X2Sim(X2SimConfig()).peak_torques().values())
    command = {"right_shoulder_pitch.pos": -1.5, "right_elbow.pos": -1.2}
    # The monitored twin runs control periods of 6-7 physics steps; an identical twin (same physics, bit for bit)
    # is stepped one physics step at a time and read after each: the monitor's peaks are their maximum.
    monitored = X2Sim(X2SimConfig())
    monitored.set_torque_monitor(True)
    monitored.set_command(command)
    for _ in range(30):
        monitored.advance(1 / 30)
    stepped = X2Sim(X2SimConfig())
    stepped.set_command(command)
    dofs = np.array([stepped.vadr[j] for j in BODY_JOINTS])
    seen = np.zeros(len(BODY_JOINTS))
    for _ in range(200):  # 1 s at 200 Hz, as 30 x 1/30 s
        stepped.advance(stepped.model.opt.timestep)
        seen = np.maximum(seen, np.abs(stepped.data.qfrc_actuator[dofs] + stepped.data.qfrc_applied[dofs]))
    np.testing.assert_array_equal(monitored.data.qpos, stepped.data.qpos)  # the same trajectory
    np.testing.assert_array_equal(np.array(list(monitored.peak_torques().values())), seen)
    assert monitored.peak_torques()["right_shoulder_pitch"] > 10.0


@pytest.mark.parametrize(
    "base_mode, command",
    [
        (
            "kinematic",
            {"left_shoulder_pitch.pos": -1.5, "right_shoulder_pitch.pos": -1.5, "left_elbow.pos": -1.0},
        ),
        ("kinematic", ARM_INTO_TORSO),
        ("physical", {"right_shoulder_pitch.pos": -1.5, "right_elbow.pos": -0.6}),
    ],
)
def test_saturated_joints_never_exceed_their_published_torque(base_mode, command):
    """A far arm target saturates the PD; the gravity feed-forward must not come on top of the capped force (the
    right shoulder pitch reached 66.5 of 60 N*m, the waist pitch 72 of 36)."""
    sim = X2Sim(X2SimConfig(base_mode=base_mode, torque_monitor=True))
    sim.set_command(command)
    _run(sim, 1.5)
    assert not _over_limit(sim), f"joint torque above the published limit: {_over_limit(sim)}"
    peaks = sim.peak_torques()
    saturated = [j for j in BODY_JOINTS if peaks[j] >= 0.999 * sim.torque_limits[j]]
    assert saturated, "the command must drive some joint to its limit, else this checks nothing"


@pytest.mark.parametrize(
    "task, base_mode",
    [
        ("pick_place", "kinematic"),
        ("walk_carry", "kinematic"),
        ("shelf_place", "kinematic"),
        ("cart_push", "kinematic"),
        ("pick_place", "physical"),
    ],
)
def test_scripted_episodes_keep_every_joint_torque_within_its_limit(task, base_mode):
    """The scripted demonstration of each task, checked at every physics step by the twin's torque monitor."""
    env = AgibotX2Env(task=task, obs_type="agent_pos", base_mode=base_mode)
    try:
        env.reset(seed=0)
        sim = env.sim
        sim.set_torque_monitor(True)
        op = ScriptedOperator(sim)
        success = False
        for _ in range(AgibotX2EnvConfig(task=task).max_episode_steps):
            _, _, terminated, truncated, info = env.step(action_vector(op.act()))
            success = bool(info["is_success"])
            if terminated or truncated:
                break
        assert success, f"{task} ({base_mode}) scripted episode did not succeed"
        assert not _over_limit(sim), f"joint torque above the published limit: {_over_limit(sim)}"
        assert max(sim.peak_torques().values()) > 1.0  # the monitor ran
    finally:
        env.close()


# ---------------------------------------------------------------------- self-collision
def _self_contacts(sim: X2Sim) -> dict[tuple[str, str], float]:
    """Robot-robot contacts by collision-class pair -> deepest penetration (contact dist, m)."""
    m, d = sim.model, sim.data
    out: dict[tuple[str, str], float] = {}
    for i in range(d.ncon):
        g1, g2 = d.contact.geom[i]
        if sim._robot_geom[g1] and sim._robot_geom[g2]:
            pair = tuple(sorted(mjcf.collision_class(m.body(m.geom_bodyid[g]).name) for g in (g1, g2)))
            out[pair] = min(out.get(pair, 0.0), float(d.contact.dist[i]))
    return out


def _min_distance(sim: X2Sim, class_a: str, class_b: str) -> float:
    """Smallest signed distance between the colliding geoms of two classes (negative = interpenetrating);
    parent-child pairs skipped, as MuJoCo does."""
    m, d = sim.model, sim.data
    geoms = {
        c: [
            g
            for g in range(m.ngeom)
            if sim._robot_geom[g]
            and (m.geom_contype[g] or m.geom_conaffinity[g])
            and mjcf.collision_class(m.body(m.geom_bodyid[g]).name) == c
        ]
        for c in (class_a, class_b)
    }
    best, fromto = 1.0, np.zeros(6)
    for g1 in geoms[class_a]:
        for g2 in geoms[class_b]:
            b1, b2 = m.geom_bodyid[g1], m.geom_bodyid[g2]
            if m.body_parentid[b1] == b2 or m.body_parentid[b2] == b1:
                continue
            best = min(best, mujoco.mj_geomDistance(m, d, g1, g2, 0.5, fromto))
    return best


@pytest.mark.parametrize("base_mode", ["kinematic", "physical"])
@pytest.mark.parametrize("scene", [None, "pick_place", "cart_push"])
def test_standing_pose_has_no_self_contact(base_mode, scene):
    sim = X2Sim(X2SimConfig(base_mode=base_mode, scene=scene))
    assert sim.config.self_collision  # on by default
    _run(sim, 0.5)
    assert _self_contacts(sim) == {}
    assert _min_distance(sim, "left_arm", "body") > 0.005
    assert _min_distance(sim, "right_arm", "body") > 0.005
    assert _min_distance(sim, "left_arm", "right_arm") > 0.05


def test_an_arm_commanded_into_the_torso_stops_at_it():
    sim = X2Sim(X2SimConfig(base_mode="kinematic"))
    sim.set_command(ARM_INTO_TORSO)
    touched = False
    for _ in range(60):
        sim.advance(1 / 30)
        touched = touched or ("body", "left_arm") in _self_contacts(sim)
    assert touched, "no arm-torso contact"
    assert ("body", "left_arm") in _self_contacts(sim)  # still pressing against it
    assert _min_distance(sim, "left_arm", "body") > -0.005  # resting on the surface, not inside
    assert sim.observation()["left_elbow.pos"] > -2.2 + 0.5  # the elbow stopped well short of its target

    # The option turns it off: the same command then drives the forearm ~10 cm into the torso.
    ghost = X2Sim(X2SimConfig(base_mode="kinematic", self_collision=False))
    ghost.set_command(ARM_INTO_TORSO)
    _run(ghost, 2.0)
    assert _self_contacts(ghost) == {}
    assert _min_distance(ghost, "left_arm", "body") < -0.05
    assert ghost.observation()["left_elbow.pos"] == pytest.approx(-2.2, abs=0.02)


def test_the_arms_collide_with_each_other():
    sim = X2Sim(X2SimConfig(base_mode="kinematic"))
    sim.set_command(ARMS_CROSSED)
    touched = False
    for _ in range(60):
        sim.advance(1 / 30)
        touched = touched or ("left_arm", "right_arm") in _self_contacts(sim)
    assert touched, "no arm-arm contact"
    assert _min_distance(sim, "left_arm", "right_arm") > -0.008
    ghost = X2Sim(X2SimConfig(base_mode="kinematic", self_collision=False))
    ghost.set_command(ARMS_CROSSED)
    _run(ghost, 2.0)
    assert _min_distance(ghost, "left_arm", "right_arm") < -0.03  # the forearms pass through each other


# ---------------------------------------------------------------------- settled, reproducible reset
def _acc_norm(obs: dict[str, float]) -> float:
    return float(np.linalg.norm([obs["imu.acc_x"], obs["imu.acc_y"], obs["imu.acc_z"]]))


@pytest.mark.parametrize("base_mode", ["kinematic", "physical"])
def test_episodes_start_settled(base_mode):
    """The accelerometer read 1.3 then 22.3 m/s^2 in the first frames after every reset (the robot was dropped
    from 1 mm); now the first frames read gravity, as the steady state does."""
    sim = X2Sim(X2SimConfig(base_mode=base_mode, scene="pick_place"))
    g = float(np.linalg.norm(sim.model.opt.gravity))
    for seed in (0, 4):
        sim.reset(seed)
        assert sim.sim_time == 0.0
        obj = sim.model.body("object").id
        assert np.abs(sim.data.cvel[obj]).max() < 0.01  # the box rests on the table
        first = []
        for _ in range(5):
            first.append(_acc_norm(sim.observation()))
            sim.advance(1 / 30)
        steady = []
        for _ in range(60):
            sim.advance(1 / 30)
            steady.append(_acc_norm(sim.observation()))
        assert np.abs(np.array(first) - g).max() < 0.05, first
        assert np.abs(np.array(first) - np.mean(steady)).max() < 0.05, (first, np.mean(steady))


def _snapshot(sim: X2Sim) -> dict[str, np.ndarray]:
    d, m = sim.data, sim.model
    return {
        "time": np.array([d.time]),
        "qpos": d.qpos.copy(),
        "qvel": d.qvel.copy(),
        "act": d.act.copy(),
        "ctrl": d.ctrl.copy(),
        "sensordata": d.sensordata.copy(),
        "qacc_warmstart": d.qacc_warmstart.copy(),
        "mocap_pos": d.mocap_pos.copy(),
        "actuator_biasprm": m.actuator_biasprm.copy(),
        "body_pos": m.body_pos.copy(),
        "state": sim.state_vector(),
    }


@pytest.mark.parametrize("base_mode", ["kinematic", "physical"])
def test_reset_with_a_seed_is_bit_identical(base_mode):
    sim = X2Sim(X2SimConfig(base_mode=base_mode, scene="pick_place"))
    sim.reset(5)
    a = _snapshot(sim)
    sim.set_command({"right_shoulder_pitch.pos": -0.8, "right_gripper.pos": 1.0, "loco.vx": 0.3})
    _run(sim, 1.0)
    sim.reset(5)
    b = _snapshot(sim)
    fresh = X2Sim(X2SimConfig(base_mode=base_mode, scene="pick_place"))
    fresh.reset(5)
    c = _snapshot(fresh)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        np.testing.assert_array_equal(a[key], c[key], err_msg=key)
    sim.reset(6)
    assert not np.array_equal(_snapshot(sim)["qpos"], a["qpos"])  # another seed, another scene


# ---------------------------------------------------------------------- gripper reading
def _finger_q(sim: X2Sim) -> float:
    return float(sim.data.qpos[sim.qadr["left_gripper"]])


def test_gripper_reading_matches_the_finger_and_stays_in_0_1():
    """Commanded fully open from closed (and back), the finger used to fly ~5 mm past its stop (an underdamped
    servo covering ~9 mm per physics step) and the reading went to -0.12 (and 1.04 when closing)."""
    stop_slack = 5e-5  # m: the soft joint limit's residual penetration
    sim = X2Sim(X2SimConfig())
    sim.set_command({"left_gripper.pos": 1.0})
    _run(sim, 1.0)
    for command, stop in ((-0.5, P.GRIPPER_STROKE), (1.5, 0.0), (0.0, P.GRIPPER_STROKE)):
        sim.set_command({"left_gripper.pos": command})
        for _ in range(100):
            sim.advance(sim.model.opt.timestep)
            q = _finger_q(sim)
            assert -stop_slack <= q <= P.GRIPPER_STROKE + stop_slack, f"finger at {q * 1000:.2f} mm"
            reading = sim.observation()["left_gripper.pos"]
            assert 0.0 <= reading <= 1.0
            assert reading == pytest.approx(1.0 - q / P.GRIPPER_STROKE, abs=stop_slack / P.GRIPPER_STROKE)
        assert _finger_q(sim) == pytest.approx(stop, abs=2e-4)

    # Through the robot (per-tick step limits, commands below 0 and above 1 clamped).
    robot = AgibotX2(AgibotX2Config(backend="sim", action_timeout_s=0.0))
    robot.connect()
    try:
        obs = robot.get_observation()
        act = {k: float(obs[k]) for k in ACTION_KEYS if k.endswith(".pos")}
        act.update({"loco.vx": 0.0, "loco.vy": 0.0, "loco.yaw_rate": 0.0, "loco.height": 0.0})
        readings = []
        for value in [1.0] * 20 + [-1.0] * 30 + [2.0] * 20:
            act["left_gripper.pos"] = act["right_gripper.pos"] = value
            robot.send_action(act)
            obs = robot.get_observation()
            readings += [obs["left_gripper.pos"], obs["right_gripper.pos"]]
        assert min(readings) >= 0.0 and max(readings) <= 1.0
        assert min(readings) < 0.01 and max(readings) > 0.99
    finally:
        robot.disconnect()
