"""The evaluation side of the LMO env: episodes that are the same for every policy, and their recording.

Why a subclass: `X2LMOVecEnv` (training) draws all its randomness (domain randomization at reset, clip choice,
push schedule, latent noise) from one generator shared by the N envs, and auto-resets an env the moment it falls.
Episode k of a policy that falls early would then consume random numbers that episode k+1 of another policy does
not, and the two policies would no longer face the same episodes. `SeededLMOVecEnv` gives every env slot its own
generator, seeded per episode (`start_episodes(seeds)`): the robot's parameters, the clip sequence, the pushes
(times, directions, forces) and the latent noise of an episode are then a function of its seed alone, whichever
policy runs it, in whichever slot, next to whichever other episodes. The physics and every MDP term are the training
env's own (nothing is re-implemented): the overrides only swap the generator around the parent's calls.

`run_episodes` runs E episodes in waves of N envs (all start together, so all time out together), records what the
metrics need after every control step (CoM margin, CoM, pose, heading-frame velocity, command) before the env's
auto-reset overwrites it, and can render chosen episodes for videos.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from lerobot_wbvla.lmo.env.x2_vec_env import X2LMOVecEnv
from lerobot_wbvla.lmo.mdp.state import StepState, com_margin, heading_frame_xy, yaw_of

Actor = Callable[[np.ndarray], np.ndarray]


@dataclass
class EpisodeLog:
    """What an episode was made of (from its seed): written to results.json so that anyone can check that every
    policy faced the same episodes."""

    payload_kg: list[float] = field(default_factory=list)
    friction: float = 1.0
    motor_strength: float = 1.0
    action_lag: int = 0
    clips: list[int] = field(default_factory=list)
    pushes: list[tuple[float, float]] = field(default_factory=list)  # (start s, force N)
    open: bool = True  # still the seeded episode (closed by the env's auto-reset after a fall or time-out)

    def to_dict(self, episode_s: float) -> dict:
        return {
            "payload_kg": [round(float(v), 4) for v in self.payload_kg],
            "friction": round(float(self.friction), 4),
            "motor_strength": round(float(self.motor_strength), 4),
            "action_lag": int(self.action_lag),
            "clips": [int(c) for c in self.clips],
            "pushes": [[round(t, 3), round(f, 2)] for t, f in self.pushes if t < episode_s],
        }


class _PerEnvNormal:
    """Stands in for the env's generator while it draws the latent noise of all N envs at once: row i comes from
    env i's own generator."""

    def __init__(self, rngs: Sequence[np.random.Generator]) -> None:
        self.rngs = rngs

    def standard_normal(self, shape: tuple[int, ...]) -> np.ndarray:
        if shape[0] != len(self.rngs):
            raise ValueError(f"expected one row per env ({len(self.rngs)}), got shape {shape}")
        return np.stack([r.standard_normal(shape[1:]) for r in self.rngs])


@dataclass
class Snapshot:
    """The metric inputs of one control step for the N envs, taken before the auto-reset."""

    margin: np.ndarray  # (N,) CoM margin in the support polygon (m, positive inside)
    com_xy: np.ndarray  # (N, 2)
    pos_xy: np.ndarray  # (N, 2) pelvis
    height: np.ndarray  # (N,) pelvis z
    yaw: np.ndarray  # (N,)
    vel_h: np.ndarray  # (N, 2) pelvis velocity in the heading frame
    loco: np.ndarray  # (N, 4) the command of the step


class SeededLMOVecEnv(X2LMOVecEnv):
    """X2LMOVecEnv whose env slots draw from per-episode generators (see the module docstring). `forced_clip`
    (per slot, or None) pins the clip a slot replays instead of drawing one (the locomotion and sway scenarios)."""

    def __init__(self, cfg, clips: dict, lam: str | None = None, lam_revision: str | None = None) -> None:
        n = cfg.num_envs
        self.env_rngs = [np.random.default_rng([cfg.seed, i]) for i in range(n)]
        self.forced_clip: np.ndarray | None = None
        self.logs = [EpisodeLog() for _ in range(n)]
        self._opening = True
        self.snapshot: Snapshot | None = None
        super().__init__(cfg, clips, lam=lam, lam_revision=lam_revision)
        self._opening = False

    def start_episodes(self, seeds: Sequence, forced_clip: Sequence[int] | None = None):
        """Reset every slot to the episode of its seed (a seed is anything np.random.default_rng takes)."""
        if len(seeds) != self.num_envs:
            raise ValueError(f"need one seed per env ({self.num_envs}), got {len(seeds)}")
        self.env_rngs = [np.random.default_rng(s) for s in seeds]
        self.forced_clip = None if forced_clip is None else np.asarray(forced_clip, dtype=int)
        self.logs = [EpisodeLog() for _ in range(self.num_envs)]
        self._opening = True
        try:
            return self.reset()
        finally:
            self._opening = False

    @contextlib.contextmanager
    def _rng_of(self, i: int) -> Iterator[None]:
        shared = self.rng
        self.rng = self.env_rngs[i]
        try:
            yield
        finally:
            self.rng = shared

    # ------------------------------------------------------------------ the parent's random draws, per slot
    def _reset_envs(self, ids: np.ndarray) -> None:
        for i in np.asarray(ids, dtype=int):
            log = self.logs[i]
            if not self._opening:
                log.open = False  # an auto-reset: what follows is not the seeded episode
            with self._rng_of(i):
                super()._reset_envs(np.array([i]))
            if log.open:
                log.payload_kg = [float(v) for v in self.payload[i]]
                log.friction = float(self.friction[i])
                log.motor_strength = float(self.strength[i])
                log.action_lag = int(self.action_lag[i])

    def _next_clip(self, ids: np.ndarray) -> None:
        for i in np.asarray(ids, dtype=int):
            if self.forced_clip is not None:
                self.clip_id[i] = self.forced_clip[i]
                self.clip_t[i] = 0
            else:
                with self._rng_of(i):
                    super()._next_clip(np.array([i]))
            if self.logs[i].open:
                self.logs[i].clips.append(int(self.clip_id[i]))

    def _schedule_pushes(self, t_now: np.ndarray) -> None:
        for i in np.flatnonzero(t_now >= self.push_end):
            only_i = np.full_like(t_now, -np.inf)
            only_i[i] = t_now[i]
            with self._rng_of(i):
                super()._schedule_pushes(only_i)
            if self.logs[i].open:
                self.logs[i].pushes.append(
                    (float(self.push_start[i]), float(np.linalg.norm(self.push_force[i])))
                )

    def _observe(self):
        shared = self.rng
        self.rng = _PerEnvNormal(self.env_rngs)
        try:
            return super()._observe()
        finally:
            self.rng = shared

    def _step_state(self, action: np.ndarray) -> StepState:
        s = super()._step_state(action)
        yaw = yaw_of(s.base_quat)
        self.snapshot = Snapshot(
            margin=com_margin(s),
            com_xy=s.com[:, :2].copy(),
            pos_xy=s.base_pos[:, :2].copy(),
            height=s.base_pos[:, 2].copy(),
            yaw=yaw,
            vel_h=heading_frame_xy(s.base_lin_vel, yaw),
            loco=np.array(s.loco, dtype=np.float64),
        )
        return s


# ---------------------------------------------------------------------------------------------- running
@dataclass
class EpisodeRecord:
    """E episodes of T control steps: per-step arrays (E, T, ...) and per-episode outcomes."""

    dt: float
    margin: np.ndarray
    com_xy: np.ndarray
    pos_xy: np.ndarray
    height: np.ndarray
    yaw: np.ndarray
    vel_h: np.ndarray
    loco: np.ndarray
    init_pos: np.ndarray  # (E, 2)
    init_yaw: np.ndarray  # (E,)
    fell: np.ndarray  # (E,) bool
    end_step: np.ndarray  # (E,) steps the robot was up (the fall step excluded); T without a fall
    logs: list[EpisodeLog]

    @property
    def steps(self) -> int:
        return int(self.margin.shape[1])

    @property
    def fall_time_s(self) -> np.ndarray:
        return np.where(self.fell, (self.end_step + 1) * self.dt, np.nan)


FrameHook = Callable[[SeededLMOVecEnv, int, int, bool], None]  # (env, slot, step, episode still up)


def run_episodes(
    env: SeededLMOVecEnv,
    actor: Actor,
    seeds: Sequence,
    forced_clip: Sequence[int] | None = None,
    on_step: FrameHook | None = None,
    record_slots: Sequence[int] = (),
    progress: Callable[[int], None] | None = None,
    pad_seed: Callable[[int], object] | None = None,
) -> EpisodeRecord:
    """Run one episode per seed (episode k gets seeds[k] and, if given, forced_clip[k]) to its fall or time-out.

    Waves of env.num_envs episodes start together; a last, partial wave fills its spare slots with throw-away
    episodes (`pad_seed(j)`), so the policy always sees a batch of the same size. `on_step(env, k, t, up)` is
    called after every control step for the episodes `record_slots` (episode indices, first wave only), e.g. to
    render a video frame; `progress(steps)` after every step."""
    n, total = env.num_envs, len(seeds)
    steps = env.max_episode_length
    shape = (total, steps)
    rec = {
        "margin": np.full(shape, np.nan),
        "com_xy": np.full(shape + (2,), np.nan),
        "pos_xy": np.full(shape + (2,), np.nan),
        "height": np.full(shape, np.nan),
        "yaw": np.full(shape, np.nan),
        "vel_h": np.full(shape + (2,), np.nan),
        "loco": np.zeros(shape + (4,)),
    }
    init_pos, init_yaw = np.zeros((total, 2)), np.zeros(total)
    fell, end_step = np.zeros(total, dtype=bool), np.full(total, steps)
    logs: list[EpisodeLog] = []
    pad_seed = pad_seed or (lambda j: [0x5EED, j])
    for start in range(0, total, n):
        ks = list(range(start, min(start + n, total)))
        wave_seeds = [seeds[k] for k in ks] + [pad_seed(j) for j in range(n - len(ks))]
        wave_clips = None
        if forced_clip is not None:
            wave_clips = [forced_clip[k] for k in ks] + [forced_clip[0]] * (n - len(ks))
        obs = env.start_episodes(wave_seeds, wave_clips)
        rows = np.arange(len(ks))
        init_pos[ks] = env.qpos[rows, 0:2]
        init_yaw[ks] = yaw_of(env.qpos[rows, 3:7])
        up = np.ones(n, dtype=bool)
        hooks = [k for k in record_slots if start <= k < start + n] if start == 0 else []
        for t in range(steps):
            actions = np.asarray(actor(obs["policy"].numpy()), dtype=np.float32)
            obs, _, done, extras = env.step(torch.from_numpy(actions))
            snap = env.snapshot
            assert snap is not None
            falls = (done & ~extras["time_outs"]).numpy()
            newly = up & falls
            keep = up & ~falls  # the fall step's state is not part of the episode's margins
            kept = keep[rows]
            episodes = np.asarray(ks)[kept]
            for name in rec:
                rec[name][episodes, t] = getattr(snap, name)[rows][kept]
            for slot in np.flatnonzero(newly[rows]):
                fell[ks[slot]] = True
                end_step[ks[slot]] = t
            if on_step is not None:
                for k in hooks:
                    on_step(env, k - start, t, bool(keep[k - start]))
            up &= ~done.numpy()
            if progress is not None:
                progress(1)
        logs += env.logs[: len(ks)]
    return EpisodeRecord(
        dt=env.dt, **rec, init_pos=init_pos, init_yaw=init_yaw, fell=fell, end_step=end_step, logs=logs
    )
