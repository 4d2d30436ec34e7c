"""Helpers of the egocentric video tests (tests/egovideo, tests/datasets/test_ds_raycast_egovideo.py)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from lerobot_wbvla.datasets.egovideo.labels import ClipRecord


def head_steps(pose: np.ndarray) -> dict[str, np.ndarray]:
    """Per frame transition t -> t+1 of labels.jsonl head poses (T, 6) in the heading frame at t: forward, left,
    up (m) and yaw change (deg). A frame label says the motion of exactly this transition (CONTRACTS.md)."""
    d = pose[1:, :3] - pose[:-1, :3]
    yaw = pose[:-1, 3]
    dyaw = (pose[1:, 3] - pose[:-1, 3] + np.pi) % (2 * np.pi) - np.pi
    return {
        "fwd": d[:, 0] * np.cos(yaw) + d[:, 1] * np.sin(yaw),
        "left": -d[:, 0] * np.sin(yaw) + d[:, 1] * np.cos(yaw),
        "up": d[:, 2],
        "dyaw": np.rad2deg(dyaw),
    }


def transitions_by_label(
    rec: ClipRecord,
) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """For each frame label of a clip: (label, fwd, left, up, dyaw) of every transition it labels (`head_steps`;
    the last frame has no next frame)."""
    s = head_steps(np.array(rec.head_pose))
    labels = np.array(rec.frame_labels[:-1])
    for name in sorted(set(labels)):
        m = labels == name
        yield str(name), s["fwd"][m], s["left"][m], s["up"][m], s["dyaw"][m]
