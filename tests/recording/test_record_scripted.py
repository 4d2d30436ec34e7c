"""`lerobot-record --teleop.type=x2_scripted` (the CLI, a child process) beside two CPU-burning processes: full
scripted demos of pick_place, each ended by the operator once solved (sim time), not by the wall clock.

Every saved episode must be solved (its replay ends solved, the operator's log line says so and it is shorter than
the sim-time budget), start on its own fresh scene (its first state and image are those of `reset(scene_seed)`,
seeds differ) and replay to its recorded joint states from that reset.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
from lerobot.datasets import LeRobotDataset

from lerobot_wbvla.envs.agibot_x2.tasks import TASKS
from lerobot_wbvla.robots.agibot_x2.joints import STATE_KEYS

from .helpers import SMALL_CAMERA, cpu_burners, fresh_view, off_pixels, parquet_frames, replay, stacked

LEROBOT_RECORD = str(Path(sys.executable).with_name("lerobot-record"))
TASK = "pick_place"
EPISODES = 2
FPS = 30
SEED = 3
POS = [i for i, k in enumerate(STATE_KEYS) if k.endswith(".pos")]


def test_scripted_lerobot_record_under_load_saves_solved_fresh_replayable_episodes(tmp_path, subprocess_env):
    from lerobot_wbvla.robots.agibot_x2.mjcf import build_spec
    from lerobot_wbvla.robots.agibot_x2.scenes import get_scene

    task_string = get_scene(TASK)(build_spec()).task
    root, repo_id = tmp_path / "ds", f"wbvla-tests/x2-scripted-{uuid.uuid4().hex[:8]}"
    h, w = SMALL_CAMERA
    args = [
        LEROBOT_RECORD,
        "--robot.type=agibot_x2",
        f"--robot.scene={TASK}",
        f"--robot.head_camera=[{h},{w}]",
        "--teleop.type=x2_scripted",
        f"--teleop.seed={SEED}",
        f"--dataset.repo_id={repo_id}",
        f"--dataset.root={root}",
        "--dataset.no_stamp=true",
        "--dataset.push_to_hub=false",
        f"--dataset.single_task={task_string}",
        f"--dataset.fps={FPS}",
        f"--dataset.num_episodes={EPISODES}",
        "--dataset.episode_time_s=400",  # a wall-clock bound only: the operator ends each episode in sim time
        "--dataset.reset_time_s=30",
        "--dataset.num_image_writer_threads_per_camera=1",
        "--play_sounds=false",
    ]
    with cpu_burners(2):
        start = time.monotonic()
        proc = subprocess.run(
            args, env=subprocess_env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL
        )
        wall = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-4000:]
    print(f"lerobot-record x2_scripted, {EPISODES} x {TASK} beside two CPU burners: {wall:.0f} s wall")
    log = proc.stderr
    kept = {
        int(m[1]): (int(m[2]), m[3])
        for m in re.finditer(
            r"x2_scripted: episode (\d+) \S+ scene_seed=(\d+) attempt=\d+: (solved|UNSOLVED).* -> kept", log
        )
    }
    assert sorted(kept) == list(range(EPISODES)), log[-3000:]
    assert all(verdict == "solved" for _, verdict in kept.values())
    assert len({seed for seed, _ in kept.values()}) == EPISODES
    assert "FLAGGED" not in log

    ds = LeRobotDataset(repo_id, root=root)
    assert ds.num_episodes == EPISODES
    frames = parquet_frames(root)
    budget = TASKS[TASK].episode_s * FPS
    for k, (seed, _) in kept.items():
        rows = frames[frames["episode_index"] == k].sort_values("frame_index")
        states, actions = stacked(rows["observation.state"]), stacked(rows["action"])
        assert 5 * FPS < len(rows) < budget  # a whole demo, ended when solved (not at the budget)
        # Fresh scene: the first frame is the state and the view of reset(scene_seed).
        fresh_state, fresh_image = fresh_view(TASKS[TASK].scene, seed, f"lr-fresh-{k}")
        np.testing.assert_array_equal(states[0], fresh_state.astype(np.float32))
        video0 = ds[int(rows["index"].iloc[0])]["observation.images.head"].numpy().transpose(1, 2, 0) * 255
        off_fresh = off_pixels(video0, fresh_image)
        off_other = off_pixels(video0, fresh_view(TASKS[TASK].scene, seed + 1000, f"lr-other-{k}")[1])
        assert off_fresh < 0.01 and 2 * off_fresh < off_other, (off_fresh, off_other)
        # Replays exactly from reset(scene_seed), and the replayed twin ends solved.
        replayed, solved = replay(TASKS[TASK].scene, seed, actions, f"lr-replay-{k}")
        error = np.abs(replayed[:, POS].astype(np.float32) - states[:, POS]).max()
        assert error < 1e-6, f"episode {k}: replay deviates by {error:.2e} rad"
        assert solved, f"episode {k} does not end solved"
