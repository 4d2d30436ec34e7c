"""Motion primitives of the scripted operator and the tiny state machine that sequences them.

A `Controller` owns the whole-body command (14 arm targets, 2 grippers, loco vx/vy/yaw_rate/height) and reads the
live twin (`X2Sim`): base pose, gripper sites, props. A task script is a list of `Step`s run by `Script`; each
step is ticked once per control period and returns False (keep going), True (next step) or the name of a `Label`
to jump to (used to retry a failed grasp). Time is the twin's `sim_time`, so a script behaves the same whatever the
wall-clock rate of the loop that drives the robot.

Arm steps interpolate the gripper's grasp site (`<side>_gripper_tcp`) along a minimum-jerk path in the world frame
(position, and orientation by slerp) and solve damped-least-squares IK each tick (arm_ik.py). Every command is
rate-limited below the robot's own per-tick clamps (AgibotX2Config.max_joint_step / max_gripper_step), so what the
operator records as the action is exactly what the robot executes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from lerobot_wbvla.robots.agibot_x2.joints import (
    ACTION_KEYS,
    ARM_JOINTS,
    GRIPPERS,
    LEFT_ARM_JOINTS,
    RIGHT_ARM_JOINTS,
)
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim

from .arm_ik import ArmIK
from .locomotion import GoToGains, PlanarPose, go_to, reached

SIDES = ("left", "right")
ARM_OF = {"left": LEFT_ARM_JOINTS, "right": RIGHT_ARM_JOINTS}
# Per-tick command limits, below AgibotX2Config's defaults (0.15 rad, 0.35) so the robot never clamps them.
MAX_JOINT_STEP = 0.12  # rad per tick
MAX_GRIPPER_STEP = 0.3  # per tick
# Slew limits of the locomotion command (gentle starts/stops, e.g. with a 35 kg cart in the hands).
LOCO_LIN_SLEW = 0.6  # m/s per s
LOCO_YAW_SLEW = 1.5  # rad/s per s
APPROACH_PITCH = 0.25  # rad: the gripper approaches pointing forward and 14 deg down


def min_jerk(s: float) -> float:
    """Minimum-jerk time scaling of s in [0, 1]."""
    s = min(max(s, 0.0), 1.0)
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


def approach_rotation(yaw: float, pitch: float = APPROACH_PITCH) -> np.ndarray:
    """World rotation of a grasp site whose approach axis (site -z) points along heading `yaw`, tilted `pitch`
    down, with the fingers closing along the horizontal axis left of that heading (site y)."""
    a = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), -math.sin(pitch)])
    z = -a
    y = np.array([-math.sin(yaw), math.cos(yaw), 0.0])
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=1)


def _quat(mat: np.ndarray) -> np.ndarray:
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.asarray(mat, dtype=float).reshape(-1))
    return q


def slerp_rot(r0: np.ndarray, r1: np.ndarray, s: float) -> np.ndarray:
    """Rotation s of the way from r0 to r1 (shortest arc)."""
    q0, q1 = _quat(r0), _quat(r1)
    if np.dot(q0, q1) < 0:
        q1 = -q1
    dot = min(1.0, float(np.dot(q0, q1)))
    theta = math.acos(dot)
    if theta < 1e-6:
        q = q1
    else:
        q = (math.sin((1 - s) * theta) * q0 + math.sin(s * theta) * q1) / math.sin(theta)
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, q / np.linalg.norm(q))
    return mat.reshape(3, 3)


class Controller:
    """The whole-body command being built, plus read access to the twin."""

    def __init__(self, sim: X2Sim) -> None:
        self.sim = sim
        self.model = sim.model
        self.ik = {side: ArmIK(sim.model, side, f"{side}_gripper_tcp") for side in SIDES}
        self.stance = {j: v for j, v in X2Sim.stance_upper_body().items() if j in ARM_JOINTS}
        self.held_offset: np.ndarray | None = None  # object centre - right grasp site, base frame (m)
        self.memory: dict[str, object] = {}
        self.reset()

    def reset(self) -> None:
        """Start from the twin's current state (call right after a scene reset)."""
        state = self.sim.observation()
        self.q_cmd = {j: float(state[f"{j}.pos"]) for j in ARM_JOINTS}
        self.grip = {g: 0.0 for g in GRIPPERS}
        self.loco = np.zeros(3)  # vx, vy, yaw_rate (slew-limited)
        self.height = 0.0  # 0 = the nominal standing height
        self.held_offset = None
        self.memory = {}
        self._last_t = self.sim.sim_time
        self.dt = 0.0

    def begin_tick(self) -> None:
        """Advance the controller's clock to the twin's time (once per control period)."""
        self.dt = max(self.sim.sim_time - self._last_t, 0.0)
        self._last_t = self.sim.sim_time

    # ------------------------------------------------------------------ readout
    @property
    def t(self) -> float:
        return self.sim.sim_time

    def base(self) -> PlanarPose:
        pos, yaw = self.sim.base_pose()
        return PlanarPose(float(pos[0]), float(pos[1]), float(yaw))

    def world_from_base(self, p: Sequence[float]) -> np.ndarray:
        """World point of a base-frame point (x forward, y left of the pelvis; z is the world height)."""
        b = self.base()
        c, s = math.cos(b.yaw), math.sin(b.yaw)
        return np.array([b.x + c * p[0] - s * p[1], b.y + s * p[0] + c * p[1], p[2]])

    def base_from_world(self, p: Sequence[float]) -> np.ndarray:
        b = self.base()
        c, s = math.cos(b.yaw), math.sin(b.yaw)
        dx, dy = p[0] - b.x, p[1] - b.y
        return np.array([c * dx + s * dy, -s * dx + c * dy, p[2]])

    def body_pos(self, name: str) -> np.ndarray:
        return self.sim.data.body(name).xpos.copy()

    def body_yaw(self, name: str) -> float:
        q = self.sim.data.body(name).xquat
        return math.atan2(2 * (q[0] * q[3] + q[1] * q[2]), 1 - 2 * (q[2] ** 2 + q[3] ** 2))

    def site_pos(self, name: str) -> np.ndarray:
        return self.sim.data.site(name).xpos.copy()

    def tcp(self, side: str) -> np.ndarray:
        """Live position of a gripper's grasp site."""
        return self.sim.data.site(f"{side}_gripper_tcp").xpos.copy()

    def commanded_tcp(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """Grasp-site pose the commanded arm angles give with the live base (what arm steps start from)."""
        qpos = self.sim.data.qpos.copy()
        ik = self.ik[side]
        qpos[ik.qadr] = [self.q_cmd[j] for j in ARM_OF[side]]
        return ik.site_pose(qpos)

    # ------------------------------------------------------------------ commands
    def set_arm(self, side: str, q: np.ndarray) -> None:
        for j, v in zip(ARM_OF[side], q, strict=True):
            prev = self.q_cmd[j]
            self.q_cmd[j] = prev + float(np.clip(v - prev, -MAX_JOINT_STEP, MAX_JOINT_STEP))

    def set_gripper(self, side: str, value: float) -> None:
        g = f"{side}_gripper"
        self.grip[g] += float(np.clip(value - self.grip[g], -MAX_GRIPPER_STEP, MAX_GRIPPER_STEP))

    def set_loco(self, vx: float, vy: float, yaw_rate: float, dt: float) -> None:
        goal = np.array([vx, vy, yaw_rate])
        lim = np.array([LOCO_LIN_SLEW, LOCO_LIN_SLEW, LOCO_YAW_SLEW]) * dt
        self.loco += np.clip(goal - self.loco, -lim, lim)

    def action(self) -> dict[str, float]:
        """The whole-body action dict (joints.ACTION_KEYS)."""
        out = {f"{j}.pos": self.q_cmd[j] for j in ARM_JOINTS}
        out.update({f"{g}.pos": self.grip[g] for g in GRIPPERS})
        out["loco.vx"], out["loco.vy"], out["loco.yaw_rate"] = (float(v) for v in self.loco)
        out["loco.height"] = self.height
        assert list(out) == list(ACTION_KEYS)
        return out


# ---------------------------------------------------------------------- steps
class Step:
    """One phase of a script: `start` once, then `tick` once per control period until it returns True/a label."""

    def start(self, c: Controller) -> None:
        self.t0 = c.t

    def tick(self, c: Controller) -> bool | str:
        raise NotImplementedError

    def elapsed(self, c: Controller) -> float:
        return c.t - self.t0


@dataclass
class Label(Step):
    """A jump target."""

    name: str

    def tick(self, c: Controller) -> bool | str:
        return True


PoseFn = Callable[[Controller], dict[str, tuple[np.ndarray, np.ndarray]]]


class HandTo(Step):
    """Move grasp sites to world poses {side: (position, rotation)} computed at the step's start, along a
    minimum-jerk path, in `duration` s, then let the PD settle for `settle` s. The base keeps still."""

    def __init__(self, poses: PoseFn, duration: float, settle: float = 0.2) -> None:
        self.poses_fn, self.duration, self.settle = poses, duration, settle

    def start(self, c: Controller) -> None:
        super().start(c)
        self.goals = self.poses_fn(c)
        self.starts = {side: c.commanded_tcp(side) for side in self.goals}

    def tick(self, c: Controller) -> bool | str:
        c.set_loco(0.0, 0.0, 0.0, c.dt)
        s = min_jerk(self.elapsed(c) / self.duration)
        qpos = c.sim.data.qpos.copy()
        for side, (p1, r1) in self.goals.items():
            p0, r0 = self.starts[side]
            ik = c.ik[side]
            q_now = np.array([c.q_cmd[j] for j in ARM_OF[side]])
            q, _ = ik.solve(qpos, p0 + s * (p1 - p0), slerp_rot(r0, r1, s), q_init=q_now)
            c.set_arm(side, q)
        return self.elapsed(c) >= self.duration + self.settle


class ArmsTo(Step):
    """Interpolate arm joints to fixed angles (e.g. the stance) in `duration` s (joint space)."""

    def __init__(self, targets: Callable[[Controller], dict[str, float]], duration: float) -> None:
        self.targets_fn, self.duration = targets, duration

    def start(self, c: Controller) -> None:
        super().start(c)
        self.goal = self.targets_fn(c)
        self.q0 = {j: c.q_cmd[j] for j in self.goal}

    def tick(self, c: Controller) -> bool | str:
        s = min_jerk(self.elapsed(c) / self.duration)
        for j, g in self.goal.items():
            v = self.q0[j] + s * (g - self.q0[j])
            c.q_cmd[j] += float(np.clip(v - c.q_cmd[j], -MAX_JOINT_STEP, MAX_JOINT_STEP))
        return self.elapsed(c) >= self.duration


class Grip(Step):
    """Open (0) or close (1) grippers and wait `duration` s for the fingers to get there."""

    def __init__(self, values: dict[str, float], duration: float) -> None:
        self.values, self.duration = values, duration

    def tick(self, c: Controller) -> bool | str:
        for side, v in self.values.items():
            c.set_gripper(side, v)
        return self.elapsed(c) >= self.duration


class Wait(Step):
    def __init__(self, duration: float) -> None:
        self.duration = duration

    def tick(self, c: Controller) -> bool | str:
        c.set_loco(0.0, 0.0, 0.0, c.dt)
        return self.elapsed(c) >= self.duration


class BaseTo(Step):
    """Walk the base to a world pose (computed at start) with the arms holding their commanded angles; done when
    within tolerance and the command has come back to rest (or, with stop=False, as soon as within tolerance: a
    via point the next BaseTo continues from at speed)."""

    def __init__(
        self,
        goal: Callable[[Controller], PlanarPose],
        gains: GoToGains | None = None,
        pos_tol: float = 0.015,
        yaw_tol: float = 0.02,
        timeout: float = 20.0,
        stop: bool = True,
    ) -> None:
        self.goal_fn, self.gains = goal, gains or GoToGains()
        self.pos_tol, self.yaw_tol, self.timeout, self.stop = pos_tol, yaw_tol, timeout, stop

    def start(self, c: Controller) -> None:
        super().start(c)
        self.goal = self.goal_fn(c)

    def tick(self, c: Controller) -> bool | str:
        cur = c.base()
        vx, vy, wz = go_to(cur, self.goal, self.gains)
        c.set_loco(vx, vy, wz, c.dt)
        at_goal = reached(cur, self.goal, self.pos_tol, self.yaw_tol)
        if not self.stop:  # a via point: pass through it without stopping
            return at_goal or self.elapsed(c) >= self.timeout
        still = float(np.max(np.abs(c.loco))) < 1e-3 and float(np.max(np.abs(c.sim.base_vel))) < 0.02
        return (at_goal and still) or self.elapsed(c) >= self.timeout


class Call(Step):
    """Run a function once (bookkeeping, e.g. remembering where the object sits in the hand)."""

    def __init__(self, fn: Callable[[Controller], bool | str | None]) -> None:
        self.fn = fn

    def tick(self, c: Controller) -> bool | str:
        out = self.fn(c)
        return True if out is None else out


class Script:
    """Runs steps in order; a step returning a label name jumps to that `Label`. Holds once finished."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.labels = {s.name: i for i, s in enumerate(steps) if isinstance(s, Label)}
        self.index = 0
        self._started = False

    @property
    def done(self) -> bool:
        return self.index >= len(self.steps)

    @property
    def current(self) -> str:
        return "done" if self.done else type(self.steps[self.index]).__name__

    def tick(self, c: Controller) -> None:
        c.begin_tick()
        # Several instantaneous steps (labels, calls) may run in one tick; motion steps end the tick.
        for _ in range(len(self.steps) + 1):
            if self.done:
                c.set_loco(0.0, 0.0, 0.0, c.dt)
                return
            step = self.steps[self.index]
            if not self._started:
                step.start(c)
                self._started = True
            out = step.tick(c)
            if out is False:
                return
            self._started = False
            if isinstance(out, str):
                if out not in self.labels:
                    raise KeyError(f"Script jumps to unknown label {out!r}")
                self.index = self.labels[out]
            else:
                self.index += 1
            if not isinstance(step, (Label, Call)):
                return
