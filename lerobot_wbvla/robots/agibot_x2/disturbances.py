"""Disturbances for the standing controller, shared by its tests and bench/stand_balance.py: a mass in the
twin's hands, a push on the torso, and a trial runner that moves the arms, pushes and watches for a fall.

Payload: an object held in the gripper.

`set_hand_payload(model, "left", 2.0)` adds a 2 kg solid sphere (radius `PAYLOAD_RADIUS`) centred on the gripper's
tool point (`<side>_gripper_tcp`, between the fingertips) to the palm body: the palm's mass, centre of mass and
inertia are replaced by those of palm + payload, so the arm, the waist, the legs and the feet carry it as they
would a grasped object, without contact geometry (nothing can drop). Mass 0 restores the palm of params.py.

It edits the compiled `MjModel` in place (body_mass/ipos/inertia/iquat of `<side>_gripper_palm`) and refreshes the
model's derived constants, so it works on any twin: `set_hand_payload(sim.model, side, kg)`. Call it after
`X2Sim(...)` / `reset()`; a reset keeps it (the model is not rebuilt). The lower-body controllers are not told:
they see the load only through the measured state, as on the robot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import mujoco
import numpy as np

from . import params as P

PAYLOAD_RADIUS = 0.04  # m: a 8 cm ball, about a bottle or a box corner in the grip


def set_hand_payload(
    model: mujoco.MjModel, side: str, mass: float, scratch: mujoco.MjData | None = None
) -> None:
    """Make the `side` ("left" | "right") gripper hold a `mass` kg ball at its tool point (0 = empty hand).
    `scratch`: an MjData of `model` that mj_setConst may overwrite (its state is lost: set it afterwards); None
    allocates one (slow for a large model: the LMO's env, which resets often, passes its own)."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    if not np.isfinite(mass) or mass < 0:
        raise ValueError(f"payload mass must be a finite number >= 0 kg, got {mass!r}")
    body = model.body(f"{side}_gripper_palm").id
    tcp = np.array(model.site(f"{side}_gripper_tcp").pos)
    m_palm = P.GRIPPER_PALM_MASS
    total = m_palm + mass
    com = (m_palm * np.array(P.GRIPPER_PALM_IPOS) + mass * tcp) / total
    inertia = np.diag(P.GRIPPER_PALM_INERTIA) + np.eye(3) * 0.4 * mass * PAYLOAD_RADIUS**2
    for m, p in (
        (m_palm, np.array(P.GRIPPER_PALM_IPOS)),
        (mass, tcp),
    ):  # parallel-axis terms about the combined centre of mass
        r = p - com
        inertia += m * (np.dot(r, r) * np.eye(3) - np.outer(r, r))
    principal, axes = np.linalg.eigh(inertia)
    if np.linalg.det(axes) < 0:  # a proper rotation for the quaternion
        axes[:, 0] = -axes[:, 0]
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, axes.reshape(-1))
    model.body_mass[body] = total
    model.body_ipos[body] = com
    model.body_inertia[body] = principal
    model.body_iquat[body] = quat
    # Subtree masses and the solver's inverse weights depend on the masses (scratch data: the caller's is untouched
    # unless passed as `scratch`).
    mujoco.mj_setConst(model, scratch if scratch is not None else mujoco.MjData(model))


def hand_payload(model: mujoco.MjModel, side: str) -> float:
    """The payload (kg) now in the `side` gripper."""
    return float(model.body_mass[model.body(f"{side}_gripper_palm").id] - P.GRIPPER_PALM_MASS)


# ---------------------------------------------------------------------------------------------- trials
@dataclass
class StandTrial:
    """What a standing trial did: `fell` when the pelvis tilted past `FALL_TILT` or dropped below `FALL_HEIGHT`;
    the worst pelvis tilt (deg), the lowest pelvis height (m), how far the feet slid (m), the sim time run and, at
    the end, the largest distance of an arm joint from its goal (rad; a sagging arm would make a payload easy)."""

    fell: bool
    max_tilt_deg: float
    min_height: float
    foot_slide: float
    seconds: float
    arm_error: float = 0.0

    @property
    def held(self) -> bool:
        return not self.fell


FALL_TILT = 0.5  # rad (~29 deg): past this a standing robot that cannot step is down
FALL_HEIGHT = 0.45  # m: pelvis this low = fallen (the squat IK stops at 0.53)
_FOOT_BODIES = ("left_ankle_roll_link", "right_ankle_roll_link")


@dataclass
class Push:
    """A push: `force` (N, world frame) on `body`'s centre of mass from `start_s` for `duration_s`."""

    force: tuple[float, float, float]
    start_s: float = 1.0
    duration_s: float = 0.1
    body: str = "torso_link"

    @property
    def window(self) -> tuple[float, float]:
        return self.start_s, self.start_s + self.duration_s


def run_stand_trial(
    sim,
    arm_goal: Mapping[str, float],
    seconds: float,
    arm_rate: float = 1.0,
    fps: int = 30,
    push: Push | None = None,
    loco_height: float = 0.0,
) -> StandTrial:
    """Move the arms from where they are to `arm_goal` (joint -> rad) at `arm_rate` rad/s per joint (the target
    ramps at `fps` ticks/s as a policy would send it), keep them there, optionally push, and watch the robot for
    `seconds` of sim time in total. `sim` is an `X2Sim` (physical base mode). Stops early on a fall."""
    m, d = sim.model, sim.data
    feet = [m.body(b).id for b in _FOOT_BODIES]
    feet0 = np.array([d.xpos[b][:2] for b in feet])
    target = {j: float(sim.targets[j]) for j in arm_goal}
    step = arm_rate / fps
    pelvis = sim.pelvis_id
    torso = m.body(push.body).id if push is not None else -1
    max_tilt, min_h, t0 = 0.0, float(d.xpos[pelvis][2]), sim.sim_time
    n = round(seconds * fps)
    for i in range(n):
        for j, goal in arm_goal.items():
            target[j] += max(-step, min(step, goal - target[j]))
        sim.set_command({**{f"{j}.pos": v for j, v in target.items()}, "loco.height": loco_height})
        if push is None:
            sim.advance(1.0 / fps)
        else:  # the push window cut out of the tick exactly (the twin carries sub-step remainders over)
            t = i / fps
            edges = sorted({t, t + 1.0 / fps, *(e for e in push.window if t < e < t + 1.0 / fps)})
            for a, b in zip(edges, edges[1:], strict=False):
                on = push.window[0] <= a < push.window[1]
                d.xfrc_applied[torso, :3] = push.force if on else 0.0
                sim.advance(b - a)
        tilt, h = sim.tilt(), float(d.xpos[pelvis][2])
        max_tilt, min_h = max(max_tilt, tilt), min(min_h, h)
        if tilt > FALL_TILT or h < FALL_HEIGHT:
            break
    if push is not None:
        d.xfrc_applied[torso, :3] = 0.0
    slide = float(np.max(np.linalg.norm(np.array([d.xpos[b][:2] for b in feet]) - feet0, axis=1)))
    fell = max_tilt > FALL_TILT or min_h < FALL_HEIGHT
    arm_error = max((abs(float(d.qpos[sim.qadr[j]]) - goal) for j, goal in arm_goal.items()), default=0.0)
    return StandTrial(fell, math.degrees(max_tilt), min_h, slide, sim.sim_time - t0, arm_error)


FORWARD_REACH = {
    "left_shoulder_pitch": -math.pi / 2,
    "right_shoulder_pitch": -math.pi / 2,
    "left_elbow": 0.0,
    "right_elbow": 0.0,
}
"""Both arms straight out in front, horizontal (shoulder pitch -pi/2, elbows straight): the full forward reach."""
