"""What bench/lmo_backends.py and bench/lmo_gpu.py share (one implementation each): the env whose speed both
report, how its env steps per second are timed, and how the `gpu` block of bench/results/lmo_backends.json is
written (lmo_gpu.py measures it on a GPU; lmo_backends.py, which measures the CPU figures, keeps it as it is)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch
from _results import source_stamp  # bench/_results.py

GPU_KEY = "gpu"
GPU_BLOCK_KEYS = ("device", "env_steps_per_s_4096", "vx_error_0.5", "train_minutes")


def bench_clips() -> dict:
    """The 4 procedural clips both backends' speed figures run with."""
    from lerobot_wbvla.lmo.procedural import procedural_clips

    return procedural_clips(4, seed=0).stack()


def bench_env_config(num_envs: int):
    """The env of every speed figure: the default LMOEnvConfig (domain randomization and terrain on),
    conditioning=command (no LAM needed)."""
    from lerobot_wbvla.lmo.env.config_env import LMOEnvConfig

    return LMOEnvConfig(num_envs=num_envs, conditioning="command")


def env_steps_per_s(env, steps: int, warmup: int, action_std: float) -> float:
    """Control steps per second summed over the env's N envs, random actions (std `action_std`), after `warmup`
    steps (the warp backend compiles its kernels then); CUDA is synchronised around the timed steps."""
    g = torch.Generator().manual_seed(0)
    actions = [action_std * torch.randn(env.num_envs, 12, generator=g) for _ in range(warmup + steps)]
    for a in actions[:warmup]:
        env.step(a.to(env.device))
    if env.device.type == "cuda":
        torch.cuda.synchronize(env.device)
    t = time.perf_counter()
    for a in actions[warmup:]:
        env.step(a.to(env.device))
    if env.device.type == "cuda":
        torch.cuda.synchronize(env.device)
    return env.num_envs * steps / (time.perf_counter() - t)


def read_gpu_block(path: Path) -> dict | None:
    """The `gpu` block of an existing result file (None when there is no file or no block)."""
    try:
        return json.loads(Path(path).read_text()).get(GPU_KEY)
    except (OSError, ValueError, AttributeError):
        return None


def write_gpu_block(path: Path, block: dict, measures: list[str], smoke: bool = False) -> dict:
    """Set the `gpu` block of the result file at `path` (atomically), stamped on its own (`block["source"]`, the
    code it measured): the CPU figures and the file's own stamp, written by lmo_backends.py, stay as they are. A
    missing file is created holding only the block, stamped at the top as well. Returns the file's content."""
    missing = [k for k in GPU_BLOCK_KEYS if k not in block]
    if missing:
        raise ValueError(f"gpu block without {missing}")
    stamp = source_stamp(sorted(set(measures)))
    if smoke:
        stamp["smoke"] = True
    path = Path(path)
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        content = {"source": stamp}
    content[GPU_KEY] = {**block, "source": stamp}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(content, indent=2) + "\n")
    os.replace(tmp, path)
    return content
