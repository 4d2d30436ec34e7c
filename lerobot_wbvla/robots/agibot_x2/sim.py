"""X2Sim: the MuJoCo twin of the AgiBot X2 Ultra (docs/CONTRACTS.md, "The X2 twin API").

Used by the robot's sim backend, the gymnasium env and the scripted operator. One object owns one MjModel/MjData:
- `set_command(action)` stores the whole-body action (arm targets, grippers, loco command);
- `advance(dt)` runs the physics for dt seconds at `physics_hz`: PD position actuators on all joints, the
  lower-body controller at `lower_body_hz`, and in `base_mode="kinematic"` the planar base controller;
- `observation()` returns the robot observation dict without images; `render(camera)` an RGB image.

Base modes. kinematic: the pelvis is welded to a mocap body that a planar velocity controller (acceleration
limited) moves over the floor following vx/vy/yaw_rate, at the pelvis height of loco.height; the legs hold the
squat-IK stance for that height and do not touch the floor (feet-floor contacts are excluded; foot contacts are
reported geometrically); arms, grippers and contacts with props stay fully simulated. physical: the legs are driven
by the lower-body controller through the physics (the built-in `stand` controller only stands/squats).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

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
    # Feed-forward gravity (and Coriolis) torques on waist, arm and head joints, clipped to their torque limits,
    # as the robot's motion controller does; without it the arm PD sags ~0.05 rad under the arm's weight and the
    # waist ~0.09 rad when an arm reaches forward.
    arm_gravity_compensation: bool = True

    def __post_init__(self) -> None:
        if self.base_mode not in ("kinematic", "physical"):
            raise ValueError(f"base_mode must be 'kinematic' or 'physical', got {self.base_mode!r}")
        if self.physics_hz <= 0 or self.lower_body_hz <= 0 or self.lower_body_hz > self.physics_hz:
            raise ValueError(
                f"need 0 < lower_body_hz <= physics_hz, got lower_body_hz={self.lower_body_hz}, "
                f"physics_hz={self.physics_hz}"
            )


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
            )
        )
        self.scene: SceneHandles = get_scene(cfg.scene)(spec)
        self.task: str = self.scene.task
        self.model: mujoco.MjModel = spec.compile()
        self.data: mujoco.MjData = mujoco.MjData(self.model)
        self.lower_body = lower_body or lb.make_lower_body_controller(cfg.lower_body_controller)
        self._index()
        self.default_gains = mjcf.default_gains()
        self.set_gains(gains or {})
        self._renderers: dict[str, mujoco.Renderer] = {}
        self._scene_option = mujoco.MjvOption()
        self._physics_steps_per_lower = max(1, round(cfg.physics_hz / cfg.lower_body_hz))
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
        comp = WAIST_JOINTS + ARM_JOINTS + HEAD_JOINTS
        self._comp_dofs = np.array([self.vadr[j] for j in comp], dtype=int)
        self._comp_limit = np.array([P.joint_params(j).torque for j in comp])

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
        """Standing pose at the origin facing +x, commands cleared, scene randomised from `seed`."""
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
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
        self.base_xy = np.zeros(2)
        self.base_yaw = 0.0
        self.base_vel = np.zeros(3)  # vx, vy (base frame), yaw rate
        if self._arm_damped:
            self.set_arm_damping(False)
        self.lower_body.reset()
        self._step_count = 0
        self._pending_time = 0.0
        self.reset_count = getattr(self, "reset_count", -1) + 1  # episodes seen; record-time augmentation keys on it
        self._apply_ctrl()
        if self.kinematic:
            self._write_mocap()
        self.scene.randomise(m, d, self.rng)
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
        bad = [k for k, v in action.items() if not math.isfinite(float(v))]
        if bad:
            raise ValueError(f"Non-finite whole-body action values for {bad}; nothing was applied")
        for key, value in action.items():
            if key in LOCO_KEYS:
                setattr(self.loco, key.split(".", 1)[1], float(value))
                continue
            name, _, suffix = key.rpartition(".")
            if suffix != "pos" or name not in ARM_JOINTS + GRIPPERS:
                raise KeyError(
                    f"Unknown whole-body action key {key!r}; expected '<arm joint>.pos', '<gripper>.pos' or "
                    f"one of {LOCO_KEYS}"
                )
            if name in GRIPPERS:
                self.grippers[name] = float(np.clip(value, 0.0, 1.0))
            else:
                lo, hi = mjcf.joint_range(name)
                self.targets[name] = float(np.clip(value, lo, hi))
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
        h = self.model.opt.timestep
        self._pending_time += dt
        n = int(math.floor(self._pending_time / h + 1e-9))
        self._pending_time -= n * h
        for _ in range(n):
            self._physics_step()

    def _physics_step(self) -> None:
        m, d = self.model, self.data
        h = m.opt.timestep
        if self._step_count % self._physics_steps_per_lower == 0:
            self._update_lower_body(h * self._physics_steps_per_lower)
        if self.kinematic:
            self._update_base(h)
        self._apply_ctrl()
        if self.config.arm_gravity_compensation:
            # qfrc_bias is from the previous step's forward pass (gravity + Coriolis at the current state).
            d.qfrc_applied[self._comp_dofs] = np.clip(
                d.qfrc_bias[self._comp_dofs], -self._comp_limit, self._comp_limit
            )
        mujoco.mj_step(m, d)
        self._step_count += 1

    def _update_lower_body(self, dt: float) -> None:
        target_h = self.loco.height if self.loco.height > 0 else lb.nominal_height()
        target_h = min(max(target_h, lb.min_height()), lb.max_height())
        if self.kinematic:
            step = BASE_HEIGHT_RATE * dt
            self.height += max(-step, min(step, target_h - self.height))
            self.targets.update(lb.stance_leg_pose(self.height))
        else:
            legs = self.lower_body.compute(self.state(), self.loco, dt)
            bad = set(legs) - set(LEG_JOINTS) - set(WAIST_JOINTS)
            if bad:
                raise KeyError(f"Lower-body controller returned non-leg/waist joints: {sorted(bad)}")
            self.targets.update(legs)

    def _update_base(self, h: float) -> None:
        cmd = np.array([self.loco.vx, self.loco.vy, self.loco.yaw_rate])
        limit = np.array([BASE_LIN_ACC, BASE_LIN_ACC, BASE_YAW_ACC]) * h
        self.base_vel += np.clip(cmd - self.base_vel, -limit, limit)
        c, s = math.cos(self.base_yaw), math.sin(self.base_yaw)
        vx, vy, wz = self.base_vel
        self.base_xy += h * np.array([c * vx - s * vy, s * vx + c * vy])
        self.base_yaw += h * wz
        self._write_mocap()

    def _write_mocap(self) -> None:
        d = self.data
        d.mocap_pos[self.mocap_id] = (self.base_xy[0], self.base_xy[1], self.height + 0.001)
        d.mocap_quat[self.mocap_id] = (math.cos(self.base_yaw / 2), 0.0, 0.0, math.sin(self.base_yaw / 2))

    def _apply_ctrl(self) -> None:
        d = self.data
        for j, q in self.targets.items():
            d.ctrl[self.act[j]] = q
        for g, c in self.grippers.items():
            d.ctrl[self.act[g]] = P.GRIPPER_STROKE * (1.0 - c)

    # ------------------------------------------------------------------ readout
    @property
    def sim_time(self) -> float:
        return float(self.data.time)

    def _gripper_closure(self, g: str) -> float:
        return float(1.0 - self.data.qpos[self.qadr[g]] / P.GRIPPER_STROKE)

    def state(self) -> dict[str, float]:
        """Robot observation without images (joints.STATE_KEYS)."""
        d = self.data
        obs: dict[str, float] = {}
        for j in BODY_JOINTS:
            obs[f"{j}.pos"] = float(d.qpos[self.qadr[j]])
        for g in GRIPPERS:
            obs[f"{g}.pos"] = self._gripper_closure(g)
        for j in BODY_JOINTS:
            obs[f"{j}.vel"] = float(d.qvel[self.vadr[j]])
        for g in GRIPPERS:
            obs[f"{g}.vel"] = float(-d.qvel[self.vadr[g]] / P.GRIPPER_STROKE)
        q = d.sensordata[self.sensor_adr["imu_quat"] : self.sensor_adr["imu_quat"] + 4]
        gyro = d.sensordata[self.sensor_adr["imu_gyro"] : self.sensor_adr["imu_gyro"] + 3]
        acc = d.sensordata[self.sensor_adr["imu_acc"] : self.sensor_adr["imu_acc"] + 3]
        for k, v in zip(("w", "x", "y", "z"), q, strict=True):
            obs[f"imu.quat_{k}"] = float(v)
        for k, v in zip(("x", "y", "z"), gyro, strict=True):
            obs[f"imu.gyro_{k}"] = float(v)
        for k, v in zip(("x", "y", "z"), acc, strict=True):
            obs[f"imu.acc_{k}"] = float(v)
        contacts = self.foot_contacts()
        for key in FOOT_CONTACT_KEYS:
            obs[key] = contacts[key.split(".", 1)[1]]
        return obs

    def observation(self) -> dict[str, float]:
        """The robot observation dict of docs/CONTRACTS.md without images."""
        return self.state()

    def foot_contacts(self) -> dict[str, float]:
        """1.0 per heel/toe pad touching something outside the robot (physical mode) or within 1 cm of the floor
        (kinematic mode, where feet-floor contacts are excluded)."""
        d = self.data
        out = dict.fromkeys(mjcf.FOOT_PADS, 0.0)
        if self.kinematic:
            for pad, gid in self.pad_geoms.items():
                half_h = self.model.geom_size[gid, 2]
                if d.geom_xpos[gid, 2] - half_h < CONTACT_HEIGHT:
                    out[pad] = 1.0
        for i in range(d.ncon):
            c = d.contact[i]
            for mine, other in ((c.geom1, c.geom2), (c.geom2, c.geom1)):
                pad = self._pad_of_geom.get(int(mine))
                if pad is not None and not self._robot_geom[other]:
                    out[pad] = 1.0
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
