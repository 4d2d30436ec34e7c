"""`lerobot-record` (the CLI, child processes) with the scripted operator on the X2 twin: three episodes of each of
the four task scenes into one LeRobot v3 dataset, then checks that the dataset loads, that its frames, videos and
statistics agree, that replaying episode 0's actions on a fresh twin reproduces its joint states (and its camera
video), and that the Hub copy pushed by the last run loads from a fresh root.

Episodes are short (a 2 s sim-time budget, not full demonstrations, with re-recording off) to keep the run near two
minutes: the test is about the recording path. x2_scripted ends each episode itself when its sim-time budget is
spent, so every episode has the same number of frames whatever the machine's speed (lerobot-record's wall-clock
--dataset.episode_time_s is set far above it). Full demos: test_record_scripted.py, test_record_sim.py.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import av
import numpy as np
import pytest
from lerobot.datasets import LeRobotDataset

from lerobot_wbvla.robots.agibot_x2 import AgibotX2, AgibotX2Config
from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, STATE_KEYS
from lerobot_wbvla.robots.agibot_x2.mjcf import build_spec
from lerobot_wbvla.robots.agibot_x2.scenes import get_scene

from .helpers import SMALL_CAMERA, parquet_frames, stacked

TASKS = ("pick_place", "walk_carry", "shelf_place", "cart_push")
EPISODES_PER_TASK = 3
EPISODE_S = 2.0  # x2_scripted's sim-time budget of an episode
WALL_EPISODE_S = 120.0  # lerobot-record's wall-clock bound, never reached
RESET_S = 1.5
FPS = 30
ROBOT_ID = "rec-x2"
SEED = 0
LEROBOT_RECORD = str(Path(sys.executable).with_name("lerobot-record"))
TESTS_DIR = Path(__file__).resolve().parents[1]


@functools.cache
def task_string(scene: str) -> str:
    """The task string a scene declares (scenes.py is the single source), built on the twin's MJCF world."""
    return get_scene(scene)(build_spec()).task


def robot_config(scene: str, robot_id: str = ROBOT_ID) -> AgibotX2Config:
    # The sim backend has no wall-clock command watchdog by default: a CPU stall cannot change what is executed.
    return AgibotX2Config(id=robot_id, scene=scene, seed=SEED, head_camera=SMALL_CAMERA)


def record_args(scene: str, repo_id: str, root: Path, resume: bool, push: bool) -> list[str]:
    h, w = SMALL_CAMERA
    return [
        LEROBOT_RECORD,
        "--robot.type=agibot_x2",
        f"--robot.id={ROBOT_ID}",
        f"--robot.scene={scene}",
        f"--robot.seed={SEED}",
        f"--robot.head_camera=[{h},{w}]",
        "--teleop.type=x2_scripted",
        f"--teleop.robot_id={ROBOT_ID}",
        f"--teleop.seed={SEED}",
        f"--teleop.episode_time_s={EPISODE_S}",
        "--teleop.rerecord_failed=false",
        f"--dataset.repo_id={repo_id}",
        f"--dataset.root={root}",
        "--dataset.no_stamp=true",
        f"--dataset.single_task={task_string(scene)}",
        f"--dataset.fps={FPS}",
        f"--dataset.num_episodes={EPISODES_PER_TASK}",
        f"--dataset.episode_time_s={WALL_EPISODE_S}",
        f"--dataset.reset_time_s={RESET_S}",
        "--dataset.num_image_writer_threads_per_camera=1",
        f"--dataset.push_to_hub={str(push).lower()}",
        f"--resume={str(resume).lower()}",
        "--play_sounds=false",
    ]


@pytest.fixture(scope="module")
def recording(tmp_path_factory, hub_server):
    """Run lerobot-record once per task (the first creates the dataset, the others --resume it, the last pushes)."""
    env = dict(os.environ)  # the same local Hub and caches; the card-validation fix applied in the child
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(TESTS_DIR / "_sitecustomize"), env.get("PYTHONPATH")) if p
    )
    env["WBVLA_TEST_HUB_PATCH"] = "1"
    root = tmp_path_factory.mktemp("x2_record") / "dataset"
    repo_id = f"wbvla-tests/x2-tasks-{uuid.uuid4().hex[:8]}"
    seconds = {}
    for i, scene in enumerate(TASKS):
        args = record_args(scene, repo_id, root, resume=i > 0, push=i == len(TASKS) - 1)
        start = time.monotonic()
        proc = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
        )
        seconds[scene] = time.monotonic() - start
        assert proc.returncode == 0, f"lerobot-record ({scene}) failed:\n{proc.stderr[-4000:]}"
    print(f"lerobot-record wall seconds per task: { {k: round(v, 1) for k, v in seconds.items()} }")
    return {"root": root, "repo_id": repo_id, "seconds": seconds}


@pytest.fixture(scope="module")
def dataset(recording) -> LeRobotDataset:
    return LeRobotDataset(recording["repo_id"], root=recording["root"])


def test_dataset_has_every_task_episode_and_frame(dataset, recording):
    n_eps = EPISODES_PER_TASK * len(TASKS)
    assert dataset.num_episodes == n_eps
    assert dataset.fps == FPS and dataset.meta.robot_type == "agibot_x2"
    assert list(dataset.meta.tasks.index) == [task_string(t) for t in TASKS]
    assert dataset.features["observation.images.head"]["dtype"] == "video"
    assert tuple(dataset.features["observation.images.head"]["shape"]) == (*SMALL_CAMERA, 3)
    assert dataset.features["observation.state"]["names"] == list(STATE_KEYS)
    assert dataset.features["action"]["names"] == list(ACTION_KEYS)

    frames = parquet_frames(recording["root"])
    assert len(frames) == dataset.num_frames
    lengths = {int(ep["episode_index"]): int(ep["length"]) for ep in dataset.meta.episodes}
    assert sorted(lengths) == list(range(n_eps))
    for ep, group in frames.groupby("episode_index"):
        n = lengths[int(ep)]
        assert len(group) == n == EPISODE_S * FPS + 1  # the sim-time budget (and the frame that ends it)
        assert group["frame_index"].tolist() == list(range(n))
        np.testing.assert_allclose(group["timestamp"].to_numpy(), np.arange(n) / FPS, atol=1e-4)
        assert (
            group["task_index"].nunique() == 1
            and int(group["task_index"].iloc[0]) == int(ep) // EPISODES_PER_TASK
        )
    assert frames["index"].tolist() == list(range(dataset.num_frames))


def test_videos_hold_one_frame_per_dataset_frame(dataset, recording):
    files = sorted((recording["root"] / "videos" / "observation.images.head").rglob("*.mp4"))
    assert files
    decoded = 0
    for f in files:
        with av.open(str(f)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.height, stream.codec_context.width) == SMALL_CAMERA
            decoded += sum(1 for _ in container.decode(stream))
    assert decoded == dataset.num_frames
    for ep in dataset.meta.episodes:
        span = (
            ep["videos/observation.images.head/to_timestamp"]
            - ep["videos/observation.images.head/from_timestamp"]
        )
        assert round(span * FPS) == int(ep["length"])
    # First and last frame of every episode decode through LeRobotDataset at the right size.
    for ep in dataset.meta.episodes:
        for idx in (int(ep["dataset_from_index"]), int(ep["dataset_to_index"]) - 1):
            item = dataset[idx]
            assert tuple(item["observation.images.head"].shape) == (3, *SMALL_CAMERA)
            assert int(item["episode_index"]) == int(ep["episode_index"])


def test_stats_match_the_recorded_values(dataset, recording):
    frames = parquet_frames(recording["root"])
    stats = dataset.meta.stats
    for key in ("observation.state", "action"):
        values = stacked(frames[key])
        np.testing.assert_allclose(stats[key]["min"], values.min(0), atol=1e-6)
        np.testing.assert_allclose(stats[key]["max"], values.max(0), atol=1e-6)
        np.testing.assert_allclose(stats[key]["mean"], values.mean(0), atol=1e-5)
        # LeRobot computes var = E[x^2] - E[x]^2 in float32 (RunningQuantileStats), which loses about
        # eps32 * E[x^2] of variance to cancellation: near-constant joints (std ~1e-5 rad) need that margin.
        cancellation = 16 * np.finfo(np.float32).eps * (values**2).mean(0)
        np.testing.assert_array_less(
            np.abs(np.asarray(stats[key]["std"]) ** 2 - values.var(0)), cancellation + 1e-10
        )
    # Image stats come from frames LeRobot sampled while encoding; they must match the decoded video's.
    sample = np.linspace(0, dataset.num_frames - 1, 40).astype(int)
    imgs = np.stack([dataset[int(i)]["observation.images.head"].numpy() for i in sample])
    mean = np.asarray(stats["observation.images.head"]["mean"]).reshape(3)
    np.testing.assert_allclose(mean, imgs.mean(axis=(0, 2, 3)), atol=0.04)
    assert np.all(np.asarray(stats["observation.images.head"]["min"]) >= 0)
    assert np.all(np.asarray(stats["observation.images.head"]["max"]) <= 1)


def test_replaying_episode_zero_reproduces_joint_states_and_video(dataset, recording):
    frames = parquet_frames(recording["root"])
    ep0 = frames[frames["episode_index"] == 0].sort_values("frame_index")
    states, actions = stacked(ep0["observation.state"]), stacked(ep0["action"])
    pos = [i for i, k in enumerate(STATE_KEYS) if k.endswith(".pos")]
    assert np.ptp(actions[:, :14], axis=0).max() > 0.05, "the operator should have moved an arm in episode 0"

    robot = AgibotX2(robot_config(TASKS[0], robot_id="replay-x2"))
    robot.connect()
    errors, pixel_errors = [], []
    try:
        obs = robot.get_observation()
        for t in range(len(actions)):
            replayed = np.array([obs[k] for k in STATE_KEYS])
            errors.append(np.abs(replayed[pos] - states[t][pos]).max())
            video = dataset[t]["observation.images.head"].numpy().transpose(1, 2, 0) * 255.0
            pixel_errors.append(np.abs(video - obs["head"].astype(float)).mean())
            robot.send_action(dict(zip(ACTION_KEYS, actions[t], strict=True)))
            obs = robot.get_observation()
    finally:
        robot.disconnect()
    assert max(errors) < 1e-5, (
        f"replayed joint positions drift from the recording by up to {max(errors):.2e} rad"
    )
    # The video (lossy AV1) shows what the replayed twin renders, frame by frame...
    assert max(pixel_errors) < 5.0, (
        f"video vs replayed render: mean abs error up to {max(pixel_errors):.1f}/255"
    )
    # ...and tells scenes apart: the same scene with the next seed (box elsewhere) is clearly further away.
    other = AgibotX2(robot_config(TASKS[0], robot_id="other-seed-x2"))
    other.config.seed = SEED + 1
    other.connect()
    try:
        other_view = other.get_observation()["head"].astype(float)
    finally:
        other.disconnect()
    video0 = dataset[0]["observation.images.head"].numpy().transpose(1, 2, 0) * 255.0
    assert np.abs(video0 - other_view).mean() > 2 * pixel_errors[0]


def test_pushed_dataset_loads_from_a_fresh_root(recording, hub_api, tmp_path):
    repo_id = recording["repo_id"]
    files = set(hub_api.list_repo_files(repo_id, repo_type="dataset"))
    assert {"meta/info.json", "meta/stats.json", "README.md"} <= files
    assert any(f.startswith("videos/observation.images.head/") for f in files)
    local = LeRobotDataset(repo_id, root=recording["root"])
    pulled = LeRobotDataset(repo_id, root=tmp_path / "fresh")
    assert (pulled.num_episodes, pulled.num_frames) == (local.num_episodes, local.num_frames)
    for idx in (0, local.num_frames // 2, local.num_frames - 1):
        a, b = local[idx], pulled[idx]
        assert np.array_equal(a["observation.state"].numpy(), b["observation.state"].numpy())
        assert np.array_equal(a["observation.images.head"].numpy(), b["observation.images.head"].numpy())
        assert a["task"] == b["task"]
    refs = hub_api.list_repo_refs(repo_id, repo_type="dataset")
    assert any(tag.name.startswith("v3") for tag in refs.tags)
