"""The standing controller (`stand`, balance.py) against the plain PD stance (`pd_stance`), base_mode=physical, real
MuJoCo physics through X2Sim. Payloads, pushes and the arm motion come from disturbances.py (the same trials as
bench/stand_balance.py): a mass at each gripper's tool point, a force on the torso's centre of mass through
`data.xfrc_applied`, arm targets ramped as a policy would send them."""

from __future__ import annotations

import logging
import math
import time

import mujoco
import numpy as np
import pytest

from lerobot_wbvla.robots.agibot_x2 import balance as B
from lerobot_wbvla.robots.agibot_x2 import lower_body as lb
from lerobot_wbvla.robots.agibot_x2 import params as P
from lerobot_wbvla.robots.agibot_x2.backend import LocoCommand
from lerobot_wbvla.robots.agibot_x2.disturbances import (
    FORWARD_REACH,
    Push,
    hand_payload,
    run_stand_trial,
    set_hand_payload,
)
from lerobot_wbvla.robots.agibot_x2.joints import ARM_JOINTS, BODY_JOINTS, LEG_JOINTS
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim, X2SimConfig

HOLD_S = 10.0


def _sim(controller: str = "stand", **kw) -> X2Sim:
    return X2Sim(X2SimConfig(base_mode="physical", lower_body_controller=controller, **kw))


def _ramp_s(sim: X2Sim, goal: dict[str, float], rate: float) -> float:
    """Seconds the arm targets take to reach `goal` at `rate` rad/s (whole 1/30 s ticks)."""
    return math.ceil(max(abs(v - sim.targets[j]) for j, v in goal.items()) / rate * 30) / 30


def _arms_forward_with(controller: str, kg: float, rate: float = 1.0):
    sim = _sim(controller)
    for side in ("left", "right"):
        set_hand_payload(sim.model, side, kg)
    seconds = _ramp_s(sim, FORWARD_REACH, rate) + HOLD_S
    return sim, run_stand_trial(sim, FORWARD_REACH, seconds, arm_rate=rate), seconds


def test_stand_holds_both_arms_forward_with_2kg_in_each_hand_for_10s():
    sim, trial, seconds = _arms_forward_with("stand", 2.0)
    assert trial.held and trial.seconds == pytest.approx(seconds, abs=0.01), trial
    assert trial.arm_error < 0.08 and trial.max_tilt_deg < 5.0, trial
    assert trial.foot_slide < 0.01, trial
    obs = sim.observation()
    for side in ("left", "right"):  # the pose was really held (a sagging arm would make this easy)
        assert obs[f"{side}_shoulder_pitch.pos"] == pytest.approx(-math.pi / 2, abs=0.08)
    assert sim.base_pose()[0][2] == pytest.approx(lb.nominal_height(), abs=0.02)
    assert all(
        obs[f"foot_contact.{pad}"] == 1.0 for pad in ("left_heel", "left_toe", "right_heel", "right_toe")
    )
    # The load is on the feet: the whole-body CoM (4 kg in the hands included) is over the soles, behind the toes.
    m, d = sim.model, sim.data
    ankle_x = np.mean([d.xpos[m.body(f"{s}_ankle_roll_link").id][0] for s in ("left", "right")])
    com_x = d.subtree_com[sim.pelvis_id][0] - ankle_x
    assert P.SOLE_X[0] < com_x < P.SOLE_X[1] - 0.05, com_x


def test_pd_stance_falls_with_both_arms_forward_and_2kg():
    """The same trial topples today's stiff PD stance: the test above can fail."""
    _, trial, _ = _arms_forward_with("pd_stance", 2.0)
    assert trial.fell, trial
    assert trial.seconds < 4.0


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_stand_holds_random_arm_poses_for_10s(seed):
    """Any arm pose within the joint ranges (uniform draws; the PD stance falls on seeds 1, 2 and 4), reached at
    3 rad/s per joint, then held for 10 s."""
    rng = np.random.default_rng(seed)
    goal = {j: float(rng.uniform(*P.joint_params(j).range)) for j in ARM_JOINTS}
    sim = _sim()
    seconds = _ramp_s(sim, goal, 3.0) + HOLD_S
    trial = run_stand_trial(sim, goal, seconds, arm_rate=3.0)
    assert trial.held and trial.seconds == pytest.approx(seconds, abs=0.01), trial
    assert trial.max_tilt_deg < 8.0, trial
    assert trial.min_height > lb.nominal_height() - 0.03, trial
    assert trial.foot_slide < 0.03, trial
    assert sim.tilt() < math.radians(2.0)  # standing upright again at the end


@pytest.mark.parametrize(
    "force", [(110.0, 0.0, 0.0), (-110.0, 0.0, 0.0)], ids=["forward_110N", "backward_110N"]
)
def test_stand_survives_a_push_the_pd_stance_does_not(force):
    """0.1 s on the torso's centre of mass, 1 s after reset (the PD stance survives ~75 N forward, ~90 N back)."""
    push = Push(force, start_s=1.0, duration_s=0.1)
    trial = run_stand_trial(_sim(), {}, 5.0, push=push)
    assert trial.held, trial
    assert trial.foot_slide < 0.02, trial
    assert run_stand_trial(_sim("pd_stance"), {}, 5.0, push=push).fell


def test_squat_with_arms_forward_and_a_payload_keeps_the_commanded_height():
    sim = _sim()
    for side in ("left", "right"):
        set_hand_payload(sim.model, side, 1.0)
    trial = run_stand_trial(sim, FORWARD_REACH, 8.0, arm_rate=1.0, loco_height=0.56)
    assert trial.held and trial.max_tilt_deg < 5.0, trial
    assert sim.base_pose()[0][2] == pytest.approx(0.56, abs=0.01)
    sim.set_command({"loco.height": 0.0})  # back to the nominal stance height
    sim.advance(2.0)
    assert sim.base_pose()[0][2] == pytest.approx(lb.nominal_height(), abs=0.01)


@pytest.mark.parametrize("controller", ["stand", "pd_stance"])
def test_walk_command_warns_once_per_episode(controller, caplog):
    sim = _sim(controller)
    caplog.set_level(logging.WARNING, logger=lb.__name__)

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if "cannot walk" in r.getMessage()]

    sim.advance(0.5)
    sim.set_command({"loco.height": 0.6})  # a height alone is not a walk
    sim.advance(0.5)
    assert warnings() == []
    sim.set_command({"loco.vx": 0.3, "loco.yaw_rate": 0.2})
    sim.advance(1.0)
    sim.set_command({"loco.vy": -0.1})
    sim.advance(1.0)
    assert len(warnings()) == 1
    assert f"'{controller}'" in warnings()[0] and "vx=0.3" in warnings()[0] and "kinematic" in warnings()[0]
    sim.reset(1)  # a new episode warns again
    sim.set_command({"loco.vy": 0.2})
    sim.advance(0.5)
    assert len(warnings()) == 2


def test_hand_payload_moves_mass_into_the_gripper_and_back():
    sim = _sim()
    m = sim.model
    palm = m.body("left_gripper_palm").id
    before = (m.body_mass[palm], m.body_ipos[palm].copy(), m.body_inertia[palm].copy())
    total = m.body_subtreemass[sim.pelvis_id]
    set_hand_payload(m, "left", 2.0)
    assert hand_payload(m, "left") == pytest.approx(2.0)
    assert m.body_subtreemass[sim.pelvis_id] == pytest.approx(total + 2.0)  # derived constants refreshed
    tcp = m.site("left_gripper_tcp").pos
    assert np.linalg.norm(m.body_ipos[palm] - tcp) < np.linalg.norm(before[1] - tcp)  # CoM moved to the grip
    mujoco.mj_forward(m, sim.data)
    set_hand_payload(m, "left", 0.0)
    assert m.body_mass[palm] == pytest.approx(before[0])
    np.testing.assert_allclose(m.body_ipos[palm], before[1], atol=1e-12)
    np.testing.assert_allclose(np.sort(m.body_inertia[palm]), np.sort(before[2]), rtol=1e-9)
    with pytest.raises(ValueError, match="side"):
        set_hand_payload(m, "middle", 1.0)
    with pytest.raises(ValueError, match="mass"):
        set_hand_payload(m, "right", -1.0)


def test_leg_ik_puts_the_ankles_where_asked_with_flat_feet():
    """The analytic IK against the controller's own MuJoCo model (forward kinematics of the solution)."""
    sm = B.StanceModel()
    assert BODY_JOINTS[: len(LEG_JOINTS)] == LEG_JOINTS
    rng = np.random.default_rng(0)
    for _ in range(20):
        pitch, roll = rng.uniform(-0.25, 0.25, 2)
        rot = B._rot_y(pitch) @ B._rot_x(roll)  # pelvis orientation
        pelvis = np.array([*rng.uniform(-0.08, 0.08, 2), rng.uniform(0.47, 0.55)])  # ankles within reach
        q = np.zeros(len(sm.qadr))
        legs = []
        for side, y in (("left", B.HIP_Y), ("right", -B.HIP_Y)):
            ankle = np.array([0.0, y, 0.0])
            legs.extend(B.leg_ik(rot.T @ (ankle - pelvis), rot.T, side))
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, rot.reshape(-1))
        q[: len(LEG_JOINTS)] = legs  # BODY_JOINTS starts with the legs, left then right
        sm.set_state(q, np.zeros_like(q), quat, np.zeros(3))
        for side, y in (("left", B.HIP_Y), ("right", -B.HIP_Y)):
            got = sm.data.xpos[sm.ankle_body[side]] + pelvis  # model pelvis at the origin
            np.testing.assert_allclose(got, (0.0, y, 0.0), atol=2e-3)
            foot = sm.data.xmat[sm.foot_body[side]].reshape(3, 3)
            np.testing.assert_allclose(foot, np.eye(3), atol=1e-6)


def test_compute_is_deterministic_and_cheap():
    sim = _sim()
    sim.advance(0.5)
    states = []
    for _ in range(20):
        sim.advance(0.02)
        states.append(sim.state())
    loco = LocoCommand()
    a, b = lb.make_lower_body_controller("stand"), lb.make_lower_body_controller("stand")
    assert [a.compute(s, loco, 0.02) for s in states] == [b.compute(s, loco, 0.02) for s in states]
    t = time.perf_counter()
    for s in states * 10:
        a.compute(s, loco, 0.02)
    per_call = (time.perf_counter() - t) / (len(states) * 10)
    assert per_call < 2e-3, f"{per_call * 1e6:.0f} us per call"  # ~0.3 ms on an idle core; 50 Hz leaves 20 ms
