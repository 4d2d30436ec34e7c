"""Generate the MuJoCo model of the X2 Ultra twin from the parameter table (params.py).

The kinematic tree, joints and inertials come from params.py (public X2-Ultra figures); the geometry is our own
set of primitives (capsules, boxes, cylinders) chosen for fast contacts and fast rendering; we add a 1-DoF
parallel gripper per arm, heel/toe foot pads, an IMU site, a head camera and optional wrist cameras, and PD
position actuators whose force limits are the published peak torques.

Collision filtering (contype/conaffinity bits; MuJoCo collides two geoms when `contype1 & conaffinity2` or
`contype2 & conaffinity1` is non-zero, and never a body with its parent):
- the floor and props keep MuJoCo's default contype=conaffinity=1 and collide with every robot geom;
- robot geoms come in three classes: the body (pelvis, legs, waist, torso, head), the left arm (shoulder to
  fingertips) and the right arm. With `self_collision=True` (the default, as on the real robot, whose public model
  collides) each arm collides with the body and with the other arm, but the body never with itself and an arm
  never with itself (neighbouring links overlap at the joints by design); `self_collision=False` gives every robot
  geom contype=2, conaffinity=1, so the robot never collides with itself.

`python -m lerobot_wbvla.robots.agibot_x2.mjcf out.xml` writes the generated MJCF (robot on a floor).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import mujoco
import numpy as np

from . import params as P
from .joints import ARM_JOINTS, BODY_JOINTS, GRIPPERS, HEAD_JOINTS, LEG_JOINTS, WAIST_JOINTS, mjcf_joint_name

ROBOT_CONTYPE = 2  # every robot geom without self-collision; the body class with it
ROBOT_CONAFFINITY = 1
# Self-collision classes: (contype, conaffinity). Bit 1 = world/props, 2 = body, 4 = left arm, 8 = right arm.
SELF_COLLISION_CLASSES = {
    "body": (2, 1 | 4 | 8),
    "left_arm": (4, 1 | 2 | 8),
    "right_arm": (8, 1 | 2 | 4),
}
_ARM_LINK_PREFIXES = ("shoulder_", "elbow_", "wrist_", "gripper_")
BASE_TARGET_BODY = "base_target"  # mocap body the pelvis is welded to in kinematic base mode
BASE_WELD = "base_weld"
FOOT_PADS = ("left_heel", "left_toe", "right_heel", "right_toe")

_GREY = (0.35, 0.37, 0.40, 1.0)
_WHITE = (0.85, 0.86, 0.88, 1.0)
_DARK = (0.12, 0.12, 0.14, 1.0)
_ORANGE = (0.95, 0.55, 0.15, 1.0)


@dataclass
class MjcfOptions:
    """What to build. `waist="1dof"` locks waist pitch and roll at 0 with equality constraints (paper prototype)."""

    waist: str = "3dof"
    head_camera: tuple[int, int] = (224, 224)  # (height, width)
    wrist_cameras: bool = False
    kinematic_base: bool = False  # add the mocap base target + weld, and stop feet colliding with the floor
    physics_hz: int = 200
    self_collision: bool = True  # arms collide with the body and with each other (see the module docstring)


def _quat_from_axes(x_axis, y_axis) -> np.ndarray:
    """Quaternion of a frame whose x and y axes (in the parent frame) are given."""
    x = np.asarray(x_axis, float)
    y = np.asarray(y_axis, float)
    z = np.cross(x, y)
    mat = np.stack([x, y, z], axis=1).reshape(-1)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, mat)
    return quat


def _geom(body, name: str | None = None, rgba=_GREY, collide: bool = True, **kw):
    g = body.add_geom(**kw)
    if name:
        g.name = name
    g.rgba = rgba
    g.mass = 0.0  # inertia comes from the table, never from geometry
    g.density = 0.0
    if collide:
        g.contype, g.conaffinity = ROBOT_CONTYPE, ROBOT_CONAFFINITY
    else:
        g.contype, g.conaffinity = 0, 0
    return g


_CAPSULE = mujoco.mjtGeom.mjGEOM_CAPSULE
_BOX = mujoco.mjtGeom.mjGEOM_BOX
_CYL = mujoco.mjtGeom.mjGEOM_CYLINDER
_SPHERE = mujoco.mjtGeom.mjGEOM_SPHERE
_Y_CYL = (0.7071068, 0.7071068, 0.0, 0.0)  # cylinder axis along y


def _add_link_geometry(body, link: str) -> None:
    """Our own primitive geometry per link (sizes chosen to cover the public model's collision volumes)."""
    side = 1.0 if link.startswith("left") else -1.0
    base = link.removeprefix("left_").removeprefix("right_")
    if link == "pelvis":
        _geom(body, type=_BOX, size=(0.07, 0.11, 0.06), pos=(-0.01, 0, 0.0), rgba=_DARK)
    elif base == "hip_pitch_link":
        _geom(body, type=_CYL, size=(0.05, 0.035), pos=(0, side * 0.06, 0), quat=_Y_CYL, rgba=_DARK)
    elif base == "hip_roll_link":
        _geom(body, type=_CYL, size=(0.055, 0.03), pos=(0, 0, -0.1), rgba=_DARK)
    elif base == "hip_yaw_link":
        _geom(body, type=_CAPSULE, size=(0.055, 0), fromto=(0.005, 0, -0.02, -0.005, 0, -0.17), rgba=_WHITE)
    elif base == "knee_link":
        _geom(body, type=_CAPSULE, size=(0.045, 0), fromto=(0, 0, -0.03, -0.01, 0, -0.24), rgba=_WHITE)
    elif base == "ankle_pitch_link":
        _geom(body, type=_SPHERE, size=(0.03, 0, 0), rgba=_DARK, collide=False)
    elif base == "ankle_roll_link":
        x0, x1 = P.SOLE_X
        x_mid = 0.035
        half_h = 0.012
        zc = P.SOLE_Z + half_h
        for pad, lo, hi in (("heel", x0, x_mid), ("toe", x_mid, x1)):
            _geom(
                body,
                name=f"{'left' if side > 0 else 'right'}_{pad}",
                type=_BOX,
                size=((hi - lo) / 2, P.SOLE_HALF_WIDTH, half_h),
                pos=((hi + lo) / 2, 0, zc),
                rgba=_DARK,
            )
        _geom(body, type=_BOX, size=(0.06, 0.045, 0.02), pos=(0.02, 0, -0.035), rgba=_WHITE, collide=False)
    elif link == "waist_yaw_link":
        _geom(body, type=_CYL, size=(0.065, 0.03), pos=(0, 0, 0.035), rgba=_DARK)
    elif link == "torso_link":
        _geom(body, type=_BOX, size=(0.08, 0.11, 0.12), pos=(-0.01, 0, 0.17), rgba=_WHITE)
        _geom(body, type=_CAPSULE, size=(0.05, 0), fromto=(0, 0.1, 0.25, 0, -0.1, 0.25), rgba=_WHITE)
    elif base == "shoulder_pitch_link":
        _geom(body, type=_CYL, size=(0.045, 0.028), pos=(0, side * 0.045, 0), quat=_Y_CYL, rgba=_DARK)
    elif base == "shoulder_roll_link":
        _geom(body, type=_CAPSULE, size=(0.042, 0), fromto=(0, 0, -0.03, 0, 0, -0.11), rgba=_WHITE)
    elif base == "shoulder_yaw_link":
        _geom(body, type=_CAPSULE, size=(0.04, 0), fromto=(0, 0, 0, 0.012, 0, -0.07), rgba=_WHITE)
    elif base == "elbow_link":
        _geom(body, type=_CAPSULE, size=(0.035, 0), fromto=(0, 0, -0.01, -0.014, 0, -0.1), rgba=_WHITE)
    elif base == "wrist_yaw_link":
        _geom(body, type=_CYL, size=(0.033, 0.03), pos=(0, 0, -0.03), rgba=_DARK)
    elif base == "wrist_pitch_link":
        _geom(body, type=_SPHERE, size=(0.03, 0, 0), rgba=_DARK, collide=False)
    elif base == "wrist_roll_link":
        _geom(body, type=_CYL, size=(0.032, 0.02), pos=(0, 0, -0.035), rgba=_DARK)
    elif link == "head_yaw_link":
        _geom(body, type=_CYL, size=(0.035, 0.04), pos=(0, 0, 0.04), rgba=_DARK)
    elif link == "head_pitch_link":
        _geom(body, type=_CYL, size=(0.08, 0.045), pos=(0, 0, 0.01), quat=_Y_CYL, rgba=_WHITE)
        _geom(body, type=_BOX, size=(0.01, 0.05, 0.02), pos=(0.078, 0, 0.02), rgba=_DARK, collide=False)


def _add_gripper(wrist_body, side: str, wrist_camera: tuple[int, int] | None) -> None:
    """1-DoF parallel gripper [ours]: palm + two fingers sliding along the wrist y axis, coupled by an equality
    (added by the caller), driven by one position actuator on finger a."""
    palm = wrist_body.add_body(name=f"{side}_gripper_palm", pos=(0, 0, P.GRIPPER_MOUNT_Z))
    palm.mass = P.GRIPPER_PALM_MASS
    palm.ipos = P.GRIPPER_PALM_IPOS
    palm.inertia = P.GRIPPER_PALM_INERTIA
    palm.explicitinertial = True
    _geom(palm, type=_BOX, size=(0.03, 0.055, 0.025), pos=(0, 0, -0.025), rgba=_DARK)
    tcp_z = -0.05 - 0.6 * P.FINGER_LENGTH
    palm.add_site(
        name=f"{side}_gripper_tcp", pos=(0, 0, tcp_z), size=(0.01, 0, 0), rgba=(1, 0, 0, 0.5), group=5
    )
    for finger, sign in (("a", 1.0), ("b", -1.0)):
        fb = palm.add_body(name=f"{side}_gripper_finger_{finger}", pos=(0, 0, -0.05 - P.FINGER_LENGTH / 2))
        fb.mass = P.GRIPPER_FINGER_MASS
        fb.ipos = (0, sign * 0.008, 0)
        fb.inertia = (2e-5, 2e-5, 5e-6)
        fb.explicitinertial = True
        j = fb.add_joint(name=f"{side}_gripper_finger_{finger}_joint", type=mujoco.mjtJoint.mjJNT_SLIDE)
        j.axis = (0, sign, 0)
        j.range = (0.0, P.GRIPPER_STROKE)
        j.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        j.armature = 0.01
        j.damping = (2.0, 0.0, 0.0)
        g = _geom(
            fb,
            name=f"{side}_gripper_pad_{finger}",
            type=_BOX,
            size=(0.018, 0.008, P.FINGER_LENGTH / 2),
            pos=(0, sign * 0.008, 0),
            rgba=_ORANGE,
        )
        g.friction = P.GRIPPER_FRICTION
        g.condim = 4
    if wrist_camera is not None:
        palm.add_camera(
            name=f"{side}_wrist",
            pos=(0.06, 0, 0.0),
            quat=_quat_from_axes((0, -1, 0), (1, 0, 0)),  # looks along -z of the palm (toward the fingers)
            fovy=P.WRIST_CAMERA_FOVY,
        )


def collision_class(body_name: str) -> str:
    """Self-collision class of a robot body: "left_arm", "right_arm" (shoulder links to gripper fingers) or
    "body"."""
    for side in ("left", "right"):
        if body_name.startswith(f"{side}_") and body_name[len(side) + 1 :].startswith(_ARM_LINK_PREFIXES):
            return f"{side}_arm"
    return "body"


def _set_collision_classes(root: mujoco.MjsBody, self_collision: bool) -> None:
    """contype/conaffinity of every colliding geom under `root` (geoms built with collide=False stay 0/0)."""
    bodies = [root, *root.find_all(mujoco.mjtObj.mjOBJ_BODY)]
    for body in bodies:
        bits = SELF_COLLISION_CLASSES[collision_class(body.name)] if self_collision else None
        for g in body.geoms:
            if g.contype == 0 and g.conaffinity == 0:
                continue
            g.contype, g.conaffinity = bits or (ROBOT_CONTYPE, ROBOT_CONAFFINITY)


def add_robot(spec: mujoco.MjSpec, options: MjcfOptions) -> None:
    """Add the X2 Ultra (pelvis free body and everything below it) to `spec.worldbody`."""
    bodies = {}
    for lp in P.LINKS:
        parent = spec.worldbody if lp.parent is None else bodies[lp.parent]
        body = parent.add_body(name=lp.name, pos=lp.pos, quat=lp.quat)
        inertial = lp.inertial
        body.mass = inertial.mass
        body.ipos = inertial.pos
        body.iquat = inertial.quat
        body.inertia = inertial.diaginertia
        body.explicitinertial = True
        if lp.parent is None:
            body.add_freejoint(name="floating_base_joint")
            body.add_site(name="imu", pos=P.IMU_POS, size=(0.01, 0, 0), rgba=(1, 0, 0, 0.5), group=5)
        else:
            jp = lp.joint
            j = body.add_joint(name=mjcf_joint_name(jp.name), type=mujoco.mjtJoint.mjJNT_HINGE)
            j.axis = jp.axis
            j.range = jp.range
            j.limited = mujoco.mjtLimited.mjLIMITED_TRUE
            j.armature = P.JOINT_ARMATURE
            j.frictionloss = P.JOINT_FRICTIONLOSS
            j.actfrcrange = (-jp.torque, jp.torque)
            j.actfrclimited = mujoco.mjtLimited.mjLIMITED_TRUE
        _add_link_geometry(body, lp.name)
        bodies[lp.name] = body

    h, w = options.head_camera
    bodies["head_pitch_link"].add_camera(
        name="head",
        pos=P.HEAD_CAMERA_POS,
        # looks along +x of the head, pitched down by HEAD_CAMERA_TILT
        quat=_quat_from_axes((0, -1, 0), (math.sin(P.HEAD_CAMERA_TILT), 0, math.cos(P.HEAD_CAMERA_TILT))),
        fovy=P.HEAD_CAMERA_FOVY,
    )
    for side in ("left", "right"):
        _add_gripper(bodies[f"{side}_wrist_roll_link"], side, (h, w) if options.wrist_cameras else None)
        eq = spec.add_equality(
            name=f"{side}_gripper_coupling",
            type=mujoco.mjtEq.mjEQ_JOINT,
            name1=f"{side}_gripper_finger_b_joint",
            name2=f"{side}_gripper_finger_a_joint",
        )
        eq.data[0:5] = (0, 1, 0, 0, 0)
        eq.solref = (0.005, 1.0)
    _set_collision_classes(bodies["pelvis"], options.self_collision)

    if options.waist == "1dof":
        for joint in ("waist_pitch", "waist_roll"):
            eq = spec.add_equality(
                name=f"{joint}_lock", type=mujoco.mjtEq.mjEQ_JOINT, name1=mjcf_joint_name(joint)
            )
            eq.data[0:5] = (0, 0, 0, 0, 0)
            eq.solref = (2.0 / options.physics_hz, 1.0)
            eq.solimp = (0.99, 0.999, 0.001, 0.5, 2.0)

    gains = default_gains()
    for joint in BODY_JOINTS:
        jp = P.joint_params(joint)
        kp, kd = gains[joint]
        act = spec.add_actuator(name=joint, target=mjcf_joint_name(joint), trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=kp, kv=kd)
        act.ctrlrange = jp.range
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = (-jp.torque, jp.torque)
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
    for gripper in GRIPPERS:
        act = spec.add_actuator(
            name=gripper, target=f"{gripper}_finger_a_joint", trntype=mujoco.mjtTrn.mjTRN_JOINT
        )
        act.set_to_position(kp=P.GRIPPER_KP, kv=P.GRIPPER_KV)
        act.ctrlrange = (0.0, P.GRIPPER_STROKE)
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = (-P.GRIPPER_FORCE, P.GRIPPER_FORCE)
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE

    spec.add_sensor(
        name="imu_quat",
        type=mujoco.mjtSensor.mjSENS_FRAMEQUAT,
        objtype=mujoco.mjtObj.mjOBJ_SITE,
        objname="imu",
    )
    spec.add_sensor(
        name="imu_gyro", type=mujoco.mjtSensor.mjSENS_GYRO, objtype=mujoco.mjtObj.mjOBJ_SITE, objname="imu"
    )
    spec.add_sensor(
        name="imu_acc",
        type=mujoco.mjtSensor.mjSENS_ACCELEROMETER,
        objtype=mujoco.mjtObj.mjOBJ_SITE,
        objname="imu",
    )

    if options.kinematic_base:
        target = spec.worldbody.add_body(name=BASE_TARGET_BODY, mocap=True, pos=P.PELVIS.pos)
        _geom(target, type=_SPHERE, size=(0.01, 0, 0), rgba=(0, 0, 0, 0), collide=False)
        weld = spec.add_equality(
            name=BASE_WELD,
            type=mujoco.mjtEq.mjEQ_WELD,
            name1="pelvis",
            name2=BASE_TARGET_BODY,
            objtype=mujoco.mjtObj.mjOBJ_BODY,
        )
        weld.solref = (2.0 / options.physics_hz, 1.0)
        weld.solimp = (0.99, 0.999, 0.001, 0.5, 2.0)
        for side in ("left", "right"):
            spec.add_exclude(bodyname1="world", bodyname2=f"{side}_ankle_roll_link")


def add_world(spec: mujoco.MjSpec, options: MjcfOptions) -> None:
    """Simulation options, render settings tuned for speed, a light and a checkered floor."""
    spec.modelname = "agibot_x2_ultra_twin"
    spec.compiler.degree = False  # all angles in params.py are radians
    spec.option.timestep = 1.0 / options.physics_hz
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 5.0
    h, w = options.head_camera
    spec.visual.global_.offwidth = max(640, w)
    spec.visual.global_.offheight = max(480, h)
    spec.visual.quality.shadowsize = 0
    spec.visual.quality.offsamples = 0
    spec.visual.headlight.ambient = (0.45, 0.45, 0.45)
    spec.visual.headlight.diffuse = (0.5, 0.5, 0.5)
    tex = spec.add_texture(
        name="floor_checker",
        type=mujoco.mjtTexture.mjTEXTURE_2D,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
        rgb1=(0.55, 0.55, 0.52),
        rgb2=(0.42, 0.42, 0.40),
        width=64,
        height=64,
    )
    mat = spec.add_material(name="floor_mat", texrepeat=(8, 8), reflectance=0.0)
    mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = tex.name
    spec.worldbody.add_geom(
        name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=(0, 0, 0.05), material="floor_mat"
    )
    spec.worldbody.add_light(
        name="sun",
        pos=(0, 0, 4),
        dir=(0, 0, -1),
        castshadow=False,
        type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
        diffuse=(0.5, 0.5, 0.5),
    )


def build_spec(options: MjcfOptions | None = None) -> mujoco.MjSpec:
    """World (floor, light) + X2 twin as an MjSpec; scenes may add props before compiling."""
    options = options or MjcfOptions()
    if options.waist not in ("3dof", "1dof"):
        raise ValueError(f"waist must be '3dof' or '1dof', got {options.waist!r}")
    spec = mujoco.MjSpec()
    add_world(spec, options)
    add_robot(spec, options)
    return spec


def default_gains() -> dict[str, tuple[float, float]]:
    """(kp, kd) of every body joint from params.py."""
    gains: dict[str, tuple[float, float]] = {}
    for j in LEG_JOINTS:
        gains[j] = P.LEG_GAINS[j.removeprefix("left_").removeprefix("right_")]
    for j in WAIST_JOINTS:
        gains[j] = P.WAIST_GAINS
    for j in HEAD_JOINTS:
        gains[j] = P.HEAD_GAINS
    for j in ARM_JOINTS:
        gains[j] = P.ARM_GAINS[j.removeprefix("left_").removeprefix("right_")]
    return gains


def joint_range(joint: str) -> tuple[float, float]:
    """Published range (rad) of a body joint."""
    return P.joint_params(joint).range


def joint_torque_limit(joint: str) -> float:
    """Published peak torque (N*m) of a body joint."""
    return P.joint_params(joint).torque


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m lerobot_wbvla.robots.agibot_x2.mjcf OUT.xml")
    spec = build_spec()
    spec.compile()
    with open(argv[0], "w") as f:
        f.write(spec.to_xml())


if __name__ == "__main__":
    main()
