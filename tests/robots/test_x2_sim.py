"""X2Sim (the MuJoCo twin): standing, arm tracking, kinematic base, squat, gripper grasp, reach, determinism,
cameras. Real physics throughout."""

from __future__ import annotations

import math
import time

import mujoco
import numpy as np
import pytest

from lerobot_wbvla.robots.agibot_x2 import lower_body as lb
from lerobot_wbvla.robots.agibot_x2.arm_ik import solve_arm_ik
from lerobot_wbvla.robots.agibot_x2.joints import ARM_JOINTS, STATE_KEYS
from lerobot_wbvla.robots.agibot_x2.scenes import SceneHandles, get_scene, list_scenes, register_scene
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim, X2SimConfig

BOX_HALF = 0.025
BOX_MASS = 0.4


@register_scene("test_x2_box")
def _box_scene(spec: mujoco.MjSpec) -> SceneHandles:
    box = spec.worldbody.add_body(name="test_box", pos=(1.5, 0, BOX_HALF))
    box.add_freejoint(name="test_box_free")
    g = box.add_geom(
        type=mujoco.mjtGeom.mjGEOM_BOX, size=(BOX_HALF, BOX_HALF, BOX_HALF), rgba=(0.2, 0.6, 0.9, 1)
    )
    g.mass = BOX_MASS
    g.friction = (1.0, 0.01, 0.001)

    def randomise(model, data, rng):
        adr = model.jnt_qposadr[model.joint("test_box_free").id]
        data.qpos[adr : adr + 2] = (1.5 + rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1))

    return SceneHandles(task="hold the box", bodies={"object": "test_box"}, randomise=randomise)


def _run(sim: X2Sim, seconds: float, fps: int = 30):
    track = []
    for _ in range(round(seconds * fps)):
        sim.advance(1.0 / fps)
        pos, _ = sim.base_pose()
        track.append((pos[2], sim.tilt()))
    return np.array(track)


def test_physical_mode_stands_with_pd_alone_for_5s():
    sim = X2Sim(X2SimConfig(base_mode="physical"))
    track = _run(sim, 6.0)
    z0 = lb.nominal_height()
    assert np.all(np.abs(track[:, 0] - z0) < 0.02), f"pelvis z left {z0:.3f}+-0.02: {track[:, 0].min():.3f}"
    assert np.degrees(track[:, 1].max()) < 5.0
    obs = sim.observation()
    assert all(obs[k] == 1.0 for k in STATE_KEYS if k.startswith("foot_contact."))
    assert obs["imu.acc_z"] == pytest.approx(9.81, abs=0.3)  # standing still: accelerometer reads gravity
    assert abs(sim.base_pose()[0][0]) < 0.03  # did not walk away


def test_physical_mode_squats_to_commanded_height():
    sim = X2Sim(X2SimConfig(base_mode="physical"))
    sim.set_command({"loco.height": 0.58})
    track = _run(sim, 3.0)
    assert track[-1, 0] == pytest.approx(0.58, abs=0.03)  # PD stance: knees sag ~0.1 rad under load
    assert np.degrees(track[:, 1].max()) < 8.0
    sim.set_command({"loco.height": 0.0})  # 0 = nominal standing height
    track = _run(sim, 2.0)
    assert track[-1, 0] == pytest.approx(lb.nominal_height(), abs=0.02)


def test_arm_joint_targets_are_reached():
    sim = X2Sim(X2SimConfig(base_mode="kinematic"))
    rng = np.random.default_rng(3)
    targets = {}
    for j in ARM_JOINTS:
        lo, hi = sim.model.jnt_range[sim.model.joint(f"{j}_joint").id]
        span = hi - lo
        targets[f"{j}.pos"] = float(rng.uniform(lo + 0.3 * span, hi - 0.3 * span))
    sim.set_command(targets)
    _run(sim, 2.0)
    obs = sim.observation()
    err = {k: abs(obs[k] - v) for k, v in targets.items()}
    assert max(err.values()) < 0.02, err
    assert max(abs(obs[k.replace(".pos", ".vel")]) for k in targets) < 0.05


@pytest.mark.parametrize(
    "cmd, expect",
    [
        ({"loco.vx": 0.5}, (0.5 * 3.0 - 0.5**2 / (2 * 1.5), 0.0, 0.0)),
        ({"loco.vy": -0.3}, (0.0, -(0.3 * 3.0 - 0.3**2 / (2 * 1.5)), 0.0)),
        ({"loco.yaw_rate": 0.6}, (0.0, 0.0, 0.6 * 3.0 - 0.6**2 / (2 * 3.0))),
    ],
)
def test_kinematic_base_follows_loco_commands(cmd, expect):
    sim = X2Sim(X2SimConfig(base_mode="kinematic"))
    sim.set_command(cmd)
    track = _run(sim, 3.0)
    pos, yaw = sim.base_pose()
    assert pos[0] == pytest.approx(expect[0], abs=0.03)
    assert pos[1] == pytest.approx(expect[1], abs=0.03)
    assert yaw == pytest.approx(expect[2], abs=0.03)
    assert np.all(np.abs(track[:, 0] - lb.nominal_height()) < 0.01)  # base held at standing height
    assert np.degrees(track[:, 1].max()) < 1.0


def test_kinematic_turn_then_walk_moves_along_the_new_heading():
    sim = X2Sim(X2SimConfig(base_mode="kinematic"))
    sim.set_command({"loco.yaw_rate": math.pi / 4})
    _run(sim, 2.0 + (math.pi / 4) / 3.0)  # includes the acceleration ramp
    sim.set_command({"loco.yaw_rate": 0.0})
    _run(sim, 1.0)
    _, yaw = sim.base_pose()
    sim.set_command({"loco.vx": 0.4})
    p0 = sim.base_pose()[0]
    _run(sim, 2.0)
    d = sim.base_pose()[0] - p0
    assert math.atan2(d[1], d[0]) == pytest.approx(yaw, abs=0.03)
    assert np.hypot(d[0], d[1]) > 0.6


def test_table_top_is_reachable_by_both_grippers():
    sim = X2Sim(X2SimConfig(base_mode="kinematic"))
    for side, y in (("left", 0.18), ("right", -0.18)):
        target = np.array([0.38, y, 0.80])  # 5 cm above a 0.75 m table, 0.38 m in front of the pelvis
        q, err = solve_arm_ik(sim.model, sim.data, side, target, approach=(0, 0, -1))
        assert err < 0.005
        sim.set_command({f"{j}.pos": v for j, v in q.items()})
    _run(sim, 2.0)
    for side, y in (("left", 0.18), ("right", -0.18)):
        tcp = sim.data.site_xpos[sim.model.site(f"{side}_gripper_tcp").id]
        np.testing.assert_allclose(tcp, (0.38, y, 0.80), atol=0.015)


def test_gripper_holds_a_400g_box_while_the_base_moves():
    sim = X2Sim(X2SimConfig(base_mode="kinematic", scene="test_x2_box"))
    assert sim.task == "hold the box"
    target = np.array([0.35, 0.15, 0.85])
    q, _ = solve_arm_ik(sim.model, sim.data, "left", target, approach=(0, 0, -1))
    sim.set_command({f"{j}.pos": v for j, v in q.items()} | {"left_gripper.pos": 0.0})
    _run(sim, 1.5)
    # put the box between the open fingers, then close
    tcp_id = sim.model.site("left_gripper_tcp").id
    adr = sim.model.jnt_qposadr[sim.model.joint("test_box_free").id]
    sim.data.qpos[adr : adr + 3] = sim.data.site_xpos[tcp_id]
    sim.data.qpos[adr + 3 : adr + 7] = sim.data.xquat[sim.model.body("left_gripper_palm").id]
    sim.data.qvel[:] = 0
    mujoco.mj_forward(sim.model, sim.data)
    sim.set_command({"left_gripper.pos": 1.0})
    _run(sim, 1.0)
    box = sim.model.body("test_box").id
    obs = sim.observation()
    assert 0.3 < obs["left_gripper.pos"] < 0.6  # stopped by the 5 cm box (fully closed would be 1.0)
    offset0 = sim.data.xpos[box] - sim.data.site_xpos[tcp_id]
    sim.set_command({"loco.vx": 0.4, "loco.yaw_rate": 0.3})
    _run(sim, 2.0)
    offset = sim.data.xpos[box] - sim.data.site_xpos[tcp_id]
    assert sim.data.xpos[box][2] > 0.6  # not dropped
    assert np.linalg.norm(offset - offset0) < 0.02
    sim.set_command({"left_gripper.pos": 0.0, "loco.vx": 0.0, "loco.yaw_rate": 0.0})
    _run(sim, 2.0)
    assert sim.data.xpos[box][2] < 0.1  # released: it falls to the floor


def test_one_dof_waist_stays_locked_while_an_arm_reaches():
    sim = X2Sim(X2SimConfig(base_mode="physical", waist="1dof", arm_gravity_compensation=False))
    sim.set_command(
        {"left_shoulder_pitch.pos": -1.4, "right_shoulder_pitch.pos": -1.4, "left_elbow.pos": -0.2}
    )
    _run(sim, 2.0)
    obs = sim.observation()
    assert abs(obs["waist_pitch.pos"]) < 0.002 and abs(obs["waist_roll.pos"]) < 0.002
    free = X2Sim(X2SimConfig(base_mode="physical", waist="3dof", arm_gravity_compensation=False))
    free.set_command(
        {"left_shoulder_pitch.pos": -1.4, "right_shoulder_pitch.pos": -1.4, "left_elbow.pos": -0.2}
    )
    _run(free, 2.0)
    assert abs(free.observation()["waist_pitch.pos"]) > 0.012  # the same load bends a free waist


def test_same_seed_and_actions_give_the_same_trajectory():
    def rollout():
        sim = X2Sim(X2SimConfig(base_mode="physical", scene="test_x2_box"))
        sim.reset(seed=7)
        for i in range(40):
            sim.set_command({"left_elbow.pos": -0.3 - 0.02 * i, "loco.height": 0.62})
            sim.advance(1 / 30)
        return sim.data.qpos.copy(), sim.sim_time

    (a, ta), (b, tb) = rollout(), rollout()
    np.testing.assert_array_equal(a, b)
    assert (
        ta == tb == pytest.approx(40 / 30, abs=1 / 200)
    )  # 200 Hz physics, 30 Hz ticks: remainder carried over


def test_reset_seed_randomises_the_scene():
    sim = X2Sim(X2SimConfig(scene="test_x2_box"))
    box = sim.model.body("test_box").id
    sim.reset(seed=1)
    p1 = sim.data.xpos[box].copy()
    sim.reset(seed=2)
    p2 = sim.data.xpos[box].copy()
    sim.reset(seed=1)
    np.testing.assert_array_equal(sim.data.xpos[box], p1)
    assert np.linalg.norm(p1 - p2) > 1e-3
    assert "floor" in list_scenes()
    with pytest.raises(ValueError, match="no_such_scene"):
        get_scene("no_such_scene")


def _orange(img: np.ndarray) -> np.ndarray:
    return (img[..., 0] > 180) & (img[..., 1] > 80) & (img[..., 1] < 180) & (img[..., 2] < 100)


def test_head_camera_renders_fast_and_sees_the_grippers_over_a_table(capsys):
    sim = X2Sim(X2SimConfig(head_camera=(224, 224), wrist_cameras=True))
    img = sim.render("head")
    assert img.shape == (224, 224, 3) and img.dtype == np.uint8
    assert img.std() > 5  # not blank
    before = _orange(img).sum()
    for side, y in (("left", 0.15), ("right", -0.15)):
        q, _ = solve_arm_ik(sim.model, sim.data, side, np.array([0.38, y, 0.80]), approach=(0, 0, -1))
        sim.set_command({f"{j}.pos": v for j, v in q.items()})
    _run(sim, 2.0)
    img = sim.render("head")
    orange = _orange(img)
    assert orange.sum() > before + 100  # the orange finger pads come into view ...
    assert (
        orange[112:].sum() > orange[:112].sum()
    )  # ... in the lower half (the camera looks down at the table)
    assert orange[:, :112].sum() > 20 and orange[:, 112:].sum() > 20  # left and right gripper
    n = 30
    t = time.perf_counter()
    for _ in range(n):
        sim.render("head")
    fps = n / (time.perf_counter() - t)
    with capsys.disabled():
        print(f"\n[x2 head camera 224x224] {fps:.0f} fps")
    assert fps > 15
    assert sim.render("left_wrist").shape == (224, 224, 3)
    with pytest.raises(KeyError, match="nose"):
        sim.render("nose")
    sim.close()


def test_non_finite_commands_are_refused_by_name():
    sim = X2Sim(X2SimConfig())
    before = dict(sim.targets)
    with pytest.raises(ValueError, match=r"left_elbow\.pos"):
        sim.set_command({"left_elbow.pos": float("nan"), "loco.vx": 0.2})
    assert sim.targets == before and sim.loco.vx == 0.0
    with pytest.raises(KeyError, match="left_knee.pos"):
        sim.set_command({"left_knee.pos": 0.1})


@lb.register_lower_body_controller("test_waist_turn")
class _WaistTurn:
    """A stand-in for the future LMO policy: the stance plus a 0.3 rad waist turn; it records its calls."""

    def __init__(self):
        self.calls = 0
        self.last_loco = None

    def reset(self):
        self.calls = 0

    def compute(self, state, loco, dt):
        assert "left_knee.pos" in state and "imu.quat_w" in state
        self.calls += 1
        self.last_loco = loco
        pose = lb.stance_leg_pose(None)
        pose["waist_yaw"] = 0.3
        return pose


def test_lower_body_controller_is_pluggable_and_runs_at_its_rate():
    sim = X2Sim(X2SimConfig(base_mode="physical", lower_body_controller="test_waist_turn", lower_body_hz=50))
    ctrl = sim.lower_body
    assert isinstance(ctrl, _WaistTurn) and isinstance(ctrl, lb.LowerBodyController)
    sim.set_command({"loco.vx": 0.3})
    calls = ctrl.calls  # reset() ran it through the settle (reset before it, so it starts the episode warm)
    assert calls == round(sim.config.reset_settle_s * 50)
    sim.advance(1.0)
    assert ctrl.calls - calls == 50
    assert ctrl.last_loco.vx == 0.3
    obs = sim.observation()
    assert obs["waist_yaw.pos"] == pytest.approx(0.3, abs=0.02)
    assert sim.tilt() < 0.1
    with pytest.raises(ValueError, match="no_such_controller"):
        lb.make_lower_body_controller("no_such_controller")
