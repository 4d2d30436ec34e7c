"""The standing balance controller (`stand`): keeps the X2's centre of mass over its feet from the measured state.

Why: the legs are PD position servos. Holding the IK stance alone, the ankles yield under any forward load (ankle kp
300 N*m/rad against gravity's ~350 N*m/rad tipping stiffness), so one arm held forward topples the robot. This
controller closes the loop on the centre of mass (CoM), as a model-based humanoid stabiliser does:

- Model. Its own copy of the twin's kinematic/inertial model (mjcf.py, the public X2 figures) gives, from the
  measured joint angles and the IMU orientation, the CoM and the feet, their relative velocity (joint velocities and
  the gyro through the Jacobians) and the joint torques that hold the robot for a chosen centre of pressure (CoP).
  Payloads are not in the model: they show in the ankle moment, estimated from the known PD gains and the
  controller's own targets, and an observer moves the CoM estimate until the static CoP and CoM agree.
- Ankle strategy (sagittal). The divergent component of motion (capture point) xi = x + v / omega is driven to
  the centre of the feet by placing the CoP at xi + k (xi - x_ref), kept inside the sole; the ankle pitch servos are
  used as torque sources (target = measured angle + torque / kp), so the ankles push as hard as balance needs
  instead of yielding.
- Hip strategy. When the wanted CoP would leave the sole, the rest of the correction is made by pitching the
  upper body (a centroidal moment through the hips), which then returns upright.
- Posture. The pelvis is placed, through an analytic 6-DoF leg IK with the feet flat and where they are, at the
  commanded height (loco.height) and shifted so that the model CoM sits over the middle of the feet for whatever
  the arms are doing (pelvis shift = the slow part of the balance); the pelvis is kept upright (IMU pitch/roll
  feedback with gyro damping through the IK), and every leg joint gets the model's gravity torque as a feed-forward
  offset (torque / kp) so the stiff PD stance does not sag.

It cannot walk: vx/vy/yaw_rate are ignored, with a warning once per episode. Deterministic; ~0.3 ms per call.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import mujoco
import numpy as np

from . import mjcf
from . import params as P
from .backend import LocoCommand
from .joints import ARM_JOINTS, BODY_JOINTS, LEFT_LEG_JOINTS, RIGHT_LEG_JOINTS
from .lower_body import (
    WalkWarning,
    max_height,
    min_height,
    nominal_height,
    register_lower_body_controller,
)

GRAVITY = 9.81
_SIDES = ("left", "right")
_LEGS = {"left": LEFT_LEG_JOINTS, "right": RIGHT_LEG_JOINTS}


# ---------------------------------------------------------------------------------------------- leg geometry
def _leg_geometry():
    """Hip centre (pelvis frame, left leg), thigh and shank as (length, backward angle) from params.py: the hip
    pitch and roll axes meet at the roll joint; the knee and ankle sit slightly behind the straight line."""
    roll = P.link("left_hip_roll_link").pos
    yaw = P.link("left_hip_yaw_link").pos
    knee = P.link("left_knee_link").pos
    ankle = P.link("left_ankle_pitch_link").pos
    hip_y = P.link("left_hip_pitch_link").pos[1] + roll[1]
    thigh = (yaw[0] + knee[0], yaw[2] + knee[2])  # hip-roll axis to knee, (x, z) in the leg plane
    shank = (ankle[0], ankle[2])
    return (
        hip_y,
        math.hypot(*thigh),
        math.atan2(-thigh[0], -thigh[1]),
        math.hypot(*shank),
        math.atan2(-shank[0], -shank[1]),
    )


HIP_Y, THIGH, THIGH_BACK, SHANK, SHANK_BACK = _leg_geometry()
_KNEE_RANGE = P.joint_params("left_knee").range


def _rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def leg_ik(ankle: np.ndarray, foot_rot: np.ndarray, side: str) -> tuple[float, ...]:
    """Joint angles (hip pitch, roll, yaw, knee, ankle pitch, roll) that put the ankle centre of leg `side` at
    `ankle` (pelvis frame, m) with the foot at orientation `foot_rot` (3x3, pelvis frame); hip yaw 0.

    The chain is Ry(hip pitch) Rx(hip roll) [Rz(yaw) = I] Ry(knee) Ry(ankle pitch) Rx(ankle roll): after the hip the
    leg is planar, the knee from the law of cosines (thigh and shank with their small backward offsets), then hip
    roll and pitch from the ankle direction and the ankle angles from what rotation is left. Out-of-reach targets are
    pulled onto the reachable sphere."""
    hip_y = HIP_Y if side == "left" else -HIP_Y
    lx, ly, lz = float(ankle[0]), float(ankle[1]) - hip_y, float(ankle[2])
    reach2 = lx * lx + ly * ly + lz * lz
    a, b = THIGH, SHANK
    cos_rel = (reach2 - a * a - b * b) / (2.0 * a * b)
    rel = math.acos(max(-1.0, min(1.0, cos_rel)))  # angle between thigh and shank directions
    knee = min(max(rel - SHANK_BACK + THIGH_BACK, _KNEE_RANGE[0]), _KNEE_RANGE[1])
    # Ankle in the leg plane (after hip pitch and roll): thigh + Ry(knee) shank, both pointing down and back.
    px = -a * math.sin(THIGH_BACK) - b * math.sin(SHANK_BACK + knee)
    pz = -a * math.cos(THIGH_BACK) - b * math.cos(SHANK_BACK + knee)
    roll = math.asin(max(-1.0, min(1.0, ly / -pz)))
    w = math.cos(roll) * pz
    pitch = math.atan2(lx, lz) - math.atan2(px, w)
    pitch = (pitch + math.pi) % (2.0 * math.pi) - math.pi
    m = _rot_x(roll).T @ _rot_y(pitch).T @ foot_rot
    ankle_pitch = math.atan2(-m[2, 0], m[0, 0]) - knee
    ankle_roll = math.atan2(-m[1, 2], m[1, 1])
    return pitch, roll, 0.0, knee, ankle_pitch, ankle_roll


# ---------------------------------------------------------------------------------------------- robot model
@functools.lru_cache(maxsize=1)
def _model() -> mujoco.MjModel:
    """The controller's model of the robot: the twin's generator (mjcf.py) on an empty floor, no cameras used."""
    return mjcf.build_spec(mjcf.MjcfOptions(head_camera=(8, 8))).compile()


class StanceModel:
    """Kinematics, CoM and static torques of the standing robot from a state dict (the controller's own model)."""

    def __init__(self) -> None:
        m = self.model = _model()
        self.data = mujoco.MjData(m)
        self.pelvis = m.body("pelvis").id
        self.mass = float(m.body_subtreemass[self.pelvis])
        self.qadr = np.array([m.jnt_qposadr[m.joint(mjcf.mjcf_joint_name(j)).id] for j in BODY_JOINTS])
        self.vadr = np.array([m.jnt_dofadr[m.joint(mjcf.mjcf_joint_name(j)).id] for j in BODY_JOINTS])
        self.pos_keys = [f"{j}.pos" for j in BODY_JOINTS]
        self.vel_keys = [f"{j}.vel" for j in BODY_JOINTS]
        self.ankle_body = {s: m.body(f"{s}_ankle_pitch_link").id for s in _SIDES}
        self.foot_body = {s: m.body(f"{s}_ankle_roll_link").id for s in _SIDES}
        self.hip_body = {s: m.body(f"{s}_hip_pitch_link").id for s in _SIDES}
        self.knee_body = {s: m.body(f"{s}_knee_link").id for s in _SIDES}
        self.leg_mass = {s: float(m.body_subtreemass[self.hip_body[s]]) for s in _SIDES}
        leg_dofs = {s: [m.jnt_dofadr[m.joint(mjcf.mjcf_joint_name(j)).id] for j in _LEGS[s]] for s in _SIDES}
        self.leg_dofs = np.array(leg_dofs["left"] + leg_dofs["right"])
        self.leg_qadr = np.array([m.jnt_qposadr[m.joint(mjcf.mjcf_joint_name(j)).id] for s in _SIDES for j in _LEGS[s]])
        self._jac = np.zeros((3, m.nv))
        self._jac_com = np.zeros((3, m.nv))
        self._bias = np.zeros(m.nv)
        self.qvel = np.zeros(m.nv)

    def set_state(self, q: np.ndarray, quat: tuple[float, float, float, float]) -> None:
        """Joint angles (BODY_JOINTS order) and pelvis orientation; pelvis at the origin. Runs the kinematics."""
        d = self.data
        d.qpos[self.qadr] = q
        d.qpos[0:3] = 0.0
        d.qpos[3:7] = quat
        mujoco.mj_kinematics(self.model, d)
        mujoco.mj_comPos(self.model, d)

    def set_legs(self, legs: np.ndarray, quat) -> None:
        """Replace the leg angles (left then right, joints.py order) and the pelvis orientation; rerun kinematics."""
        d = self.data
        d.qpos[self.leg_qadr] = legs
        d.qpos[3:7] = quat
        mujoco.mj_kinematics(self.model, d)
        mujoco.mj_comPos(self.model, d)

    def com(self) -> np.ndarray:
        return self.data.subtree_com[self.pelvis].copy()

    def upper_body(self) -> tuple[float, np.ndarray]:
        """Mass and CoM (world) of everything the hips carry: the whole robot minus both legs."""
        d = self.data
        total = self.mass * d.subtree_com[self.pelvis]
        legs = sum(self.leg_mass[s] * d.subtree_com[self.hip_body[s]] for s in _SIDES)
        up_mass = self.mass - self.leg_mass["left"] - self.leg_mass["right"]
        return up_mass, (total - legs) / up_mass

    def knee(self, side: str) -> np.ndarray:
        return self.data.xpos[self.knee_body[side]].copy()

    def ankle(self, side: str) -> np.ndarray:
        return self.data.xpos[self.ankle_body[side]].copy()

    def foot_rot(self, side: str) -> np.ndarray:
        return self.data.xmat[self.foot_body[side]].reshape(3, 3).copy()

    def com_velocity_rel_feet(self, qd: np.ndarray, gyro: np.ndarray) -> np.ndarray:
        """CoM velocity relative to the mean of the two ankles (world axes): the pelvis linear velocity, which the
        IMU cannot give, cancels out; joint velocities and the gyro (pelvis frame) do the rest."""
        m, d = self.model, self.data
        qvel = self.qvel
        qvel[:] = 0.0
        qvel[self.vadr] = qd
        qvel[3:6] = gyro
        mujoco.mj_jacSubtreeCom(m, d, self._jac_com, self.pelvis)
        v = self._jac_com @ qvel
        for side in _SIDES:
            mujoco.mj_jac(m, d, self._jac, None, d.xpos[self.ankle_body[side]], self.ankle_body[side])
            v -= 0.5 * (self._jac @ qvel)
        return v

    def leg_torques(self, cop: dict[str, np.ndarray], load: dict[str, float]) -> np.ndarray:
        """Static leg joint torques (left then right leg, joints.py order) when each foot carries `load[side]` N
        straight up at the point `cop[side]` (world, m): gravity minus the contact forces through the Jacobians."""
        m, d = self.model, self.data
        mujoco.mj_rne(m, d, 0, self._bias)  # qvel is 0 in this data: gravity only
        tau = self._bias.copy()
        for side in _SIDES:
            mujoco.mj_jac(m, d, self._jac, None, cop[side], self.foot_body[side])
            tau -= self._jac[2] * load[side]
        return tau[self.leg_dofs]


# ---------------------------------------------------------------------------------------------- controller
@dataclass
class BalanceGains:
    """Tunables of the balance controller (defaults measured on the twin, tests/robots/test_stand_balance.py)."""

    height_rate: float = 0.15  # pelvis height slew (m/s)
    dcm_gain: float = 1.5  # CoP = xi + k (xi - ref): capture-point convergence, in units of omega
    cop_margin: float = 0.02  # keep the wanted CoP this far inside the sole edges (m)
    ref_forward: float = 0.037  # CoM reference ahead of the ankle-roll axis: middle of the sole (m)
    observer_rate: float = 1.0  # CoM-bias observer (1/s): static CoP minus model CoM reveals payloads
    observer_limit: float = 0.12  # |bias| cap (m)
    load_filter: float = 0.4  # time constant of the hip-torque load estimate (s)
    shift_limit: tuple[float, float] = (0.14, 0.08)  # pelvis shift caps (m): fore-aft, lateral
    pitch_kp: float = 1.0  # pelvis pitch/roll feedback through the IK (rad per rad)
    pitch_kd: float = 0.08  # gyro damping (rad per rad/s)
    pitch_ki: float = 1.0  # integral (1/s): pelvis upright under unknown loads
    hip_strategy: float = 0.0  # upper-body pitch (rad) per metre of CoP the sole cannot give
    hip_strategy_limit: float = 0.35  # rad
    lateral_kp: float = 0.5  # lateral capture point -> pelvis shift (m per m)
    flat_gain: float = 1.0  # foot tilt fed back into the ankle targets (rad per rad)


@register_lower_body_controller("stand")
class BalanceController(WalkWarning):
    """Balancing stance (see the module docstring). Implements lower_body.LowerBodyController."""

    name = "stand"

    def __init__(self, gains: BalanceGains | None = None) -> None:
        self.gains = gains or BalanceGains()
        self.model = StanceModel()
        kp = mjcf.default_gains()
        self._kp = np.array([kp[j][0] for s in _SIDES for j in _LEGS[s]])
        self._kd = np.array([kp[j][1] for s in _SIDES for j in _LEGS[s]])
        self._leg_names = [j for s in _SIDES for j in _LEGS[s]]
        self._ankle_idx = np.array([4, 10])  # ankle pitch in the 12-leg vector
        self._ankle_ids = np.array([4, 5, 10, 11])  # ankle pitch and roll, both legs
        lims = [P.joint_params(self._leg_names[i]).range for i in self._ankle_ids]
        self._ankle_lo = np.array([lo for lo, _ in lims])
        self._ankle_hi = np.array([hi for _, hi in lims])
        self._leg_state = np.array([BODY_JOINTS.index(j) for j in self._leg_names])
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._height: float | None = None
        self._shift = np.zeros(2)  # pelvis shift over the ankle midpoint (m), heading frame
        self._bias = np.zeros(2)  # CoM estimate minus model CoM and load (m): slow observer
        self._load = 0.0  # unknown upper-body load from the hip torques, as a CoM offset (m)
        self._tilt_int = np.zeros(2)  # integral of pelvis (pitch, roll) error
        self._hip_pitch = 0.0  # hip-strategy upper-body pitch (rad)
        self._targets: np.ndarray | None = None  # last leg targets (for the torque estimate)
        self.last: dict[str, float] = {}  # diagnostics of the last call (tests, benchmarks)

    def compute(self, state: Mapping[str, float], loco: LocoCommand, dt: float) -> dict[str, float]:
        self.warn_if_walking(loco)
        g = self.gains
        sm = self.model
        q = np.fromiter((state[k] for k in sm.pos_keys), float, len(sm.pos_keys))
        qd = np.fromiter((state[k] for k in sm.vel_keys), float, len(sm.vel_keys))
        quat = (state["imu.quat_w"], state["imu.quat_x"], state["imu.quat_y"], state["imu.quat_z"])
        gyro = np.array([state["imu.gyro_x"], state["imu.gyro_y"], state["imu.gyro_z"]])
        sm.set_state(q, quat)

        # Heading frame: origin at the ankle midpoint, x along the mean foot direction, z up.
        ankles = {s: sm.ankle(s) for s in _SIDES}
        feet = {s: sm.foot_rot(s) for s in _SIDES}
        heading = math.atan2(feet["left"][1, 0] + feet["right"][1, 0], feet["left"][0, 0] + feet["right"][0, 0])
        ch, sh = math.cos(heading), math.sin(heading)
        to_h = np.array([[ch, sh, 0.0], [-sh, ch, 0.0], [0.0, 0.0, 1.0]])  # world -> heading frame
        mid = 0.5 * (ankles["left"] + ankles["right"])
        com = to_h @ (sm.com() - mid)
        vel = to_h @ sm.com_velocity_rel_feet(qd, gyro)
        pelvis = to_h @ -mid  # pelvis position in the heading frame
        rot = to_h @ sm.data.xmat[sm.pelvis].reshape(3, 3)  # pelvis orientation in the heading frame
        pitch = math.asin(max(-1.0, min(1.0, -rot[2, 0])))
        roll = math.atan2(rot[2, 1], rot[2, 2])
        body_rate = rot @ gyro  # pelvis angular velocity, heading frame
        foot_forward = P.link("left_ankle_roll_link").pos[0]  # ankle-roll axis ahead of the ankle pitch axis
        # Moment of the upper body's weight about the hip pitch axis (the pelvis y axis through its origin), as
        # the model knows it: the hips must apply it; what they apply beyond it is a load the model lacks.
        up_mass, up_com = sm.upper_body()
        hip_moment_model = float(np.cross(up_com, (0.0, 0.0, -up_mass * GRAVITY)) @ sm.data.xmat[sm.pelvis].reshape(3, 3)[:, 1])

        # Height above the soles and the pendulum frequency.
        sole_z = -P.SOLE_Z  # ankle centre above the sole (flat foot)
        first = self._height is None
        if first:  # start from where the robot is
            self._height = min(max(pelvis[2] + sole_z, min_height()), max_height())
            self._shift = pelvis[:2].copy()
        target_h = loco.height if loco.height > 0 else nominal_height()
        target_h = min(max(target_h, min_height()), max_height())
        step = g.height_rate * dt
        self._height += max(-step, min(step, target_h - self._height))
        omega = math.sqrt(GRAVITY / max(com[2] + sole_z, 0.3))

        # Capture point, sagittal: the CoP that drives it to the middle of the soles, kept on the soles.
        ref_x = foot_forward + g.ref_forward
        x = com[0] + self._bias[0] + self._load
        xi = x + vel[0] / omega
        cop_want = xi + g.dcm_gain * (xi - ref_x)
        heel = foot_forward + P.SOLE_X[0] + g.cop_margin
        toe = foot_forward + P.SOLE_X[1] - g.cop_margin
        cop_x = min(max(cop_want, heel), toe)
        # Hip strategy: the part of the CoP the soles cannot give, as an upper-body pitch (decays back to 0).
        hip_goal = max(-g.hip_strategy_limit, min(g.hip_strategy_limit, g.hip_strategy * (cop_want - cop_x)))
        self._hip_pitch += (hip_goal - self._hip_pitch) * min(1.0, 10.0 * dt)
        # Lateral: the capture point moves the pelvis (the two-leg parallelogram carries the CoP between the feet).
        y = com[1] + self._bias[1]
        xi_y = y + vel[1] / omega

        # Static torques for that CoP: vertical load shared by the lever rule across the feet.
        half = 0.5 * (ankles["left"] - ankles["right"])
        span = float(np.linalg.norm(half[:2])) * 2.0
        share_left = min(max(0.5 + y / max(span, 1e-3), 0.05), 0.95)
        weight = sm.mass * GRAVITY
        load = {"left": share_left * weight, "right": (1.0 - share_left) * weight}
        from_h = to_h.T
        cop = {}
        for s in _SIDES:
            a_h = to_h @ (ankles[s] - mid)
            cop[s] = mid + from_h @ np.array([cop_x, a_h[1], a_h[2] - sole_z])
        tau = sm.leg_torques(cop, load)

        # Observer: the ankle moment the servos apply now (known gains, own targets) gives the actual CoP; at rest
        # it must equal the CoM, so the difference is a CoM the model does not know (payload, model error).
        leg_q = q[self._leg_state]
        leg_qd = qd[self._leg_state]
        if self._targets is not None:
            applied = self._kp * (self._targets - leg_q) - self._kd * leg_qd
            hip_applied = float(np.clip(applied[[0, 6]], -120.0, 120.0).sum())
            self.last["hip_meas"] = hip_applied
            self.last["hip_model"] = hip_moment_model
            load = (hip_applied - hip_moment_model) / weight
            self._load += (load - self._load) * min(1.0, dt / g.load_filter)
            applied_ankle = np.clip(applied[self._ankle_idx], -60.0, 60.0).sum()
            cop_measured = cop_x + (applied_ankle - tau[self._ankle_idx].sum()) / weight
            self._bias[0] += g.observer_rate * dt * (cop_measured - x)
            self._bias = np.clip(self._bias, -g.observer_limit, g.observer_limit)

        # Posture. Sagittal: the ankles are torque sources, so the shanks lean where balance puts them; the pelvis
        # goes where the measured knees allow it at the commanded height (hip centre one thigh length from the
        # knee), which makes the pelvis shift follow the CoM motion the CoP limits allow. Lateral: the pelvis is
        # placed over the point that centres the CoM (a static map: sway moves both and cancels), with damping
        # from the lateral velocity. The pelvis is kept upright by IMU/gyro feedback (and its integral) through
        # the IK.
        h_z = self._height - sole_z
        want_y = -(com[1] + self._bias[1]) - g.lateral_kp * vel[1] / omega
        shift_y = float(np.clip(pelvis[1] + want_y / 0.9, -g.shift_limit[1], g.shift_limit[1]))
        xs = []
        for s in _SIDES:
            knee = to_h @ (sm.knee(s) - mid)
            hip_y = shift_y + (HIP_Y if s == "left" else -HIP_Y)
            reach = THIGH * THIGH - (hip_y - knee[1]) ** 2 - (h_z - knee[2]) ** 2
            xs.append(knee[0] - math.sqrt(max(reach, 0.0)))
        shift_x = float(np.clip(0.5 * (xs[0] + xs[1]), -g.shift_limit[0], g.shift_limit[0]))
        self._shift[:] = (shift_x, shift_y)
        err = np.array([pitch - self._hip_pitch, roll])
        self._tilt_int = np.clip(self._tilt_int + dt * err, -0.2, 0.2)
        cmd_tilt = -(g.pitch_kp * err + g.pitch_kd * body_rate[[1, 0]] + g.pitch_ki * self._tilt_int)
        cmd_tilt[0] += self._hip_pitch
        legs = self._ik(ankles, feet, mid, to_h, self._shift, self._height, cmd_tilt)

        # Targets: hips and knees at the IK + gravity feed-forward; the ankles are torque sources (measured angle,
        # advanced half a period, + torque / kp) that also turn a tilted foot back flat (keep the soles on the
        # floor: a heel or toe that lifts gets the torque that made it lift taken away).
        targets = legs + tau / self._kp
        ai = self._ankle_ids
        flat = np.array([_foot_tilt(to_h @ feet[s]) for s in _SIDES]).reshape(-1)  # (pitch, roll) per foot
        targets[ai] = (
            leg_q[ai]
            + 0.5 * dt * leg_qd[ai]
            + (tau[ai] + self._kd[ai] * leg_qd[ai]) / self._kp[ai]
            - g.flat_gain * flat
        )
        targets[ai] = np.clip(targets[ai], self._ankle_lo, self._ankle_hi)
        self._targets = targets
        self.last = {
            **self.last,
            "com_x": float(x), "com_y": float(y), "xi_x": float(xi), "cop_x": float(cop_x), "cop_want": float(cop_want),
            "bias_x": float(self._bias[0]), "load": self._load, "shift_x": float(self._shift[0]), "shift_y": float(self._shift[1]),
            "pitch": pitch, "roll": roll, "hip_pitch": self._hip_pitch, "height": self._height,
        }
        return dict(zip(self._leg_names, targets.tolist(), strict=True))

    def _ik(self, ankles, feet, mid, to_h, shift, height, tilt) -> np.ndarray:
        """Leg angles for the pelvis at (shift, height) over the ankle midpoint with pitch/roll `tilt`, feet as
        measured (position) but flat."""
        sole_z = -P.SOLE_Z
        rot = _rot_y(tilt[0]) @ _rot_x(tilt[1])  # commanded pelvis orientation, heading frame
        pelvis = np.array([shift[0], shift[1], height - sole_z])
        out = []
        for s in _SIDES:
            a_h = to_h @ (ankles[s] - mid)
            a_h[2] = 0.0  # ankle centres at sole_z above the floor, the pelvis at `height`
            f_h = to_h @ feet[s]
            yaw = math.atan2(f_h[1, 0], f_h[0, 0])
            c, sn = math.cos(yaw), math.sin(yaw)
            foot_flat = np.array([[c, -sn, 0.0], [sn, c, 0.0], [0.0, 0.0, 1.0]])
            out.extend(leg_ik(rot.T @ (a_h - pelvis), rot.T @ foot_flat, s))
        return np.array(out)


def _foot_tilt(rot: np.ndarray) -> tuple[float, float]:
    """(pitch, roll) of a foot (rotation matrix in the heading frame): pitch > 0 = toe down, roll > 0 = outer..."""
    return math.asin(max(-1.0, min(1.0, -rot[2, 0]))), math.atan2(rot[2, 1], rot[2, 2])


def _quat_heading_tilt(heading: float, pitch: float, roll: float) -> np.ndarray:
    """Quaternion (w, x, y, z) of Rz(heading) Ry(pitch) Rx(roll)."""
    q = np.zeros(4)
    mat = (
        np.array([[math.cos(heading), -math.sin(heading), 0.0], [math.sin(heading), math.cos(heading), 0.0], [0, 0, 1]])
        @ _rot_y(pitch)
        @ _rot_x(roll)
    )
    mujoco.mju_mat2Quat(q, mat.reshape(-1))
    return q
