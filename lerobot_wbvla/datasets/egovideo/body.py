"""The kinematic body in the MuJoCo scene: a head camera and two arms, driven per frame from a BodyTrajectory.

Two mocap bodies carry it: `head` (the camera) and `torso` (shoulder line, heading only). Each arm is a chain
upper arm -> forearm -> hand under `torso` with three hinges (shoulder flexion, shoulder abduction, elbow, see
motion.ARM_JOINTS). Nothing is simulated: per frame we set the mocap poses and the hinge angles and run
forward kinematics, so the camera moves exactly as planned.

Looks vary per clip: a person (sleeves and skin or gloves) or a humanoid robot (white/grey shells, dark joints).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import mujoco
import numpy as np

from lerobot_wbvla.datasets.egovideo.motion import ARM_JOINTS, BodyShape, BodyTrajectory

HEAD_CAMERA = "head"

_SKIN_TONES = np.array(
    [[0.98, 0.84, 0.72], [0.91, 0.72, 0.58], [0.78, 0.57, 0.43], [0.58, 0.4, 0.28], [0.36, 0.24, 0.16]]
)


def quat_from_rpy(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Quaternion (w, x, y, z) of R = Rz(yaw) Ry(pitch) Rx(roll); pitch > 0 tips the +x axis down."""
    cr, sr = np.cos(roll / 2), np.sin(roll / 2)
    cp, sp = np.cos(pitch / 2), np.sin(pitch / 2)
    cy, sy = np.cos(yaw / 2), np.sin(yaw / 2)
    return np.array(
        [
            cy * cp * cr + sy * sp * sr,
            cy * cp * sr - sy * sp * cr,
            cy * sp * cr + sy * cp * sr,
            sy * cp * cr - cy * sp * sr,
        ]
    )


@dataclass
class BodyHandles:
    """Indices into MjData for driving the body."""

    head_mocap: int
    torso_mocap: int
    left_qpos: np.ndarray  # qpos addresses in ARM_JOINTS order
    right_qpos: np.ndarray
    camera_id: int

    def apply(self, data: mujoco.MjData, traj: BodyTrajectory, t: int) -> None:
        """Set frame t of the trajectory into data (positions only; call forward kinematics afterwards)."""
        data.mocap_pos[self.head_mocap] = traj.head_pos[t]
        data.mocap_quat[self.head_mocap] = quat_from_rpy(*traj.head_rpy[t])
        data.mocap_pos[self.torso_mocap] = traj.torso_pos[t]
        data.mocap_quat[self.torso_mocap] = quat_from_rpy(0.0, 0.0, traj.torso_yaw[t])
        data.qpos[self.left_qpos] = traj.arm_left[t]
        data.qpos[self.right_qpos] = traj.arm_right[t]


def add_body(spec: mujoco.MjSpec, shape: BodyShape, rng: np.random.Generator) -> None:
    """Add the head camera and the arms to `spec` (names: head, torso, <side>_upper_arm, ...)."""
    head = spec.worldbody.add_body(name="head", mocap=True, pos=[0, 0, shape.eye_height])
    # Camera looks along the head's +x, image right = head's -y, image up = head's +z.
    head.add_camera(name=HEAD_CAMERA, pos=[0, 0, 0], xyaxes=[0, -1, 0, 0, 0, 1], fovy=shape.fovy)
    torso = spec.worldbody.add_body(
        name="torso", mocap=True, pos=[0, 0, shape.eye_height - shape.shoulder_drop]
    )

    robot = rng.random() < 0.3
    if robot:
        shell = np.array([0.92, 0.92, 0.9]) * rng.uniform(0.7, 1.0)
        sleeve, skin, joint = shell, shell * 0.9, np.array([0.12, 0.12, 0.14])
        radius_upper, radius_fore = 0.05, 0.045
    else:
        sleeve = np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.1, 0.8), rng.uniform(0.15, 0.9)))
        glove = rng.random() < 0.2
        skin = (
            np.array([0.15, 0.15, 0.17]) * rng.uniform(0.8, 2.5)
            if glove
            else _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.93, 1.05)
        )
        joint = sleeve * 0.9
        radius_upper, radius_fore = rng.uniform(0.045, 0.055), rng.uniform(0.035, 0.043)
    sleeve_mat = spec.add_material(
        name="sleeve",
        rgba=[*np.clip(sleeve, 0, 1), 1],
        specular=0.3 if robot else 0.05,
        shininess=0.6 if robot else 0.1,
    )
    skin_mat = spec.add_material(name="skin", rgba=[*np.clip(skin, 0, 1), 1], specular=0.15, shininess=0.3)
    joint_mat = spec.add_material(name="arm_joint", rgba=[*np.clip(joint, 0, 1), 1], specular=0.2)

    capsule, box, sphere = (
        mujoco.mjtGeom.mjGEOM_CAPSULE,
        mujoco.mjtGeom.mjGEOM_BOX,
        mujoco.mjtGeom.mjGEOM_SPHERE,
    )
    hinge = mujoco.mjtJoint.mjJNT_HINGE
    for side, sign in (("left", 1.0), ("right", -1.0)):
        upper = torso.add_body(name=f"{side}_upper_arm", pos=[0, sign * shape.shoulder_half_width, 0])
        upper.add_joint(name=f"{side}_{ARM_JOINTS[0]}", type=hinge, axis=[0, -1, 0])
        upper.add_joint(name=f"{side}_{ARM_JOINTS[1]}", type=hinge, axis=[sign, 0, 0])
        upper.add_geom(
            type=capsule,
            fromto=[0, 0, 0, 0, 0, -shape.upper_arm],
            size=[radius_upper, 0, 0],
            material=sleeve_mat.name,
        )
        fore = upper.add_body(name=f"{side}_forearm", pos=[0, 0, -shape.upper_arm])
        fore.add_joint(name=f"{side}_{ARM_JOINTS[2]}", type=hinge, axis=[0, -1, 0])
        if robot:
            fore.add_geom(type=sphere, size=[radius_upper * 1.1, 0, 0], material=joint_mat.name)
            fore.add_geom(
                type=capsule,
                fromto=[0, 0, -0.02, 0, 0, -shape.forearm],
                size=[radius_fore, 0, 0],
                material=sleeve_mat.name,
            )
        else:
            cuff = shape.forearm * rng.uniform(0.45, 0.95)  # sleeves rolled up to a random length
            fore.add_geom(
                type=capsule,
                fromto=[0, 0, 0, 0, 0, -cuff],
                size=[radius_fore * 1.12, 0, 0],
                material=sleeve_mat.name,
            )
            fore.add_geom(
                type=capsule,
                fromto=[0, 0, -cuff * 0.9, 0, 0, -shape.forearm],
                size=[radius_fore * 0.85, 0, 0],
                material=skin_mat.name,
            )
        hand = fore.add_body(name=f"{side}_hand", pos=[0, 0, -shape.forearm])
        # Palm: flat in the forearm's x (palm faces down when the forearm points forward), fingers along -z.
        hand.add_geom(
            type=box,
            pos=[0, 0, -shape.hand * 0.5],
            size=[0.014, 0.042, shape.hand * 0.5],
            material=skin_mat.name if not robot else joint_mat.name,
        )
        hand.add_geom(
            type=capsule,
            fromto=[0, -sign * 0.035, -0.02, 0.01, -sign * 0.06, -shape.hand * 0.75],
            size=[0.011, 0, 0],
            material=skin_mat.name if not robot else joint_mat.name,
        )


def body_handles(model: mujoco.MjModel) -> BodyHandles:
    """Look up the mocap ids, arm qpos addresses and camera id of a compiled model built with `add_body`."""

    def mocap(name: str) -> int:
        return int(model.body_mocapid[model.body(name).id])

    def qpos(side: str) -> np.ndarray:
        return np.array([model.jnt_qposadr[model.joint(f"{side}_{j}").id] for j in ARM_JOINTS])

    return BodyHandles(
        head_mocap=mocap("head"),
        torso_mocap=mocap("torso"),
        left_qpos=qpos("left"),
        right_qpos=qpos("right"),
        camera_id=model.camera(HEAD_CAMERA).id,
    )


def camera_pose(data: mujoco.MjData, camera_id: int) -> list[float]:
    """[x, y, z, yaw, pitch, roll] of a camera from MjData (pitch > 0 = looking down, roll > 0 = left side up)."""
    pos = data.cam_xpos[camera_id]
    mat = data.cam_xmat[camera_id].reshape(3, 3)  # columns: image right, image up, backwards
    forward = -mat[:, 2]
    yaw = float(np.arctan2(forward[1], forward[0]))
    pitch = float(np.arcsin(np.clip(-forward[2], -1, 1)))
    roll = float(np.arcsin(np.clip(-mat[2, 0], -1, 1)))
    return [float(pos[0]), float(pos[1]), float(pos[2]), yaw, pitch, roll]
