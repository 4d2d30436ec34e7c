"""X2LMOVecEnv: the LMO's training env, N copies of the X2 twin on CPU behind RSL-RL's VecEnv.

The physics is the twin's own model: one `X2Sim(base_mode="physical")` is built (the same generated MJCF, gains
and PD actuators as the robot's sim backend), settled in its standing pose, and every env gets its own copy of the
compiled MjModel and an MjData. Own models make domain randomization a write into that env's model (friction,
payload, motor strength, CoM, terrain), with no per-step swapping.

One control step (50 Hz) of every env: the arm targets of the env's motion clip, the policy's leg PD targets
(stance + action_scale * action, through the env's action delay, exact to the physics step), a push if one is due,
`decimation` physics steps, then the gravity feed-forward of the waist/head/arm actuators from the new state (the
twin updates it every physics step; here once per control step, 20 ms stale). Then one pass gathers the state
arrays (`StepState`), the reward / termination terms run vectorized, ended envs are reset (auto-reset, time-outs
in `extras["time_outs"]`), and the observation is built by `mdp.observations` from the IMU as it was `imu_lag`
physics steps ago (in whole control periods). With `physics_threads` > 1 the physics of contiguous groups of envs
runs on a thread pool (`mj_step` releases the GIL; measured on 2 cores: 1.7x the env steps per second of one
thread, bench/lmo_env_throughput.py); everything else in a step runs on the caller's thread, so the rollout is the
same at any thread count.

Observation groups: `policy` (the layout of lmo/layout.py: 294 values with the article's LAM) and `critic` (the
policy observation with the clean z_t, plus privileged state when `privileged_critic`).

Backends: this class holds the control loop and the env's bookkeeping (clips, pushes, lags, domain randomization
draws: numpy on the host) and evaluates the MDP terms of lmo/mdp/ on the arrays its backend gathers. Its own
backend is MuJoCo C (float64 numpy arrays); lmo/env/warp_vec_env.py overrides the physics hooks (`_build_physics`,
`_advance_physics`, `_gather`, `_reset_physics`) and the array conversions (`_dev`, `_host`, ...) to run the same
loop and the same terms on MuJoCo Warp with torch tensors.
"""

from __future__ import annotations

import copy
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import mujoco
import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from lerobot_wbvla.lmo.curriculum import StageConfig
from lerobot_wbvla.lmo.env import commands as stage_commands
from lerobot_wbvla.lmo.env.config_env import LMOEnvConfig
from lerobot_wbvla.lmo.layout import ObservationLayout
from lerobot_wbvla.lmo.mdp import events
from lerobot_wbvla.lmo.mdp.actions import delayed_slots, leg_pd_targets
from lerobot_wbvla.lmo.mdp.observations import (
    STANCE,
    ProprioHistory,
    build_observation,
    privileged_state,
    proprio_vector,
)
from lerobot_wbvla.lmo.mdp.rewards import RewardManager
from lerobot_wbvla.lmo.mdp.state import StepState
from lerobot_wbvla.lmo.mdp.terminations import fallen
from lerobot_wbvla.lmo.mdp.xp import Array, namespace
from lerobot_wbvla.lmo.proprio import Proprio
from lerobot_wbvla.robots.agibot_x2 import mjcf
from lerobot_wbvla.robots.agibot_x2 import params as P
from lerobot_wbvla.robots.agibot_x2.joints import (
    ARM_JOINTS,
    BODY_JOINTS,
    GRIPPERS,
    HEAD_JOINTS,
    LEG_JOINTS,
    WAIST_JOINTS,
)
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim, X2SimConfig, pad_contacts

PRIVILEGED_BLOCKS: tuple[tuple[str, int], ...] = (
    ("arm_joint_pos", 14),
    ("payload_kg", 2),
    ("push_force", 3),
    ("base_lin_vel", 3),
    ("friction", 1),
    ("motor_strength", 1),
)
STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS
# At difficulty 0 the arms move this fraction of their clips' motion (around the clip's first, stance, pose). 0:
# measured, PPO on 64 envs learns to stand within 2 minutes with still arms and the nominal robot, and not at all in
# 8 minutes when the curriculum starts with a quarter of the arm motion and the full lag/friction/strength ranges.
ARM_MOTION_FLOOR = 0.0


class X2LMOVecEnv(VecEnv):
    """RSL-RL VecEnv of N X2 twins whose arms replay motion clips. See the module docstring."""

    def __init__(
        self, cfg: LMOEnvConfig, clips: dict, lam: str | None = None, lam_revision: str | None = None
    ):
        """`clips`: the stacked clip library (lmo/clips.py `ClipLibrary.stack()`): arm (C, T, 16), loco (C, T, 4),
        latent (C, T, D) or None, lengths (C,), all at the control rate."""
        self.cfg = cfg
        self.num_envs = n = cfg.num_envs
        self.num_actions = len(LEG_JOINTS)
        self.max_episode_length = cfg.max_episode_length
        self.device = self._torch_device()
        self.dt = 1.0 / cfg.control_hz
        self.decimation = cfg.decimation
        self.dr = cfg.domain_rand if cfg.domain_rand.enabled else cfg.domain_rand.off()
        # Curriculum level in [0, 1] (set_difficulty): scales the disturbances; 1 = the configured ranges.
        self.difficulty = 1.0
        self.rng = np.random.default_rng(cfg.seed)
        # Curriculum stage (set_stage; None: no stages, the clips' commands). Random commands draw from their own
        # generator so that the DR draws of self.rng stay what they are without stages.
        self.stage: StageConfig | None = None
        self.cmd_rng = np.random.default_rng([cfg.seed, 1])

        self._load_clips(clips, cfg)
        latent_dim = self.clip_latent.shape[2] if cfg.conditioning == "latent" else 0
        self.layout = ObservationLayout(
            conditioning=cfg.conditioning,
            latent_dim=latent_dim,
            history=cfg.history,
            lam=lam,
            lam_revision=lam_revision,
            privileged=PRIVILEGED_BLOCKS if cfg.privileged_critic else (),
        )
        self._build_twin(cfg)
        self._build_physics(cfg)

        like = self._array_like()  # the backend's arrays: what the MDP terms compute on
        xp = namespace(like)
        self.episode_length_buf = torch.zeros(n, dtype=torch.long)
        self.rewards = RewardManager(cfg.reward_weights, replace(cfg.rewards, dt=self.dt), n, like=like)
        self.history = ProprioHistory(n, cfg.history, like=like)
        # Per-env state: actions (current first, then the two before: enough for an 8-step delay at decimation 4),
        # IMU ring (newest first), clip cursor, pushes, sampled DR values.
        self._lag_depth = 1 + (max(self.dr.action_lag_steps) + self.decimation - 1) // self.decimation
        self.action_hist = xp.zeros((n, self._lag_depth, 12), like=like)
        self._imu_depth = 1 + round(max(self.dr.imu_lag_steps) / self.decimation)
        self.imu_hist = xp.zeros((n, self._imu_depth, 10), like=like)
        self.action_lag = np.zeros(n, dtype=int)
        self.imu_lag = np.zeros(n, dtype=int)  # in control periods
        self.clip_id = np.zeros(n, dtype=int)
        self.clip_t = np.zeros(n, dtype=int)
        self.push_start = np.zeros(n)
        self.push_end = np.zeros(n)
        self.push_force = np.zeros((n, 3))
        self.payload = np.zeros((n, 2))
        self.friction = np.ones(n)
        self.strength = np.ones(n)
        self.roughness = np.zeros(n)
        self.latent_noise = np.zeros((n, max(latent_dim, 1)))
        self.cmd = np.zeros((n, 4))  # random commands of a stage with commands=random
        self.cmd_until = np.zeros(n)  # episode time of each env's next command draw
        self._alloc_gather(n)
        self.reset()

    # ------------------------------------------------------------------ setup
    def _load_clips(self, clips: dict, cfg: LMOEnvConfig) -> None:
        lengths = np.asarray(clips["lengths"], dtype=int)
        if lengths.size == 0 or lengths.min() < 1:
            raise ValueError(
                "the clip library has no clips (or an empty one): build one with lmo.clips.procedural_clips() or "
                "from recorded demos (lmo.clips.clips_from_dataset) before training"
            )
        self.clip_arm = np.asarray(clips["arm"], dtype=np.float64)
        self.clip_loco = np.asarray(clips["loco"], dtype=np.float64)
        self.clip_len = lengths
        latent = clips.get("latent")
        if cfg.conditioning == "latent" and latent is None:
            raise ValueError(
                "conditioning='latent' needs z_t for every clip: attach the frozen LAM's latents first "
                "(lmo.latents.attach_latents), or train with --env.conditioning=command|none"
            )
        self.clip_latent = np.asarray(latent, dtype=np.float64) if latent is not None else None

    def _build_twin(self, cfg: LMOEnvConfig) -> None:
        """The twin (its generated MJCF, gains and PD actuators), settled in its standing pose, and its index maps:
        the model every backend simulates."""
        twin = X2Sim(
            X2SimConfig(
                scene="rough_floor" if cfg.terrain else None,
                base_mode="physical",
                physics_hz=cfg.physics_hz,
                lower_body_hz=cfg.control_hz,
                head_camera=(64, 64),
                lower_body_controller="pd_stance",
            )
        )
        self.twin = twin  # kept for its index maps and for rendering (wbvla-eval-lmo)
        m = twin.model
        self.leg_qadr = np.array([twin.qadr[j] for j in LEG_JOINTS])
        self.leg_vadr = np.array([twin.vadr[j] for j in LEG_JOINTS])
        self.leg_act = np.array([twin.act[j] for j in LEG_JOINTS])
        self.arm_qadr = np.array([twin.qadr[j] for j in ARM_JOINTS])
        self.arm_act = np.array([twin.act[j] for j in ARM_JOINTS])
        self.grip_act = np.array([twin.act[g] for g in GRIPPERS])
        lo_hi = np.array([mjcf.joint_range(j) for j in LEG_JOINTS])
        self.leg_lo, self.leg_hi = lo_hi[:, 0], lo_hi[:, 1]
        self.imu_adr = twin._imu_adr
        self.pad_ids = twin._pad_ids
        self.pad_slot = twin._pad_slot_of_geom
        self.robot_geoms = twin._robot_geom_ids
        self.comp_dofs = twin._comp_dofs
        # The gravity-compensated actuators (waist, head, arms) are one contiguous block (X2Sim._index).
        comp = [twin.act[j] for j in BODY_JOINTS if j in WAIST_JOINTS + HEAD_JOINTS + ARM_JOINTS]
        self._comp_rows = slice(comp[0], comp[-1] + 1)
        self.pelvis = twin.pelvis_id
        self.torso = m.body("torso_link").id
        ground = [m.geom("floor").id] + ([m.geom("terrain").id] if cfg.terrain else [])
        self.ground_geoms = frozenset(ground)
        self.pad_geom_set = frozenset(int(g) for g in self.pad_ids)
        self.friction_geoms = np.array(ground + [int(g) for g in self.pad_ids])
        twin.reset(0)
        self.init_state = np.empty(mujoco.mj_stateSize(m, STATE))
        mujoco.mj_getState(m, twin.data, self.init_state, STATE)
        self.init_ctrl = twin.data.ctrl.copy()
        self.nominal = events.NominalParams.of(m, self.leg_act, self.torso)
        if cfg.terrain:
            # The heightfield covers the floor around the start (20 x 20 m); colliding with the plane under it too
            # doubles the foot contacts (measured: 46 vs 30 per standing robot, ~1.5x the physics time).
            floor = m.geom("floor").id
            m.geom_contype[floor] = 0
            m.geom_conaffinity[floor] = 0

    # ------------------------------------------------------------------ backend: MuJoCo C, numpy float64
    def _torch_device(self) -> torch.device:
        return torch.device("cpu")

    def _array_like(self) -> Array:
        return np.zeros(0)

    def _actions_in(self, actions: torch.Tensor) -> Array:
        return actions.detach().to("cpu", torch.float64).numpy()

    def _dev(self, x: np.ndarray) -> Array:
        """A host array as the backend's array (float)."""
        return x

    def _ix(self, ids: np.ndarray) -> Array:
        """Host env indices as the backend's index array."""
        return ids

    def _host(self, x: Array) -> np.ndarray:
        return x

    def _torch(self, x: Array) -> torch.Tensor:
        return torch.from_numpy(x)

    def _build_physics(self, cfg: LMOEnvConfig) -> None:
        """One MjModel copy per env: domain randomization writes into it. With physics_threads > 1 the envs are
        split into that many contiguous groups, each stepped on a thread of a pool that lives as long as the env."""
        m = self.twin.model
        self.models = [copy.deepcopy(m) for _ in range(self.num_envs)]
        self.datas = [mujoco.MjData(mi) for mi in self.models]
        self.comp_bias = [mi.actuator_biasprm[self._comp_rows, 0] for mi in self.models]
        threads = min(cfg.physics_threads or 1, self.num_envs)
        self._env_groups = np.array_split(
            np.arange(self.num_envs), threads
        )  # threads <= num_envs: none empty
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="lmo-physics") if threads > 1 else None

    def _alloc_gather(self, n: int) -> None:
        m = self.twin.model
        self.qpos = np.zeros((n, m.nq))
        self.qvel = np.zeros((n, m.nv))
        self.sens = np.zeros((n, m.nsensordata))
        self.com = np.zeros((n, 3))
        self.pads = np.zeros((n, 4, 3))
        self.contacts = np.zeros((n, 4))
        self.body_floor = np.zeros(n, dtype=bool)
        self.prev_action = np.zeros((n, 12))

    # ------------------------------------------------------------------ VecEnv
    def get_observations(self) -> TensorDict:
        return self._obs

    def reset(self) -> TensorDict:
        ids = np.arange(self.num_envs)
        self._reset_envs(ids)
        self._obs = self._observe()
        return self._obs

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        cfg = self.cfg
        a = self._actions_in(actions)
        xp = namespace(a)
        a = xp.clip(a, -cfg.clip_actions, cfg.clip_actions)
        self.prev_action = xp.copy(self.action_hist[:, 0])
        self.action_hist[:, 1:] = xp.copy(self.action_hist[:, :-1])
        self.action_hist[:, 0] = a
        targets = leg_pd_targets(self.action_hist, cfg.action_scale, self.leg_lo, self.leg_hi)
        arm = self.clip_arm[self.clip_id, self.clip_t]
        amp = ARM_MOTION_FLOOR + (1.0 - ARM_MOTION_FLOOR) * self.difficulty
        if self.stage is not None:
            amp *= self.stage.arm_motion
        if amp != 1.0:  # arm motion scaled around the stance pose (the clips' first row)
            arm = self.clip_arm[self.clip_id, 0] + amp * (arm - self.clip_arm[self.clip_id, 0])
        t_now = self.episode_length_buf.numpy() * self.dt
        self._schedule_pushes(t_now)
        self._advance_physics(targets, arm, t_now)

        self._gather(np.arange(self.num_envs))
        state = self._step_state(a)
        reward, _ = self.rewards.compute(state)
        self.episode_length_buf += 1
        terminated = self._host(fallen(state, cfg.terminations))
        time_out = self.episode_length_buf.numpy() >= self.max_episode_length
        done = terminated | time_out
        extras: dict = {"time_outs": self._out(time_out & ~terminated), "log": {}}

        # advance the clips (the next clip starts where the last one returned to the stance)
        self.clip_t += 1
        ended = self.clip_t >= self.clip_len[self.clip_id]
        if ended.any():
            self._next_clip(np.flatnonzero(ended))
        if self._random_commands():
            due = np.flatnonzero(self.episode_length_buf.numpy() * self.dt >= self.cmd_until)
            self._draw_commands(due)

        done_ids = np.flatnonzero(done)
        if done_ids.size:
            steps = self.episode_length_buf.numpy()[done_ids]
            extras["log"].update(self.rewards.pop_episode_sums(self._ix(done_ids), steps))
            extras["log"]["Episode_Termination/fall"] = float(terminated[done_ids].mean())
            extras["log"]["Episode_Termination/time_out"] = float((time_out & ~terminated)[done_ids].mean())
            self._reset_envs(done_ids)
        self._obs = self._observe()
        reward = xp.nan_to_num(reward, nan=0.0, posinf=0.0, neginf=0.0)
        return self._obs, self._torch(xp.float32(reward)), self._out(done), extras

    def _out(self, x: np.ndarray) -> torch.Tensor:
        """A host array as a torch tensor on the env's device (dones, time-outs)."""
        return torch.from_numpy(x).to(self.device)

    # ------------------------------------------------------------------ physics
    def _advance_physics(self, targets: Array, arm: np.ndarray, t_now: np.ndarray) -> None:
        """One control period of every env: arm and gripper targets, push, delayed leg targets, physics steps, and
        the gravity feed-forward of the compensated actuators from the new state. Env groups run on the physics
        threads when there are several (each env touches only its own model and data)."""
        slots = delayed_slots(self.action_lag, self.decimation, self._lag_depth)
        pushed = (self.push_start <= t_now) & (t_now < self.push_end)
        if self._pool is None:
            self._advance_envs(self._env_groups[0], targets, arm, slots, pushed)
            return
        futures = [
            self._pool.submit(self._advance_envs, group, targets, arm, slots, pushed)
            for group in self._env_groups
        ]
        for future in futures:
            future.result()  # re-raises a worker's error here

    def _advance_envs(
        self, ids: np.ndarray, targets: Array, arm: np.ndarray, slots: np.ndarray, pushed: np.ndarray
    ) -> None:
        for i in ids:
            m, d = self.models[i], self.datas[i]
            d.ctrl[self.arm_act] = arm[i, :14]
            d.ctrl[self.grip_act] = P.GRIPPER_STROKE * (1.0 - arm[i, 14:16])
            d.xfrc_applied[self.torso, :3] = self.push_force[i] if pushed[i] else 0.0
            s, dec = 0, self.decimation
            while s < dec:  # runs of physics steps that see the same (delayed) action
                s_next = s + 1
                while s_next < dec and slots[i, s_next] == slots[i, s]:
                    s_next += 1
                d.ctrl[self.leg_act] = targets[i, slots[i, s]]
                mujoco.mj_step(m, d, nstep=s_next - s)
                s = s_next
            d.qfrc_bias.take(self.comp_dofs, out=self.comp_bias[i], mode="clip")

    def _schedule_pushes(self, t_now: np.ndarray) -> None:
        """Draw the next push of every env whose last one is over (interval and force from the DR ranges)."""
        dr = self.cfg.domain_rand
        for i in np.flatnonzero(t_now >= self.push_end):
            start = t_now[i] + self.rng.uniform(*dr.push_interval_s)
            lo, hi = self.dr.push_force_n
            if self.stage is not None:
                lo, hi = lo * self.stage.push, hi * self.stage.push
            push = events.sample_push(
                self.rng, lo, lo + self.difficulty * (hi - lo), start, dr.push_duration_s
            )
            self.push_start[i], self.push_end[i] = push.start, push.start + push.duration
            self.push_force[i] = push.force

    # ------------------------------------------------------------------ state
    def _gather(self, ids: np.ndarray) -> None:
        """Copy what the terms read from the MjData of envs `ids` into the batched arrays."""
        for i in ids:
            d = self.datas[i]
            self.qpos[i] = d.qpos
            self.qvel[i] = d.qvel
            self.sens[i] = d.sensordata
            self.com[i] = d.subtree_com[self.pelvis]
            self.pads[i] = d.geom_xpos[self.pad_ids]
            c = self.contacts[i]
            c[:] = 0.0
            pad_contacts(d, self.pad_slot, self.robot_geoms, c)
            self.body_floor[i] = self._body_on_ground(d)
        self._push_imu(ids, self.sens[ids][:, self.imu_adr])

    def _push_imu(self, ids: np.ndarray, imu: Array) -> None:
        """The IMU ring of envs `ids` (newest first) after a step: `imu` (len(ids), 10) quat, gyro, accel."""
        ix = self._ix(ids)
        self.imu_hist[ix, 1:] = self.imu_hist[ix, :-1]
        self.imu_hist[ix, 0] = imu

    def _body_on_ground(self, d: mujoco.MjData) -> bool:
        if not d.ncon:
            return False
        ground, robot, pads = self.ground_geoms, self.robot_geoms, self.pad_geom_set
        for g1, g2 in d.contact.geom.tolist():
            if (g1 in ground and g2 in robot and g2 not in pads) or (
                g2 in ground and g1 in robot and g1 not in pads
            ):
                return True
        return False

    def _proprio(self) -> Proprio:
        n = self.num_envs
        imu = self.imu_hist[self._ix(np.arange(n)), self._ix(np.minimum(self.imu_lag, self._imu_depth - 1))]
        return Proprio(
            joint_pos=self.qpos[:, self.leg_qadr],
            joint_vel=self.qvel[:, self.leg_vadr],
            quat=imu[:, 0:4],
            gyro=imu[:, 4:7],
            accel=imu[:, 7:10],
            contacts=self.contacts,
        )

    def _clean_latent(self) -> Array | None:
        if self.clip_latent is None or self.cfg.conditioning != "latent":
            return None
        if self.stage is not None and not self.stage.latent:  # a stage without z_t: zeros, the layout kept
            return self._dev(np.zeros((self.num_envs, self.clip_latent.shape[2])))
        return self._dev(self.clip_latent[self.clip_id, self.clip_t])

    def _step_state(self, action: Array) -> StepState:
        return StepState(
            proprio=self._proprio(),
            base_pos=self.qpos[:, 0:3],
            base_quat=self.qpos[:, 3:7],
            base_lin_vel=self.qvel[:, 0:3],
            base_ang_vel=self.qvel[:, 3:6],
            com=self.com,
            pad_pos=self.pads,
            contacts=self.contacts,
            action=action,
            prev_action=self.prev_action,
            loco=self._dev(self.current_loco()),
            latent=self._clean_latent(),
            body_floor_contact=self.body_floor,
        )

    def _observe(self) -> TensorDict:
        p = self._proprio()
        loco = self._dev(self.current_loco())
        xp = namespace(loco)
        clean = self._clean_latent()
        noisy = clean
        if clean is not None and (
            self.stage is None or self.stage.latent
        ):  # a stage without z_t: exact zeros
            noise = self.rng.standard_normal(tuple(clean.shape)) * self.dr.latent_noise_std
            noisy = clean + self._dev(noise)
        policy = build_observation(self.layout, p, loco, noisy, self.history)
        critic = build_observation(self.layout, p, loco, clean, self.history)
        if self.cfg.privileged_critic:
            critic = xp.float32(xp.concatenate([critic, self._privileged()], axis=1))
        self.history.push(proprio_vector(p))
        n = self.num_envs
        return TensorDict(
            {"policy": self._torch(policy), "critic": self._torch(critic)}, batch_size=[n], device=self.device
        )

    def _privileged(self) -> Array:
        t_now = self.episode_length_buf.numpy() * self.dt
        active = (t_now >= self.push_start) & (t_now < self.push_end)
        return privileged_state(
            self.qpos[:, self.arm_qadr],
            self._dev(self.payload),
            self._dev(self.push_force * active[:, None]),
            self.qpos[:, 3:7],
            self.qvel[:, 0:3],
            self._dev(self.friction),
            self._dev(self.strength),
        )

    # ------------------------------------------------------------------ resets
    def set_difficulty(self, level: float) -> None:
        """Curriculum level in [0, 1]. At 0: the nominal robot (friction and motor strength 1, no payload, push,
        terrain, CoM offset or lag) with still arms; at 1: the configured ranges and the clips' full motion; in
        between each range widens linearly from its nominal value (the arms' amplitude from ARM_MOTION_FLOOR).
        New values take effect at each env's next reset (pushes: at the next push). Latent noise stays as set."""
        if not 0.0 <= level <= 1.0:
            raise ValueError(f"difficulty must be in [0, 1], got {level}")
        self.difficulty = float(level)
        if self.stage is not None:
            self._apply_joint_range()

    def set_stage(self, stage: StageConfig | None) -> None:
        """Switch to a curriculum stage (lmo/curriculum.py StageConfig; None: no stage). Takes effect at once for
        the commands (redrawn for every env), arm amplitude, joint ranges, z_t and reward weights; payloads at each
        env's next reset, pushes at the next push (as set_difficulty)."""
        if stage is not None:
            stage.validate()
        if not hasattr(self, "_leg_full"):
            self._leg_full = (self.leg_lo.copy(), self.leg_hi.copy())
        self.stage = stage
        if stage is None:
            self.leg_lo, self.leg_hi = (x.copy() for x in self._leg_full)
            return
        self._apply_joint_range()
        if stage.reward_weights:
            self.rewards = RewardManager(
                stage.reward_weights,
                replace(self.cfg.rewards, dt=self.dt),
                self.num_envs,
                like=self._array_like(),
            )
        self._draw_commands(np.arange(self.num_envs))

    def _apply_joint_range(self) -> None:
        lo, hi = self._leg_full
        self.leg_lo, self.leg_hi = stage_commands.joint_range(lo, hi, STANCE, self.stage, self.difficulty)

    def _random_commands(self) -> bool:
        return self.stage is not None and self.stage.commands == "random"

    def _draw_commands(self, ids: np.ndarray) -> None:
        """New random commands for envs `ids` (stage I), held for the stage's command_resample_s."""
        if not self._random_commands() or len(ids) == 0:
            return
        self.cmd[ids] = stage_commands.sample_commands(self.cmd_rng, len(ids), self.stage, self.difficulty)
        self.cmd_until[ids] = self.episode_length_buf.numpy()[ids] * self.dt + self.stage.command_resample_s

    def _scaled(self, lo_hi: tuple[float, float], nominal: float | None = None) -> tuple[float, float]:
        """The range at the current difficulty: from `nominal` (default: the low end) out to the configured ends."""
        lo, hi = lo_hi
        if nominal is None:
            return lo, lo + self.difficulty * (hi - lo)
        nominal = min(max(nominal, lo), hi)
        return nominal - self.difficulty * (nominal - lo), nominal + self.difficulty * (hi - nominal)

    def _randomize(self, i: int, m: mujoco.MjModel, d: mujoco.MjData, terrain: bool = True) -> None:
        """Draw env i's domain randomization (rng order fixed) and write it into `m` (its model, or a backend's
        scratch copy; `d` is overwritten). `terrain`: draw a heightfield too (per-env terrain)."""
        dr, rng = self.dr, self.rng
        self.friction[i] = events.randomize_friction(
            m, rng, *self._scaled(dr.friction, 1.0), self.friction_geoms
        )
        # CoM first: the payload recomputes the model constants (mj_setConst) from the final masses.
        events.randomize_com(m, rng, self.difficulty * dr.com_displacement_m, self.torso, self.nominal)
        lo, hi = self._scaled(dr.payload_kg)
        if self.stage is not None:
            lo, hi = lo * self.stage.payload, hi * self.stage.payload
        self.payload[i] = events.randomize_payload(m, rng, lo, hi, d, dr.payload_split)
        self.strength[i] = events.randomize_motor_strength(
            m, rng, *self._scaled(dr.motor_strength, 1.0), self.leg_act, self.nominal
        )
        if self.cfg.terrain and terrain:
            self.roughness[i] = events.randomize_terrain(m, rng, *self._scaled(dr.terrain_roughness_m))
        self.action_lag[i] = round(events.sample_lag(rng, *dr.action_lag_steps) * self.difficulty)
        self.imu_lag[i] = round(events.sample_lag(rng, *dr.imu_lag_steps) * self.difficulty / self.decimation)

    def _reset_physics(self, ids: np.ndarray) -> None:
        """Randomize and restart the physics of envs `ids` in the settled standing state."""
        for i in ids:
            m, d = self.models[i], self.datas[i]
            self._randomize(i, m, d)
            mujoco.mj_setState(m, d, self.init_state, STATE)
            d.qacc_warmstart[:] = 0.0  # not part of the state: an episode must not depend on the last one
            d.ctrl[:] = self.init_ctrl
            d.xfrc_applied[:] = 0.0
            mujoco.mj_forward(m, d)
            d.qfrc_bias.take(self.comp_dofs, out=self.comp_bias[i], mode="clip")

    def _reset_envs(self, ids: np.ndarray) -> None:
        self._reset_physics(ids)
        ix = self._ix(ids)
        self.episode_length_buf[torch.from_numpy(ids)] = 0
        self.action_hist[ix] = 0.0
        self.prev_action[ix] = 0.0
        self.push_start[ids] = math.inf
        self.push_end[ids] = 0.0
        self.push_force[ids] = 0.0
        self._next_clip(ids)
        self._draw_commands(ids)
        self._gather(ids)
        # A fresh episode's IMU and proprioceptive histories hold its first reading (no stale ones, no fake motion).
        self.imu_hist[ix] = self.imu_hist[ix, :1]
        self.history.reset(ix, proprio_vector(self._proprio())[ix])

    def _next_clip(self, ids: np.ndarray) -> None:
        self.clip_id[ids] = self.rng.integers(0, len(self.clip_len), size=len(ids))
        self.clip_t[ids] = 0

    # ------------------------------------------------------------------ commands
    def current_loco(self) -> np.ndarray:
        """(N, 4) the locomotion command of this control step (vx, vy, yaw_rate, height): a stage's random
        commands, else the clips' schedule."""
        if self._random_commands():
            return self.cmd
        return self.clip_loco[self.clip_id, np.minimum(self.clip_t, self.clip_len[self.clip_id] - 1)]

    # ------------------------------------------------------------------ misc
    def close(self) -> None:
        if getattr(self, "_pool", None) is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.datas.clear()
        self.models.clear()
