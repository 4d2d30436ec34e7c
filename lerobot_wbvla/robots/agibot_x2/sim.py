"""X2Sim: the MuJoCo twin of the AgiBot X2 Ultra (docs/CONTRACTS.md, "The X2 twin API").

Used by the robot's sim backend, the gymnasium env and the scripted operator. One object owns one MjModel/MjData:
- `set_command(action)` stores the whole-body action (arm targets, grippers, loco command);
- `advance(dt)` runs the physics for dt seconds at `physics_hz`: PD position actuators on all joints (with the
  gravity feed-forward of waist, head and arms inside the actuator, so every joint's total torque stays within its
  published limit), the lower-body controller at `lower_body_hz`, and in `base_mode="kinematic"` the planar base
  controller;
- `reset(seed)` ends in a settled state (a short run under the standing commands) at sim_time 0;
- `observation()` returns the robot observation dict without images; `render(camera)` an RGB image.

Base modes. kinematic: the pelvis is welded to a mocap body that a planar velocity controller (acceleration
limited) moves over the floor following vx/vy/yaw_rate, at the pelvis height of loco.height; the legs hold the
squat-IK stance for that height and do not touch the floor (feet-floor contacts are excluded; foot contacts are
reported geometrically); arms, grippers and contacts with props stay fully simulated. physical: the legs are driven
by the lower-body controller through the physics (the built-in `stand` controller only stands/squats).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from . import lower_body as lb  # noqa: E402
from . import mjcf  # noqa: E402
from . import params as P  # noqa: E402
from .backend import LocoCommand  # noqa: E402
from .joints import (  # noqa: E402
    ARM_JOINTS,
    BODY_JOINTS,
    FOOT_CONTACT_KEYS,
    GRIPPERS,
    HEAD_JOINTS,
    LEG_JOINTS,
    LOCO_KEYS,
    STATE_KEYS,
    WAIST_JOINTS,
    mjcf_joint_name,
)
from .scenes import SceneHandles, get_scene  # noqa: E402

# Planar base controller limits (kinematic mode) [ours]: acceleration limits make the motion smooth; the X2's
# daily-use speed is <= 0.8 m/s (AimDK 1.2).
BASE_LIN_ACC = 1.5  # m/s^2
BASE_YAW_ACC = 3.0  # rad/s^2
BASE_HEIGHT_RATE = 0.25  # m/s
CONTACT_HEIGHT = 0.01  # m: a pad this close to the floor counts as in contact (kinematic mode)


@dataclass
class X2SimConfig:
    # Scene name in scenes.py registry ("pick_place", "walk_carry", "shelf_place", "cart_push"); None = floor only.
    scene: str | None = None
    # "kinematic" | "physical" (see module docstring).
    base_mode: str = "kinematic"
    # Physics rate (Hz); 200 is the article's training configuration.
    physics_hz: int = 200
    # Lower-body controller rate (Hz).
    lower_body_hz: int = 50
    # Head camera (height, width).
    head_camera: tuple[int, int] = (224, 224)
    # Add `left_wrist` and `right_wrist` cameras (same resolution as the head camera).
    wrist_cameras: bool = False
    # "3dof" (public X2 Ultra) | "1dof" (paper prototype: waist pitch/roll locked at 0).
    waist: str = "3dof"
    # Name of the lower-body controller (lower_body.py registry).
    lower_body_controller: str = "stand"
    # Keyword options of that controller's factory, e.g. {"path": <export folder or repo id>, "revision": None}
    # for `lmo` (lmo/controller.py); empty for the built-in controllers.
    lower_body_options: dict[str, Any] = field(default_factory=dict)
    # Feed-forward gravity (and Coriolis) torques on waist, arm and head joints, as the robot's motion controller
    # does; without it the arm PD sags ~0.05 rad under the arm's weight and the waist ~0.09 rad when an arm reaches
    # forward. The feed-forward is the bias term of the joint's own position actuator (recomputed every physics
    # step), so the actuator's force range clamps PD + feed-forward together: the total joint torque never
    # exceeds the published limit (params.py).
    arm_gravity_compensation: bool = True
    # Arms collide with the body (pelvis, legs, torso, head) and with each other (mjcf.py, "Collision filtering").
    self_collision: bool = True
    # Record the peak |torque| of every body joint over every physics step (read with `peak_torques()`); off by
    # default (it costs ~2 us per physics step). `set_torque_monitor(True)` turns it on for a live twin.
    torque_monitor: bool = False
    # Seconds of physics `reset()` runs with the standing commands before the episode starts (then sim_time = 0),
    # so that episodes start settled: contact and weld forces, the arms under gravity and the props at rest
    # (the IMU reads gravity from the first frame). Rounded to whole lower-body periods; 0 disables.
    reset_settle_s: float = 0.5

    def __post_init__(self) -> None:
        if self.base_mode not in ("kinematic", "physical"):
            raise ValueError(f"base_mode must be 'kinematic' or 'physical', got {self.base_mode!r}")
        if self.physics_hz <= 0 or self.lower_body_hz <= 0 or self.lower_body_hz > self.physics_hz:
            raise ValueError(
                f"need 0 < lower_body_hz <= physics_hz, got lower_body_hz={self.lower_body_hz}, "
                f"physics_hz={self.physics_hz}"
            )
        if not (math.isfinite(self.reset_settle_s) and self.reset_settle_s >= 0):
            raise ValueError(f"reset_settle_s must be a finite number >= 0, got {self.reset_settle_s}")


class X2Sim:
    """The X2 twin. See the module docstring and docs/CONTRACTS.md."""

    def __init__(
        self,
        config: X2SimConfig | None = None,
        gains: Mapping[str, tuple[float, float]] | None = None,
        lower_body: lb.LowerBodyController | None = None,
    ) -> None:
        self.config = config or X2SimConfig()
        cfg = self.config
        self.kinematic = cfg.base_mode == "kinematic"
        spec = mjcf.build_spec(
            mjcf.MjcfOptions(
                waist=cfg.waist,
                head_camera=tuple(cfg.head_camera),
                wrist_cameras=cfg.wrist_cameras,
                kinematic_base=self.kinematic,
                physics_hz=cfg.physics_hz,
                self_collision=cfg.self_collision,
            )
        )
        self.scene: SceneHandles = get_scene(cfg.scene)(spec)
        self.task: str = self.scene.task
        self.model: mujoco.MjModel = spec.compile()
        self.data: mujoco.MjData = mujoco.MjData(self.model)
        self.lower_body = lower_body or lb.make_lower_body_controller(
            cfg.lower_body_controller, **cfg.lower_body_options
        )
        self._index()
        self.default_gains = mjcf.default_gains()
        self.set_gains(gains or {})
        self._renderers: dict[str, mujoco.Renderer] = {}
        self._scene_option = mujoco.MjvOption()
        self._physics_steps_per_lower = max(1, round(cfg.physics_hz / cfg.lower_body_hz))
        # Pelvis height limits of the squat IK (constants of params.py; computed once, read every lower-body tick).
        self._nominal_h, self._min_h, self._max_h = lb.nominal_height(), lb.min_height(), lb.max_height()
        self.reset(0)

    # ------------------------------------------------------------------ setup
    def _index(self) -> None:
        m = self.model
        self.qadr = {j: m.jnt_qposadr[m.joint(mjcf_joint_name(j)).id] for j in BODY_JOINTS}
        self.vadr = {j: m.jnt_dofadr[m.joint(mjcf_joint_name(j)).id] for j in BODY_JOINTS}
        for g in GRIPPERS:
            jid = m.joint(f"{g}_finger_a_joint").id
            self.qadr[g] = m.jnt_qposadr[jid]
            self.vadr[g] = m.jnt_dofadr[jid]
        self.act = {name: m.actuator(name).id for name in BODY_JOINTS + GRIPPERS}
        self.sensor_adr = {n: m.sensor_adr[m.sensor(n).id] for n in ("imu_quat", "imu_gyro", "imu_acc")}
        self.pad_geoms = {pad: m.geom(pad).id for pad in mjcf.FOOT_PADS}
        self._pad_of_geom = {gid: pad for pad, gid in self.pad_geoms.items()}
        self.pelvis_id = m.body("pelvis").id
        robot_bodies = set()
        for b in range(m.nbody):
            if m.body_rootid[b] == self.pelvis_id:
                robot_bodies.add(b)
        self._robot_geom = np.isin(m.geom_bodyid, list(robot_bodies))
        self.mocap_id = m.body_mocapid[m.body(mjcf.BASE_TARGET_BODY).id] if self.kinematic else -1
        self.camera_names = [m.camera(i).name for i in range(m.ncam)]
        # Gravity compensation (hot path, built once: the per-physics-step Python is what limits the twin's speed,
        # see bench/sim_step.py). The compensated joints' actuators are one contiguous block of the actuator order
        # (BODY_JOINTS: legs, then waist, head, arms), so their bias-term column is one strided view of the model
        # and the per-step update is a single `take` from qfrc_bias into it.
        comp = [j for j in BODY_JOINTS if j in WAIST_JOINTS + HEAD_JOINTS + ARM_JOINTS]
        comp_act = [self.act[j] for j in comp]
        if comp_act != list(range(comp_act[0], comp_act[0] + len(comp_act))):
            raise RuntimeError("waist, head and arm actuators must be contiguous in the actuator order")
        self._comp_dofs = np.array([self.vadr[j] for j in comp], dtype=int)
        self._comp_b0 = m.actuator_biasprm[comp_act[0] : comp_act[-1] + 1, 0]  # view: writes go to the model
        self._comp_b0[:] = 0.0
        # Torque monitor: the body joints' dofs and their published limits.
        self._body_dofs = np.array([self.vadr[j] for j in BODY_JOINTS], dtype=int)
        self.torque_limits = {j: P.joint_params(j).torque for j in BODY_JOINTS}
        self._tau_buf = np.zeros(len(BODY_JOINTS))
        self._tau_applied = np.zeros(len(BODY_JOINTS))
        self._tau_peak = np.zeros(len(BODY_JOINTS))
        self._monitor = self.config.torque_monitor
        # Actuator ids in the order _apply_ctrl writes them: body joints, then grippers.
        self._ctrl_ids = np.array([self.act[j] for j in BODY_JOINTS + GRIPPERS], dtype=int)
        # Command slots by action key: (is_gripper, name, lo, hi); loco keys are handled apart.
        self._arm_range = {j: mjcf.joint_range(j) for j in ARM_JOINTS}
        self._arm_lo = np.array([self._arm_range[j][0] for j in ARM_JOINTS])
        self._arm_hi = np.array([self._arm_range[j][1] for j in ARM_JOINTS])
        self._arm_slots = {f"{j}.pos": (j, *self._arm_range[j]) for j in ARM_JOINTS}
        self._grip_slots = {f"{g}.pos": g for g in GRIPPERS}
        # State vector layout (joints.STATE_KEYS): joint pos, joint vel, IMU, foot contacts.
        n_body, n_all = len(BODY_JOINTS), len(BODY_JOINTS) + len(GRIPPERS)
        self._state_qadr = np.array([self.qadr[j] for j in BODY_JOINTS + GRIPPERS], dtype=int)
        self._state_vadr = np.array([self.vadr[j] for j in BODY_JOINTS + GRIPPERS], dtype=int)
        self._grip_pos = slice(n_body, n_all)  # the grippers inside the pos (and the vel) block
        imu = [self.sensor_adr["imu_quat"] + i for i in range(4)]
        imu += [self.sensor_adr[n] + i for n in ("imu_gyro", "imu_acc") for i in range(3)]
        self._imu_adr = np.array(imu, dtype=int)
        self._imu_slice = slice(2 * n_all, 2 * n_all + len(imu))
        self._contact_slice = slice(2 * n_all + len(imu), 2 * n_all + len(imu) + len(FOOT_CONTACT_KEYS))
        self._state_size = self._contact_slice.stop
        if self._state_size != len(STATE_KEYS):
            raise RuntimeError(f"state vector has {self._state_size} entries, STATE_KEYS {len(STATE_KEYS)}")
        # Foot pads in FOOT_CONTACT_KEYS order; pad geom id -> its slot; the robot's geom ids.
        pad_order = [key.split(".", 1)[1] for key in FOOT_CONTACT_KEYS]
        self._pad_order = pad_order
        self._pad_ids = np.array([self.pad_geoms[p] for p in pad_order], dtype=int)
        self._pad_z = [(int(g), float(m.geom_size[g, 2])) for g in self._pad_ids]  # (geom id, half height)
        self._pad_slot_of_geom = {int(gid): i for i, gid in enumerate(self._pad_ids)}
        self._robot_geom_ids = frozenset(np.flatnonzero(self._robot_geom).tolist())

    def set_gains(self, gains: Mapping[str, tuple[float, float]]) -> None:
        """Set PD gains (kp, kd) per body joint; joints not named keep the defaults of params.py."""
        unknown = set(gains) - set(BODY_JOINTS)
        if unknown:
            raise KeyError(f"Unknown joint(s) in gains: {sorted(unknown)}; known: {', '.join(BODY_JOINTS)}")
        self.gains = {j: tuple(gains.get(j, self.default_gains[j])) for j in BODY_JOINTS}
        self._arm_damped = False
        for j, (kp, kd) in self.gains.items():
            self._write_gain(j, kp, kd)

    def _write_gain(self, joint: str, kp: float, kd: float) -> None:
        a = self.act[joint]
        self.model.actuator_gainprm[a, 0] = kp
        self.model.actuator_biasprm[a, 1] = -kp
        self.model.actuator_biasprm[a, 2] = -kd

    # ------------------------------------------------------------------ reset
    def reset(self, seed: int | None = None) -> None:
        """Standing pose at the origin facing +x, commands cleared, scene randomised from `seed`, then
        `config.reset_settle_s` of physics under the standing commands (the robot and the props come to rest;
        contact and weld forces settle) and the clock set back to sim_time 0. Deterministic: the same seed gives a
        bit-identical state, in both base modes."""
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        self._tau_peak[:] = 0.0
        self.rng = np.random.default_rng(seed)
        self.height = lb.nominal_height()
        pose = {**lb.stance_leg_pose(self.height), **self.stance_upper_body()}
        for j, q in pose.items():
            d.qpos[self.qadr[j]] = q
        d.qpos[0:3] = (0.0, 0.0, self.height + 0.001)
        d.qpos[3:7] = (1.0, 0.0, 0.0, 0.0)
        self.targets: dict[str, float] = dict(pose)
        self.grippers: dict[str, float] = {g: 0.0 for g in GRIPPERS}
        for g in GRIPPERS:  # fingers start fully open, as commanded
            for finger in ("a", "b"):
                adr = m.jnt_qposadr[m.joint(f"{g}_finger_{finger}_joint").id]
                d.qpos[adr] = P.GRIPPER_STROKE
        self.loco = LocoCommand()
        # Planar base state as plain floats (the per-physics-step update runs in Python); base_xy / base_vel
        # expose them as arrays.
        self._base_x = self._base_y = 0.0
        self.base_yaw = 0.0
        self._base_vx = self._base_vy = self._base_wz = 0.0  # vx, vy (base frame), yaw rate
        self._legs_height = self.height  # pelvis height the leg targets were last computed for
        if self._arm_damped:
            self.set_arm_damping(False)
        self.lower_body.reset()
        self._step_count = 0
        self._pending_time = 0.0
        self.reset_count = (
            getattr(self, "reset_count", -1) + 1
        )  # episodes seen; record-time augmentation keys on it
        self._apply_ctrl()
        if self.kinematic:
            self._write_mocap()
        self.scene.randomise(m, d, self.rng)
        self._forward()
        # Settle: the robot starts 1 mm above its stance height and the props just above their supports; without
        # this the first frames of every episode carry the drop (the IMU read 1.3 then 22.3 m/s^2). Whole
        # lower-body periods, so the lower-body schedule continues unchanged from sim_time 0.
        per_lower = self._physics_steps_per_lower
        n_settle = per_lower * round(self.config.reset_settle_s * self.config.physics_hz / per_lower)
        if n_settle:
            self.advance(n_settle * m.opt.timestep)
            d.time = 0.0  # the scripted operator and the recorders treat sim_time 0 as "just reset"
            self._step_count = 0
            self._pending_time = 0.0
            self._forward()

    def _forward(self) -> None:
        """mj_forward with the gravity feed-forward of the current state in the actuators' bias term (as the next
        physics step will apply it), so that sensors and forces read right after a reset are the ones the physics
        uses."""
        m, d = self.model, self.data
        if not self.config.arm_gravity_compensation:
            self._comp_b0[:] = 0.0
            mujoco.mj_forward(m, d)
            return
        mujoco.mj_forward(m, d)
        d.qfrc_bias.take(self._comp_dofs, out=self._comp_b0, mode="clip")
        mujoco.mj_forward(m, d)

    @staticmethod
    def stance_upper_body() -> dict[str, float]:
        """Arm, waist and head joints of the standing pose."""
        pose = {j: 0.0 for j in WAIST_JOINTS}
        pose.update(P.STANCE_HEAD)
        for side, stance in (("left", P.STANCE_ARM_LEFT), ("right", P.STANCE_ARM_RIGHT)):
            for k, v in stance.items():
                pose[f"{side}_{k}"] = v
        return pose

    # ------------------------------------------------------------------ commands
    def set_command(self, action: Mapping[str, float]) -> None:
        """Store (part of) a whole-body action: `<arm joint>.pos` (rad), `<gripper>.pos` in [0, 1], `loco.*`.

        Keys left out keep their previous values. Targets are clipped to the joint ranges. Unknown keys raise
        KeyError naming them, NaN/inf ValueError (nothing applied). Step limits are the robot's job (agibot_x2.py)."""
        values = [(key, float(value)) for key, value in action.items()]
        bad = [k for k, v in values if not math.isfinite(v)]
        if bad:
            raise ValueError(f"Non-finite whole-body action values for {bad}; nothing was applied")
        known = self._arm_slots.keys() | self._grip_slots.keys() | set(LOCO_KEYS)
        unknown = [k for k, _ in values if k not in known]
        if unknown:
            raise KeyError(
                f"Unknown whole-body action key(s) {unknown}; expected '<arm joint>.pos', '<gripper>.pos' or "
                f"one of {LOCO_KEYS}; nothing was applied"
            )
        arm: dict[str, float] = {}
        grippers: dict[str, float] = {}
        loco: dict[str, float] = {}
        for key, value in values:
            if key in self._arm_slots:
                arm[self._arm_slots[key][0]] = value
            elif key in self._grip_slots:
                grippers[self._grip_slots[key]] = value
            else:
                loco[key[5:]] = value  # "loco.<field>"
        self._store_command(arm, grippers, loco)

    def set_whole_body(
        self, arm_targets: Mapping[str, float], grippers: Mapping[str, float], loco: LocoCommand
    ) -> None:
        """`set_command` for a command already keyed by joint (the sim backend's per-tick path: no action keys
        to parse, one vectorised clip). Same clipping and errors: unknown names KeyError, NaN/inf ValueError
        (nothing applied)."""
        arm_names, grip_names = tuple(arm_targets), tuple(grippers)
        if arm_names == ARM_JOINTS:  # the robot's order: limits prebuilt
            lo, hi = self._arm_lo, self._arm_hi
        else:
            unknown = [j for j in arm_names if j not in self._arm_range]
            if unknown:
                raise KeyError(
                    f"Unknown arm joint(s) {unknown}; known: {', '.join(ARM_JOINTS)}; nothing was applied"
                )
            lo = np.array([self._arm_range[j][0] for j in arm_names])
            hi = np.array([self._arm_range[j][1] for j in arm_names])
        unknown = [g for g in grip_names if g not in self.grippers]
        if unknown:
            raise KeyError(f"Unknown gripper(s) {unknown}; known: {', '.join(GRIPPERS)}; nothing was applied")
        n_arm, n_grip = len(arm_names), len(grip_names)
        values = np.fromiter(
            itertools.chain(
                arm_targets.values(), grippers.values(), (loco.vx, loco.vy, loco.yaw_rate, loco.height)
            ),
            float,
            n_arm + n_grip + 4,
        )
        finite = np.isfinite(values)
        if not finite.all():
            names = arm_names + grip_names + LOCO_KEYS
            bad = [k for k, ok in zip(names, finite.tolist(), strict=True) if not ok]
            raise ValueError(f"Non-finite whole-body command values for {bad}; nothing was applied")
        arm = np.minimum(np.maximum(values[:n_arm], lo), hi)
        grip = np.minimum(np.maximum(values[n_arm : n_arm + n_grip], 0.0), 1.0)
        self.targets.update(zip(arm_names, arm.tolist(), strict=True))
        self.grippers.update(zip(grip_names, grip.tolist(), strict=True))
        loco_values = values[n_arm + n_grip :].tolist()
        self.loco.vx, self.loco.vy, self.loco.yaw_rate, self.loco.height = loco_values
        if self._arm_damped:
            self.set_arm_damping(False)

    def _store_command(
        self, arm: dict[str, float], grippers: dict[str, float], loco: dict[str, float]
    ) -> None:
        """Store validated, finite values: arm targets clipped to the joint ranges, grippers to [0, 1]."""
        targets, ranges = self.targets, self._arm_range
        for name, value in arm.items():
            lo, hi = ranges[name]
            targets[name] = min(max(value, lo), hi)
        for name, value in grippers.items():
            self.grippers[name] = min(max(value, 0.0), 1.0)
        for name, value in loco.items():
            setattr(self.loco, name, value)
        if self._arm_damped:
            self.set_arm_damping(False)

    def hold(self) -> None:
        """Stop the base and hold arms and grippers where they are now."""
        self.loco = LocoCommand(height=self.loco.height)
        for j in ARM_JOINTS:
            self.targets[j] = float(self.data.qpos[self.qadr[j]])
        for g in GRIPPERS:
            self.grippers[g] = self._gripper_closure(g)

    def set_arm_damping(self, damped: bool) -> None:
        """damped=True: arm joints get kp=0 (pure damping, they sag under gravity); False restores the gains."""
        for j in ARM_JOINTS:
            kp, kd = self.gains[j]
            self._write_gain(j, 0.0 if damped else kp, kd)
        self._arm_damped = damped

    def damp(self) -> None:
        """Stop the base; arms go limp (damping only); legs keep standing."""
        self.hold()
        self.set_arm_damping(True)

    # ------------------------------------------------------------------ stepping
    def advance(self, dt: float) -> None:
        """Run the physics for `dt` seconds (rounded to whole physics steps, with the remainder carried over so
        that the mean rate is exact and the result deterministic)."""
        if not math.isfinite(dt) or dt < 0:
            raise ValueError(f"advance(dt) needs a finite dt >= 0, got {dt}")
        m, d = self.model, self.data
        h = m.opt.timestep
        self._pending_time += dt
        n = int(math.floor(self._pending_time / h + 1e-9))
        self._pending_time -= n * h
        if n == 0:
            return
        # Per physics step, in this order: lower-body tick (every `per_lower` steps), planar base (kinematic),
        # PD targets -> ctrl, mj_step. Targets only change between advance() calls and at lower-body ticks, so
        # ctrl is written once here and again only when a tick changed them. With gravity compensation mj_step is
        # split: mj_step1 computes the state's gravity/Coriolis torques (qfrc_bias), they become the bias term of
        # the waist/head/arm position actuators, and mj_step2 applies actuator forces clamped to the published
        # torque limits (PD and feed-forward together) and integrates.
        self._apply_ctrl()
        per_lower = self._physics_steps_per_lower
        lower_dt = h * per_lower
        kinematic = self.kinematic
        compensate = self.config.arm_gravity_compensation
        if not compensate:
            self._comp_b0[:] = 0.0
        monitor = self._monitor
        bias, comp_dofs, b0 = d.qfrc_bias, self._comp_dofs, self._comp_b0
        mj_step, mj_step1, mj_step2 = mujoco.mj_step, mujoco.mj_step1, mujoco.mj_step2
        loco = self.loco
        # The base update is a no-op at rest under a zero command (loco cannot change inside advance()).
        loco_zero = loco.vx == 0.0 and loco.vy == 0.0 and loco.yaw_rate == 0.0
        base_moving = kinematic and not (loco_zero and self._base_at_rest())
        step, end = self._step_count, self._step_count + n
        while step < end:
            height_changed = False  # only ever True in kinematic mode
            if step % per_lower == 0:
                changed, height_changed = self._update_lower_body(lower_dt)
                if changed:
                    self._apply_ctrl()
            # The steps up to the next lower-body tick (or the end): only the base and the physics run.
            run = min(per_lower - step % per_lower, end - step)
            for _ in range(run):
                if base_moving or height_changed:
                    self._update_base(h)
                    base_moving = not (loco_zero and self._base_at_rest())
                    height_changed = False
                if compensate:
                    mj_step1(m, d)
                    bias.take(comp_dofs, out=b0, mode="clip")
                    mj_step2(m, d)
                else:
                    mj_step(m, d)
                if monitor:
                    self._record_torques()
            step += run
            self._step_count = step

    def _record_torques(self) -> None:
        """Torque monitor: fold |joint torque| of the step just taken into the per-joint peaks. The joint torque
        is the actuator force (qfrc_actuator, after MuJoCo's force-range clamps) plus any generalised force
        applied to the joint (qfrc_applied: the twin writes none, so a feed-forward written there would count)."""
        d, dofs, buf, applied = self.data, self._body_dofs, self._tau_buf, self._tau_applied
        d.qfrc_actuator.take(dofs, out=buf, mode="clip")
        d.qfrc_applied.take(dofs, out=applied, mode="clip")
        buf += applied
        np.abs(buf, out=buf)
        np.maximum(self._tau_peak, buf, out=self._tau_peak)

    def set_torque_monitor(self, on: bool = True) -> None:
        """Turn the per-physics-step torque monitor on or off (starts as `config.torque_monitor`); clears the
        peaks."""
        self._monitor = bool(on)
        self._tau_peak[:] = 0.0

    def peak_torques(self) -> dict[str, float]:
        """Peak |torque| (N*m) of every body joint over every physics step since the last reset (its settle
        included) or `set_torque_monitor` call, while the monitor was on (all 0 while it is off). Compare with
        `torque_limits` (the published peak torques, params.py)."""
        return dict(zip(BODY_JOINTS, self._tau_peak.tolist(), strict=True))

    def _update_lower_body(self, dt: float) -> tuple[bool, bool]:
        """One lower-body tick; returns (targets changed, pelvis height changed)."""
        target_h = self.loco.height if self.loco.height > 0 else self._nominal_h
        target_h = min(max(target_h, self._min_h), self._max_h)
        if self.kinematic:
            step = BASE_HEIGHT_RATE * dt
            self.height += max(-step, min(step, target_h - self.height))
            if self.height == self._legs_height:  # same height, same squat-IK pose: nothing to do
                return False, False
            self._legs_height = self.height
            self.targets.update(lb.stance_leg_pose(self.height))
            return True, True
        legs = self.lower_body.compute(self.state(), self.loco, dt)
        bad = set(legs) - set(LEG_JOINTS) - set(WAIST_JOINTS)
        if bad:
            raise KeyError(f"Lower-body controller returned non-leg/waist joints: {sorted(bad)}")
        self.targets.update(legs)
        return True, False

    def _update_base(self, h: float) -> None:
        """Acceleration-limited planar velocity, integrated in the world frame (plain floats: runs per step)."""
        loco = self.loco
        lin, yaw = BASE_LIN_ACC * h, BASE_YAW_ACC * h
        vx = self._base_vx + min(max(loco.vx - self._base_vx, -lin), lin)
        vy = self._base_vy + min(max(loco.vy - self._base_vy, -lin), lin)
        wz = self._base_wz + min(max(loco.yaw_rate - self._base_wz, -yaw), yaw)
        self._base_vx, self._base_vy, self._base_wz = vx, vy, wz
        c, s = math.cos(self.base_yaw), math.sin(self.base_yaw)
        self._base_x += h * (c * vx - s * vy)
        self._base_y += h * (s * vx + c * vy)
        self.base_yaw += h * wz
        self._write_mocap()

    def _base_at_rest(self) -> bool:
        return self._base_vx == 0.0 and self._base_vy == 0.0 and self._base_wz == 0.0

    @property
    def base_xy(self) -> np.ndarray:
        """Planar base position (world, m) of the kinematic base controller (a copy)."""
        return np.array([self._base_x, self._base_y])

    @property
    def base_vel(self) -> np.ndarray:
        """Planar base velocity (vx, vy in the base frame, m/s; yaw rate, rad/s) of the kinematic base (a copy)."""
        return np.array([self._base_vx, self._base_vy, self._base_wz])

    def _write_mocap(self) -> None:
        d = self.data
        d.mocap_pos[self.mocap_id] = (self._base_x, self._base_y, self.height + 0.001)
        d.mocap_quat[self.mocap_id] = (math.cos(self.base_yaw / 2), 0.0, 0.0, math.sin(self.base_yaw / 2))

    def _apply_ctrl(self) -> None:
        """PD targets and gripper openings -> data.ctrl (one vectorised write)."""
        targets, grippers = self.targets, self.grippers
        ctrl = [targets[j] for j in BODY_JOINTS]
        ctrl += [P.GRIPPER_STROKE * (1.0 - grippers[g]) for g in GRIPPERS]
        self.data.ctrl[self._ctrl_ids] = ctrl

    # ------------------------------------------------------------------ readout
    @property
    def sim_time(self) -> float:
        return float(self.data.time)

    def _gripper_closure(self, g: str) -> float:
        """Closure of a gripper from its driven finger: 0 = at the open stop, 1 = at the closed stop. The finger
        cannot leave [0, GRIPPER_STROKE] beyond the soft joint limit's residual penetration (< 0.01 mm with the
        damped finger servo, params.GRIPPER_KV); the reading clips that residue, as an encoder at a stop would."""
        return min(max(1.0 - float(self.data.qpos[self.qadr[g]]) / P.GRIPPER_STROKE, 0.0), 1.0)

    def state_vector(self) -> np.ndarray:
        """Robot observation without images as a float64 vector in joints.STATE_KEYS order."""
        d = self.data
        out = np.empty(self._state_size)
        n_all = len(self._state_qadr)
        pos, vel = out[:n_all], out[n_all : 2 * n_all]
        d.qpos.take(self._state_qadr, out=pos)
        d.qvel.take(self._state_vadr, out=vel)
        stroke = P.GRIPPER_STROKE
        for i in range(
            self._grip_pos.start, self._grip_pos.stop
        ):  # two grippers: float maths beats numpy here; closure clipped as in _gripper_closure
            pos[i] = min(max(1.0 - pos.item(i) / stroke, 0.0), 1.0)
            vel[i] = -vel.item(i) / stroke
        d.sensordata.take(self._imu_adr, out=out[self._imu_slice])
        out[self._contact_slice] = self._foot_contact_vector()
        return out

    def state(self) -> dict[str, float]:
        """Robot observation without images (joints.STATE_KEYS)."""
        return dict(zip(STATE_KEYS, self.state_vector().tolist(), strict=True))

    def observation(self) -> dict[str, float]:
        """The robot observation dict of docs/CONTRACTS.md without images."""
        return self.state()

    def foot_contacts(self) -> dict[str, float]:
        """1.0 per heel/toe pad touching something outside the robot (physical mode) or within 1 cm of the floor
        (kinematic mode, where feet-floor contacts are excluded)."""
        return dict(zip(self._pad_order, self._foot_contact_vector().tolist(), strict=True))

    def _foot_contact_vector(self) -> np.ndarray:
        """foot_contacts() as a vector in FOOT_CONTACT_KEYS order."""
        d = self.data
        out = np.zeros(len(self._pad_ids))
        if self.kinematic:
            xpos = d.geom_xpos
            for i, (gid, half_h) in enumerate(self._pad_z):  # four pads: a plain loop beats array ops here
                if xpos.item(gid, 2) - half_h < CONTACT_HEIGHT:
                    out[i] = 1.0
        pad_contacts(d, self._pad_slot_of_geom, self._robot_geom_ids, out)
        return out

    def base_pose(self) -> tuple[np.ndarray, float]:
        """Pelvis position (world, m) and heading (yaw, rad)."""
        d = self.data
        q = d.xquat[self.pelvis_id]
        yaw = math.atan2(2 * (q[0] * q[3] + q[1] * q[2]), 1 - 2 * (q[2] ** 2 + q[3] ** 2))
        return d.xpos[self.pelvis_id].copy(), yaw

    def tilt(self) -> float:
        """Angle between the pelvis z axis and the world vertical (rad)."""
        zz = self.data.xmat[self.pelvis_id][8]
        return float(math.acos(max(-1.0, min(1.0, zz))))

    # ------------------------------------------------------------------ rendering
    def render(self, camera: str = "head") -> np.ndarray:
        """RGB image (H, W, 3) uint8 of camera `head`, `left_wrist` or `right_wrist` (shadows/reflections off)."""
        if camera not in self.camera_names:
            raise KeyError(f"Unknown camera {camera!r}; this twin has {self.camera_names}")
        r = self._renderers.get(camera)
        if r is None:
            h, w = self.config.head_camera
            r = mujoco.Renderer(self.model, height=h, width=w)
            self._renderers[camera] = r
        r.update_scene(self.data, camera=camera, scene_option=self._scene_option)
        r.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        r.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        r.scene.flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = False
        return r.render()

    def close(self) -> None:
        """Free the renderers (GL contexts)."""
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()


def pad_contacts(
    data: mujoco.MjData, pad_slot_of_geom: Mapping[int, int], robot_geom_ids: frozenset[int], out: np.ndarray
) -> np.ndarray:
    """Set out[slot] = 1 for every foot pad (geom id -> slot) touching a geom outside the robot; shared by the twin
    and the LMO's vectorized env (lmo/env/), so both report foot contacts the same way."""
    if data.ncon:  # a few contacts per step: a plain loop beats array ops here
        for g1, g2 in data.contact.geom.tolist():
            if g1 in pad_slot_of_geom and g2 not in robot_geom_ids:
                out[pad_slot_of_geom[g1]] = 1.0
            if g2 in pad_slot_of_geom and g1 not in robot_geom_ids:
                out[pad_slot_of_geom[g2]] = 1.0
    return out
