"""The LMO env's two physics backends (issue 11): speed at equal N on this machine's CPU, their equivalence, and the
GPU figures when a GPU is here.

One run, one process:
- `cpu_env_steps_per_s`: `X2LMOVecEnv.step` (MuJoCo C) control steps per second over all envs, default
  LMOEnvConfig (domain randomization and terrain on, conditioning=command), `num_envs` envs, small random actions;
- `warp_cpu_env_steps_per_s`: the same for `WarpLMOVecEnv` on warp's CPU device (float32, the same MDP terms on
  torch tensors), same config and N, after its kernels are compiled (a warm-up);
- `equivalence_max_abs_diff`: one control step from 200 states of a CPU-env rollout (contacts, pushes, arm clips,
  falls) on both backends: the max |warp - cpu| over policy/critic observations and rewards (lmo/env/equivalence.py;
  the termination mismatches are reported beside it and must be 0);
- `open_loop_divergence_200`: both backends from the same state, the same 200 actions, no state exchanged: max
  |warp - cpu| of the policy observation after the last step (information, not a bar: contacts are chaotic);
- `gpu`: measured by bench/lmo_gpu.py on a GPU (the walking preset trained for a fixed time: env steps/s at
  4096 envs, vx = 0.5 m/s tracking error, training minutes). This script keeps the block it finds in the file (null
  when there is none) and times the CPU figures with the same function (bench/_lmo_bench.py).

Usage: python bench/lmo_backends.py [--num_envs=16] [--steps=50] [--states=200]
Smoke (the test suite; the figures mean nothing): python bench/lmo_backends.py --smoke=true --output=/tmp/x.json
The first warp run compiles its kernels (minutes on 2 cores; cached in WARP_CACHE_PATH or ~/.cache/warp).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import draccus
import torch
from _lmo_bench import bench_clips, bench_env_config, env_steps_per_s, read_gpu_block  # bench/_lmo_bench.py
from _results import LMO_MUJOCO, RESULTS, machine_description, write_result  # bench/_results.py


@dataclass
class LMOBackendsConfig:
    # Envs of each backend in the CPU speed comparison (equal N).
    num_envs: int = 16
    # Timed control steps per backend (after `warmup_steps`).
    steps: int = 50
    warmup_steps: int = 5
    action_std: float = 0.3
    # States of the one-step equivalence (a multiple of equivalence_envs) and envs per comparison batch.
    states: int = 200
    equivalence_envs: int = 8
    # Open-loop rollout length (the result's key says 200).
    open_loop_steps: int = 200
    threads: int = 2
    output: Path = RESULTS / "lmo_backends.json"
    smoke: bool = False


def _smoke(cfg: LMOBackendsConfig) -> LMOBackendsConfig:
    return replace(
        cfg,
        num_envs=2,
        steps=2,
        warmup_steps=1,
        states=4,
        equivalence_envs=2,
        open_loop_steps=3,
    )


def main(cfg: LMOBackendsConfig) -> dict:
    from lerobot_wbvla.lmo.env.config_env import WarpConfig
    from lerobot_wbvla.lmo.env.equivalence import TOLERANCES, one_step_equivalence, open_loop_divergence
    from lerobot_wbvla.lmo.env.warp_vec_env import WarpLMOVecEnv
    from lerobot_wbvla.lmo.env.x2_vec_env import X2LMOVecEnv

    if cfg.smoke:
        cfg = _smoke(cfg)
    torch.set_num_threads(cfg.threads)
    clips = bench_clips()
    env_cfg = bench_env_config(cfg.num_envs)
    cpu = X2LMOVecEnv(env_cfg, clips)
    cpu_sps = env_steps_per_s(cpu, cfg.steps, cfg.warmup_steps, cfg.action_std)
    cpu.close()
    warp = WarpLMOVecEnv(env_cfg, clips, warp=WarpConfig(device="cpu"))
    warp_sps = env_steps_per_s(warp, cfg.steps, cfg.warmup_steps, cfg.action_std)
    warp.close()

    report = one_step_equivalence(states=cfg.states, num_envs=cfg.equivalence_envs)
    open_loop = open_loop_divergence(steps=cfg.open_loop_steps, num_envs=cfg.equivalence_envs)

    gpu = read_gpu_block(cfg.output)  # bench/lmo_gpu.py's, measured on a GPU: kept as it is
    gpu_message = None if gpu else "not measured: run bench/lmo_gpu.py on a machine with a CUDA GPU"

    result = {
        "cpu_env_steps_per_s": cpu_sps,
        "warp_cpu_env_steps_per_s": warp_sps,
        "equivalence_max_abs_diff": report.max_abs_diff,
        "open_loop_divergence_200": open_loop["policy_obs_max_abs_diff"],
        "gpu": gpu,
        "gpu_message": gpu_message,
        "num_envs": cfg.num_envs,
        "equivalence": {**asdict(report), "tolerances": TOLERANCES, "within": report.within()},
        "open_loop": {**open_loop, "steps": cfg.open_loop_steps},
        "env": "default LMOEnvConfig (domain randomization and terrain on), conditioning=command",
        "machine": machine_description(with_torch=True),
    }
    write_result(
        cfg.output,
        result,
        measures=[*LMO_MUJOCO, "lerobot_wbvla/robots/agibot_x2", "bench/_lmo_bench.py"],
        smoke=cfg.smoke,
    )
    return result


if __name__ == "__main__":
    main(draccus.parse(LMOBackendsConfig))
