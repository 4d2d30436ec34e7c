"""`wbvla-record-sim` (the CLI, child processes) on a loaded machine: two CPU-burning processes run beside it.

One run records a scripted episode of every task: each saved episode must be solved (`success` in its metadata,
`next.success` true at its end), start on its own fresh scene (its first state and image are those of
`reset(scene_seed)`, and no two episodes share a seed) and replay to its recorded joint states from that reset.
A second run with a sim-time budget too short to solve the task and re-recording off must flag the failure in the
dataset (`success` false, `next.success` false) and in the log; it also pushes through LeRobot's push to the local
Hub, and the pulled copy loads. lerobot-doctor checks the first dataset. A SIGTERM'd run keeps its complete
episodes, and `--resume=true` completes it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from lerobot.datasets import LeRobotDataset

from lerobot_wbvla.envs.agibot_x2.tasks import TASKS
from lerobot_wbvla.robots.agibot_x2.joints import STATE_KEYS
from lerobot_wbvla.teleoperators.x2_scripted import record_sim

from .helpers import (
    SMALL_CAMERA,
    cpu_burners,
    dataset_episodes,
    fresh_view,
    off_pixels,
    parquet_frames,
    replay,
    stacked,
)

RECORD_SIM = str(Path(sys.executable).with_name("wbvla-record-sim"))
TIMEOUT_S = 600
SITECUSTOMIZE = Path(__file__).resolve().parents[1] / "_sitecustomize"
SEED = 11
POS = [i for i, k in enumerate(STATE_KEYS) if k.endswith(".pos")]


def flags(column) -> np.ndarray:
    """A bool feature of shape (1,) as stored in the parquet files (one scalar per frame) -> bool vector."""
    return np.asarray([bool(np.asarray(v).reshape(-1)[0]) for v in column])


IMU = [i for i, k in enumerate(STATE_KEYS) if k.startswith("imu.")]


def _args(root: Path, repo_id: str, *extra: str) -> list[str]:
    h, w = SMALL_CAMERA
    return [
        RECORD_SIM,
        f"--repo_id={repo_id}",
        f"--root={root}",
        f"--robot.head_camera=[{h},{w}]",
        f"--seed={SEED}",
        *extra,
    ]


def _run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, f"wbvla-record-sim failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def recordings(tmp_path_factory, hub_server):
    env = dict(os.environ)  # the local Hub of tests/conftest.py, and its card-validation fix in the child
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SITECUSTOMIZE), env.get("PYTHONPATH")) if p)
    env["WBVLA_TEST_HUB_PATCH"] = "1"
    base = tmp_path_factory.mktemp("record_sim")
    solved = {"root": base / "solved", "repo_id": f"wbvla-tests/x2-sim-{uuid.uuid4().hex[:8]}"}
    failed = {"root": base / "failed", "repo_id": f"wbvla-tests/x2-sim-fail-{uuid.uuid4().hex[:8]}"}
    with cpu_burners(2):
        start = time.monotonic()
        solved["proc"] = _run(
            _args(solved["root"], solved["repo_id"], f"--tasks=[{','.join(TASKS)}]", "--episodes=1"), env
        )
        solved["wall_s"] = time.monotonic() - start
        failed["proc"] = _run(
            _args(
                failed["root"],
                failed["repo_id"],
                "--tasks=[pick_place]",
                "--episodes=1",
                "--episode_time_s=1.0",
                "--rerecord_failed=false",
                "--push_to_hub=true",
            ),
            env,
        )
    print(f"wbvla-record-sim, 4 tasks x 1 episode beside two CPU burners: {solved['wall_s']:.0f} s wall")
    return {"solved": solved, "failed": failed}


def test_every_episode_is_solved_fresh_and_replays(recordings):
    rec = recordings["solved"]
    ds = LeRobotDataset(rec["repo_id"], root=rec["root"])
    assert ds.num_episodes == len(TASKS) and ds.meta.robot_type == "agibot_x2"
    assert ds.features["next.success"]["dtype"] == "bool" and ds.features["next.done"]["dtype"] == "bool"
    episodes = dataset_episodes(rec["root"])
    frames = parquet_frames(rec["root"])
    seeds = [int(ep["scene_seed"]) for ep in episodes]
    assert len(set(seeds)) == len(seeds)  # every episode its own scene
    assert "FLAGGED" not in rec["proc"].stderr and "clamped" not in rec["proc"].stderr  # executed == recorded
    for ep, task in zip(episodes, TASKS, strict=True):
        k = int(ep["episode_index"])
        rows = frames[frames["episode_index"] == k].sort_values("frame_index")
        success, done = flags(rows["next.success"]), flags(rows["next.done"])
        # Solved: in the episode's metadata, and per frame at its end (not at its start); done only at the end.
        assert ep["success"] is True or ep["success"] == 1, (task, ep)
        assert success[-1] and not success[0], task
        assert done[-1] and not done[:-1].any(), task
        assert f"{task} scene_seed={ep['scene_seed']} attempt=1: solved" in rec["proc"].stderr
        # Starts on its own fresh scene: the first frame is the state and the view of reset(scene_seed).
        states, actions = stacked(rows["observation.state"]), stacked(rows["action"])
        fresh_state, fresh_image = fresh_view(TASKS[task].scene, int(ep["scene_seed"]), f"fresh-{k}")
        np.testing.assert_array_equal(states[0], fresh_state.astype(np.float32))
        video0 = ds[int(ep["dataset_from_index"])]["observation.images.head"].numpy().transpose(1, 2, 0) * 255
        off_fresh = off_pixels(video0, fresh_image)
        off_other = [
            off_pixels(video0, fresh_view(TASKS[task].scene, int(ep["scene_seed"]) + d, f"other-{k}-{d}")[1])
            for d in (1, 1000)
        ]
        assert off_fresh < 0.01 and 2 * off_fresh < min(off_other), (task, off_fresh, off_other)
        # Replays to its recorded joint states from reset(scene_seed) with its recorded actions (the executed ones).
        # The replayed twin ends solved too (the task check itself, not the recorder's word for it).
        replayed, solved_at_end = replay(TASKS[task].scene, int(ep["scene_seed"]), actions, f"replay-{k}")
        error = np.abs(replayed[:, POS].astype(np.float32) - states[:, POS]).max()
        assert error < 1e-6, f"{task}: replay deviates from the recording by {error:.2e} rad"
        assert solved_at_end, task


def test_a_forced_failure_is_flagged_in_the_dataset_and_the_log(recordings):
    rec = recordings["failed"]
    ds = LeRobotDataset(rec["repo_id"], root=rec["root"])
    [ep] = dataset_episodes(rec["root"])
    assert not ep["success"]
    frames = parquet_frames(rec["root"])
    assert not flags(frames["next.success"]).any() and flags(frames["next.done"])[-1]
    assert ds.num_frames == round(1.0 * 30)  # the sim-time budget, whatever the machine's speed
    log = rec["proc"].stderr
    assert re.search(r"ERROR .*episode 0 pick_place scene_seed=\d+ attempt=1: UNSOLVED .* -> FLAGGED", log), (
        log[-3000:]
    )


def test_the_pushed_dataset_loads_from_a_fresh_root(recordings, hub_api, tmp_path):
    rec = recordings["failed"]
    files = set(hub_api.list_repo_files(rec["repo_id"], repo_type="dataset"))
    assert {"meta/info.json", "meta/stats.json"} <= files and not any(f.startswith("tmp") for f in files)
    pulled = LeRobotDataset(rec["repo_id"], root=tmp_path / "pulled")
    local = LeRobotDataset(rec["repo_id"], root=rec["root"])
    assert (pulled.num_episodes, pulled.num_frames) == (local.num_episodes, local.num_frames)
    assert [bool(s) for s in pulled.meta.episodes["success"]] == [False]
    last = pulled.num_frames - 1
    assert np.array_equal(pulled[last]["observation.state"].numpy(), local[last]["observation.state"].numpy())


def test_lerobot_doctor_finds_no_imu_start_transient(recordings):
    """lerobot-doctor's distribution check flags values more than 10 std from a dimension's mean over the dataset
    ("observation.state[i]: N extreme outlier(s)"). A twin dropped at reset read 1.3 then 22.3 m/s^2 in the first
    frames of every episode: outliers at every episode's start. Needs the twin to start every episode settled
    (X2Sim.reset). The IMU of a kinematic base is so quiet that a base stop mid-episode can be an outlier too, so
    the doctor's IMU outliers are located with its own criterion (the counts must match its report) and none may
    lie in an episode's first half second."""
    root = recordings["solved"]["root"]
    doctor = str(Path(sys.executable).with_name("lerobot-doctor"))
    proc = subprocess.run([doctor, str(root), "--json"], capture_output=True, text=True, timeout=300)
    report = json.loads(proc.stdout)
    messages = [m["message"] for check in report["checks"] for m in check["messages"]]
    assert report["overall_severity"] != "FAIL", messages
    reported = {}
    for m in messages:
        hit = re.match(r"observation\.state\[(\d+)\]: (\d+) extreme outlier", m)
        if hit and int(hit[1]) in IMU:
            reported[int(hit[1])] = int(hit[2])
    frames = parquet_frames(root)
    states = stacked(frames["observation.state"]).astype(np.float32).astype(np.float64)
    start = frames["frame_index"].to_numpy() < 15
    located = {}
    for dim in IMU:
        v = states[:, dim]
        outliers = np.abs((v - v.mean()) / v.std()) > 10 if v.std() > 0 else np.zeros(len(v), bool)
        if outliers.any():
            located[dim] = outliers
    assert {d: int(o.sum()) for d, o in located.items()} == reported, "not lerobot-doctor's criterion"
    at_start = {STATE_KEYS[d]: int((o & start).sum()) for d, o in located.items() if (o & start).any()}
    assert not at_start, f"IMU outliers in the first 0.5 s of episodes (a reset transient): {at_start}"


def test_bad_input_is_one_error_line_and_writes_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        record_sim.main([f"--root={tmp_path / 'x'}", "--tasks=[pick_place,fly]"])
    assert err.value.code == 2
    out = capsys.readouterr().err.strip().splitlines()
    assert out == [
        "wbvla-record-sim: error: --tasks names unknown task(s) ['fly']; choose from pick_place, walk_carry, "
        "shelf_place, cart_push"
    ]
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(SystemExit):
        record_sim.main([f"--root={existing}"])
    assert "already exists: pass --resume=true" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        record_sim.main([f"--root={tmp_path / 'y'}", "--resume=true"])
    assert "no dataset in" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]


def test_sigterm_keeps_complete_episodes_and_resume_completes_the_run(tmp_path, subprocess_env):
    root, repo_id = tmp_path / "ds", "wbvla-tests/x2-sim-sigterm"
    args = _args(root, repo_id, "--tasks=[cart_push]", "--episodes=3")
    proc = subprocess.Popen(
        args, env=subprocess_env, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
    )
    log = []
    try:
        for line in proc.stderr:  # wait until one episode is complete on disk, then stop the run mid-episode
            log.append(line)
            if "-> saved" in line:
                proc.send_signal(signal.SIGTERM)
                break
        log += proc.stderr.readlines()
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM, "".join(log)[-3000:]
    finally:
        proc.kill()
    text = "".join(log)
    assert "SIGTERM: discarded the episode in progress" in text
    kept = LeRobotDataset(repo_id, root=root)
    assert kept.num_episodes >= 1 and all(bool(s) for s in kept.meta.episodes["success"])
    # --resume=true records the missing episodes, on new seeds.
    resumed = subprocess.run(
        [*args, "--resume=true"], env=subprocess_env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ds = LeRobotDataset(repo_id, root=root)
    seeds = [int(s) for s in ds.meta.episodes["scene_seed"]]
    assert ds.num_episodes == 3 and len(set(seeds)) == 3
    # Nothing but the dataset is left: no streaming-encoder folder, no checkpoint record of a run that ended.
    assert not any(p.name.startswith(("tmp", ".")) for p in root.iterdir())
