"""Kinematic and inertial parameters of the AgiBot X2 Ultra, as a Python table the twin is generated from.

Source of every figure unless marked otherwise: the public robot description AgibotTech/agibot_x2_urdf,
file `X2_URDF-v1.4.0/X2-Ultra.xml` (nameplate "X2 Ultra -N", Mulan PSL v2), read at commit 575cc6b9.
Only numbers are carried over (link offsets, joint axes/ranges/torque limits, masses, centres of mass, principal
inertias); the collision/visual geometry of the twin is our own set of primitives (mjcf.py), and the gripper, the
cameras and the contact pads are our additions (marked [ours]).

Units: m, rad, kg, kg*m^2, N*m. Quaternions are (w, x, y, z). Names are the MJCF names (`*_link`, `*_joint`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JointParams:
    """A hinge: name (LeRobot name, no `_joint`), axis in the child frame, range (rad), peak torque (N*m)."""

    name: str
    axis: tuple[float, float, float]
    range: tuple[float, float]
    torque: float


@dataclass(frozen=True)
class Inertial:
    pos: tuple[float, float, float]
    quat: tuple[float, float, float, float]
    mass: float
    diaginertia: tuple[float, float, float]


@dataclass(frozen=True)
class LinkParams:
    """A rigid link: its parent link, the pose of its frame in the parent frame, its joint (None = fixed)."""

    name: str
    parent: str | None
    pos: tuple[float, float, float]
    joint: JointParams | None
    inertial: Inertial
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)


# fmt: off
# --- Pelvis (root, free joint). X2-Ultra.xml v1.4.0 `pelvis` body. ---
PELVIS = LinkParams(
    "pelvis",
    None,
    (0.0, 0.0, 0.68),
    None,
    Inertial((-0.001023, -0.000029, -0.00171), (1.0, 0.0, 0.0, 0.0), 3.59, (0.01277352, 0.008012453, 0.012660849)),
)
# IMU site `imu_0` in the pelvis (X2-Ultra.xml v1.4.0).
IMU_POS: tuple[float, float, float] = (0.0239465, -0.000228682, 0.04171)

# --- Legs. X2-Ultra.xml v1.4.0 bodies `{left,right}_{hip_pitch,hip_roll,hip_yaw,knee,ankle_pitch,ankle_roll}_link`;
# torque = actuatorfrcrange (v1.4.0 raised ankle pitch to 60 and ankle roll to 36 N*m). ---
LEFT_LEG = (
    LinkParams("left_hip_pitch_link", "pelvis", (0.0, 0.07135, 0.0),
               JointParams("left_hip_pitch", (0, 1, 0), (-2.705260, 2.556907), 120.0),
               Inertial((0.007642, 0.062528, 0.000101), (0.687639, 0.725566, 0.0202537, 0.0172406), 1.474,
                        (0.00246696, 0.00177416, 0.00161075))),
    LinkParams("left_hip_roll_link", "left_hip_pitch_link", (-0.00057492, 0.0657, 0.0),
               JointParams("left_hip_roll", (1, 0, 0), (-0.235619, 2.905973), 120.0),
               Inertial((0.000399, 0.000256, -0.091469), (0.704754, 0.00246468, -0.00138084, 0.709446), 1.667,
                        (0.00475327, 0.00423431, 0.00271104))),
    LinkParams("left_hip_yaw_link", "left_hip_roll_link", (0.000575, 0.0, -0.13685),
               JointParams("left_hip_yaw", (0, 0, 1), (-1.858775925, 3.604104925), 120.0),
               Inertial((-0.001817, 0.003876, -0.139845), (0.663245, -0.0450125, -0.0147949, 0.746901), 2.087,
                        (0.0118684, 0.0111099, 0.00245499))),
    LinkParams("left_knee_link", "left_hip_yaw_link", (-0.00766, 0.000225, -0.1831),
               JointParams("left_knee", (0, 1, 0), (0.0, 2.408554), 120.0),
               Inertial((-0.006937, 0.003789, -0.118374), (0.997542, 0.032569, -0.0132786, 0.0606068), 1.838,
                        (0.00943215, 0.00905148, 0.00206445))),
    LinkParams("left_ankle_pitch_link", "left_knee_link", (-0.01, -0.000124911, -0.282),
               JointParams("left_ankle_pitch", (0, 1, 0), (-0.802851, 0.453786), 60.0),
               Inertial((0.006775, -0.003234, 0.031637), (0.597829, -0.107235, -0.0135592, 0.794303), 0.949,
                        (0.00481037, 0.00441698, 0.000902526))),
    LinkParams("left_ankle_roll_link", "left_ankle_pitch_link", (-0.00339993, 0.0, 0.0),
               JointParams("left_ankle_roll", (1, 0, 0), (-0.2967059728, 0.2967059728), 36.0),
               Inertial((0.035504, 2.9e-05, -0.048683), (0.000773822, 0.691233, 0.000434619, 0.722631), 1.048,
                        (0.0046426, 0.00434962, 0.00124823))),
)
RIGHT_LEG = (
    LinkParams("right_hip_pitch_link", "pelvis", (0.0, -0.07135, 0.0),
               JointParams("right_hip_pitch", (0, 1, 0), (-2.705260, 2.556907), 120.0),
               Inertial((0.007628, -0.062429, 0.000186), (0.738489, 0.673724, -0.0168414, -0.0211488), 1.476,
                        (0.00248086, 0.00178384, 0.00161548))),
    LinkParams("right_hip_roll_link", "right_hip_pitch_link", (-0.000574924, -0.0657, 0.0),
               JointParams("right_hip_roll", (1, 0, 0), (-2.905973, 0.235619), 120.0),
               Inertial((0.000387, -0.000258, -0.091595), (0.709586, -0.0016556, 0.00326737, 0.70461), 1.669,
                        (0.00473754, 0.00422531, 0.00271436))),
    LinkParams("right_hip_yaw_link", "right_hip_roll_link", (0.000574956, 0.0, -0.13685),
               JointParams("right_hip_yaw", (0, 0, 1), (-3.604104925, 1.858775925), 120.0),
               Inertial((-0.002019, -0.004008, -0.141491), (0.750905, -0.0134177, -0.0460873, 0.658663), 2.072,
                        (0.0115138, 0.0107695, 0.00246153))),
    LinkParams("right_knee_link", "right_hip_yaw_link", (-0.00766024, -0.000225, -0.1831),
               JointParams("right_knee", (0, 1, 0), (0.0, 2.408554), 120.0),
               Inertial((-0.006924, -0.00251, -0.117705), (0.995964, -0.0371022, -0.0140974, -0.0804967), 1.826,
                        (0.00911016, 0.0087692, 0.00201543))),
    LinkParams("right_ankle_pitch_link", "right_knee_link", (-0.00999972, 0.000124911, -0.282),
               JointParams("right_ankle_pitch", (0, 1, 0), (-0.802851, 0.453786), 60.0),
               Inertial((0.006875, 0.003063, 0.031687), (0.795007, -0.0128304, -0.107307, 0.596896), 0.948,
                        (0.00480882, 0.0044162, 0.000906119))),
    LinkParams("right_ankle_roll_link", "right_ankle_pitch_link", (-0.0034, 0.0, 0.0),
               JointParams("right_ankle_roll", (1, 0, 0), (-0.2967059728, 0.2967059728), 36.0),
               Inertial((0.035466, 5.6e-05, -0.048768), (0.00242263, 0.69104, 0.00186374, 0.72281), 1.046,
                        (0.00464146, 0.00434437, 0.00124327))),
)
# Sole of the foot: the public model's 12 contact spheres (r 5 mm) lie at z = -0.068 in the ankle-roll frame and
# span x -0.065..0.139, y -0.06..0.06 (X2-Ultra.xml v1.4.0). We model heel and toe as two pads over that footprint.
SOLE_Z = -0.068 - 0.005
SOLE_X = (-0.065, 0.139)
SOLE_HALF_WIDTH = 0.06

# --- Waist and torso. X2-Ultra.xml v1.4.0 bodies `waist_yaw_link`, `waist_pitch_link`, `torso_link` (the torso frame
# coincides with waist_pitch_link; the waist roll joint sits in the torso body). ---
WAIST = (
    LinkParams("waist_yaw_link", "pelvis", (0.0, 0.0, 0.06706),
               JointParams("waist_yaw", (0, 0, 1), (-3.429572, 2.120575), 120.0),
               Inertial((-0.001729, 3e-05, 0.034488), (0.441037, 0.427248, -0.571022, 0.544867), 1.788,
                        (0.00317285, 0.00255124, 0.00252583))),
    LinkParams("waist_pitch_link", "waist_yaw_link", (0.0, 0.0, 0.0911806),
               JointParams("waist_pitch", (0, 1, 0), (-0.314159, 0.314159), 36.0),
               Inertial((0.009224, 8.9e-05, 0.0), (0.502176, 0.497815, -0.502176, 0.497815), 0.42,
                        (0.000231354, 0.00015422, 0.000114546))),
    LinkParams("torso_link", "waist_pitch_link", (0.0, 0.0, 0.0),
               JointParams("waist_roll", (1, 0, 0), (-0.488692, 0.488692), 36.0),
               Inertial((-0.005434, -0.000683, 0.19269), (0.992364, -0.0091517, 0.122286, 0.0132617), 10.986,
                        (0.131, 0.107134, 0.0845343))),
)

# --- Arms. X2-Ultra.xml v1.4.0 bodies `{left,right}_{shoulder_pitch,...,wrist_roll}_link`; the shoulders are rolled
# by +/-12 deg about x (quat 0.994522, +/-0.104532, 0, 0); v1.4.0 torques 60/60/36/36/36/6/6 N*m. ---
LEFT_ARM = (
    LinkParams("left_shoulder_pitch_link", "torso_link", (0.00300071, 0.142914, 0.241719),
               JointParams("left_shoulder_pitch", (0, 1, 0), (-3.080506, 2.033309), 60.0),
               Inertial((0.003548, 0.0494, 8e-05), (0.694412, 0.719192, 0.020141, 0.0122223), 0.927,
                        (0.000871964, 0.000749729, 0.000711245)),
               quat=(0.994522, 0.104532, 0.0, 0.0)),
    LinkParams("left_shoulder_roll_link", "left_shoulder_pitch_link", (-0.000241276, 0.0495, 3.91202e-05),
               JointParams("left_shoulder_roll", (1, 0, 0), (-0.061087, 3.045600), 60.0),
               Inertial((0.000477, -8e-05, -0.074297), (0.706724, 0.00609769, 0.0019316, 0.70746), 0.741,
                        (0.0013841, 0.0012445, 0.000607529))),
    LinkParams("left_shoulder_yaw_link", "left_shoulder_roll_link", (0.000500096, 0.0, -0.121),
               JointParams("left_shoulder_yaw", (0, 0, 1), (-2.556907, 2.556907), 36.0),
               Inertial((0.00999, 0.000158, -0.068719), (0.991609, 0.000206596, 0.128072, -0.0175711), 0.703,
                        (0.000962272, 0.000935543, 0.000434504))),
    LinkParams("left_elbow_link", "left_shoulder_yaw_link", (0.0140001, 0.0, -0.08295),
               JointParams("left_elbow", (0, 1, 0), (-2.356194, 0.0), 36.0),
               Inertial((-0.013432, 0.004292, -0.079307), (0.914062, 0.127227, -0.0757399, 0.37758), 0.675,
                        (0.000899254, 0.000847639, 0.000392754))),
    LinkParams("left_wrist_yaw_link", "left_elbow_link", (-0.0139998, -9.75488e-05, -0.120494),
               JointParams("left_wrist_yaw", (0, 0, 1), (-2.556907, 2.556907), 36.0),
               Inertial((-0.000108, 0.000246, -0.029678), (0.452468, 0.891466, -0.0217996, 0.00930441), 0.37,
                        (0.000276834, 0.000221596, 0.000210918))),
    LinkParams("left_wrist_pitch_link", "left_wrist_yaw_link", (0.0, 0.0, -0.0823),
               JointParams("left_wrist_pitch", (0, 1, 0), (-0.523599, 0.523599), 6.0),
               Inertial((0.001315, 0.003384, 0.003394), (0.705403, 0.293454, -0.200361, 0.613309), 0.344,
                        (0.000241886, 0.000193155, 0.000170637))),
    LinkParams("left_wrist_roll_link", "left_wrist_pitch_link", (0.0, 0.0, 0.0),
               JointParams("left_wrist_roll", (1, 0, 0), (-1.509710, 0.724312), 6.0),
               Inertial((0.003017, -0.001392, -0.086394), (0.629184, 0.0340383, 0.0149317, 0.776367), 0.338,
                        (0.000892625, 0.000750874, 0.000240898))),
)
RIGHT_ARM = (
    LinkParams("right_shoulder_pitch_link", "torso_link", (0.0032597, -0.14292, 0.24172),
               JointParams("right_shoulder_pitch", (0, 1, 0), (-3.080506, 2.033309), 60.0),
               Inertial((0.0029, -0.049407, 3.7e-05), (0.718777, 0.694757, -0.0135086, -0.0221234), 0.936,
                        (0.00087139, 0.000761191, 0.000721659)),
               quat=(0.994521, -0.104534, 0.0, 0.0)),
    LinkParams("right_shoulder_roll_link", "right_shoulder_pitch_link", (-0.000500088, -0.0495001, 0.0),
               JointParams("right_shoulder_roll", (1, 0, 0), (-3.045600, 0.061087), 60.0),
               Inertial((0.000571, 8e-05, -0.075262), (0.707262, -0.00212901, 0.00230438, 0.706945), 0.73,
                        (0.00132149, 0.00119203, 0.000596079))),
    LinkParams("right_shoulder_yaw_link", "right_shoulder_roll_link", (0.0005, 0.0, -0.121),
               JointParams("right_shoulder_yaw", (0, 0, 1), (-2.556907, 2.556907), 36.0),
               Inertial((0.009876, -0.000174, -0.068573), (0.991824, -0.00127077, 0.127093, 0.0114798), 0.696,
                        (0.000948835, 0.000922386, 0.000431943))),
    LinkParams("right_elbow_link", "right_shoulder_yaw_link", (0.014, 0.0, -0.08295),
               JointParams("right_elbow", (0, 1, 0), (-2.356194, 0.0), 36.0),
               Inertial((-0.013454, -0.004186, -0.07962), (0.382483, -0.0754323, 0.125603, 0.912272), 0.674,
                        (0.000886961, 0.000836899, 0.000393948))),
    LinkParams("right_wrist_yaw_link", "right_elbow_link", (-0.014, 9.75655e-05, -0.120494),
               JointParams("right_wrist_yaw", (0, 0, 1), (-2.556907, 2.556907), 36.0),
               Inertial((-0.000144, -0.000246, -0.029944), (0.8804, 0.47344, -0.00968547, 0.0256079), 0.373,
                        (0.000283859, 0.000226106, 0.000213828))),
    LinkParams("right_wrist_pitch_link", "right_wrist_yaw_link", (0.0, 0.0005, -0.0823),
               JointParams("right_wrist_pitch", (0, 1, 0), (-0.523599, 0.523599), 6.0),
               Inertial((0.00131, -0.003134, 0.002985), (0.612771, -0.192488, 0.341769, 0.686042), 0.336,
                        (0.000228606, 0.000179225, 0.000166461))),
    LinkParams("right_wrist_roll_link", "right_wrist_pitch_link", (0.0, 0.0, 0.0),
               JointParams("right_wrist_roll", (1, 0, 0), (-0.724312, 1.509710), 6.0),
               Inertial((0.003263, 0.001281, -0.086468), (0.776353, 0.0155122, 0.0338572, 0.629197), 0.337,
                        (0.00089008, 0.000748845, 0.000240465))),
)

# --- Head. X2-Ultra.xml v1.4.0 bodies `head_yaw_link`, `head_pitch_link` (children of torso_link); head_pitch is a
# "placeholder, not enabled" per AimDK v0.8 notes, kept as a held joint. ---
HEAD = (
    LinkParams("head_yaw_link", "torso_link", (0.00804394, 1.43246e-05, 0.310612),
               JointParams("head_yaw", (0, 0, 1), (-0.488692, 0.488692), 3.13125),
               Inertial((-0.002923, 0.018951, 0.035708), (0.886862, 0.45882, -0.0341853, 0.042321), 0.709,
                        (0.00164696, 0.00123431, 0.000766171))),
    LinkParams("head_pitch_link", "head_yaw_link", (0.0, 0.00274997, 0.0889),
               JointParams("head_pitch", (0, 1, 0), (-0.401425, 0.488692), 2.0),
               Inertial((0.004238, -0.004508, 0.006974), (0.686402, 0.180051, 0.162658, 0.685548), 1.028,
                        (0.0030143, 0.00271662, 0.00251042))),
)

# fmt: on

# Body tree order of the public model (legs, waist/torso, left arm, right arm, head).
LINKS: tuple[LinkParams, ...] = (PELVIS, *LEFT_LEG, *RIGHT_LEG, *WAIST, *LEFT_ARM, *RIGHT_ARM, *HEAD)

# Joint defaults of the public model: armature 0.03, frictionloss 0.3, damping 0 (X2-Ultra.xml `default class="x2"`).
JOINT_ARMATURE = 0.03
JOINT_FRICTIONLOSS = 0.3

# Whole-robot mass of the public model (sum of LINKS, 44.80 kg); the URDF README says ~45 kg for v1.4.0 and
# AimDK 1.2.1 says 39 kg (notes/agibot-x2.md; unresolved, we follow the model).
PUBLISHED_MASS_KG = 44.8

# --- Gripper [ours]: a 1-DoF parallel gripper standing in for the OmniPicker, whose geometry and mass are not in
# the public model. Two fingers slide along the wrist-roll y axis, coupled by an equality; one position actuator. ---
GRIPPER_MOUNT_Z = -0.06  # palm frame below the wrist-roll frame (m)
GRIPPER_PALM_MASS = 0.30
GRIPPER_PALM_IPOS = (0.0, 0.0, -0.025)  # palm centre of mass in the palm frame (m)
GRIPPER_PALM_INERTIA = (4e-4, 3e-4, 3e-4)  # kg*m^2
GRIPPER_FINGER_MASS = 0.05
GRIPPER_STROKE = 0.045  # per finger, fully open (m): 9 cm maximum gap
GRIPPER_FORCE = 40.0  # N per finger (actuator force limit)
GRIPPER_KP = 1500.0  # N/m
# Critically damped (slightly over): finger a (0.05 kg + 0.01 armature) drives finger b through the coupling, so the
# servo moves ~0.12 kg and 2 * sqrt(1500 * 0.12) = 27 N*s/m (plus 2 N*s/m joint damping per finger). An underdamped
# finger (15 N*s/m) reached ~2 m/s, i.e. ~9 mm per 5 ms physics step, and sailed up to 5 mm past its stop before the
# soft joint limit caught it (a gripper commanded open read -0.06..-0.12, commanded closed 1.04).
GRIPPER_KV = 30.0  # N*s/m
GRIPPER_FRICTION = (1.5, 0.02, 0.002)  # sliding, torsional, rolling
FINGER_LENGTH = 0.07  # m, along the approach axis
FINGER_TIP_Z = GRIPPER_MOUNT_Z - 0.05 - FINGER_LENGTH  # fingertip z in the wrist-roll frame (m)

# --- Head camera [ours]: the prototype's RealSense D435i / the X2's Orbbec Gemini 335 sit at the front of the head;
# we place an RGB camera on head_pitch_link looking along +x, tilted down by HEAD_CAMERA_TILT so that with the
# default head pitch (STANCE_HEAD, 0.35 rad; the joint stops at 0.49) a table top 0.3-0.5 m in front of the robot
# is in the middle of the image: the camera sits ~1.22 m high, the table ~0.45 m lower. D435i colour FOV is
# 69 x 42 deg. ---
HEAD_CAMERA_POS = (0.09, 0.0, 0.02)
HEAD_CAMERA_TILT = 0.45  # rad, downward
HEAD_CAMERA_FOVY = 70.0
WRIST_CAMERA_FOVY = 80.0

# --- Control [ours; measured on this twin, see tests/robots]. PD gains per joint (kp N*m/rad, kd N*m*s/rad).
# Legs: the stiff stance gains measured for the X2 figures in MuJoCo (notes/agibot-x2.md, "Measured"); with ankle kp
# 40 (X1/G1 values) it tips over. Arms are stiffer than the measured 40 so that targets are reached under gravity. ---
LEG_GAINS = {
    "hip_pitch": (200.0, 5.0),
    "hip_roll": (200.0, 5.0),
    "hip_yaw": (100.0, 2.5),
    "knee": (300.0, 7.5),
    "ankle_pitch": (300.0, 6.0),
    "ankle_roll": (150.0, 3.0),
}
WAIST_GAINS = (150.0, 8.0)
HEAD_GAINS = (10.0, 0.5)
ARM_GAINS = {
    "shoulder_pitch": (150.0, 5.0),
    "shoulder_roll": (150.0, 5.0),
    "shoulder_yaw": (80.0, 3.0),
    "elbow": (80.0, 3.0),
    "wrist_yaw": (20.0, 0.8),
    "wrist_pitch": (20.0, 0.8),
    "wrist_roll": (20.0, 0.8),
}

# Standing pose [measured on the X2 figures, notes/agibot-x2.md]: flat feet with hip -0.2, knee 0.4, ankle -0.2.
# Arms slightly bent and out of the body; head pitched down so the camera sees a table in front.
STANCE_LEG = {
    "hip_pitch": -0.2,
    "hip_roll": 0.0,
    "hip_yaw": 0.0,
    "knee": 0.4,
    "ankle_pitch": -0.2,
    "ankle_roll": 0.0,
}
STANCE_ARM_LEFT = {
    "shoulder_pitch": 0.0,
    "shoulder_roll": 0.15,
    "shoulder_yaw": 0.0,
    "elbow": -0.3,
    "wrist_yaw": 0.0,
    "wrist_pitch": 0.0,
    "wrist_roll": 0.0,
}
STANCE_HEAD = {"head_yaw": 0.0, "head_pitch": 0.35}
# The right arm mirrors the left: roll and yaw joints change sign.
STANCE_ARM_RIGHT = {k: (-v if k.endswith(("roll", "yaw")) else v) for k, v in STANCE_ARM_LEFT.items()}

# Sagittal leg lengths for the squat IK (from the link offsets above): hip-pitch axis to knee (hip-yaw z offset +
# knee z offset), knee to ankle, ankle to sole.
THIGH_LENGTH = 0.13685 + 0.1831
SHANK_LENGTH = 0.282
ANKLE_TO_SOLE = -SOLE_Z


def link(name: str) -> LinkParams:
    """The LinkParams of a link by MJCF name."""
    for lp in LINKS:
        if lp.name == name:
            return lp
    raise KeyError(f"No X2 link named '{name}'")


def joint_params(joint: str) -> JointParams:
    """The JointParams of a body joint by LeRobot name (e.g. "left_knee")."""
    for lp in LINKS:
        if lp.joint is not None and lp.joint.name == joint:
            return lp.joint
    raise KeyError(f"No X2 joint named '{joint}'")


def total_body_mass() -> float:
    """Mass of the public model's links (no grippers)."""
    return sum(lp.inertial.mass for lp in LINKS)
