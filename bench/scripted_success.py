"""Success rate of the scripted operator `x2_scripted` on each agibot_x2 task, and of a random-action policy.

Runs `seeds` episodes per task in the gym env (state observations only, no rendering) with the scripted operator,
then the same number of episodes with uniformly random actions, and writes

    bench/results/scripted_success.json
    {"<task>": {"success": <fraction>, "seeds": N}, ..., "random_policy": {"success": <fraction>, "episodes": M,
     "per_task": {...}}, "physical": {"pick_place": {"success": ..., "seeds": N}}, "base_mode": "kinematic", ...}

Usage: python bench/scripted_success.py [--seeds=20] [--base_mode=kinematic] [--output=...]
Smoke (the test suite; the figures mean nothing): python bench/scripted_success.py --smoke=true --output=/tmp/x.json
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import draccus
from _results import RESULTS, machine_description, write_result  # bench/_results.py
from tqdm import tqdm

from lerobot_wbvla.envs.agibot_x2 import AgibotX2EnvConfig
from lerobot_wbvla.envs.agibot_x2.baselines import baseline_episode
from lerobot_wbvla.envs.agibot_x2.env import AgibotX2Env
from lerobot_wbvla.envs.agibot_x2.tasks import TASKS
from lerobot_wbvla.teleoperators.x2_scripted.operator import scripted_episode


@dataclass
class ScriptedSuccessConfig:
    # Episodes (seeds 0..seeds-1) per task for the scripted operator and for the random policy.
    seeds: int = 20
    # Tasks to run (default: all four).
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    # Base mode of the twin for the scripted runs ("kinematic" or "physical").
    base_mode: str = "kinematic"
    # Also run the static task (pick_place) in base_mode=physical with the standing controller.
    physical_pick_place: bool = True
    # Where the JSON goes.
    output: Path = RESULTS / "scripted_success.json"
    # Tiny settings for the test suite (one seed of the first task): the figures mean nothing.
    smoke: bool = False


def _rate(env: AgibotX2Env, steps: int, seeds: int, label: str, run) -> tuple[float, list[int]]:
    failed = []
    for seed in tqdm(range(seeds), desc=label, leave=False):
        if not run(env, seed, steps):
            failed.append(seed)
    return 1.0 - len(failed) / seeds, failed


def main(cfg: ScriptedSuccessConfig) -> dict:
    if cfg.smoke:
        cfg = replace(cfg, seeds=1, tasks=cfg.tasks[:1])
    t0 = time.time()
    out: dict = {}
    random_ok, random_n, random_per_task = 0, 0, {}
    for task in tqdm(cfg.tasks, desc="tasks"):
        steps = AgibotX2EnvConfig(task=task).max_episode_steps
        env = AgibotX2Env(task=task, obs_type="agent_pos", base_mode=cfg.base_mode)
        try:
            rate, failed = _rate(
                env, steps, cfg.seeds, f"{task} scripted", lambda e, s, n: scripted_episode(e, s, n)[0]
            )
            out[task] = {"success": rate, "seeds": cfg.seeds, "failed_seeds": failed}
            r_rate, _ = _rate(
                env, steps, cfg.seeds, f"{task} random", lambda e, s, n: baseline_episode(e, s, n, "random")
            )
        finally:
            env.close()
        random_per_task[task] = r_rate
        random_ok += round(r_rate * cfg.seeds)
        random_n += cfg.seeds
    out["random_policy"] = {
        "success": random_ok / random_n,
        "episodes": random_n,
        "per_task": random_per_task,
    }
    if cfg.physical_pick_place:
        env = AgibotX2Env(task="pick_place", obs_type="agent_pos", base_mode="physical")
        try:
            steps = AgibotX2EnvConfig(task="pick_place").max_episode_steps
            rate, failed = _rate(
                env, steps, cfg.seeds, "pick_place physical", lambda e, s, n: scripted_episode(e, s, n)[0]
            )
        finally:
            env.close()
        out["physical"] = {"pick_place": {"success": rate, "seeds": cfg.seeds, "failed_seeds": failed}}
    out["base_mode"] = cfg.base_mode
    out["machine"] = machine_description(with_torch=False)
    out["wall_s"] = round(time.time() - t0, 1)
    write_result(
        cfg.output,
        out,
        measures=["lerobot_wbvla/robots", "lerobot_wbvla/envs", "lerobot_wbvla/teleoperators"],
        smoke=cfg.smoke,
    )
    return out


if __name__ == "__main__":
    main(draccus.parse(ScriptedSuccessConfig))
