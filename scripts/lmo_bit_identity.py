"""The CPU LMO env's outputs, recorded for a fixed seed and action sequence, to check that a refactor of the MDP
terms (issue 11: one definition for numpy and torch) changes nothing, bit for bit.

    PYTHONPATH=<old checkout> python <new checkout>/scripts/lmo_bit_identity.py record /tmp/lmo_ref.npz
    PYTHONPATH=<new checkout> python <new checkout>/scripts/lmo_bit_identity.py compare /tmp/lmo_ref.npz

Two settings, 4 envs x 50 control steps each: latent conditioning with history, every reward term weighted, full
domain randomization on the rough terrain, frequent pushes and short episodes (falls, time-outs, auto-resets and
arm clips all happen); and the article's defaults with command conditioning.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

STEPS = 50
N = 4


def _clips() -> dict:
    """lmo/env/rollout_clips.py, loaded by path from this checkout: the same clips whichever one is recorded."""
    path = Path(__file__).resolve().parents[1] / "lerobot_wbvla" / "lmo" / "env" / "rollout_clips.py"
    spec = importlib.util.spec_from_file_location("_lmo_rollout_clips", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.rollout_clips(t=30)


def _configs():
    from lerobot_wbvla.lmo.env.config_env import DomainRandConfig, LMOEnvConfig
    from lerobot_wbvla.lmo.mdp.rewards import REWARD_TERMS

    dr = replace(DomainRandConfig(), push_interval_s=(0.05, 0.2), push_force_n=(50.0, 300.0))
    every = {name: 0.1 + 0.01 * k for k, name in enumerate(REWARD_TERMS)}
    return {
        "latent_all_terms": LMOEnvConfig(
            num_envs=N, conditioning="latent", history=2, episode_s=0.6, reward_weights=every, domain_rand=dr
        ),
        "command_defaults": LMOEnvConfig(num_envs=N, conditioning="command", episode_s=0.5, seed=3),
    }


def record() -> dict[str, np.ndarray]:
    from lerobot_wbvla.lmo.env.x2_vec_env import X2LMOVecEnv

    torch.manual_seed(0)
    out: dict[str, np.ndarray] = {}
    for name, cfg in _configs().items():
        env = X2LMOVecEnv(cfg, _clips(), lam="x/lam" if cfg.conditioning == "latent" else None)
        g = torch.Generator().manual_seed(7)
        rows: dict[str, list] = {"policy": [], "critic": [], "reward": [], "done": [], "time_out": []}
        obs = env.get_observations()
        rows["policy"].append(obs["policy"].numpy().copy())
        rows["critic"].append(obs["critic"].numpy().copy())
        for _ in range(STEPS):
            action = 1.5 * torch.randn(N, 12, generator=g)
            obs, rew, done, extras = env.step(action)
            rows["policy"].append(obs["policy"].numpy().copy())
            rows["critic"].append(obs["critic"].numpy().copy())
            rows["reward"].append(rew.numpy().copy())
            rows["done"].append(done.numpy().copy())
            rows["time_out"].append(extras["time_outs"].numpy().copy())
        for key, values in rows.items():
            out[f"{name}/{key}"] = np.stack(values)
        env.close()
    return out


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    now = record()
    if mode == "record":
        np.savez(path, **now)
        dones = {k: int(v.sum()) for k, v in now.items() if k.endswith("/done") or k.endswith("/time_out")}
        print(f"recorded {len(now)} arrays to {path}; dones/time-outs: {dones}")
        return
    ref = np.load(path)
    bad = [k for k in ref.files if not np.array_equal(ref[k], now[k])]
    for k in ref.files:
        diff = np.abs(ref[k].astype(np.float64) - now[k].astype(np.float64)).max()
        print(f"{k:34s} {ref[k].shape!s:16s} bit-identical={k not in bad} max_abs_diff={diff:.3g}")
    print("BIT-IDENTICAL" if not bad else f"DIFFERENT: {bad}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
