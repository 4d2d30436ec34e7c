"""The LMO's export (issue 9): ONNX vs torch on 1000 random observations, and the exported policy's step latency
on one core.

The actor is a real one: `wbvla-train-lmo`'s runner on the X2 env (the article's [256, 256, 128] ELU actor with
RSL-RL's observation normaliser) after `train_iterations` PPO iterations, so the normaliser holds real statistics.
Then `export_lmo` writes the ONNX + TorchScript export and:
- `onnx_max_abs_diff`: max |onnxruntime - torch| over 1000 random observations (lmo.export.verify_onnx; goal 1e-5);
- `step_latency_*_ms`: `LMOPolicy.leg_targets` (one observation in, 12 leg targets out, onnxruntime with one
  intra-op thread, this process pinned to one core when the OS allows) over `latency_calls` calls, on observations
  the env produced (goal: p99 <= 0.2 ms); the TorchScript backend is timed the same way for comparison.

Usage: python bench/lmo_export.py [--latency_calls=20000]
Smoke (the test suite; the figures mean nothing): python bench/lmo_export.py --smoke=true --output=/tmp/x.json
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import draccus
import numpy as np
import torch
from _results import LMO_CPU, RESULTS, machine_description, write_result  # bench/_results.py


@dataclass
class LMOExportConfig:
    num_envs: int = 16
    train_iterations: int = 2
    latency_calls: int = 20000
    warmup_calls: int = 500
    verify_observations: int = 1000
    output: Path = RESULTS / "lmo_export.json"
    smoke: bool = False


def _pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[-1]})
        return f"pinned to core {cores[-1]}"
    return "not pinned (no sched_setaffinity)"


def main(cfg: LMOExportConfig) -> dict:
    import lerobot_wbvla.lmo.train as train_mod
    from lerobot_wbvla.lmo.clips import ClipLibrary, procedural_clips
    from lerobot_wbvla.lmo.config_train import TrainLMOConfig
    from lerobot_wbvla.lmo.env.config_env import LMOEnvConfig
    from lerobot_wbvla.lmo.export import verify_onnx
    from lerobot_wbvla.lmo.policy import LMOPolicy, step_latency
    from lerobot_wbvla.lmo.train import train

    if cfg.smoke:
        cfg = replace(
            cfg, num_envs=2, train_iterations=1, latency_calls=200, warmup_calls=20, verify_observations=50
        )
    library = ClipLibrary(procedural_clips(4, seed=0))
    with tempfile.TemporaryDirectory() as tmp:
        tcfg = TrainLMOConfig(
            output_dir=Path(tmp) / "run",
            env=LMOEnvConfig(num_envs=cfg.num_envs, conditioning="command"),
            iterations=cfg.train_iterations,
            progress=False,
            threads=1,
        )
        original = train_mod.build_clip_library
        train_mod.build_clip_library = lambda _cfg: library
        try:
            result = train(tcfg)
        finally:
            train_mod.build_clip_library = original
        export = result.export_dir
        diff = verify_onnx(export, n=cfg.verify_observations, seed=0)
        # Observations as the env produces them (the policy's real input distribution).
        from lerobot_wbvla.lmo.env.x2_vec_env import X2LMOVecEnv

        env = X2LMOVecEnv(replace(tcfg.env, num_envs=4), library.stack())
        rows = [env.step(torch.zeros(4, 12))[0]["policy"].numpy() for _ in range(16)]
        obs = np.concatenate(rows).astype(np.float32)
        env.close()
        torch.set_num_threads(1)
        pinned = _pin_one_core()
        onnx = step_latency(LMOPolicy.from_pretrained(export), cfg.latency_calls, cfg.warmup_calls, obs=obs)
        script = step_latency(
            LMOPolicy.from_pretrained(export, backend="torch"),
            cfg.latency_calls // 4,
            cfg.warmup_calls,
            obs=obs,
        )
    out = {
        "onnx_max_abs_diff": diff,
        "verify_observations": cfg.verify_observations,
        "step_latency_p99_ms": onnx["p99_ms"],
        "step_latency_p50_ms": onnx["p50_ms"],
        "step_latency_onnx": onnx,
        "step_latency_torchscript": script,
        "obs_size": int(obs.shape[1]),
        "actor": "RSL-RL MLPModel [256, 256, 128] ELU + empirical normaliser, after "
        f"{cfg.train_iterations} PPO iterations on the X2 env (conditioning=command)",
        "cpu": pinned,
        "machine": machine_description(with_torch=True),
    }
    write_result(cfg.output, out, measures=LMO_CPU, smoke=cfg.smoke)
    return out


if __name__ == "__main__":
    main(draccus.parse(config_class=LMOExportConfig))
