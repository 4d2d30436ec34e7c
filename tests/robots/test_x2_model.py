"""The generated X2 Ultra MJCF: joints, actuators, ranges, torque limits and mass against the published figures."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from lerobot_wbvla.robots.agibot_x2 import mjcf
from lerobot_wbvla.robots.agibot_x2 import params as P
from lerobot_wbvla.robots.agibot_x2.joints import AIMDK_GROUPS, BODY_JOINTS, GRIPPERS, mjcf_joint_name


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return mjcf.build_spec().compile()


def test_31_hinge_actuators_plus_two_grippers(model):
    assert model.nu == 33
    names = [model.actuator(i).name for i in range(model.nu)]
    assert names == list(BODY_JOINTS) + list(GRIPPERS)
    for j in BODY_JOINTS:
        jid = model.joint(mjcf_joint_name(j)).id
        assert model.jnt_type[jid] == mujoco.mjtJoint.mjJNT_HINGE
        assert model.actuator_trnid[model.actuator(j).id, 0] == jid
    hinges = [i for i in range(model.njnt) if model.jnt_type[i] == mujoco.mjtJoint.mjJNT_HINGE]
    assert len(hinges) == 31
    # AimDK grouping: 12 leg, 3 waist, 2 head, 14 arm
    assert [len(v) for v in AIMDK_GROUPS.values()] == [12, 3, 2, 14]


@pytest.mark.parametrize(
    "joint, lo, hi, torque",
    [  # X2-Ultra.xml v1.4.0 figures (notes/agibot-x2.md section 3)
        ("left_knee", 0.0, 2.408554, 120.0),
        ("right_hip_roll", -2.905973, 0.235619, 120.0),
        ("left_ankle_pitch", -0.802851, 0.453786, 60.0),
        ("right_ankle_roll", -0.2967059728, 0.2967059728, 36.0),
        ("waist_yaw", -3.429572, 2.120575, 120.0),
        ("head_pitch", -0.401425, 0.488692, 2.0),
        ("left_shoulder_roll", -0.061087, 3.045600, 60.0),
        ("right_wrist_roll", -0.724312, 1.509710, 6.0),
        ("left_elbow", -2.356194, 0.0, 36.0),
    ],
)
def test_published_ranges_and_torque_limits(model, joint, lo, hi, torque):
    jid = model.joint(mjcf_joint_name(joint)).id
    np.testing.assert_allclose(model.jnt_range[jid], (lo, hi), atol=1e-6)  # radians, not degrees
    aid = model.actuator(joint).id
    np.testing.assert_allclose(model.actuator_forcerange[aid], (-torque, torque))
    np.testing.assert_allclose(model.actuator_ctrlrange[aid], (lo, hi), atol=1e-6)


def test_every_joint_range_and_gain_comes_from_the_table(model):
    gains = mjcf.default_gains()
    for j in BODY_JOINTS:
        jp = P.joint_params(j)
        np.testing.assert_allclose(model.jnt_range[model.joint(mjcf_joint_name(j)).id], jp.range, atol=1e-9)
        aid = model.actuator(j).id
        kp, kd = gains[j]
        assert model.actuator_gainprm[aid, 0] == pytest.approx(kp)
        assert model.actuator_biasprm[aid, 1:3] == pytest.approx((-kp, -kd))


def test_mass_matches_the_public_model(model):
    pelvis = model.body("pelvis").id
    grippers = sum(model.body_subtreemass[model.body(f"{s}_gripper_palm").id] for s in ("left", "right"))
    body_mass = model.body_subtreemass[pelvis] - grippers
    assert body_mass == pytest.approx(P.PUBLISHED_MASS_KG, abs=0.05)  # 44.80 kg sum of the v1.4.0 links
    assert 44.0 < model.body_subtreemass[pelvis] < 47.0  # URDF README: ~45 kg (v1.4.0), grippers included


def test_sensors_cameras_and_sites(model):
    for name in ("imu_quat", "imu_gyro", "imu_acc"):
        assert model.sensor(name).id >= 0
    assert model.camera("head").id >= 0
    assert model.ncam == 1
    for pad in mjcf.FOOT_PADS:
        assert model.geom(pad).id >= 0
    for side in ("left", "right"):
        assert model.site(f"{side}_gripper_tcp").id >= 0
    wrist = mjcf.build_spec(mjcf.MjcfOptions(wrist_cameras=True)).compile()
    assert {wrist.camera(i).name for i in range(wrist.ncam)} == {"head", "left_wrist", "right_wrist"}
    assert model.opt.timestep == pytest.approx(1 / 200)


def test_one_dof_waist_option_locks_pitch_and_roll():
    m = mjcf.build_spec(mjcf.MjcfOptions(waist="1dof")).compile()
    locks = {m.equality(i).name for i in range(m.neq)}
    assert {"waist_pitch_lock", "waist_roll_lock"} <= locks
    assert m.nu == 33  # the joints stay (observation keeps 31 joints), pitch/roll are pinned at 0
    with pytest.raises(ValueError, match="waist"):
        mjcf.build_spec(mjcf.MjcfOptions(waist="2dof"))


def test_mjcf_cli_writes_a_loadable_file(tmp_path):
    out = tmp_path / "x2.xml"
    mjcf.main([str(out)])
    m = mujoco.MjModel.from_xml_path(str(out))
    assert m.nu == 33 and m.njnt == 1 + 31 + 4
    assert "mesh" not in out.read_text()  # primitives only
