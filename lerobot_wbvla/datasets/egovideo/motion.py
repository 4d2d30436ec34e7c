"""Kinematic body motion of an egocentric clip: the plan of labelled phases and the per-frame body state.

A clip is a list of `Phase`s (one frame label each) covering all frames; `body_trajectory` integrates the phases
with sub-frame steps into the pose of the head camera, the torso and the two arms at every frame. The body is
kinematic: no physics, so the motion is exactly the labelled one plus the gait head bob and a slow jitter.

Frame t belongs to the phase that covers the motion from frame t to frame t+1, so phase boundaries fall on
frames and every frame has one true label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lerobot_wbvla.datasets.egovideo.config import EgoVideoConfig, MotionConfig
from lerobot_wbvla.datasets.egovideo.labels import PRIMITIVE_PHASES
from lerobot_wbvla.datasets.egovideo_common.plan import Phase, merge_stand_stills, uniform

# Primitives whose duration is free (they fill the clip); the others have natural durations (depth / speed,
# reach time).
_FLEXIBLE = {"walk_forward", "sidestep_left", "sidestep_right", "turn_left", "turn_right", "stand_still"}
_MIN_FLEX_SECONDS = 0.6  # shortest locomotion phase in a sequence
_MIN_PHASE_FRAMES = 3
_SUBSTEPS = 4  # integration steps per frame
_RAMP_SECONDS = 0.2  # speed ramp at both ends of a locomotion phase
_RAMP_FLOOR = 0.35  # fraction of full speed at the very start/end of a locomotion phase

# Arm joint order in ArmPose arrays: shoulder flexion (forward +), shoulder abduction (outward +), elbow flexion.
ARM_JOINTS = ("shoulder_flex", "shoulder_abd", "elbow")


def _profile(u: np.ndarray | float) -> np.ndarray | float:
    """Progress 0 -> 1 over u in [0, 1]: half smoothstep, half linear, so the motion is smooth yet never stops
    inside a phase (a labelled frame always moves)."""
    u = np.clip(u, 0.0, 1.0)
    return 0.4 * u + 0.6 * (3 * u**2 - 2 * u**3)


@dataclass
class BodyShape:
    """Per-clip body proportions (m) and rest pose of the arms (rad, ARM_JOINTS order)."""

    eye_height: float
    camera_pitch: float  # rad, positive = looking down
    fovy: float  # deg
    shoulder_drop: float  # shoulder height below the eyes
    shoulder_half_width: float
    shoulder_forward: float  # shoulders relative to the eyes along the heading (negative = behind)
    upper_arm: float
    forearm: float
    hand: float
    rest_left: np.ndarray
    rest_right: np.ndarray


@dataclass
class BodyTrajectory:
    """Per-frame body state, arrays of length n_frames.

    head_pos (T, 3) and head_rpy (T, 3) = (roll, pitch, yaw) in the room frame; torso_pos (T, 3), torso_yaw (T,);
    arm_left/arm_right (T, 3) joint angles in ARM_JOINTS order. Positions are in the start frame of the clip
    (origin under the eyes at frame 0, heading +x); `place` moves them into the room.
    """

    head_pos: np.ndarray
    head_rpy: np.ndarray
    torso_pos: np.ndarray
    torso_yaw: np.ndarray
    arm_left: np.ndarray
    arm_right: np.ndarray

    def place(self, x: float, y: float, yaw: float) -> BodyTrajectory:
        """The same trajectory started at (x, y) with heading yaw."""
        c, s = np.cos(yaw), np.sin(yaw)
        rot = np.array([[c, -s], [s, c]])

        def move(p: np.ndarray) -> np.ndarray:
            q = p.copy()
            q[:, :2] = p[:, :2] @ rot.T + np.array([x, y])
            return q

        rpy = self.head_rpy.copy()
        rpy[:, 2] += yaw
        return BodyTrajectory(
            move(self.head_pos),
            rpy,
            move(self.torso_pos),
            self.torso_yaw + yaw,
            self.arm_left,
            self.arm_right,
        )


def sample_body_shape(motion: MotionConfig, rng: np.random.Generator) -> BodyShape:
    """Body proportions of a person or a mid-size humanoid, and a forearms-forward rest pose in which the hands
    are visible at the bottom of the head camera's view."""

    def rest() -> np.ndarray:
        return np.array([rng.uniform(0.5, 0.75), rng.uniform(0.08, 0.2), rng.uniform(1.35, 1.6)])

    eye_height = uniform(rng, motion.eye_height)
    scale = eye_height / 1.55
    return BodyShape(
        eye_height=eye_height,
        camera_pitch=np.deg2rad(uniform(rng, motion.camera_pitch_deg)),
        fovy=uniform(rng, motion.fovy_deg),
        shoulder_drop=float(rng.uniform(0.22, 0.27) * scale),
        shoulder_half_width=float(rng.uniform(0.16, 0.2) * scale),
        shoulder_forward=float(rng.uniform(-0.1, -0.05)),
        upper_arm=float(rng.uniform(0.26, 0.3) * scale),
        forearm=float(rng.uniform(0.24, 0.27) * scale),
        hand=float(rng.uniform(0.08, 0.1) * scale),
        rest_left=rest(),
        rest_right=rest(),
    )


def _reach_target(rng: np.random.Generator) -> np.ndarray:
    """Arm pose at the end of a reach: arm raised forward (a little in or out), elbow almost straight, so the
    hand ends up in the middle of the view."""
    return np.array([rng.uniform(1.1, 1.6), rng.uniform(-0.15, 0.2), rng.uniform(0.05, 0.4)])


def _phases_of(primitive: str, motion: MotionConfig, rng: np.random.Generator, fps: int) -> list[Phase]:
    """The phases of one primitive with natural frame counts (0 for flexible ones, set later)."""
    if primitive in _FLEXIBLE:
        params: dict = {}
        if primitive == "walk_forward":
            params = {
                "speed": uniform(rng, motion.walk_speed),
                "cadence": uniform(rng, motion.walk_cadence),
            }
        elif primitive.startswith("sidestep"):
            params = {
                "speed": uniform(rng, motion.sidestep_speed),
                "cadence": uniform(rng, motion.shuffle_cadence),
            }
        elif primitive.startswith("turn"):
            params = {
                "rate": np.deg2rad(uniform(rng, motion.turn_rate_deg)),
                "cadence": uniform(rng, motion.shuffle_cadence),
            }
        return [Phase(primitive, 0, params)]
    if primitive == "squat":
        depth = uniform(rng, motion.squat_depth)
        down = depth / uniform(rng, motion.squat_speed)
        up = depth / uniform(rng, motion.squat_speed)
        return [
            Phase("squat_down", max(_MIN_PHASE_FRAMES, round(down * fps)), {"depth": depth}),
            Phase("squat_up", max(_MIN_PHASE_FRAMES, round(up * fps)), {"depth": depth}),
        ]
    if primitive in ("reach_left", "reach_right"):
        out_label, back_label = PRIMITIVE_PHASES[primitive]
        target = _reach_target(rng)
        return [
            Phase(
                out_label,
                max(_MIN_PHASE_FRAMES, round(uniform(rng, motion.reach_seconds) * fps)),
                {"target": target},
            ),
            Phase(
                back_label,
                max(_MIN_PHASE_FRAMES, round(uniform(rng, motion.reach_seconds) * fps)),
                {"target": target},
            ),
        ]
    raise ValueError(f"Unknown primitive {primitive!r}; choose from {list(PRIMITIVE_PHASES)}.")


def _fit_fixed(phases: list[Phase], budget: int) -> None:
    """Scale natural-duration phases to fit `budget` frames (stretching at most 1.4x, i.e. a slower motion)."""
    total = sum(p.n_frames for p in phases)
    if total == 0:
        return
    factor = min(budget / total, 1.4)
    for p in phases:
        p.n_frames = max(_MIN_PHASE_FRAMES, int(p.n_frames * factor))
    while sum(p.n_frames for p in phases) > budget:
        longest = max(phases, key=lambda p: p.n_frames)
        if longest.n_frames <= _MIN_PHASE_FRAMES:
            break
        longest.n_frames -= 1


def plan_clip(primary: str, cfg: EgoVideoConfig, rng: np.random.Generator) -> tuple[list[str], list[Phase]]:
    """Choose the clip's primitives (primary first) and lay out their phases over exactly cfg.n_frames frames.

    Returns (primitives, phases). Single clips: stand_still lead-in, the primitive, stand_still lead-out.
    Sequence clips (probability cfg.sequence_fraction): 2..max_sequence_length primitives with short optional
    stand-stills between them; locomotion primitives share whatever time the fixed ones leave.
    """
    n, fps = cfg.n_frames, cfg.fps
    still = (round(cfg.still_seconds[0] * fps), round(cfg.still_seconds[1] * fps))
    is_sequence = len(cfg.primitives) > 1 and rng.random() < cfg.sequence_fraction
    if is_sequence:
        k = int(rng.integers(2, cfg.max_sequence_length + 1))
        primitives = [primary]
        while len(primitives) < k:
            choice = str(rng.choice(cfg.primitives))
            if choice != primitives[-1] and choice != "stand_still":
                primitives.append(choice)
        for k_now in range(len(primitives), 1, -1):
            phases = _layout_sequence(primitives[:k_now], cfg, rng)
            if phases is not None:
                return primitives[:k_now], phases
        primitives = [primary]
    else:
        primitives = [primary]
    # Single primitive between two stand-stills.
    lead_in = int(rng.integers(still[0], still[1] + 1))
    lead_out = int(rng.integers(still[0], still[1] + 1))
    while lead_in + lead_out > n - _MIN_PHASE_FRAMES * 2:
        lead_in, lead_out = max(0, lead_in - 1), max(0, lead_out - 1)
    body = _phases_of(primary, cfg.motion, rng, fps)
    budget = n - lead_in - lead_out
    if primary in _FLEXIBLE:
        body[0].n_frames = budget
    else:
        _fit_fixed(body, budget)
        spare = budget - sum(p.n_frames for p in body)
        extra_in = int(rng.integers(0, spare + 1)) if spare > 0 else 0
        lead_in += extra_in
        lead_out += spare - extra_in
    phases = [Phase("stand_still", lead_in)] + body + [Phase("stand_still", lead_out)]
    return primitives, merge_stand_stills(phases)


def _layout_sequence(
    primitives: list[str], cfg: EgoVideoConfig, rng: np.random.Generator
) -> list[Phase] | None:
    """Phases of a sequence clip, or None if the primitives do not fit in the clip."""
    n, fps = cfg.n_frames, cfg.fps
    gap = (round(0.1 * fps), round(0.3 * fps))
    parts: list[Phase] = [Phase("stand_still", int(rng.integers(gap[0], gap[1] + 1)))]
    flexible: list[Phase] = []
    for i, prim in enumerate(primitives):
        phases = _phases_of(prim, cfg.motion, rng, fps)
        parts += phases
        flexible += [p for p in phases if p.n_frames == 0]
        if i < len(primitives) - 1 and rng.random() < 0.5:
            parts.append(Phase("stand_still", int(rng.integers(gap[0], gap[1] + 1))))
    parts.append(Phase("stand_still", int(rng.integers(gap[0], gap[1] + 1))))
    fixed = sum(p.n_frames for p in parts)
    spare = n - fixed
    min_flex = round(_MIN_FLEX_SECONDS * fps)
    if spare < len(flexible) * min_flex or (not flexible and spare < 0):
        return None
    if flexible:
        weights = rng.uniform(0.7, 1.3, size=len(flexible))
        shares = np.floor(spare * weights / weights.sum()).astype(int)
        shares[-1] += spare - shares.sum()
        for p, s in zip(flexible, shares, strict=True):
            p.n_frames = int(s)
    else:
        parts[-1].n_frames += spare
    return merge_stand_stills(parts)


def _envelope(t: np.ndarray, duration: float, floor: float) -> np.ndarray:
    """Speed envelope of a locomotion phase: from `floor` up to 1 over the ramp, and back down at the end."""
    ramp = min(_RAMP_SECONDS, duration / 3)
    up = np.clip(t / ramp, 0, 1)
    down = np.clip((duration - t) / ramp, 0, 1)
    shape = np.minimum(0.5 - 0.5 * np.cos(np.pi * up), 0.5 - 0.5 * np.cos(np.pi * down))
    return floor + (1 - floor) * shape


def body_trajectory(
    phases: list[Phase], shape: BodyShape, cfg: EgoVideoConfig, rng: np.random.Generator
) -> BodyTrajectory:
    """Integrate the phases into per-frame body poses (start frame: origin, heading +x)."""
    fps, motion = cfg.fps, cfg.motion
    n = sum(p.n_frames for p in phases)
    dt = 1.0 / (fps * _SUBSTEPS)
    m = n * _SUBSTEPS + 1  # sub-samples, frame t at index t * _SUBSTEPS
    x, y, yaw = np.zeros(m), np.zeros(m), np.zeros(m)
    squat = np.zeros(m)
    reach_l, reach_r = np.zeros(m), np.zeros(m)
    target_l, target_r = np.tile(shape.rest_left, (m, 1)), np.tile(shape.rest_right, (m, 1))
    bob_amp = np.zeros((m, 3))  # vertical bounce, lateral sway, roll amplitude
    gait_rate = np.zeros(m)  # stride phase rate (rad/s)
    lateral_pulse = np.zeros(m)  # sidestep speed modulation depth
    vx, vy, wz = np.zeros(m), np.zeros(m), np.zeros(m)  # body-frame velocity commands per sub-sample

    i0 = 0
    for p in phases:
        k = p.n_frames * _SUBSTEPS
        sl = slice(i0, i0 + k)
        t = np.arange(k) * dt
        duration = k * dt
        label = p.label
        if label in ("walk_forward", "sidestep_left", "sidestep_right", "turn_left", "turn_right"):
            env = _envelope(t + dt / 2, duration, _RAMP_FLOOR)  # speed over sub-step [t, t + dt]
            bob_env = _envelope(t, duration, 0.0)  # bob offset at time t: 0 at the phase start
            gait_rate[sl] = np.pi * p.params["cadence"]
            if label == "walk_forward":
                v = p.params["speed"]
                vx[sl] = v * env
                amp_z = rng.uniform(0.01, 0.025) * np.sqrt(v / 0.8)
                bob_amp[sl] = np.array([amp_z, rng.uniform(0.008, 0.018), np.deg2rad(rng.uniform(0.5, 1.0))])
            elif label.startswith("sidestep"):
                sign = 1.0 if label == "sidestep_left" else -1.0
                vy[sl] = sign * p.params["speed"] * env
                lateral_pulse[sl] = rng.uniform(0.3, 0.6)  # step-together: speed pulses, never reverses
                bob_amp[sl] = np.array([rng.uniform(0.005, 0.015), 0.0, np.deg2rad(rng.uniform(0.4, 0.9))])
            else:
                sign = 1.0 if label == "turn_left" else -1.0
                wz[sl] = sign * p.params["rate"] * env
                bob_amp[sl] = np.array(
                    [rng.uniform(0.003, 0.008), rng.uniform(0.0, 0.004), np.deg2rad(rng.uniform(0.2, 0.5))]
                )
            bob_amp[sl] *= motion.head_bob * bob_env[:, None]
        elif label in ("squat_down", "squat_up"):
            u = _profile(t / duration)  # value at time t; u = 1 is reached at the next phase's first sample
            squat[sl] = p.params["depth"] * (u if label == "squat_down" else 1 - u)
        elif label.startswith("reach_"):
            u = _profile(t / duration)
            left = label.startswith("reach_left")
            blend = u if label.endswith("_out") else 1 - u
            (reach_l if left else reach_r)[sl] = blend
            (target_l if left else target_r)[sl] = p.params["target"]
        i0 += k
    # The last sub-sample (time n / fps, never rendered) holds the state before it.
    for arr in (squat, reach_l, reach_r, target_l, target_r):
        arr[-1] = arr[-2]

    # Integrate base motion; sidestep speed pulses with the step-together gait.
    stride = np.concatenate([[0.0], np.cumsum(gait_rate[:-1] * dt)])
    vy = vy * (1 + lateral_pulse * np.cos(2 * stride))
    vx = vx * (1 + 0.08 * np.sin(2 * stride))
    yaw = np.concatenate([[0.0], np.cumsum(wz[:-1] * dt)])
    c, s = np.cos(yaw), np.sin(yaw)
    x = np.concatenate([[0.0], np.cumsum((c * vx - s * vy)[:-1] * dt)])
    y = np.concatenate([[0.0], np.cumsum((s * vx + c * vy)[:-1] * dt)])

    # Head: gait bob + slow jitter, squat lowers it and tips it down a little.
    time = np.arange(m) * dt
    jitter = _jitter(time, rng, motion.head_jitter)  # (m, 6): dx, dy, dz, droll, dpitch, dyaw
    bounce = bob_amp[:, 0] * np.cos(2 * stride)
    sway = bob_amp[:, 1] * np.sin(stride)
    roll = bob_amp[:, 2] * np.sin(stride)
    squat_frac = squat / max(float(np.max(squat)), 1e-6)
    lean = 0.06 * squat_frac
    fwd = lean + jitter[:, 0]
    side = sway + jitter[:, 1]
    head = np.stack(
        [x + c * fwd - s * side, y + s * fwd + c * side, shape.eye_height - squat + bounce + jitter[:, 2]], 1
    )
    rpy = np.stack(
        [
            roll + jitter[:, 3],
            shape.camera_pitch + np.deg2rad(5.0) * squat_frac + jitter[:, 4],
            yaw + jitter[:, 5],
        ],
        1,
    )
    shoulders = shape.shoulder_forward + lean
    torso = np.stack(
        [x + c * shoulders, y + s * shoulders, shape.eye_height - shape.shoulder_drop - squat + 0.6 * bounce],
        1,
    )

    # Arms: blend rest -> reach target, small counter-swing while walking.
    swing = 0.08 * motion.head_bob * (bob_amp[:, 0] > 0) * np.sin(stride)
    arm_l = shape.rest_left + reach_l[:, None] * (target_l - shape.rest_left)
    arm_r = shape.rest_right + reach_r[:, None] * (target_r - shape.rest_right)
    arm_l[:, 0] += swing
    arm_r[:, 0] -= swing

    frames = slice(0, n * _SUBSTEPS, _SUBSTEPS)
    return BodyTrajectory(head[frames], rpy[frames], torso[frames], yaw[frames], arm_l[frames], arm_r[frames])


def _jitter(time: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Slow head jitter: per axis a sum of three sinusoids at 0.15-0.8 Hz (mm and tenths of a degree)."""
    amps = np.array([0.002, 0.002, 0.0015, np.deg2rad(0.2), np.deg2rad(0.25), np.deg2rad(0.25)]) * scale
    out = np.zeros((len(time), 6))
    for axis in range(6):
        freqs = rng.uniform(0.15, 0.8, size=3)
        phases = rng.uniform(0, 2 * np.pi, size=3)
        weights = rng.uniform(0.5, 1.0, size=3)
        wave = (weights[:, None] * np.sin(2 * np.pi * freqs[:, None] * time[None] + phases[:, None])).sum(0)
        out[:, axis] = amps[axis] * wave / weights.sum()
    return out
