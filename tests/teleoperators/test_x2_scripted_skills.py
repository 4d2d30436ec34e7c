"""Building blocks of x2_scripted: DLS arm IK on the twin and the planar go-to locomotion law."""

from __future__ import annotations

import math

import numpy as np

from lerobot_wbvla.robots.agibot_x2.sim import X2Sim, X2SimConfig
from lerobot_wbvla.teleoperators.x2_scripted.arm_ik import ArmIK
from lerobot_wbvla.teleoperators.x2_scripted.locomotion import GoToGains, PlanarPose, go_to, reached
from lerobot_wbvla.teleoperators.x2_scripted.skills import approach_rotation


def test_ik_reaches_a_grasp_pose_and_stays_in_joint_limits():
    sim = X2Sim(X2SimConfig())
    ik = ArmIK(sim.model, "right", "right_gripper_tcp")
    qpos = sim.data.qpos.copy()
    target, rot = np.array([0.36, -0.22, 0.82]), approach_rotation(0.0)
    q, err = ik.solve(qpos, target, rot)
    assert err < 3e-3
    qpos[ik.qadr] = q
    pos, r = ik.site_pose(qpos)
    np.testing.assert_allclose(pos, target, atol=3e-3)
    assert np.linalg.norm(r - rot) < 0.1
    assert np.all(q >= ik.lo - 1e-9) and np.all(q <= ik.hi + 1e-9)
    # Out of reach (1.5 m ahead): best effort inside the limits, and the error says so.
    q_far, err_far = ik.solve(sim.data.qpos.copy(), np.array([1.5, -0.2, 0.9]))
    assert err_far > 0.5
    assert np.all(q_far >= ik.lo - 1e-9) and np.all(q_far <= ik.hi + 1e-9)
    # The live simulation was not touched by solving.
    np.testing.assert_array_equal(sim.data.qpos, X2Sim(X2SimConfig()).data.qpos)


def test_go_to_reaches_goal_within_speed_limits():
    gains = GoToGains(max_vx=0.5, max_vy=0.3, max_yaw_rate=0.8)
    pose, goal, dt = PlanarPose(0.0, 0.0, 0.0), PlanarPose(-0.3, -2.4, -math.pi / 2), 1 / 30
    for _ in range(30 * 20):
        vx, vy, wz = go_to(pose, goal, gains)
        assert abs(vx) <= 0.5 + 1e-9 and abs(vy) <= 0.3 + 1e-9 and abs(wz) <= 0.8 + 1e-9
        c, s = math.cos(pose.yaw), math.sin(pose.yaw)
        pose = PlanarPose(
            pose.x + dt * (c * vx - s * vy), pose.y + dt * (s * vx + c * vy), pose.yaw + dt * wz
        )
        if reached(pose, goal, 0.01, 0.01):
            break
    assert reached(pose, goal, 0.01, 0.01), pose
