"""Scripted demos per minute: `wbvla-record-sim` (paced by sim time) with one and with N worker processes, against
`lerobot-record --teleop.type=x2_scripted` (paced by the wall clock at --dataset.fps), one run each, same task,
episodes, seed, camera and machine.

Both are started as a user starts them (child processes, their own set-up and video encoding included) and write a
LeRobot v3 dataset into a temporary folder; `wall_s` is the child's whole run time, `demos_per_minute` the saved
solved demos per minute of it. `sim_s` is the sim time the saved episodes hold, `sim_speed` = sim_s / wall_s
(lerobot-record's loop sleeps to keep --dataset.fps, so it can never exceed 1). Writes

    bench/results/record_throughput.json
    {"task": ..., "episodes": N, "camera": [h, w],
     "wbvla_record_sim": {"wall_s": .., "demos_per_minute": .., "solved": N, "sim_s": .., "sim_speed": ..},
     "wbvla_record_sim_workers": {"num_workers": N, ...same...},
     "lerobot_record": {...same...},
     "speedup": <wbvla-record-sim demos/min (1 worker) over lerobot-record's>,
     "speedup_workers": <wbvla-record-sim demos/min (N workers) over lerobot-record's>,
     "workers_over_one": <N workers over 1>, ...}

The N-worker run includes its merge (LeRobot's aggregate_datasets) and its start-up, like the others.

Usage: python bench/record_throughput.py [--task=pick_place] [--episodes=10] [--num_workers=N] [--output=...]
       [--smoke=true]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import draccus
import numpy as np
from _results import RESULTS, machine_description, write_result  # bench/_results.py

BIN = Path(sys.executable).parent
FPS = 30


@dataclass
class RecordThroughputConfig:
    # Task recorded by both paths (envs/agibot_x2/tasks.py).
    task: str = "pick_place"
    # Episodes recorded by each path.
    episodes: int = 10
    # Head camera (height, width) of the robot.
    camera: list[int] = field(default_factory=lambda: [224, 224])
    # Scene seed of the first episode (all runs use the same seeds).
    seed: int = 0
    # Worker processes of the parallel wbvla-record-sim run (None: the machine's CPU count).
    num_workers: int | None = None
    # Tiny settings for the test suite (one episode, a 1 s sim-time budget, a small camera): the figures mean
    # nothing.
    smoke: bool = False
    # Where the JSON goes.
    output: Path = RESULTS / "record_throughput.json"


def _run(args: list[str], label: str) -> tuple[float, str]:
    start = time.monotonic()
    proc = subprocess.run(
        args, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=dict(os.environ)
    )
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, proc.stderr


def _episodes(root: Path) -> list[dict]:
    import pandas as pd

    files = sorted((root / "meta" / "episodes").rglob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files]).to_dict("records")


def _figures(wall: float, solved: int, sim_s: float) -> dict:
    return {
        "wall_s": round(wall, 1),
        "demos_per_minute": round(60.0 * solved / wall, 2),
        "solved": solved,
        "sim_s": round(sim_s, 1),
        "sim_speed": round(sim_s / wall, 3),
    }


def _record_sim(
    cfg: RecordThroughputConfig, root: Path, episodes: int, camera: list[int], workers: int
) -> dict:
    """One wbvla-record-sim run as a user starts it; its figures."""
    args = [
        str(BIN / "wbvla-record-sim"),
        f"--tasks=[{cfg.task}]",
        f"--episodes={episodes}",
        f"--seed={cfg.seed}",
        f"--fps={FPS}",
        f"--robot.head_camera=[{camera[0]},{camera[1]}]",
        "--repo_id=local/record_throughput_sim",
        f"--root={root}",
        f"--num_workers={workers}",
        *(["--episode_time_s=1.0", "--rerecord_failed=false"] if cfg.smoke else []),
    ]
    wall, _ = _run(args, f"wbvla-record-sim --num_workers={workers}")
    rows = _episodes(root)
    solved = sum(bool(r["success"]) for r in rows) if not cfg.smoke else len(rows)
    return _figures(wall, solved, sum(r["length"] for r in rows) / FPS)


def main(cfg: RecordThroughputConfig) -> dict:
    episodes = 1 if cfg.smoke else cfg.episodes
    camera = [48, 64] if cfg.smoke else list(cfg.camera)
    workers = cfg.num_workers or os.cpu_count() or 1
    out: dict = {"task": cfg.task, "episodes": episodes, "camera": camera, "fps": FPS, "seed": cfg.seed}
    with tempfile.TemporaryDirectory(prefix="record-throughput-") as tmp:
        tmp = Path(tmp)
        out["wbvla_record_sim"] = _record_sim(cfg, tmp / "record_sim", episodes, camera, 1)
        # The parallel run records the same episodes (smoke: two, so that two workers have one each).
        parallel_episodes = max(episodes, 2) if cfg.smoke else episodes
        out["wbvla_record_sim_workers"] = {
            "num_workers": workers,
            **_record_sim(cfg, tmp / "record_sim_workers", parallel_episodes, camera, workers),
        }
        # lerobot-record with the scripted operator (it ends each episode itself, in sim time)
        root = tmp / "lerobot_record"
        teleop_budget = ["--teleop.episode_time_s=1.0", "--teleop.rerecord_failed=false"] if cfg.smoke else []
        lr_args = [
            str(BIN / "lerobot-record"),
            "--robot.type=agibot_x2",
            f"--robot.scene={cfg.task}",
            f"--robot.head_camera=[{camera[0]},{camera[1]}]",
            "--teleop.type=x2_scripted",
            f"--teleop.seed={cfg.seed}",
            *teleop_budget,
            "--dataset.repo_id=local/record_throughput_lerobot",
            f"--dataset.root={root}",
            "--dataset.push_to_hub=false",
            "--dataset.no_stamp=true",
            f"--dataset.single_task={cfg.task}",
            f"--dataset.fps={FPS}",
            f"--dataset.num_episodes={episodes}",
            "--dataset.episode_time_s=600",  # a wall-clock bound only
            "--dataset.reset_time_s=30",  # ended by the operator at its first call
            "--play_sounds=false",
        ]
        wall, log = _run(lr_args, "lerobot-record")
        kept = re.findall(r"x2_scripted: episode \d+ .*: solved.* -> kept", log)
        rows = _episodes(root)
        solved = len(rows) if cfg.smoke else len(kept)
        out["lerobot_record"] = _figures(wall, solved, sum(r["length"] for r in rows) / FPS)
    sim_rate, lr_rate = out["wbvla_record_sim"]["demos_per_minute"], out["lerobot_record"]["demos_per_minute"]
    workers_rate = out["wbvla_record_sim_workers"]["demos_per_minute"]
    out["speedup"] = round(sim_rate / lr_rate, 2) if lr_rate > 0 else float(np.inf)
    out["speedup_workers"] = round(workers_rate / lr_rate, 2) if lr_rate > 0 else float(np.inf)
    out["workers_over_one"] = round(workers_rate / sim_rate, 2) if sim_rate > 0 else float(np.inf)
    out["machine"] = machine_description()
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    write_result(
        cfg.output,
        out,
        measures=[
            "lerobot_wbvla/teleoperators/x2_scripted",
            "lerobot_wbvla/robots/agibot_x2",
            "lerobot_wbvla/envs/agibot_x2/tasks.py",
        ],
        smoke=cfg.smoke,
    )
    return out


if __name__ == "__main__":
    main(draccus.parse(config_class=RecordThroughputConfig))
