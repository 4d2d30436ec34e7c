"""`wbvla-record-sim --num_workers=2` (the CLI, child processes) records exactly what one process records.

One module run: a one-process reference recording, then a two-worker recording of the same settings that is
stopped twice before it completes (SIGTERM to the command, then SIGKILL of one worker after `--resume=true`), then
resumed to completion. Neither stop may leave a target folder (it appears only complete); the completed one must
equal the reference frame by frame (decoded video, states, actions, next.success / next.done) and episode by
episode (order, success, scene_seed, length, task), load with LeRobotDataset and replay. The short sim-time budget
leaves every attempt unsolved, so every episode is re-recorded once: the seeds of re-recorded attempts are part of
what must match.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import draccus
import numpy as np
import pytest
from lerobot.datasets import LeRobotDataset

from lerobot_wbvla.envs.agibot_x2.tasks import TASKS
from lerobot_wbvla.robots.agibot_x2.joints import STATE_KEYS
from lerobot_wbvla.teleoperators.x2_scripted import record_sim
from lerobot_wbvla.teleoperators.x2_scripted.record_parallel import staging_dir
from lerobot_wbvla.teleoperators.x2_scripted.record_plan import make_plan, split_units

from .helpers import SMALL_CAMERA, dataset_episodes, parquet_frames, replay, stacked

RECORD_SIM = str(Path(sys.executable).with_name("wbvla-record-sim"))
TIMEOUT_S = 300
REPO_ID = "local/x2-parallel"
TASK_NAMES = ["pick_place", "cart_push"]
SAVED = re.compile(r"wbvla-record-sim: episode \d+ .* -> (FLAGGED, )?saved")
POS = [i for i, k in enumerate(STATE_KEYS) if k.endswith(".pos")]


def _flags(root: Path, *extra: str) -> list[str]:
    h, w = SMALL_CAMERA
    return [
        f"--repo_id={REPO_ID}",
        f"--root={root}",
        f"--robot.head_camera=[{h},{w}]",
        f"--tasks=[{','.join(TASK_NAMES)}]",
        "--episodes=3",
        "--seed=5",
        "--episode_time_s=0.5",
        "--max_attempts=2",
        # Camera augmentation on: each episode's lighting and noise must not depend on who records it either.
        "--robot.camera_augment=true",
        *extra,
    ]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"wbvla-record-sim failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return proc


def _stop_after_first_save(args: list[str], stop) -> tuple[int, str]:
    """Run `args`, call `stop(proc)` once its first episode is saved; returns (exit status, log)."""
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    log = []
    try:
        for line in proc.stderr:
            log.append(line)
            if SAVED.search(line):
                stop(proc, log)
                break
        log += proc.stderr.readlines()
        return proc.wait(timeout=TIMEOUT_S), "".join(log)
    finally:
        proc.kill()


def _kill_the_worker_that_saved(proc: subprocess.Popen, log: list[str]) -> None:
    """SIGKILL the worker that saved the last logged episode (its part then holds an episode written after its last
    checkpoint, which --resume=true must roll back); the worker lines say which worker records which episodes."""
    episode = int(re.search(r"episode (\d+) ", next(line for line in reversed(log) if SAVED.search(line)))[1])
    for line in log:
        hit = re.search(r"worker \d+ \(pid (\d+)\) records episodes (.*)", line)
        if hit:
            ranges = [
                tuple(map(int, r.split("-"))) if "-" in r else (int(r), int(r)) for r in hit[2].split(", ")
            ]
            if any(a <= episode <= b for a, b in ranges):
                os.kill(int(hit[1]), signal.SIGKILL)
                return
    raise AssertionError(f"no worker line names episode {episode}:\n{''.join(log)}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("record_parallel")
    out = {"reference": base / "one", "parallel": base / "two"}
    start = time.monotonic()
    # The one-process reference, in this process (the command's start-up is the same for all runs).
    result = record_sim.record_sim(
        draccus.parse(config_class=record_sim.RecordSimConfig, args=_flags(out["reference"]))
    )
    assert len(result.saved) == 3 * len(TASK_NAMES)
    lap = [time.monotonic() - start]
    parallel = [RECORD_SIM, *_flags(out["parallel"], "--num_workers=2")]
    out["sigterm"] = _stop_after_first_save(parallel, lambda p, log: p.send_signal(signal.SIGTERM))
    out["after_sigterm"] = (out["parallel"].exists(), staging_dir(out["parallel"]).exists())
    lap.append(time.monotonic() - start)
    out["sigkill"] = _stop_after_first_save([*parallel, "--resume=true"], _kill_the_worker_that_saved)
    out["after_sigkill"] = (out["parallel"].exists(), staging_dir(out["parallel"]).exists())
    lap.append(time.monotonic() - start)
    out["resumed_proc"] = _run([*parallel, "--resume=true"])
    lap.append(time.monotonic() - start)
    print(
        "record_parallel: reference, SIGTERM, SIGKILL, resumed done at", ", ".join(f"{t:.0f} s" for t in lap)
    )
    return out


def test_a_stopped_parallel_run_leaves_no_target_and_resume_completes_it(runs):
    status, log = runs["sigterm"]
    assert status == 128 + signal.SIGTERM, log[-3000:]
    assert "SIGTERM: nothing merged; the complete episodes are kept in" in log
    assert runs["after_sigterm"] == (False, True)  # no target; the staging folder keeps the episodes
    # A worker that dies: the others stop, one error line names it, still no target.
    status, log = runs["sigkill"]
    assert status == 1, log[-3000:]
    errors = [line for line in log.splitlines() if "error:" in line]
    assert len(errors) == 1 and re.search(r"worker \d died \(signal SIGKILL\)", errors[0]), log[-3000:]
    assert "--resume=true continues the run" in errors[0]
    assert runs["after_sigkill"] == (False, True)
    # Resumed to the end: the target appears, the staging folder is gone.
    root = runs["parallel"]
    assert root.is_dir() and not staging_dir(root).exists()
    assert not any(p.name.startswith((".", "tmp", "images")) for p in root.iterdir())


def test_two_workers_record_what_one_records(runs):
    one, two = runs["reference"], runs["parallel"]
    ds_one, ds_two = LeRobotDataset(REPO_ID, root=one), LeRobotDataset(REPO_ID, root=two)
    assert ds_two.num_episodes == ds_one.num_episodes == 3 * len(TASK_NAMES)
    assert ds_two.num_frames == ds_one.num_frames
    # Episode metadata: same order (task then seed), success, seeds (re-recorded attempts included), lengths.
    columns = ("episode_index", "success", "scene_seed", "length", "dataset_from_index", "dataset_to_index")
    ep_one, ep_two = dataset_episodes(one), dataset_episodes(two)
    for a, b in zip(ep_one, ep_two, strict=True):
        assert {c: a[c] for c in columns} == {c: b[c] for c in columns}
        assert list(a["tasks"]) == list(b["tasks"])
    seeds = [int(e["scene_seed"]) for e in ep_one]
    assert seeds == sorted(seeds) and len(set(seeds)) == len(seeds)
    assert all(
        not e["success"] for e in ep_one
    )  # 0.5 s solves nothing: every kept episode is a second attempt
    # Frames: states, actions, success/done flags, indices, and the decoded video, all equal.
    f_one, f_two = parquet_frames(one), parquet_frames(two)
    for column in ("observation.state", "action"):
        np.testing.assert_array_equal(stacked(f_one[column]), stacked(f_two[column]))
    for column in ("next.success", "next.done", "episode_index", "frame_index", "index", "task_index"):
        assert [str(v) for v in f_one[column]] == [str(v) for v in f_two[column]], column
    for i in range(0, ds_one.num_frames, 7):
        image_one, image_two = ds_one[i]["observation.images.head"], ds_two[i]["observation.images.head"]
        assert float((image_one - image_two).abs().max()) == 0.0, i


def test_the_merged_dataset_replays(runs):
    root = runs["parallel"]
    episodes, frames = dataset_episodes(root), parquet_frames(root)
    ep = episodes[-1]  # the last task's last episode: recorded by a worker, after the merge at the end
    rows = frames[frames["episode_index"] == ep["episode_index"]].sort_values("frame_index")
    task = TASK_NAMES[-1]
    states, actions = stacked(rows["observation.state"]), stacked(rows["action"])
    replayed, _ = replay(TASKS[task].scene, int(ep["scene_seed"]), actions, "parallel-replay")
    error = np.abs(replayed[:, POS].astype(np.float32) - states[:, POS]).max()
    assert error < 1e-6, f"replay deviates from the merged recording by {error:.2e} rad"


def test_the_plan_gives_each_episode_its_seeds_whatever_the_workers():
    slots = make_plan([("pick_place", 5), ("cart_push", 4)], base_seed=10, attempts=3)
    seeds = [s for slot in slots for s in slot.seeds]
    assert len(set(seeds)) == len(seeds) == 27 and seeds == sorted(seeds)
    assert [s.index for s in slots] == list(range(9)) and slots[5].seeds == (25, 26, 27)
    for n in (1, 2, 3, 8):
        units = split_units(slots, n)
        assert [s for unit in units for s in unit] == slots  # in plan order, each slot once
        assert all(len({s.task for s in unit}) == 1 for unit in units)
        for task, count in (("pick_place", 5), ("cart_push", 4)):
            sizes = [len(u) for u in units if u[0].task == task]
            assert len(sizes) == min(n, count) and max(sizes) - min(sizes) <= 1


def test_a_bad_worker_count_is_one_error_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        record_sim.main([f"--root={tmp_path / 'x'}", "--num_workers=0"])
    assert err.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wbvla-record-sim: error: --num_workers must be >= 1"), (
        lines
    )
    assert not any(tmp_path.iterdir())
