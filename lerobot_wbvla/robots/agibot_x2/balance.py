"""The standing balance controller (`stand`): keeps the X2's centre of mass over its feet from the measured state.

Why: the legs are PD position servos. Holding the IK stance alone, the ankles yield under a forward load (ankle kp
300 N*m/rad against gravity's ~350 N*m/rad of tipping stiffness; hip, knee and ankle springs in series), so both arms
held forward topple the robot in ~1.5 s while the ankles give only ~30 of their 60 N*m. This controller closes the
loop on the centre of mass (CoM), as a model-based humanoid stabiliser does, using only what the robot state gives
(joint positions/velocities, IMU orientation and gyro), the known PD gains and its own targets:

- Model. Its own copy of the twin's kinematic/inertial model (mjcf.py, the public X2 figures) gives the CoM and the
  feet from the measured joint angles and the IMU orientation, their relative velocity (joint velocities and the
  gyro through the Jacobians; the unknown pelvis velocity cancels), and the leg joint torques that hold the robot
  for a chosen centre of pressure (CoP).
- Unknown loads. A mass in the hands is not in the model. The hips carry the upper body, so the hip pitch torque the
  servos apply (known gains, own targets) beyond the model's says how much: a hand-payload estimate (at the
  grippers' tool points, so it moves with the arms). What is left shows at rest as a CoP (ankle moment) that is not
  under the CoM: a slower observer shifts the CoM estimate by it. Both pause while the CoM moves fast (a push on
  the torso also loads the hips and the ankles).
- Ankle strategy (sagittal). The capture point xi = x + v / omega is driven to the middle of the soles by placing
  the CoP at xi + k (xi - ref), kept on the soles. The ankle pitch servos act as torque sources (target = measured
  angle + torque / kp, their damping kept), so the ankles push as hard as balance needs instead of yielding, and a
  foot that starts to tip gets its ankle torque reduced (feet stay flat).
- Hip strategy. The sudden part of the CoP the soles cannot give (a push) becomes an upper-body pitch through the
  hips (a centroidal moment), high-passed so that a lasting overload never makes the robot bow.
- Posture. The pelvis stays upright (IMU pitch/roll feedback and its integral) at the commanded height
  (loco.height, squats keep working), placed by an analytic 6-DoF leg IK with the feet flat where they are.
  Sagittally it goes where the measured knees put it, so the pelvis shift follows the CoM motion the CoP allows
  (back when the arms reach forward); laterally it is placed to centre the CoM between the feet, damped by the
  lateral CoM velocity. Hips, knees and ankle rolls get the model's static torques as feed-forward (torque / kp)
  so the stiff PD stance does not sag.

It cannot walk: vx/vy/yaw_rate are ignored, with a warning once per episode. The waist is left to the upper body
(the twin holds it with gravity feed-forward). Deterministic; ~0.3 ms per call in Python. Measured limits and the
comparison with the plain PD stance: bench/results/stand_balance.json. Gyro damping fed straight into the hip
targets was tried and destabilises the 50 Hz loop; the gyro acts through the CoM velocity instead.
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
from .joints import BODY_JOINTS, LEFT_LEG_JOINTS, RIGHT_LEG_JOINTS
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
    `ankle` (pelvis frame, m) with the foot at orientation `foot_rot` (3x3, pelvis frame).

    The chain is Ry(hip pitch) Rx(hip roll) Rz(hip yaw), thigh, Ry(knee), shank, Ry(ankle pitch) Rx(ankle roll); the
    hip axes meet at the hip centre and the ankle axes at the ankle centre, so it is solved from the foot (as for
    any such leg): the hip centre seen from the foot gives the ankle roll, the knee (law of cosines, with the small
    backward offsets of thigh and shank) and the ankle pitch; the rotation left at the hip gives its three angles.
    Out-of-reach targets are pulled onto the reachable sphere."""
    hip = np.array([0.0, HIP_Y if side == "left" else -HIP_Y, 0.0])
    r = foot_rot.T @ (hip - np.asarray(ankle, float))  # hip centre from the ankle, foot frame
    a, b = THIGH, SHANK
    cos_rel = (float(r @ r) - a * a - b * b) / (2.0 * a * b)
    rel = math.acos(max(-1.0, min(1.0, cos_rel)))  # angle between the thigh and shank directions
    knee = min(max(rel - SHANK_BACK + THIGH_BACK, _KNEE_RANGE[0]), _KNEE_RANGE[1])
    ankle_roll = math.atan2(r[1], r[2])
    # Hip to ankle in the leg plane (x, z after the hip rotation): thigh + Ry(knee) shank, down and back.
    ux = -a * math.sin(THIGH_BACK) - b * math.sin(SHANK_BACK + knee)
    uz = -a * math.cos(THIGH_BACK) - b * math.cos(SHANK_BACK + knee)
    # The same vector after undoing the knee and ankle pitch: minus the hip as seen from the rolled-back foot.
    ankle_pitch = _wrap(math.atan2(ux, uz) - math.atan2(-r[0], -math.hypot(r[1], r[2])) - knee)
    hip_rot = foot_rot @ _rot_x(ankle_roll).T @ _rot_y(knee + ankle_pitch).T  # = Ry(pitch) Rx(roll) Rz(yaw)
    hip_roll = math.asin(max(-1.0, min(1.0, -hip_rot[1, 2])))
    hip_pitch = math.atan2(hip_rot[0, 2], hip_rot[2, 2])
    hip_yaw = math.atan2(hip_rot[1, 0], hip_rot[1, 1])
    return hip_pitch, hip_roll, hip_yaw, knee, ankle_pitch, ankle_roll


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


# ---------------------------------------------------------------------------------------------- robot model
@functools.lru_cache(maxsize=1)
def _model() -> mujoco.MjModel:
    """The controller's model of the robot: the twin's generator (mjcf.py) on an empty floor (read only)."""
    return mjcf.build_spec(mjcf.MjcfOptions(head_camera=(8, 8))).compile()


class StanceModel:
    """Kinematics, CoM and static torques of the standing robot from measured joint angles and the IMU orientation
    (the controller's own model: the public X2 figures, no payload). The pelvis sits at the origin; axes are the
    IMU's world axes."""

    def __init__(self) -> None:
        m = self.model = _model()
        self.data = mujoco.MjData(m)
        self.pelvis = m.body("pelvis").id
        self.mass = float(m.body_subtreemass[self.pelvis])
        joint = {j: m.joint(mjcf.mjcf_joint_name(j)).id for j in BODY_JOINTS}
        self.qadr = np.array([m.jnt_qposadr[joint[j]] for j in BODY_JOINTS])
        self.vadr = np.array([m.jnt_dofadr[joint[j]] for j in BODY_JOINTS])
        self.leg_dofs = np.array([m.jnt_dofadr[joint[j]] for s in _SIDES for j in _LEGS[s]])
        self.ankle_body = {s: m.body(f"{s}_ankle_pitch_link").id for s in _SIDES}
        self.foot_body = {s: m.body(f"{s}_ankle_roll_link").id for s in _SIDES}
        self.knee_body = {s: m.body(f"{s}_knee_link").id for s in _SIDES}
        hip_body = {s: m.body(f"{s}_hip_pitch_link").id for s in _SIDES}
        self.hip_body = hip_body
        self.upper_mass = self.mass - sum(float(m.body_subtreemass[hip_body[s]]) for s in _SIDES)
        self.leg_mass = {s: float(m.body_subtreemass[hip_body[s]]) for s in _SIDES}
        self.tcp_site = {s: m.site(f"{s}_gripper_tcp").id for s in _SIDES}
        self.tcp_body = {s: int(m.site_bodyid[self.tcp_site[s]]) for s in _SIDES}
        self._jac = np.zeros((3, m.nv))
        self._bias = np.zeros(m.nv)
        self.qvel = np.zeros(m.nv)

    def set_state(self, q: np.ndarray, qd: np.ndarray, quat, gyro: np.ndarray) -> None:
        """Joint angles and velocities (BODY_JOINTS order), pelvis orientation (w, x, y, z) and angular velocity
        (gyro, pelvis frame). Runs the kinematics; the pelvis linear velocity is unknown and left 0 (only
        velocities relative to the feet are used, where it cancels)."""
        d = self.data
        d.qpos[self.qadr] = q
        d.qpos[0:3] = 0.0
        d.qpos[3:7] = quat
        self.qvel[self.vadr] = qd
        self.qvel[3:6] = gyro
        m = self.model
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        mujoco.mj_rne(m, d, 0, self._bias)  # gravity only: d.qvel stays 0

    def com(self) -> np.ndarray:
        return self.data.subtree_com[self.pelvis]

    def point_velocity(self, point: np.ndarray, body: int) -> np.ndarray:
        """Velocity of a point fixed to `body` (world axes, pelvis linear velocity 0)."""
        mujoco.mj_jac(self.model, self.data, self._jac, None, point, body)
        return self._jac @ self.qvel

    def com_velocity(self) -> np.ndarray:
        mujoco.mj_jacSubtreeCom(self.model, self.data, self._jac, self.pelvis)
        return self._jac @ self.qvel

    def upper_body_moment(self, axis: np.ndarray) -> float:
        """Moment about `axis` (through the pelvis origin) of the weight of what the hips carry: the robot minus
        its legs."""
        d = self.data
        legs = sum(self.leg_mass[s] * d.subtree_com[self.hip_body[s]] for s in _SIDES)
        com = (self.mass * d.subtree_com[self.pelvis] - legs) / self.upper_mass
        return _weight_moment(com, self.upper_mass, axis)

    def leg_torques(self, cop: dict[str, np.ndarray], load: dict[str, float]) -> np.ndarray:
        """Static leg joint torques (left then right leg, joints.py order) when each foot carries `load[side]` N
        straight up at the point `cop[side]` (world): gravity of the legs minus the contact forces through the
        Jacobians. What the legs carry above the hips enters through the loads."""
        m, d = self.model, self.data
        tau = self._bias.copy()
        for side in _SIDES:
            mujoco.mj_jac(m, d, self._jac, None, cop[side], self.foot_body[side])
            tau -= self._jac[2] * load[side]
        return tau[self.leg_dofs]


def _weight_moment(point: np.ndarray, mass: float, axis: np.ndarray) -> float:
    """Moment about `axis` (through the origin) of the weight of `mass` at `point` (world, z up)."""
    return float(mass * GRAVITY * (axis[1] * point[0] - axis[0] * point[1]))


# ---------------------------------------------------------------------------------------------- controller
@dataclass
class BalanceGains:
    """Tunables of the balance controller (defaults tuned on the twin: tests/robots/test_stand_balance.py,
    bench/stand_balance.py)."""

    height_rate: float = 0.15  # pelvis height slew (m/s)
    dcm_gain: float = 1.0  # CoP = xi + k (xi - ref): capture-point convergence rate, in units of omega
    cop_margin: float = 0.008  # keep the wanted CoP this far inside the sole edges (m)
    ref_forward: float = 0.037  # CoM reference ahead of the ankle-roll axis: the middle of the sole (m)
    payload_rate: float = 1.0  # hand-payload estimator (1/s), from the hip pitch torque residual
    payload_gate: float = 0.15  # CoM speed (m/s) that halves the estimator's rate
    payload_lever: float = 0.1  # m: below this lever of the hands the estimator slows down
    payload_range: tuple[float, float] = (-2.0, 12.0)  # kg, both hands together
    observer_rate: float = 1.5  # slow CoM-bias observer (1/s): static CoP minus CoM estimate
    observer_limit: float = 0.1  # |bias| cap (m)
    shift_limit: tuple[float, float] = (0.15, 0.08)  # pelvis shift caps over the ankle midpoint (m): x, y
    pitch_kp: float = 1.0  # pelvis pitch/roll feedback through the IK (rad per rad)
    pitch_ki: float = 1.0  # integral (1/s): pelvis upright under unknown loads
    hip_strategy: float = 3.0  # upper-body pitch (rad) per metre of CoP the soles cannot give
    hip_strategy_limit: float = 0.35  # rad
    hip_strategy_time: float = 0.5  # s: an excess lasting longer than this fades out of the hip strategy
    lateral_kp: float = 0.5  # lateral capture-point damping of the pelvis shift (m per m)
    flat_gain: float = 1.0  # foot pitch fed back into the ankle pitch targets (rad per rad)


@register_lower_body_controller("stand")
class BalanceController(WalkWarning):
    """Balancing stance (see the module docstring). Implements lower_body.LowerBodyController."""

    name = "stand"

    def __init__(self, gains: BalanceGains | None = None) -> None:
        self.gains = gains or BalanceGains()
        self.model = StanceModel()
        gains_pd = mjcf.default_gains()
        self._leg_names = [j for s in _SIDES for j in _LEGS[s]]
        self._kp = np.array([gains_pd[j][0] for j in self._leg_names])
        self._kd = np.array([gains_pd[j][1] for j in self._leg_names])
        self._torque = np.array([P.joint_params(j).torque for j in self._leg_names])
        self._leg_state = np.array([BODY_JOINTS.index(j) for j in self._leg_names])
        self._pos_keys = [f"{j}.pos" for j in BODY_JOINTS]
        self._vel_keys = [f"{j}.vel" for j in BODY_JOINTS]
        self._hip_ids = np.array([0, 6])  # hip pitch in the 12-leg vector
        self._ankle_pitch_ids = np.array([4, 10])
        self._ankle_ids = np.array([4, 5, 10, 11])  # ankle pitch and roll, both legs
        lims = [P.joint_params(self._leg_names[i]).range for i in self._ankle_ids]
        self._ankle_lo = np.array([lo for lo, _ in lims])
        self._ankle_hi = np.array([hi for _, hi in lims])
        self._foot_forward = P.link("left_ankle_roll_link").pos[0]  # ankle-roll axis ahead of the pitch axis
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._height: float | None = None  # commanded pelvis height above the soles (m), slewed
        self._payload = 0.0  # estimated mass in the hands (kg, both together)
        self._bias = np.zeros(2)  # CoM estimate minus model CoM (m), slow observer
        self._tilt_int = np.zeros(2)  # integral of the pelvis (pitch, roll) error
        self._hip_pitch = 0.0  # hip-strategy upper-body pitch (rad)
        self._excess_slow = 0.0  # low-passed CoP excess (m): what the hip strategy ignores
        self._targets: np.ndarray | None = None  # last leg targets: with the PD gains, the applied torques
        self.last: dict[str, float] = {}  # diagnostics of the last call (tests, benchmarks)

    # ------------------------------------------------------------------------------------------ the tick
    def compute(self, state: Mapping[str, float], loco: LocoCommand, dt: float) -> dict[str, float]:
        self.warn_if_walking(loco)
        g, sm = self.gains, self.model
        n = len(self._pos_keys)
        q = np.fromiter((state[k] for k in self._pos_keys), float, n)
        qd = np.fromiter((state[k] for k in self._vel_keys), float, n)
        quat = (state["imu.quat_w"], state["imu.quat_x"], state["imu.quat_y"], state["imu.quat_z"])
        gyro = np.array([state["imu.gyro_x"], state["imu.gyro_y"], state["imu.gyro_z"]])
        sm.set_state(q, qd, quat, gyro)
        d = sm.data
        leg_q, leg_qd = q[self._leg_state], qd[self._leg_state]

        # Heading frame: origin at the ankle midpoint, x along the mean foot direction, z up.
        ankles = {s: d.xpos[sm.ankle_body[s]].copy() for s in _SIDES}
        feet = {s: d.xmat[sm.foot_body[s]].reshape(3, 3) for s in _SIDES}
        heading = math.atan2(
            feet["left"][1, 0] + feet["right"][1, 0], feet["left"][0, 0] + feet["right"][0, 0]
        )
        ch, sh = math.cos(heading), math.sin(heading)
        to_h = np.array([[ch, sh, 0.0], [-sh, ch, 0.0], [0.0, 0.0, 1.0]])  # world -> heading frame
        mid = 0.5 * (ankles["left"] + ankles["right"])
        pelvis = to_h @ -mid
        rot = to_h @ d.xmat[sm.pelvis].reshape(3, 3)  # pelvis orientation, heading frame
        pitch = math.asin(max(-1.0, min(1.0, -rot[2, 0])))
        roll = math.atan2(rot[2, 1], rot[2, 2])

        # CoM and its velocity relative to the feet, with the estimated payload at the grippers' tool points.
        tcp = 0.5 * (d.site_xpos[sm.tcp_site["left"]] + d.site_xpos[sm.tcp_site["right"]])
        feet_vel = 0.5 * sum(sm.point_velocity(ankles[s], sm.ankle_body[s]) for s in _SIDES)
        tcp_vel = 0.5 * sum(sm.point_velocity(d.site_xpos[sm.tcp_site[s]], sm.tcp_body[s]) for s in _SIDES)
        mass = sm.mass + self._payload
        com_w = (sm.mass * sm.com() + self._payload * tcp) / mass
        vel_w = (sm.mass * sm.com_velocity() + self._payload * tcp_vel) / mass - feet_vel
        com = to_h @ (com_w - mid)
        com[:2] += self._bias
        vel = to_h @ vel_w
        sole_z = -P.SOLE_Z  # ankle centre above the sole (flat foot)
        omega = math.sqrt(GRAVITY / max(com[2] + sole_z, 0.3))
        weight = mass * GRAVITY

        # Commanded height (loco.height, slewed); the first call starts from where the robot is.
        if self._height is None:
            self._height = min(max(pelvis[2] + sole_z, min_height()), max_height())
        target_h = loco.height if loco.height > 0 else nominal_height()
        target_h = min(max(target_h, min_height()), max_height())
        step = g.height_rate * dt
        self._height += max(-step, min(step, target_h - self._height))

        # Ankle strategy: the CoP that drives the capture point to the middle of the soles, kept on the soles.
        ff = self._foot_forward
        ref_x = ff + g.ref_forward
        xi = com[0] + vel[0] / omega
        cop_want = xi + g.dcm_gain * (xi - ref_x)
        cop_x = min(max(cop_want, ff + P.SOLE_X[0] + g.cop_margin), ff + P.SOLE_X[1] - g.cop_margin)
        # Hip strategy: the part of the CoP the soles cannot give, as an upper-body pitch (a centroidal moment).
        # Only its sudden part (a push): a lasting excess (an overload) is high-passed away, since a lasting bow
        # would carry the CoM further out.
        excess = cop_want - cop_x
        self._excess_slow += (excess - self._excess_slow) * min(1.0, dt / g.hip_strategy_time)
        hip_goal = g.hip_strategy * (excess - self._excess_slow)
        hip_goal = max(-g.hip_strategy_limit, min(g.hip_strategy_limit, hip_goal))
        self._hip_pitch += (hip_goal - self._hip_pitch) * min(1.0, 10.0 * dt)

        # Leg torques that put the CoP there, the vertical load shared across the feet by the lever rule.
        span = max(float(np.linalg.norm((ankles["left"] - ankles["right"])[:2])), 1e-3)
        share = min(max(0.5 + com[1] / span, 0.05), 0.95)
        load = {"left": share * weight, "right": (1.0 - share) * weight}
        from_h = to_h.T
        cop = {}
        for s in _SIDES:
            a_h = to_h @ (ankles[s] - mid)
            cop[s] = mid + from_h @ np.array([cop_x, a_h[1], -sole_z])
        tau = sm.leg_torques(cop, load)

        # Estimators, from the torques the leg servos apply now (known gains, own targets):
        # - the hips carry the upper body: their moment beyond the model's is a mass in the hands;
        # - at rest the CoP (ankle moment) is under the CoM: a slow observer takes up what is left.
        if self._targets is not None:
            applied = np.clip(
                self._kp * (self._targets - leg_q) - self._kd * leg_qd, -self._torque, self._torque
            )
            axis = d.xmat[sm.pelvis].reshape(3, 3)[:, 1]
            lever = _weight_moment(tcp, 1.0, axis) / GRAVITY  # tool points ahead of the hip axis (m)
            residual = (
                applied[self._hip_ids].sum() - sm.upper_body_moment(axis) - self._payload * GRAVITY * lever
            )
            # Trust it while the CoM is still (a push on the torso also loads the hips), and in proportion to the
            # lever a mass in the hands would have (hands near the hip axis tell nothing).
            calm = 1.0 / (1.0 + (float(np.hypot(vel[0], vel[1])) / g.payload_gate) ** 2)
            self._payload += (
                g.payload_rate
                * dt
                * calm
                * residual
                * lever
                / (GRAVITY * (lever * lever + g.payload_lever**2))
            )
            self._payload = min(max(self._payload, g.payload_range[0]), g.payload_range[1])
            cop_measured = (
                cop_x + (applied[self._ankle_pitch_ids].sum() - tau[self._ankle_pitch_ids].sum()) / weight
            )
            self._bias[0] += g.observer_rate * dt * calm * (cop_measured - com[0])
            self._bias = np.clip(self._bias, -g.observer_limit, g.observer_limit)

        # Posture. Sagittal: the ankles are torque sources, so the shanks lean where balance puts them; the pelvis
        # goes where the measured knees allow it at the commanded height (hip centre one thigh length from the
        # knee): the pelvis shift follows the CoM motion that the CoP allows. Lateral: the pelvis goes over the
        # point that centres the CoM between the feet (a static map: a sway moves both and cancels), damped by
        # the lateral velocity. The pelvis is kept upright by IMU/gyro feedback (and its integral) through the IK.
        h_z = self._height - sole_z
        shift_y = pelvis[1] - (com[1] + g.lateral_kp * vel[1] / omega) / 0.9
        shift_y = min(max(shift_y, -g.shift_limit[1]), g.shift_limit[1])
        xs = []
        for s in _SIDES:
            knee = to_h @ (d.xpos[sm.knee_body[s]] - mid)
            hip_y = shift_y + (HIP_Y if s == "left" else -HIP_Y)
            xs.append(
                knee[0] - math.sqrt(max(THIGH * THIGH - (hip_y - knee[1]) ** 2 - (h_z - knee[2]) ** 2, 0.0))
            )
        shift_x = min(max(0.5 * (xs[0] + xs[1]), -g.shift_limit[0]), g.shift_limit[0])
        err = np.array([pitch - self._hip_pitch, roll])
        self._tilt_int = np.clip(self._tilt_int + dt * err, -0.2, 0.2)
        tilt = -(g.pitch_kp * err + g.pitch_ki * self._tilt_int)
        tilt[0] += self._hip_pitch
        legs = self._ik(ankles, feet, mid, to_h, (shift_x, shift_y, h_z), tilt)

        # Targets: hips, knees and ankle rolls at the IK + gravity feed-forward (torque / kp); the ankle pitches are
        # torque sources (measured angle + torque / kp; their servo damping kept) that also turn a tilted foot back
        # flat (a heel or toe that lifts gets the torque that lifted it taken away: the soles stay on the floor).
        targets = legs + tau / self._kp
        ai = self._ankle_pitch_ids
        toe_down = np.array([_foot_pitch(to_h @ feet[s]) for s in _SIDES])
        targets[ai] = leg_q[ai] + tau[ai] / self._kp[ai] - g.flat_gain * toe_down
        targets[self._ankle_ids] = np.clip(targets[self._ankle_ids], self._ankle_lo, self._ankle_hi)
        self._targets = targets
        self.last = {
            "com_x": float(com[0]),
            "com_y": float(com[1]),
            "xi_x": xi,
            "cop_x": cop_x,
            "cop_want": cop_want,
            "payload": self._payload,
            "bias_x": float(self._bias[0]),
            "shift_x": shift_x,
            "shift_y": shift_y,
            "pitch": pitch,
            "roll": roll,
            "hip_pitch": self._hip_pitch,
            "height": self._height,
        }
        return dict(zip(self._leg_names, targets.tolist(), strict=True))

    def _ik(self, ankles, feet, mid, to_h, pelvis_pos, tilt) -> np.ndarray:
        """Leg angles (left then right) for the pelvis at `pelvis_pos` (heading frame, over the ankle midpoint)
        with pitch/roll `tilt`, the feet where they are, flat."""
        rot = _rot_y(tilt[0]) @ _rot_x(tilt[1])  # commanded pelvis orientation, heading frame
        pelvis = np.asarray(pelvis_pos)
        out: list[float] = []
        for s in _SIDES:
            a_h = to_h @ (ankles[s] - mid)
            a_h[2] = 0.0  # the ankle centres at one sole height above the floor
            f_h = to_h @ feet[s]
            yaw = math.atan2(f_h[1, 0], f_h[0, 0])
            c, sn = math.cos(yaw), math.sin(yaw)
            foot_flat = np.array([[c, -sn, 0.0], [sn, c, 0.0], [0.0, 0.0, 1.0]])
            out.extend(leg_ik(rot.T @ (a_h - pelvis), rot.T @ foot_flat, s))
        return np.array(out)


def _foot_pitch(rot: np.ndarray) -> float:
    """Pitch of a foot (rotation matrix in the heading frame), rad: > 0 toe down (heel up)."""
    return math.asin(max(-1.0, min(1.0, -rot[2, 0])))
