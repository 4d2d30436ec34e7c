"""CPU env vs MuJoCo Warp env: one control step from the same states, and an open-loop rollout of both.

Issue 11's acceptance: from states sampled along a CPU-env rollout (contacts, pushes and arm clips included), one
control step with the same action on the warp backend (float32) and on the CPU env (float64) must give the same
observations, rewards and terminations within a stated tolerance (`TOLERANCES`); an open-loop rollout of both is
compared too, for information (contact dynamics are chaotic).

`one_step_equivalence` runs a CPU env of `num_envs` envs with random actions; every `every` steps it loads the warp
env with the CPU env's state (`WarpLMOVecEnv.load_state_from`), steps both with the same action and records the
differences: num_envs states per comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from lerobot_wbvla.lmo.env.config_env import DomainRandConfig, LMOEnvConfig, WarpConfig
from lerobot_wbvla.lmo.env.rollout_clips import rollout_clips

# Max |warp - cpu| after one control step (float32 vs float64 physics, 4 substeps). Observations hold joint
# velocities (rad/s) and the accelerometer (m/s^2), whose float32 error after contact-rich steps is the largest.
# Measured over 200 states (one_step_equivalence defaults): observations 1.7e-3, rewards 3.8e-6, no termination
# differing; bench/lmo_backends.py reports the figure of its run.
TOLERANCES = {"policy": 5e-3, "critic": 5e-3, "reward": 5e-5}


def equivalence_config(num_envs: int = 8, seed: int = 0) -> LMOEnvConfig:
    """Latent conditioning (z_t in the rewards), the full domain randomization but no latent noise (the one random
    draw of an observation), frequent strong pushes, short episodes (falls, time-outs and resets happen), flat
    floor: each world has its own heightfield on both backends, but mujoco_warp keeps at most 4 heightfield contacts
    per foot where MuJoCo C keeps ~8, so on bumps the two differ by more than the tolerance after one step."""
    dr = replace(
        DomainRandConfig(), latent_noise_std=0.0, push_interval_s=(0.1, 0.5), push_force_n=(50.0, 300.0)
    )
    return LMOEnvConfig(
        num_envs=num_envs,
        conditioning="latent",
        history=1,
        episode_s=1.0,
        terrain=False,
        domain_rand=dr,
        seed=seed,
    )


@dataclass
class EquivalenceReport:
    states: int = 0
    max_abs: dict[str, float] = field(default_factory=lambda: {"policy": 0.0, "critic": 0.0, "reward": 0.0})
    done_mismatch: int = 0  # states whose termination (or time-out) differs
    contact_states: int = 0  # compared states with a foot pad in contact
    pushed_states: int = 0  # with a push acting during the step
    reset_states: int = 0  # whose episode ended in the step (the compared observation is the reset one)
    fall_states: int = 0  # of which by a fall

    @property
    def max_abs_diff(self) -> float:
        return max(self.max_abs.values())

    def within(self, tolerances: dict[str, float] = TOLERANCES) -> bool:
        return self.done_mismatch == 0 and all(self.max_abs[k] <= tol for k, tol in tolerances.items())


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double().cpu() - b.double().cpu()).abs().max())


def one_step_equivalence(
    states: int = 200,
    num_envs: int = 8,
    every: int = 3,
    action_std: float = 1.5,
    warp: WarpConfig | None = None,
    seed: int = 0,
    perturb: float = 0.0,
) -> EquivalenceReport:
    """Compare one control step of both backends from `states` states (rounded up to whole batches of num_envs)
    sampled every `every` steps along a CPU-env rollout. `perturb` adds that much to the warp env's action (a
    check that the comparison can fail)."""
    from lerobot_wbvla.lmo.env.warp_vec_env import WarpLMOVecEnv
    from lerobot_wbvla.lmo.env.x2_vec_env import X2LMOVecEnv

    cfg = equivalence_config(num_envs, seed)
    clips = rollout_clips()
    cpu = X2LMOVecEnv(cfg, clips)
    gpu = WarpLMOVecEnv(cfg, clips, warp=warp or WarpConfig(device="cpu"))
    g = torch.Generator().manual_seed(seed)
    report = EquivalenceReport()
    step = 0
    while report.states < states:
        action = action_std * torch.randn(num_envs, 12, generator=g)
        step += 1
        if step % every:
            cpu.step(action)
            continue
        gpu.load_state_from(cpu)
        t_now = cpu.episode_length_buf.numpy() * cpu.dt
        pushed = (cpu.push_start <= t_now) & (t_now < cpu.push_end)
        obs_w, rew_w, done_w, ext_w = gpu.step(action + perturb)
        obs_c, rew_c, done_c, ext_c = cpu.step(action)
        for key in ("policy", "critic"):
            report.max_abs[key] = max(report.max_abs[key], _diff(obs_w[key], obs_c[key]))
        report.max_abs["reward"] = max(report.max_abs["reward"], _diff(rew_w, rew_c))
        report.done_mismatch += int((done_w.cpu() != done_c).sum())
        report.done_mismatch += int((ext_w["time_outs"].cpu() != ext_c["time_outs"]).sum())
        report.contact_states += int((cpu.contacts.sum(axis=1) > 0).sum())
        report.pushed_states += int(pushed.sum())
        report.reset_states += int(done_c.sum())
        report.fall_states += int((done_c & ~ext_c["time_outs"]).sum())
        report.states += num_envs
    gpu.close()
    cpu.close()
    return report


def open_loop_divergence(
    steps: int = 200,
    num_envs: int = 8,
    action_std: float = 0.5,
    warp: WarpConfig | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Both backends from the same start, the same actions for `steps` control steps, no state exchanged (episodes
    longer than the rollout: no time-out resets it): the max |warp - cpu| of the policy observation after the last
    step, the largest pelvis position gap (m) over the rollout, and the falls of each. Information, not a bar:
    contact dynamics amplify float32 rounding."""
    from lerobot_wbvla.lmo.env.warp_vec_env import WarpLMOVecEnv
    from lerobot_wbvla.lmo.env.x2_vec_env import X2LMOVecEnv

    cfg = replace(equivalence_config(num_envs, seed), episode_s=(steps + 1) / 50.0 + 1.0)
    clips = rollout_clips()
    cpu = X2LMOVecEnv(cfg, clips)
    gpu = WarpLMOVecEnv(cfg, clips, warp=warp or WarpConfig(device="cpu"))
    gpu.load_state_from(cpu)
    g = torch.Generator().manual_seed(seed)
    gap, falls_w, falls_c = 0.0, 0, 0
    for _ in range(steps):
        action = action_std * torch.randn(num_envs, 12, generator=g)
        obs_w, _, done_w, _ = gpu.step(action)
        obs_c, _, done_c, _ = cpu.step(action)
        falls_w, falls_c = falls_w + int(done_w.sum()), falls_c + int(done_c.sum())
        gap = max(gap, float(np.abs(gpu.qpos[:, :3].double().cpu().numpy() - cpu.qpos[:, :3]).max()))
    out = {
        "policy_obs_max_abs_diff": _diff(obs_w["policy"], obs_c["policy"]),
        "base_pos_max_gap_m": gap,
        "falls_warp": falls_w,
        "falls_cpu": falls_c,
    }
    gpu.close()
    cpu.close()
    return out
