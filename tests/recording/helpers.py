"""Helpers for the recording tests: leader-arm calibration files, lerobot-record runs, dataset checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lerobot_wbvla.robots.agibot_x2.joints import LEFT_ARM_JOINTS, RIGHT_ARM_JOINTS

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
