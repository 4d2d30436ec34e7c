"""The LMO on a GPU (issue 11): train the walking preset (`wbvla-train-lmo --preset=walking_gpu`, MuJoCo Warp at
4096 envs) for a fixed time and write the `gpu` block of bench/results/lmo_backends.json:

- `device`: the GPU's name;
- `env_steps_per_s_4096`: the warp env's control steps per second at 4096 envs, timed as bench/lmo_backends.py
  times the CPU figures (bench/_lmo_bench.py: same env config, same timing);
- `vx_error_0.5`: the trained policy's velocity tracking error at a constant vx = 0.5 m/s command, measured by
  `wbvla-eval-lmo`'s locomotion scenario (lmo/evaluate.py, lmo/eval_metrics.py `locomotion_metrics`: mean |v - v_cmd|
  after the settling time, on the MuJoCo C env);
- `train_minutes`: the training time spent (the budget, `--minutes`).

Without a CUDA GPU it prints one line and exits (status 2), writing nothing. `--smoke=true` (the test suite) runs
the same path on warp's CPU device with tiny settings: the figures mean nothing.

Usage: python bench/lmo_gpu.py [--minutes=60] [--num_envs=4096] [--eval_episodes=10]
The policy is trained with conditioning=none by default (no LAM on a benchmark machine: the velocity command
only; the preset's stage I is exactly walking). Checkpoints and the export go to --work_dir.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import draccus
import torch
from _lmo_bench import bench_clips, bench_env_config, env_steps_per_s, write_gpu_block  # bench/_lmo_bench.py
from _results import LMO_MUJOCO, RESULTS

NO_GPU = (
    "bench/lmo_gpu.py: no CUDA GPU here (torch.cuda.is_available() is False); it trains on a GPU. Nothing was "
    "written. Run it on a machine with one (or --smoke=true for the CPU smoke run)."
)
VX_COMMAND = "forward_0.5"
MEASURES = [*LMO_MUJOCO, "lerobot_wbvla/robots/agibot_x2", "bench/lmo_gpu.py", "bench/_lmo_bench.py"]


@dataclass
class LMOGPUConfig:
    # Training budget of the walking preset (minutes of training time).
    minutes: float = 60.0
    # Envs of the training run and of the throughput figure (the result's key says 4096).
    num_envs: int = 4096
    # Conditioning of the trained policy: none (the velocity command only: no LAM needed) | command | latent.
    conditioning: str = "none"
    # The LAM for conditioning=latent.
    lam: str | None = None
    # Timed control steps of the throughput figure (after warmup_steps) and the random actions' std.
    steps: int = 100
    warmup_steps: int = 10
    action_std: float = 0.3
    # Episodes of the vx = 0.5 m/s evaluation and their length (s).
    eval_episodes: int = 10
    eval_episode_s: float = 5.0
    # Folder of the training run (a fresh subfolder per run) and of the evaluation.
    work_dir: Path = Path("outputs/bench_lmo_gpu")
    output: Path = RESULTS / "lmo_backends.json"
    smoke: bool = False


def _train_config(cfg: LMOGPUConfig, device: str, out: Path):
    from lerobot_wbvla.lmo.presets import walking_gpu

    train = walking_gpu()
    train.output_dir = out
    train.max_minutes = cfg.minutes
    train.env.num_envs = cfg.num_envs
    train.env.conditioning = cfg.conditioning
    train.lam = cfg.lam
    train.warp.device = device
    train.progress = not cfg.smoke
    if cfg.smoke:
        train.iterations, train.max_minutes = 1, None
        train.env.episode_s = 1.0
        train.ppo.num_steps_per_env, train.ppo.num_mini_batches, train.ppo.num_learning_epochs = 4, 1, 1
        train.clips.procedural = 2
        train.threads = 1
    return train


def vx_error(export_dir: Path, cfg: LMOGPUConfig, out: Path) -> dict:
    """wbvla-eval-lmo's locomotion scenario with one command, vx = 0.5 m/s: its per-command metrics."""
    from lerobot_wbvla.lmo.evaluate import EvalLMOConfig, LocomotionConfig, evaluate

    loco = LocomotionConfig(
        episodes=cfg.eval_episodes,
        episode_s=cfg.eval_episode_s,
        settle_s=min(1.0, cfg.eval_episode_s / 2),
        commands={VX_COMMAND: [0.5, 0.0, 0.0]},
    )
    ev = EvalLMOConfig(
        policies=[f"walking={export_dir}"],
        output_dir=out,
        scenarios=["locomotion"],
        locomotion=loco,
        lam=cfg.lam,
        videos=0,
        progress=not cfg.smoke,
    )
    return evaluate(ev)["locomotion"]["per_policy"]["walking"][VX_COMMAND]


def main(cfg: LMOGPUConfig) -> dict:
    if cfg.smoke:
        cfg.num_envs, cfg.steps, cfg.warmup_steps, cfg.eval_episodes, cfg.eval_episode_s = 2, 2, 1, 1, 1.0
        device = "cpu"
    elif not torch.cuda.is_available():
        print(NO_GPU, file=sys.stderr)
        sys.exit(2)
    else:
        device = "cuda:0"
    from lerobot_wbvla.lmo.env.config_env import WarpConfig
    from lerobot_wbvla.lmo.env.warp_vec_env import WarpLMOVecEnv
    from lerobot_wbvla.lmo.train import train

    env = WarpLMOVecEnv(bench_env_config(cfg.num_envs), bench_clips(), warp=WarpConfig(device=device))
    sps = env_steps_per_s(env, cfg.steps, cfg.warmup_steps, cfg.action_std)
    env.close()
    del env

    # the smoke run writes nothing outside its temporary folder (the test suite runs it from a scratch folder)
    work = Path(tempfile.mkdtemp(prefix="lmo-gpu-smoke-")) if cfg.smoke else cfg.work_dir
    run_dir = work / time.strftime("%Y%m%d-%H%M%S")
    result = train(_train_config(cfg, device, run_dir / "train"))
    tracking = vx_error(result.export_dir, cfg, run_dir / "eval")
    block = {
        "device": torch.cuda.get_device_name(0)
        if device.startswith("cuda")
        else "cpu (warp's CPU device, smoke)",
        "env_steps_per_s_4096": sps,
        "vx_error_0.5": tracking["vel_error"],
        "train_minutes": result.train_minutes,
        "num_envs": cfg.num_envs,
        "iterations": result.iterations,
        "env_steps": result.last_metrics.get("env_steps"),
        "stage_reached": result.last_metrics.get("stage"),
        "vx_0.5_fall_rate": tracking.get("fall_rate"),
        "vx_0.5_mean_vel_error": tracking.get("mean_vel_error"),
        "conditioning": cfg.conditioning,
        "preset": "walking_gpu",
        "measured": (
            "env steps/s: bench/_lmo_bench.py env_steps_per_s on the warp env (default LMOEnvConfig, "
            "conditioning=command); vx_error_0.5: wbvla-eval-lmo's locomotion scenario (vel_error), "
            f"{cfg.eval_episodes} episodes of {cfg.eval_episode_s} s on the MuJoCo C env"
        ),
    }
    content = write_gpu_block(cfg.output, block, MEASURES, smoke=cfg.smoke)
    if cfg.smoke:
        shutil.rmtree(work, ignore_errors=True)
    print(block)
    return content


if __name__ == "__main__":
    main(draccus.parse(LMOGPUConfig))
