"""Speed of the LMO's vectorized env against raw MuJoCo on the same models, and PPO end to end (issue 9).

One run, one process:
- `env_steps_per_s`: `X2LMOVecEnv.step` control steps per second over all envs (the default config: domain
  randomization and terrain on, the policy's actions a fixed small random stream), each step = `decimation`
  physics steps + arm clip targets, delayed leg targets, pushes, the state gather, the 8 reward terms, the
  termination terms, auto-resets and the observation;
- `raw_steps_per_s`: the same control steps counted against the time spent inside `mujoco.mj_step` during those
  env steps (every call timed): raw MuJoCo on exactly the same models, states and controls, i.e. the physics alone;
- `ratio = env_steps_per_s / raw_steps_per_s` = the share of the env's time that is physics (issue 9's goal:
  >= 0.85);
- `raw_loop_steps_per_s`: for reference, copies of the env's robots stepped by a bare `mj_step` loop with their
  controls held (standing robots: cheaper contacts than robots that move and fall, so not the same workload), timed
  interleaved with the env;
- `threaded_env_steps_per_s` and `thread_speedup`: a second env of the same config and seed with
  `physics_threads=threads` (the env groups stepped on threads), given the same actions in the same reps: its
  rollout is bit-identical to the one-thread env's (tests/lmo/test_env.py), so the two time exactly the same
  workload; `thread_speedup` is the median over reps of threaded / one-thread env steps per second;
- `ppo_env_steps_per_s`: `wbvla-train-lmo`'s loop (rollout + PPO update with the article's settings, the physics on
  `threads` threads as the CLI runs it) in env steps per second of training time.

Usage: python bench/lmo_env_throughput.py [--num_envs=64] [--reps=6] [--steps_per_rep=50] [--ppo_iterations=4]
Smoke (the test suite; the figures mean nothing): python bench/lmo_env_throughput.py --smoke=true --output=/tmp/x.json
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import draccus
import mujoco
import numpy as np
import torch
from _results import LMO_CPU, RESULTS, machine_description, write_result  # bench/_results.py


@dataclass
class LMOEnvThroughputConfig:
    num_envs: int = 64
    reps: int = 6
    steps_per_rep: int = 50
    warmup_steps: int = 30
    # Std of the random actions (a policy early in training moves this much).
    action_std: float = 0.3
    # PPO iterations timed end to end (after one warm-up iteration).
    ppo_iterations: int = 4
    threads: int = 2
    # Procedural clips in the library (conditioning=command: no LAM needed; the env's cost is the same).
    clips: int = 16
    output: Path = RESULTS / "lmo_env_throughput.json"
    smoke: bool = False


def _smoke(cfg: LMOEnvThroughputConfig) -> LMOEnvThroughputConfig:
    return replace(cfg, num_envs=4, reps=1, steps_per_rep=3, warmup_steps=2, ppo_iterations=1, clips=2)


def _library(cfg: LMOEnvThroughputConfig):
    from lerobot_wbvla.lmo.clips import ClipLibrary, procedural_clips

    return ClipLibrary(procedural_clips(cfg.clips, seed=0))


class _PhysicsClock:
    """Wraps the env module's `mujoco.mj_step` and adds up the seconds spent inside it."""

    def __init__(self) -> None:
        import lerobot_wbvla.lmo.env.x2_vec_env as env_mod

        self.seconds = 0.0
        self._module = env_mod.mujoco
        self._step = mujoco.mj_step
        clock = time.perf_counter

        def timed(m, d, nstep=1):
            t0 = clock()
            self._step(m, d, nstep=nstep)
            self.seconds += clock() - t0

        self._timed = timed

    def __enter__(self) -> _PhysicsClock:
        self._module.mj_step = self._timed
        return self

    def __exit__(self, *exc) -> None:
        self._module.mj_step = self._step


def _time_env(env, actions: list[torch.Tensor], physics_clock: bool = True) -> tuple[float, float | None]:
    """-> (seconds of env.step, seconds inside mj_step during them, or None without the physics clock: with
    physics threads the wrapped mj_step would count the threads' time twice)."""
    clock = _PhysicsClock() if physics_clock else contextlib.nullcontext()
    with clock:
        t = time.perf_counter()
        for a in actions:
            env.step(a)
        total = time.perf_counter() - t
    return total, clock.seconds if physics_clock else None


def _time_raw(models, datas, steps: int, nstep: int) -> float:
    t = time.perf_counter()
    for _ in range(steps):
        for m, d in zip(models, datas, strict=True):
            mujoco.mj_step(m, d, nstep=nstep)
    return time.perf_counter() - t


def main(cfg: LMOEnvThroughputConfig) -> dict:
    from lerobot_wbvla.lmo.config_train import TrainLMOConfig
    from lerobot_wbvla.lmo.env.config_env import LMOEnvConfig
    from lerobot_wbvla.lmo.env.x2_vec_env import X2LMOVecEnv

    if cfg.smoke:
        cfg = _smoke(cfg)
    torch.set_num_threads(cfg.threads)
    library = _library(cfg)
    env_cfg = LMOEnvConfig(num_envs=cfg.num_envs, conditioning="command")
    env = X2LMOVecEnv(replace(env_cfg, physics_threads=1), library.stack())
    threaded = X2LMOVecEnv(replace(env_cfg, physics_threads=cfg.threads), library.stack())
    g = torch.Generator().manual_seed(0)
    n = cfg.num_envs

    def stream(k: int) -> list[torch.Tensor]:
        return [cfg.action_std * torch.randn(n, 12, generator=g) for _ in range(k)]

    warmup = stream(cfg.warmup_steps)
    _time_env(env, warmup)
    _time_env(threaded, warmup, physics_clock=False)
    # The raw side: the env's own (randomized) models, new MjData holding the env's robots' current states.
    models = list(env.models)
    datas = []
    full = mujoco.mjtState.mjSTATE_FULLPHYSICS
    for m, d in zip(models, env.datas, strict=True):
        raw = mujoco.MjData(m)
        state = np.empty(mujoco.mj_stateSize(m, full))
        mujoco.mj_getState(m, d, state, full)
        mujoco.mj_setState(m, raw, state, full)
        raw.ctrl[:] = d.ctrl
        mujoco.mj_forward(m, raw)
        datas.append(raw)
    _time_raw(models, datas, max(1, cfg.warmup_steps // 3), env.decimation)

    per_rep = []
    for rep in range(cfg.reps):
        actions = stream(cfg.steps_per_rep)
        e, physics = _time_env(env, actions)
        r = _time_raw(models, datas, cfg.steps_per_rep, env.decimation)
        t, _ = _time_env(threaded, actions, physics_clock=False)
        steps = n * cfg.steps_per_rep
        per_rep.append(
            {
                "rep": rep,
                "env_steps_per_s": steps / e,
                "raw_steps_per_s": steps / physics,
                "raw_loop_steps_per_s": steps / r,
                "threaded_env_steps_per_s": steps / t,
                "loadavg": os.getloadavg()[0],
            }
        )
    env_sps = statistics.median(x["env_steps_per_s"] for x in per_rep)
    raw_sps = statistics.median(x["raw_steps_per_s"] for x in per_rep)
    ratios = [x["env_steps_per_s"] / x["raw_steps_per_s"] for x in per_rep]
    speedups = [x["threaded_env_steps_per_s"] / x["env_steps_per_s"] for x in per_rep]
    same = all(
        np.array_equal(a.qpos, b.qpos) for a, b in zip(env.datas, threaded.datas, strict=True)
    )  # the two rollouts must be the same workload
    env.close()
    threaded.close()
    if not same:
        raise RuntimeError(
            "the threaded env's state differs from the one-thread env's: the speedup is not valid"
        )

    ppo = _ppo(cfg, env_cfg, TrainLMOConfig, library)
    result = {
        "env_steps_per_s": env_sps,
        "raw_steps_per_s": raw_sps,
        "ratio": statistics.median(ratios),
        "ratio_per_rep": ratios,
        "raw_loop_steps_per_s": statistics.median(x["raw_loop_steps_per_s"] for x in per_rep),
        "threaded_env_steps_per_s": statistics.median(x["threaded_env_steps_per_s"] for x in per_rep),
        "thread_speedup": statistics.median(speedups),
        "physics_threads": cfg.threads,
        "ppo_env_steps_per_s": ppo["env_steps_per_s"],
        "ppo": ppo,
        "num_envs": n,
        "decimation": env.decimation,
        "per_rep": per_rep,
        "env": "X2LMOVecEnv, default LMOEnvConfig (domain randomization and terrain on), conditioning=command",
        "machine": machine_description(with_torch=True),
    }
    write_result(cfg.output, result, measures=[*LMO_CPU, "lerobot_wbvla/robots/agibot_x2"], smoke=cfg.smoke)
    return result


def _ppo(cfg: LMOEnvThroughputConfig, env_cfg, config_cls, library) -> dict:
    """wbvla-train-lmo's loop for ppo_iterations (+1 warm-up): env steps per second of training time."""
    import lerobot_wbvla.lmo.train as train_mod

    with tempfile.TemporaryDirectory() as tmp:
        tcfg = config_cls(
            output_dir=Path(tmp) / "run",
            env=env_cfg,
            iterations=cfg.ppo_iterations + 1,
            save_every=10**6,
            export=False,
            progress=False,
            threads=cfg.threads,
        )
        original = train_mod.build_clip_library
        train_mod.build_clip_library = lambda _cfg: library
        try:
            result = train_mod.train(tcfg)
        finally:
            train_mod.build_clip_library = original
        rows = [r for r in _metrics(Path(tmp) / "run") if r["iteration"] > 1]
    steps = sum(env_cfg.num_envs * tcfg.ppo.num_steps_per_env for _ in rows)
    seconds = sum(r["iteration_s"] for r in rows)
    return {
        "env_steps_per_s": steps / seconds,
        "iterations_timed": len(rows),
        "steps_per_iteration": env_cfg.num_envs * tcfg.ppo.num_steps_per_env,
        "rollout_env_steps_per_s": statistics.median(r["env_steps_per_s"] for r in rows),
        "train_minutes": result.train_minutes,
    }


def _metrics(run: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    main(draccus.parse(config_class=LMOEnvThroughputConfig))
