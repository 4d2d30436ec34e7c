"""Stage I's random velocity commands and widening joint ranges (the curriculum's stages, lmo/curriculum.py).

Host-side numpy for both backends: the commands are (N, 4) per env like the clips' locomotion rows (vx, vy,
yaw_rate, height), so the observation and reward terms see them exactly as they see a clip's schedule.
"""

from __future__ import annotations

import numpy as np

from lerobot_wbvla.lmo.curriculum import StageConfig


def widen(start: float, level: float) -> float:
    """The fraction of a range in use at curriculum `level`: `start` at level 0, the whole range at level 1."""
    return start + (1.0 - start) * level


def sample_commands(rng: np.random.Generator, n: int, stage: StageConfig, level: float) -> np.ndarray:
    """(n, 4) random commands: vx, vy, yaw rate uniform in the stage's ranges scaled about zero by
    widen(command_range_start, level); a `stand_fraction` of them all zero; the height offset 0 (nominal)."""
    f = widen(stage.command_range_start, level)
    cmd = np.zeros((n, 4))
    for k, (lo, hi) in enumerate((stage.vx, stage.vy, stage.yaw_rate)):
        cmd[:, k] = rng.uniform(f * lo, f * hi, size=n)
    cmd[rng.random(n) < stage.stand_fraction, :3] = 0.0
    return cmd


def joint_range(
    lo: np.ndarray, hi: np.ndarray, stance: np.ndarray, stage: StageConfig, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """The leg PD targets' limits at `level`: each joint's range shrunk about the stance to
    widen(joint_range_start, level) of its extent on either side."""
    f = widen(stage.joint_range_start, level)
    stance = np.clip(stance, lo, hi)
    return stance - f * (stance - lo), stance + f * (hi - stance)
