"""Helpers for the recording tests: leader-arm calibration files, CPU burners, dataset reads, replays."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from lerobot_wbvla.robots.agibot_x2.joints import LEFT_ARM_JOINTS, RIGHT_ARM_JOINTS
from lerobot_wbvla.teleoperators.x2_scripted.realtime import demote_realtime_threads

SMALL_CAMERA = (96, 128)


def write_leader_calibration(calibration_dir: Path, teleop_id: str) -> Path:
    """A calibration file matching simulated leader arms whose shafts sit at mid-turn (the calibration pose):
    joints homed at 0 with the (0, 4094) range, triggers travelling 400 ticks up from 2047."""
    cal = {}
    for joints, side in ((LEFT_ARM_JOINTS, "left"), (RIGHT_ARM_JOINTS, "right")):
        for i, joint in enumerate(joints):
            cal[joint] = {"id": i + 1, "drive_mode": 0, "homing_offset": 0, "range_min": 0, "range_max": 4094}
        cal[f"{side}_gripper"] = {
            "id": 8,
            "drive_mode": 0,
            "homing_offset": 0,
            "range_min": 2047,
            "range_max": 2447,
        }
    calibration_dir.mkdir(parents=True, exist_ok=True)
    path = calibration_dir / f"{teleop_id}.json"
    path.write_text(json.dumps(cal, indent=2))
    return path


def parquet_frames(root: Path):
    """All rows of a v3 dataset's data parquet files, as one pandas DataFrame sorted by global index."""
    import pandas as pd

    files = sorted((root / "data").rglob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files]).sort_values("index").reset_index(drop=True)


def stacked(column) -> np.ndarray:
    return np.stack([np.asarray(v, dtype=np.float64) for v in column])


# A burner on the normal scheduler, whatever it inherited.
_BURN = (
    "import os\n"
    "if hasattr(os, 'sched_setscheduler'):\n"
    "    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))\n"
    "while True:\n"
    "    pass\n"
)


@contextlib.contextmanager
def cpu_burners(n: int = 2):
    """`n` processes spinning a CPU core each at normal priority (a loaded machine), killed on exit.

    Run as root, SVT-AV1 (LeRobot's AV1 encoder) puts a thread that encodes a video on SCHED_FIFO 99, and processes
    forked from it inherit that: after a test encoded in this process, real-time burners would starve every other
    process of the machine for good (the recording under test included), and a real-time recorder would not feel
    normal burners. So this process goes back to the normal scheduler first (its children, the recorder too,
    inherit that), and each burner makes sure of it itself."""
    demote_realtime_threads()
    procs = [subprocess.Popen([sys.executable, "-c", _BURN]) for _ in range(n)]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def dataset_episodes(root: Path) -> list[dict]:
    """Rows of meta/episodes (all files), sorted by episode index."""
    import pandas as pd

    files = sorted((root / "meta" / "episodes").rglob("*.parquet"))
    df = pd.concat([pd.read_parquet(f) for f in files]).sort_values("episode_index")
    return df.to_dict("records")


def replay(scene: str, seed: int, actions: np.ndarray, robot_id: str, head_camera=SMALL_CAMERA):
    """Replay recorded actions on a fresh twin reset with `seed`. Returns (the state before each action, whether the
    task's success check holds on the replayed twin at the end)."""
    from lerobot_wbvla.envs.agibot_x2.tasks import TASKS, SuccessCheck
    from lerobot_wbvla.robots.agibot_x2 import AgibotX2, AgibotX2Config
    from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS

    task = next(t for t in TASKS.values() if t.scene == scene)
    robot = AgibotX2(AgibotX2Config(id=robot_id, scene=scene, seed=seed, head_camera=head_camera))
    robot.connect()
    try:
        sim = robot.backend.sim
        check = SuccessCheck(task, sim.model)
        check.reset(sim.data)
        states = []
        for a in actions:
            states.append(sim.state_vector())
            robot.send_action(dict(zip(ACTION_KEYS, a.tolist(), strict=True)))
        solved = bool(check(sim.data))
    finally:
        robot.disconnect()
    return np.stack(states), solved


def fresh_view(
    scene: str, seed: int, robot_id: str, head_camera=SMALL_CAMERA
) -> tuple[np.ndarray, np.ndarray]:
    """(state vector, head image) of a twin just reset with `seed`."""
    from lerobot_wbvla.robots.agibot_x2 import AgibotX2, AgibotX2Config

    robot = AgibotX2(AgibotX2Config(id=robot_id, scene=scene, seed=seed, head_camera=head_camera))
    robot.connect()
    try:
        return robot.backend.sim.state_vector(), robot.get_observation()["head"]
    finally:
        robot.disconnect()


def off_pixels(video_frame: np.ndarray, render: np.ndarray, threshold: float = 40.0) -> float:
    """Fraction of pixels whose colour differs by more than `threshold` (of 255) between a decoded video frame
    (HxWx3, 0..255 floats) and a render (HxWx3 uint8): ~0 for the same scene through lossy video, clearly more
    when a prop sits elsewhere (a mean error would drown a small moved object in compression noise)."""
    return float(np.mean(np.abs(video_frame - render.astype(float)).max(axis=-1) > threshold))
