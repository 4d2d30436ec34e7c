"""Procedural arm motion clips for LMO training: reach, carry and push over the arms' full range (issue 9).

Each clip is built from waypoints joined by minimum-jerk segments, whose durations are the shortest that keep every
joint within ARM_MAX_SPEED and ARM_MAX_ACC, stretched by a random slack, with holds between them; every clip starts
and ends at the twin's standing pose (X2Sim.stance_upper_body). Each clip also gets a locomotion command schedule
(`loco_schedule`). Clip i of a seed has its own random stream, so it is the same in a library of any size.
- reach: one arm or both to joint-space targets drawn over each joint's published range (arcsine distribution: the
  ends of a range are reached as often as its middle), grasp/release at the target, sometimes back to stance;
- carry: reach down in front, close both hands, lift to a waist-height carry pose, hold it (with small shifts)
  while a walking command runs, put down, open, return (a payload hint comes with it);
- push: both arms out forward at chest height, held while walking forward, return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from lerobot_wbvla.lmo.clips import CONTROL_HZ, LOCO_DIM, ArmClip, ClipLibrary, arm_limits
from lerobot_wbvla.robots.agibot_x2 import lower_body as lb
from lerobot_wbvla.robots.agibot_x2.joints import ARM_JOINTS, GRIPPERS

PROCEDURAL_KINDS = ("reach", "carry", "push")
LOCO_MODES = ("stand", "squat", "step", "walk_forward", "walk_lateral", "turn")

# Arm joint speed and acceleration limits of the procedural motions [ours]. params.py publishes no velocity limits;
# the v1.3.0 URDF gives wrist_pitch 4.19 rad/s (notes/agibot-x2.md) and the robot clamps a target step to
# 0.15 rad per 30 Hz tick (4.5 rad/s), so these stay below both. Grippers: closure per second.
ARM_MAX_SPEED = {
    "shoulder_pitch": 2.5,
    "shoulder_roll": 2.5,
    "shoulder_yaw": 3.0,
    "elbow": 3.0,
    "wrist_yaw": 3.5,
    "wrist_pitch": 3.5,
    "wrist_roll": 3.5,
}
ARM_MAX_ACC = {"shoulder_pitch": 10.0, "shoulder_roll": 10.0, "shoulder_yaw": 12.0, "elbow": 12.0}
WRIST_MAX_ACC = 16.0
GRIPPER_MAX_SPEED = 4.0
GRIPPER_MAX_ACC = 40.0
MIN_SEGMENT_S = 0.3
# Peak speed and acceleration of a minimum-jerk move of distance d over time T: 15/8 d/T and 10/sqrt(3) d/T^2.
_MJ_PEAK_V = 15.0 / 8.0
_MJ_PEAK_A = 10.0 / np.sqrt(3.0)
HEIGHT_RATE = 0.2  # m/s: squat ramps, below the twin's 0.25 m/s pelvis height rate (sim.BASE_HEIGHT_RATE)


def _suffix(joint: str) -> str:
    return joint.split("_", 1)[1]


def arm_speed_limits() -> tuple[np.ndarray, np.ndarray]:
    """(max speed, max acceleration) of the 16 arm entries used by the procedural generator."""
    vmax = [ARM_MAX_SPEED[_suffix(j)] for j in ARM_JOINTS] + [GRIPPER_MAX_SPEED] * len(GRIPPERS)
    amax = [ARM_MAX_ACC.get(_suffix(j), WRIST_MAX_ACC) for j in ARM_JOINTS] + [GRIPPER_MAX_ACC] * len(
        GRIPPERS
    )
    return np.array(vmax), np.array(amax)


def stance_arm() -> np.ndarray:
    """The 16 arm entries of the twin's standing pose (X2Sim.stance_upper_body), grippers open."""
    from lerobot_wbvla.robots.agibot_x2.sim import X2Sim  # noqa: PLC0415 (mujoco only when needed)

    pose = X2Sim.stance_upper_body()
    return np.array([pose[j] for j in ARM_JOINTS] + [0.0] * len(GRIPPERS))


def _min_jerk(tau: np.ndarray) -> np.ndarray:
    return tau * tau * tau * (10.0 - 15.0 * tau + 6.0 * tau * tau)


class _Trajectory:
    """Waypoints (time, value vector) joined by minimum-jerk segments; equal neighbours make a hold."""

    def __init__(self, start: np.ndarray) -> None:
        self.times = [0.0]
        self.points = [np.asarray(start, dtype=float)]

    @property
    def t(self) -> float:
        return self.times[-1]

    @property
    def q(self) -> np.ndarray:
        return self.points[-1]

    def go(self, target: np.ndarray, duration: float) -> None:
        self.times.append(self.t + max(duration, 1e-6))
        self.points.append(np.asarray(target, dtype=float))

    def hold(self, duration: float) -> None:
        if duration > 0:
            self.go(self.q, duration)

    def sample(self, n: int, rate: float = CONTROL_HZ) -> np.ndarray:
        t = np.arange(n) / rate
        times = np.asarray(self.times)
        points = np.stack(self.points)
        seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, max(len(times) - 2, 0))
        if len(times) == 1:
            return np.repeat(points[:1], n, axis=0)
        t0, t1 = times[seg], times[seg + 1]
        s = _min_jerk(np.clip((t - t0) / (t1 - t0), 0.0, 1.0))[:, None]
        return points[seg] + s * (points[seg + 1] - points[seg])


def move_duration(q0: np.ndarray, q1: np.ndarray) -> float:
    """Shortest minimum-jerk duration from q0 to q1 (16 arm entries) within the speed and acceleration limits."""
    vmax, amax = arm_speed_limits()
    d = np.abs(np.asarray(q1) - np.asarray(q0))
    return float(max(MIN_SEGMENT_S, (_MJ_PEAK_V * d / vmax).max(), np.sqrt(_MJ_PEAK_A * d / amax).max()))


def _mirror(left7: np.ndarray) -> np.ndarray:
    """Right-arm values mirroring left-arm ones: roll and yaw joints change sign (params.STANCE_ARM_RIGHT)."""
    sign = np.array([-1.0 if _suffix(j).endswith(("roll", "yaw")) else 1.0 for j in ARM_JOINTS[:7]])
    return left7 * sign


@dataclass
class _Ctx:
    rng: np.random.Generator
    duration: float
    stance: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def clip_pose(self, q: np.ndarray) -> np.ndarray:
        return np.clip(q, self.lo, self.hi)


def _reach(ctx: _Ctx, margin: float) -> tuple[_Trajectory, list[tuple[float, float]]]:
    """Random joint-space targets (one arm or both) drawn over each joint's full range, holds, back to stance."""
    rng, traj = ctx.rng, _Trajectory(ctx.stance)
    traj.hold(rng.uniform(0.2, 0.8))
    lo, hi = ctx.lo[:14] + margin, ctx.hi[:14] - margin
    while True:
        slack, hold = rng.uniform(1.0, 1.6), rng.uniform(0.2, 1.0)
        # A target that does not fit the time left is redrawn a few times, and only then pulled toward the stance
        # (pulling at once would keep the joints away from the ends of their ranges).
        for attempt in range(8):
            target = _reach_target(rng, traj.q, ctx.stance, lo, hi)
            scale = 1.0 if attempt < 6 else (0.6, 0.3)[attempt - 6]
            cand = traj.q + scale * (target - traj.q)
            cand[14:] = target[14:]
            move, back = move_duration(traj.q, cand), move_duration(cand, ctx.stance)
            # Less slack (a faster move, still within the limits) when time is short.
            slack = min(slack, max(1.0, (ctx.duration - traj.t - hold - back) / move))
            if traj.t + slack * move + hold + back <= ctx.duration:
                break
        else:
            break
        traj.go(cand, slack * move)
        traj.hold(hold)
        if rng.random() < 0.15:  # sometimes back to the stance between targets
            back = move_duration(traj.q, ctx.stance)
            if traj.t + back * 2 + 0.5 <= ctx.duration:
                traj.go(ctx.stance, back)
    _return_to_stance(ctx, traj)
    return traj, [(0.0, ctx.duration)]


def _reach_target(
    rng: np.random.Generator, q: np.ndarray, stance: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Next reach waypoint: one arm or both to a joint-space target (arcsine over each joint's range), grasp or
    release there; a single moving arm sends the idle one back to its stance half the time."""
    target = q.copy()
    arms = int(rng.choice(3, p=[0.3, 0.3, 0.4]))  # left, right, both
    for side in ((0,), (1,), (0, 1))[arms]:
        js = slice(7 * side, 7 * side + 7)
        target[js] = lo[js] + rng.beta(0.5, 0.5, 7) * (hi[js] - lo[js])
        target[14 + side] = float(rng.integers(0, 2))  # grasp or release at the target
    if arms < 2 and rng.random() < 0.5:  # the idle arm goes back to its stance meanwhile
        idle = slice(7 * (1 - arms), 7 * (1 - arms) + 7)
        target[idle] = stance[idle]
    return target


def _return_to_stance(ctx: _Ctx, traj: _Trajectory) -> None:
    back = move_duration(traj.q, ctx.stance)
    room = ctx.duration - traj.t
    traj.go(ctx.stance, max(back, min(room, back * ctx.rng.uniform(1.0, 1.5))))


def _carry_pose(rng: np.random.Generator) -> np.ndarray:
    """Both forearms forward at waist height, hands closed around something between them: the upper arm hangs
    slightly forward, the forearm is about level (shoulder pitch + elbow ~ -pi/2), where the head camera sees it."""
    pitch = rng.uniform(-0.7, -0.15)
    elbow = float(np.clip(rng.uniform(-1.75, -1.25) - pitch, -2.2, -0.4))
    left = np.array(
        [
            pitch,
            rng.uniform(-0.05, 0.15),  # shoulder roll: upper arm along the body
            rng.uniform(-0.6, -0.3),  # shoulder yaw: forearms turned in, hands 0.2-0.5 m apart
            elbow,
            rng.uniform(-0.4, 0.4),
            rng.uniform(-0.3, 0.3),
            rng.uniform(-0.4, 0.3),
        ]
    )
    right = _mirror(left) + rng.normal(0.0, 0.05, 7)
    return np.concatenate([left, right, [1.0, 1.0]])


def _push_pose(rng: np.random.Generator) -> np.ndarray:
    """Both arms extended forward at chest height (pushing a cart, a door), grippers both open or both closed."""
    left = np.array(
        [
            rng.uniform(-1.7, -1.1),
            rng.uniform(-0.05, 0.25),
            rng.uniform(-0.3, 0.3),
            rng.uniform(-0.7, -0.05),
            rng.uniform(-0.3, 0.3),
            rng.uniform(-0.45, 0.45),
            rng.uniform(-0.3, 0.3),
        ]
    )
    grip = float(rng.integers(0, 2))
    return np.concatenate([left, _mirror(left) + rng.normal(0.0, 0.05, 7), [grip, grip]])


def _hold_window(ctx: _Ctx, traj: _Trajectory, pose: np.ndarray, until: float, jitter: float) -> None:
    """Hold `pose` until time `until` with small slow excursions around it (a load shifting in the hands)."""
    rng = ctx.rng
    while until - traj.t > 0.8:
        q = pose.copy()
        q[:14] += rng.normal(0.0, jitter, 14)
        q = ctx.clip_pose(q)
        need = move_duration(traj.q, q)
        traj.go(q, max(need, min(until - traj.t, max(need * rng.uniform(1.5, 3.0), 0.6))))
    traj.go(pose, max(until - traj.t, move_duration(traj.q, pose)))


def _carry(ctx: _Ctx) -> tuple[_Trajectory, list[tuple[float, float]]]:
    """Reach down in front, close both hands, lift, carry while walking, put down, open, back to stance."""
    rng, traj = ctx.rng, _Trajectory(ctx.stance)
    traj.hold(rng.uniform(0.2, 0.5))
    carry = ctx.clip_pose(_carry_pose(rng))
    grasp = carry.copy()
    grasp[[0, 7]] += rng.uniform(0.1, 0.4)  # hands lower to grasp, then lift to the carry pose
    grasp[14:] = 0.0
    grasp = ctx.clip_pose(grasp)
    traj.go(grasp, move_duration(traj.q, grasp) * rng.uniform(1.0, 1.5))
    closed = grasp.copy()
    closed[14:] = 1.0
    traj.go(closed, move_duration(grasp, closed) * rng.uniform(1.0, 1.5))
    traj.go(carry, move_duration(closed, carry) * rng.uniform(1.0, 1.5))
    walk_from = traj.t
    end_carry = ctx.duration - (
        move_duration(carry, closed) + 2 * MIN_SEGMENT_S + move_duration(grasp, ctx.stance)
    )
    end_carry -= rng.uniform(0.3, 0.6)
    _hold_window(ctx, traj, carry, max(end_carry, traj.t + 0.5), jitter=0.05)
    walk_to = traj.t
    traj.go(closed, move_duration(carry, closed))
    traj.go(grasp, move_duration(closed, grasp))
    _return_to_stance(ctx, traj)
    return traj, [(walk_from, walk_to)]


def _push(ctx: _Ctx) -> tuple[_Trajectory, list[tuple[float, float]]]:
    """Arms out forward, hold (with small corrections) while walking forward, back to stance."""
    rng, traj = ctx.rng, _Trajectory(ctx.stance)
    traj.hold(rng.uniform(0.2, 0.5))
    pose = ctx.clip_pose(_push_pose(rng))
    traj.go(pose, move_duration(traj.q, pose) * rng.uniform(1.0, 1.4))
    walk_from = traj.t
    back = move_duration(pose, ctx.stance)
    _hold_window(ctx, traj, pose, max(ctx.duration - back * 1.2 - rng.uniform(0.2, 0.5), traj.t + 0.5), 0.04)
    walk_to = traj.t
    _return_to_stance(ctx, traj)
    return traj, [(walk_from, walk_to)]


@dataclass(frozen=True)
class LocoLimits:
    """Ranges of the procedural locomotion commands (m/s, rad/s); heights from the squat IK (lower_body)."""

    max_vx: float = 0.5
    max_vy: float = 0.4
    max_yaw_rate: float = 0.8
    min_speed: float = 0.1


# Mode weights of the locomotion schedule per clip kind: reach clips mostly stand or squat (manipulation in
# place), carry clips mostly walk, push clips walk forward.
LOCO_WEIGHTS: dict[str, dict[str, float]] = {
    "reach": {
        "stand": 0.3,
        "squat": 0.25,
        "step": 0.15,
        "walk_forward": 0.1,
        "walk_lateral": 0.1,
        "turn": 0.1,
    },
    "carry": {
        "stand": 0.1,
        "squat": 0.05,
        "step": 0.1,
        "walk_forward": 0.4,
        "walk_lateral": 0.15,
        "turn": 0.2,
    },
    "push": {"walk_forward": 0.75, "stand": 0.1, "step": 0.05, "turn": 0.1},
}


def loco_schedule(
    rng: np.random.Generator,
    n: int,
    windows: Sequence[tuple[float, float]],
    weights: Mapping[str, float],
    limits: LocoLimits = LocoLimits(),
) -> np.ndarray:
    """(n, 4) command (vx, vy, yaw_rate, height) at CONTROL_HZ: standing outside `windows`; inside them segments of
    1-3 s drawn from `weights` over LOCO_MODES. stand: zeros; squat: the pelvis height ramps (minimum jerk, <= 0.2
    m/s) to a random height in lower_body.min_height()..nominal and back; step: a 0.4-0.9 s burst of 0.1-0.25 m/s
    in one direction (a step or two), then stand; walk_forward / walk_lateral / turn: one constant velocity.
    Velocities are step changes, as a VLA emits them. Height 0 means nominal (docs/CONTRACTS.md)."""
    unknown = set(weights) - set(LOCO_MODES)
    if unknown:
        raise ValueError(f"unknown locomotion mode(s) {sorted(unknown)}; known: {LOCO_MODES}")
    modes = list(weights)
    p = np.array([weights[m] for m in modes], dtype=float)
    p /= p.sum()
    out = np.zeros((n, LOCO_DIM))
    nominal, h_min = lb.nominal_height(), lb.min_height()
    for w0, w1 in windows:
        i, i_end = int(np.ceil(w0 * CONTROL_HZ)), min(n, int(np.floor(w1 * CONTROL_HZ)) + 1)
        while i < i_end:
            seg = min(i_end - i, int(rng.uniform(1.0, 3.0) * CONTROL_HZ))
            mode = modes[rng.choice(len(modes), p=p)]
            rows = out[i : i + seg]
            if mode == "squat":
                h = rng.uniform(h_min, nominal - 0.03)
                ramp = max(abs(nominal - h) / HEIGHT_RATE, 0.5)
                if seg / CONTROL_HZ < 2 * ramp + 0.3:
                    mode = "stand"
                else:
                    tr = _Trajectory(np.array([nominal]))
                    tr.go(np.array([h]), ramp)
                    tr.hold(seg / CONTROL_HZ - 2 * ramp)
                    tr.go(np.array([nominal]), ramp)
                    heights = tr.sample(seg)[:, 0]
                    rows[:, 3] = np.where(np.abs(heights - nominal) < 1e-9, 0.0, heights)
            if mode == "step":
                burst = min(seg, int(rng.uniform(0.4, 0.9) * CONTROL_HZ))
                axis = int(rng.integers(0, 2))  # vx or vy
                rows[:burst, axis] = rng.choice([-1.0, 1.0]) * rng.uniform(limits.min_speed, 0.25)
            elif mode == "walk_forward":
                rows[:, 0] = rng.uniform(limits.min_speed, limits.max_vx)
            elif mode == "walk_lateral":
                rows[:, 1] = rng.choice([-1.0, 1.0]) * rng.uniform(limits.min_speed, limits.max_vy)
            elif mode == "turn":
                rows[:, 2] = rng.choice([-1.0, 1.0]) * rng.uniform(0.2, limits.max_yaw_rate)
            i += seg
    return out


_GENERATORS = {"reach": _reach, "carry": _carry, "push": _push}
MIN_DURATION_S = {"carry": 6.0}


def procedural_clip(
    index: int,
    seed: int,
    kind: str | None = None,
    duration_s: tuple[float, float] = (4.0, 10.0),
    kinds: Mapping[str, float] | None = None,
    limits: LocoLimits = LocoLimits(),
    range_margin: float = 0.02,
    payload_kg: tuple[float, float] = (0.5, 5.0),
) -> ArmClip:
    """Clip `index` of the procedural library of `seed` (its own random stream: clip i is the same in a library of
    any size). `kind` None draws one from `kinds` (weights over PROCEDURAL_KINDS)."""
    rng = np.random.default_rng([int(seed), int(index)])
    weights = dict(kinds or {"reach": 0.5, "carry": 0.25, "push": 0.25})
    unknown = set(weights) - set(PROCEDURAL_KINDS)
    if unknown or not weights:
        raise ValueError(f"unknown clip kind(s) {sorted(unknown)}; known: {PROCEDURAL_KINDS}")
    names = list(weights)
    p = np.array([weights[k] for k in names], dtype=float)
    drawn = names[rng.choice(len(names), p=p / p.sum())]
    kind = kind or drawn
    if kind not in _GENERATORS:
        raise ValueError(f"unknown clip kind {kind!r}; known: {PROCEDURAL_KINDS}")
    if not 0 < duration_s[0] <= duration_s[1]:
        raise ValueError(f"duration_s must be (min, max) with 0 < min <= max, got {duration_s}")
    # A carry (grasp, lift, carry, put down, release, return) needs a few seconds; shorter draws are lengthened.
    shortest = min(max(duration_s[0], MIN_DURATION_S.get(kind, 0.0)), duration_s[1])
    n = int(round(rng.uniform(shortest, duration_s[1]) * CONTROL_HZ)) + 1
    lo, hi = arm_limits()
    ctx = _Ctx(rng, (n - 1) / CONTROL_HZ, stance_arm(), lo, hi)
    traj, windows = _reach(ctx, range_margin) if kind == "reach" else _GENERATORS[kind](ctx)
    arm = np.clip(traj.sample(n), lo, hi)
    loco = loco_schedule(rng, n, windows, LOCO_WEIGHTS[kind], limits)
    payload = float(rng.uniform(*payload_kg)) if kind == "carry" else None
    return ArmClip(
        name=f"{kind}_s{seed}_{index:05d}",
        kind=kind,
        source=f"procedural(seed={seed})",
        arm=arm,
        loco=loco,
        payload_kg_hint=payload,
    )


def procedural_clips(
    num_clips: int,
    seed: int = 0,
    duration_s: tuple[float, float] = (4.0, 10.0),
    kinds: Mapping[str, float] | None = None,
    limits: LocoLimits = LocoLimits(),
    range_margin: float = 0.02,
    payload_kg: tuple[float, float] = (0.5, 5.0),
    progress: bool = False,
) -> ClipLibrary:
    """A procedural library of `num_clips` reach / carry / push clips (weights `kinds`, default 2:1:1).

    Reach targets are uniform over each arm joint's published range less `range_margin` (rad), so the library
    covers the arms' full range (poses where an arm meets the body included: the twin's self-collision stops the
    arm there, as it would the robot). Joint speed and acceleration stay within ARM_MAX_SPEED / ARM_MAX_ACC. Carry
    clips get a payload hint in `payload_kg`. Deterministic from `seed`."""
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    it = range(num_clips)
    if progress:
        it = tqdm(it, desc="procedural clips")
    return ClipLibrary(
        procedural_clip(i, seed, None, duration_s, kinds, limits, range_margin, payload_kg) for i in it
    )
