"""Joint names and groups of the AgiBot X2 Ultra, shared by the twin, the robot and the AimDK client.

The order inside each group is the AimDK topic order (`/aima/hal/joint/{leg,waist,head,arm}/...`), which is also
the `<actuator>` order of the public X2-Ultra MJCF (AgibotTech/agibot_x2_urdf, X2_URDF-v1.4.0). The MuJoCo body
tree orders qpos differently (the head comes after both arms), so always map joints by name, never by index.

Names here are the LeRobot names (no `_joint` suffix); `mjcf_joint_name()` gives the MJCF name.
"""

from __future__ import annotations

_LEG_SUFFIXES = ("hip_pitch", "hip_roll", "hip_yaw", "knee", "ankle_pitch", "ankle_roll")
_ARM_SUFFIXES = (
    "shoulder_pitch",
    "shoulder_roll",
    "shoulder_yaw",
    "elbow",
    "wrist_yaw",
    "wrist_pitch",
    "wrist_roll",
)

LEFT_LEG_JOINTS: tuple[str, ...] = tuple(f"left_{s}" for s in _LEG_SUFFIXES)
RIGHT_LEG_JOINTS: tuple[str, ...] = tuple(f"right_{s}" for s in _LEG_SUFFIXES)
LEG_JOINTS: tuple[str, ...] = LEFT_LEG_JOINTS + RIGHT_LEG_JOINTS
WAIST_JOINTS: tuple[str, ...] = ("waist_yaw", "waist_pitch", "waist_roll")
HEAD_JOINTS: tuple[str, ...] = ("head_yaw", "head_pitch")
LEFT_ARM_JOINTS: tuple[str, ...] = tuple(f"left_{s}" for s in _ARM_SUFFIXES)
RIGHT_ARM_JOINTS: tuple[str, ...] = tuple(f"right_{s}" for s in _ARM_SUFFIXES)
ARM_JOINTS: tuple[str, ...] = LEFT_ARM_JOINTS + RIGHT_ARM_JOINTS
GRIPPERS: tuple[str, ...] = ("left_gripper", "right_gripper")

# All 31 actuated body joints in AimDK / public-MJCF actuator order.
BODY_JOINTS: tuple[str, ...] = LEG_JOINTS + WAIST_JOINTS + HEAD_JOINTS + ARM_JOINTS
# Body joints plus the two 1-DoF grippers (what the observation reports `.pos`/`.vel` for).
ALL_JOINTS: tuple[str, ...] = BODY_JOINTS + GRIPPERS

# AimDK topic groups, in the order of the joints inside each message.
AIMDK_GROUPS: dict[str, tuple[str, ...]] = {
    "leg": LEG_JOINTS,
    "waist": WAIST_JOINTS,
    "head": HEAD_JOINTS,
    "arm": ARM_JOINTS,
}

# Whole-body action (docs/CONTRACTS.md): 14 arm targets, 2 grippers, 4 locomotion values, in this order.
LOCO_KEYS: tuple[str, ...] = ("loco.vx", "loco.vy", "loco.yaw_rate", "loco.height")
ACTION_KEYS: tuple[str, ...] = tuple(f"{j}.pos" for j in ARM_JOINTS + GRIPPERS) + LOCO_KEYS

IMU_KEYS: tuple[str, ...] = (
    "imu.quat_w",
    "imu.quat_x",
    "imu.quat_y",
    "imu.quat_z",
    "imu.gyro_x",
    "imu.gyro_y",
    "imu.gyro_z",
    "imu.acc_x",
    "imu.acc_y",
    "imu.acc_z",
)
FOOT_CONTACT_KEYS: tuple[str, ...] = (
    "foot_contact.left_heel",
    "foot_contact.left_toe",
    "foot_contact.right_heel",
    "foot_contact.right_toe",
)
# Observation keys without cameras, in a fixed order (state vector order for datasets).
STATE_KEYS: tuple[str, ...] = (
    tuple(f"{j}.pos" for j in ALL_JOINTS)
    + tuple(f"{j}.vel" for j in ALL_JOINTS)
    + IMU_KEYS
    + FOOT_CONTACT_KEYS
)


def mjcf_joint_name(joint: str) -> str:
    """MJCF name of a LeRobot joint name (`left_knee` -> `left_knee_joint`)."""
    return f"{joint}_joint"


def group_of(joint: str) -> str:
    """AimDK group ("leg", "waist", "head", "arm") of a body joint, or "hand" for a gripper."""
    if joint in GRIPPERS:
        return "hand"
    for group, names in AIMDK_GROUPS.items():
        if joint in names:
            return group
    raise KeyError(f"Unknown X2 joint '{joint}'. Known joints: {', '.join(ALL_JOINTS)}")
