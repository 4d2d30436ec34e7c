"""Motion of the ray-cast domain's robot: the labelled phase plan of a clip and its per-frame head and arm poses.

Written independently of egovideo/motion.py (only the phase bookkeeping of egovideo_common/plan.py is shared),
with its own profiles: a short speed ramp from 60% of full speed (so a locomotion phase never slows below 60% and
never stops), a step nod (pitch) instead of a side sway while walking, a side-to-side roll while sidestepping, arm
reaches as straight gripper paths solved by two-link inverse kinematics, and squats that tip the head further
down.

Frame t carries the label of the motion from frame t to frame t+1 (CONTRACTS.md), so a phase of n frames that
starts at frame a moves the body between frames a and a+n, and every such transition moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lerobot_wbvla.datasets.egovideo.labels import PRIMITIVE_PHASES
from lerobot_wbvla.datasets.egovideo_common.plan import Phase, merge_stand_stills, uniform
from lerobot_wbvla.datasets.raycast_egovideo.config import RaycastEgoVideoConfig, RaycastMotionConfig

LOCOMOTION = ("walk_forward", "sidestep_left", "sidestep_right", "turn_left", "turn_right")
_FREE_LENGTH = set(LOCOMOTION) | {"stand_still"}  # phases that take whatever time the clip leaves
_SUBSTEPS = 5  # integration steps per frame
_RAMP_FLOOR = 0.6  # fraction of full speed at the very start and end of a locomotion phase
_MIN_PHASE_FRAMES = 3


def progress(u: np.ndarray) -> np.ndarray:
    """Monotone 0 -> 1 over u in [0, 1] with a slope of at least 0.3 everywhere (never stalls inside a phase)."""
    u = np.clip(u, 0.0, 1.0)
    return 0.3 * u + 0.7 * (0.5 - 0.5 * np.cos(np.pi * u))


@dataclass
class Body:
    """One clip's robot: eye height, camera pitch and the arm geometry in the body frame (x forward, y left,
    z up, origin at the eyes when standing)."""

    eye_height: float
    pitch: float  # rad, positive looks down
    shoulder: np.ndarray  # (3,) left shoulder; the right one mirrors y
    upper_arm: float
    forearm: float
    rest: np.ndarray  # (3,) left wrist at rest; the right one mirrors y


@dataclass
class Trajectory:
    """Per-frame state (length n_frames arrays) in the clip's start frame (origin under the eyes, heading +x).

    head: (T, 6) camera [x, y, z, yaw, pitch, roll] (the labels.jsonl head_pose layout); body: (T, 4) body frame
    [x, y, z, yaw] (z = eye height minus squat, no head bob); wrist_left / wrist_right / elbow_left / elbow_right:
    (T, 3) arm points in the body frame.
    """

    head: np.ndarray
    body: np.ndarray
    wrist_left: np.ndarray
    wrist_right: np.ndarray
    elbow_left: np.ndarray
    elbow_right: np.ndarray

    def moved(self, x: float, y: float, yaw: float) -> Trajectory:
        """The same motion started at (x, y) with heading yaw (room frame)."""
        c, s = np.cos(yaw), np.sin(yaw)
        head, body = self.head.copy(), self.body.copy()
        for arr, yaw_col in ((head, 3), (body, 3)):
            px, py = arr[:, 0].copy(), arr[:, 1].copy()
            arr[:, 0] = x + c * px - s * py
            arr[:, 1] = y + s * px + c * py
            arr[:, yaw_col] += yaw
        return Trajectory(head, body, self.wrist_left, self.wrist_right, self.elbow_left, self.elbow_right)


def sample_body(motion: RaycastMotionConfig, rng: np.random.Generator) -> Body:
    """A short robot with boxy arms whose grippers rest low in the view."""
    eye = uniform(rng, motion.eye_height)
    k = eye / 1.15
    return Body(
        eye_height=eye,
        pitch=float(np.deg2rad(uniform(rng, motion.camera_pitch_deg))),
        shoulder=np.array([-0.02, rng.uniform(0.16, 0.2), -rng.uniform(0.2, 0.24)]) * k,
        upper_arm=float(rng.uniform(0.33, 0.37) * k),
        forearm=float(rng.uniform(0.34, 0.38) * k),
        rest=np.array([rng.uniform(0.3, 0.36), rng.uniform(0.12, 0.18), -rng.uniform(0.38, 0.44)]) * k,
    )


def _reach_target(body: Body, motion: RaycastMotionConfig, rng: np.random.Generator) -> np.ndarray:
    """Left-arm wrist target of a reach: forward, up and out from rest, within the arm's length."""
    direction = np.array([1.0, rng.uniform(0.15, 0.7), rng.uniform(0.35, 0.9)])
    direction /= np.linalg.norm(direction)
    dist = uniform(rng, motion.reach_distance)
    limit = 0.93 * (body.upper_arm + body.forearm)
    while np.linalg.norm(body.rest + dist * direction - body.shoulder) > limit and dist > 0.1:
        dist *= 0.95
    return body.rest + dist * direction


def phases_of(
    primitive: str, body: Body, motion: RaycastMotionConfig, fps: int, rng: np.random.Generator
) -> list[Phase]:
    """Phases of one primitive; free-length ones (locomotion, stand_still) get n_frames=0, set by the planner."""
    if primitive == "walk_forward":
        return [
            Phase(
                primitive,
                0,
                {"speed": uniform(rng, motion.walk_speed), "cadence": uniform(rng, motion.walk_cadence)},
            )
        ]
    if primitive in ("sidestep_left", "sidestep_right"):
        return [
            Phase(
                primitive,
                0,
                {
                    "speed": uniform(rng, motion.sidestep_speed),
                    "cadence": uniform(rng, motion.shuffle_cadence),
                },
            )
        ]
    if primitive in ("turn_left", "turn_right"):
        rate = np.deg2rad(uniform(rng, motion.turn_rate_deg))
        return [Phase(primitive, 0, {"rate": float(rate), "cadence": uniform(rng, motion.shuffle_cadence)})]
    if primitive == "stand_still":
        return [Phase(primitive, 0)]
    if primitive == "squat":
        depth = uniform(rng, motion.squat_depth)
        nod = float(np.deg2rad(rng.uniform(6.0, 10.0)))
        return [
            Phase(
                label,
                max(_MIN_PHASE_FRAMES, round(depth / uniform(rng, motion.squat_speed) * fps)),
                {"depth": depth, "nod": nod},
            )
            for label in PRIMITIVE_PHASES["squat"]
        ]
    if primitive in ("reach_left", "reach_right"):
        target = _reach_target(body, motion, rng)
        return [
            Phase(
                label,
                max(_MIN_PHASE_FRAMES, round(uniform(rng, motion.reach_seconds) * fps)),
                {"target": target},
            )
            for label in PRIMITIVE_PHASES[primitive]
        ]
    raise ValueError(f"Unknown primitive {primitive!r}; choose from {list(PRIMITIVE_PHASES)}.")


def _shrink(phases: list[Phase], budget: int) -> None:
    """Shorten fixed-length phases to fit `budget` frames (a faster motion: never slower than sampled)."""
    while sum(p.n_frames for p in phases) > budget:
        longest = max(phases, key=lambda p: p.n_frames)
        if longest.n_frames <= _MIN_PHASE_FRAMES:
            return
        longest.n_frames -= 1


def plan_clip(
    primary: str, body: Body, cfg: RaycastEgoVideoConfig, rng: np.random.Generator
) -> tuple[list[str], list[Phase]]:
    """(primitives, phases) covering exactly cfg.n_frames frames, the primary primitive first.

    Single clips: stand-still, the primitive, stand-still. Sequence clips (cfg.sequence_fraction): 2 to
    max_sequence_length primitives back to back (short stand-stills at the ends), shortened when they do not fit.
    """
    n, fps = cfg.n_frames, cfg.fps
    if len(cfg.primitives) > 1 and primary != "stand_still" and rng.random() < cfg.sequence_fraction:
        others = [p for p in cfg.primitives if p != "stand_still"]
        k = int(rng.integers(2, cfg.max_sequence_length + 1))
        chosen = [primary]
        while len(chosen) < k and len(others) > 1:
            pick = str(rng.choice(others))
            if pick != chosen[-1]:
                chosen.append(pick)
        for count in range(len(chosen), 1, -1):
            phases = _layout(chosen[:count], body, cfg, rng)
            if phases is not None:
                return chosen[:count], phases
    lo, hi = (round(s * fps) for s in cfg.still_seconds)
    lead_in, lead_out = int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))
    while lead_in + lead_out > n - 2 * _MIN_PHASE_FRAMES and (lead_in or lead_out):
        lead_in, lead_out = max(0, lead_in - 1), max(0, lead_out - 1)
    middle = phases_of(primary, body, cfg.motion, fps, rng)
    budget = n - lead_in - lead_out
    if primary in _FREE_LENGTH:
        middle[0].n_frames = budget
    else:
        _shrink(middle, budget)
        spare = budget - sum(p.n_frames for p in middle)
        extra = int(rng.integers(0, spare + 1))
        lead_in, lead_out = lead_in + extra, lead_out + spare - extra
    return [primary], merge_stand_stills(
        [Phase("stand_still", lead_in), *middle, Phase("stand_still", lead_out)]
    )


def _layout(
    primitives: list[str], body: Body, cfg: RaycastEgoVideoConfig, rng: np.random.Generator
) -> list[Phase] | None:
    """Phases of a sequence clip, or None when the primitives do not fit."""
    n, fps = cfg.n_frames, cfg.fps
    parts = [Phase("stand_still", int(rng.integers(2, max(3, round(0.15 * fps)) + 1)))]
    for prim in primitives:
        parts += phases_of(prim, body, cfg.motion, fps, rng)
    parts.append(Phase("stand_still", int(rng.integers(2, max(3, round(0.15 * fps)) + 1))))
    free = [p for p in parts if p.n_frames == 0]
    spare = n - sum(p.n_frames for p in parts)
    min_free = max(_MIN_PHASE_FRAMES, round(cfg.min_locomotion_seconds * fps))
    if spare < len(free) * min_free or spare < 0:
        return None
    if free:
        weights = rng.uniform(0.8, 1.2, size=len(free))
        shares = np.maximum(min_free, np.floor(spare * weights / weights.sum())).astype(int)
        shares[-1] = spare - shares[:-1].sum()
        if shares[-1] < min_free:
            return None
        for p, s in zip(free, shares, strict=True):
            p.n_frames = int(s)
    else:
        parts[-1].n_frames += spare
    return merge_stand_stills(parts)


def _ramp(t: np.ndarray, duration: float, ramp: float) -> np.ndarray:
    """Speed envelope in [_RAMP_FLOOR, 1]: up over `ramp` seconds at the start, down over the end."""
    r = max(min(ramp, duration / 3), 1e-6)
    edge = np.clip(np.minimum(t, duration - t) / r, 0, 1)
    return _RAMP_FLOOR + (1 - _RAMP_FLOOR) * np.sin(0.5 * np.pi * edge) ** 2


def _two_link(shoulder: np.ndarray, wrist: np.ndarray, l1: float, l2: float, side: float) -> np.ndarray:
    """Elbow positions (T, 3) of a two-link arm from shoulder to wrist (T, 3), bending down and outward."""
    d = wrist - shoulder
    dist = np.clip(np.linalg.norm(d, axis=1, keepdims=True), 1e-6, l1 + l2 - 1e-6)
    axis = d / dist
    a = (dist**2 + l1**2 - l2**2) / (2 * dist)
    h = np.sqrt(np.clip(l1**2 - a**2, 0, None))
    pole = np.array([0.0, side * 0.6, -1.0])
    perp = pole - (axis @ pole)[:, None] * axis
    perp /= np.linalg.norm(perp, axis=1, keepdims=True)
    return shoulder + a * axis + h * perp


def trajectory(
    phases: list[Phase], body: Body, cfg: RaycastEgoVideoConfig, rng: np.random.Generator
) -> Trajectory:
    """Per-frame poses of the plan (start frame: origin, heading +x)."""
    motion, fps = cfg.motion, cfg.fps
    n = sum(p.n_frames for p in phases)
    dt = 1.0 / (fps * _SUBSTEPS)
    m = n * _SUBSTEPS + 1
    vx, vy, wz = np.zeros(m), np.zeros(m), np.zeros(m)
    gait = np.zeros(m)  # stride phase rate (rad/s)
    nod_amp, bounce_amp, roll_amp = np.zeros(m), np.zeros(m), np.zeros(m)
    squat, squat_nod = np.zeros(m), np.zeros(m)
    reach = {"left": np.zeros(m), "right": np.zeros(m)}
    target = {"left": np.tile(body.rest, (m, 1)), "right": np.tile(body.rest, (m, 1))}
    start = 0
    for p in phases:
        k = p.n_frames * _SUBSTEPS
        sl = slice(start, start + k)
        t = np.arange(k) * dt
        duration = k * dt
        if p.label in LOCOMOTION:
            env = _ramp(t + dt / 2, duration, motion.ramp_seconds)
            bob = np.sin(np.pi * np.clip(t / duration, 0, 1)) ** 0.5  # 0 at both ends: no bob left over
            gait[sl] = np.pi * p.params["cadence"]
            if p.label == "walk_forward":
                vx[sl] = p.params["speed"] * env
                bounce_amp[sl] = rng.uniform(0.003, 0.008) * bob
                nod_amp[sl] = np.deg2rad(rng.uniform(0.6, 1.4)) * bob
            elif p.label.startswith("sidestep"):
                vy[sl] = (1.0 if p.label == "sidestep_left" else -1.0) * p.params["speed"] * env
                roll_amp[sl] = np.deg2rad(rng.uniform(1.0, 2.0)) * bob
                bounce_amp[sl] = rng.uniform(0.002, 0.005) * bob
            else:
                wz[sl] = (1.0 if p.label == "turn_left" else -1.0) * p.params["rate"] * env
                bounce_amp[sl] = rng.uniform(0.001, 0.003) * bob
        elif p.label in ("squat_down", "squat_up"):
            u = progress(t / duration)
            frac = u if p.label == "squat_down" else 1 - u
            squat[sl] = p.params["depth"] * frac
            squat_nod[sl] = p.params["nod"] * frac
        elif p.label.startswith("reach_"):
            side = "left" if p.label.startswith("reach_left") else "right"
            u = progress(t / duration)
            reach[side][sl] = u if p.label.endswith("_out") else 1 - u
            target[side][sl] = p.params["target"]
        start += k
    for arr in (squat, squat_nod, reach["left"], reach["right"], target["left"], target["right"]):
        arr[-1] = arr[-2]

    scale = motion.head_bob
    stride = np.concatenate([[0.0], np.cumsum(gait[:-1] * dt)])
    yaw = np.concatenate([[0.0], np.cumsum(wz[:-1] * dt)])
    c, s = np.cos(yaw), np.sin(yaw)
    x = np.concatenate([[0.0], np.cumsum((c * vx - s * vy)[:-1] * dt)])
    y = np.concatenate([[0.0], np.cumsum((s * vx + c * vy)[:-1] * dt)])
    bounce = scale * bounce_amp * (1 - np.cos(2 * stride))  # one dip per step
    nod = scale * nod_amp * np.sin(2 * stride)
    roll = scale * roll_amp * np.sin(stride)
    jit = _jitter(np.arange(m) * dt, rng, motion.head_jitter)
    z = body.eye_height - squat
    head = np.stack(
        [
            x + jit[:, 0] * c - jit[:, 1] * s,
            y + jit[:, 0] * s + jit[:, 1] * c,
            z + bounce + jit[:, 2],
            yaw + jit[:, 3],
            body.pitch + squat_nod + nod + jit[:, 4],
            roll + jit[:, 5],
        ],
        axis=1,
    )
    torso = np.stack([x, y, z + 0.7 * bounce, yaw], axis=1)
    mirror = np.array([1.0, -1.0, 1.0])
    arms = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        flip = mirror if sign < 0 else np.ones(3)
        rest, goal = body.rest * flip, target[side] * flip
        wrist = rest + reach[side][:, None] * (goal - rest)
        elbow = _two_link(body.shoulder * flip, wrist, body.upper_arm, body.forearm, sign)
        arms[side] = (wrist, elbow)
    frames = slice(0, n * _SUBSTEPS, _SUBSTEPS)
    return Trajectory(
        head[frames],
        torso[frames],
        arms["left"][0][frames],
        arms["right"][0][frames],
        arms["left"][1][frames],
        arms["right"][1][frames],
    )


def _jitter(time: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """(m, 6) slow head jitter: x, y, z about 1 mm, yaw, pitch, roll about 0.1 deg, two sinusoids per axis."""
    amps = np.array([0.001, 0.001, 0.001, np.deg2rad(0.1), np.deg2rad(0.1), np.deg2rad(0.08)]) * scale
    out = np.zeros((len(time), 6))
    for axis in range(6):
        freq = rng.uniform(0.3, 1.2, size=2)
        phase = rng.uniform(0, 2 * np.pi, size=2)
        out[:, axis] = (
            amps[axis] * 0.5 * np.sin(2 * np.pi * freq[:, None] * time[None] + phase[:, None]).sum(0)
        )
    return out
