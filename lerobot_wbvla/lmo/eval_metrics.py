"""Statistics and metric math of `wbvla-eval-lmo` (pure numpy, no env): confidence intervals and the per-episode
metrics of the issue's scenarios computed from recorded step arrays.

Why these intervals: fall rates over 200 episodes sit near 0 or 1 for the policies that matter (the acceptance is
<= 5% falls vs "nearly every episode"), where the normal approximation gives intervals below 0 or above 1; Wilson's
score interval stays inside [0, 1] and keeps its coverage there. Differences of two fall rates use Newcombe's
hybrid score interval, built from the two Wilson intervals (conservative: it ignores that the policies ran the same
episodes). CoM margins are means over episodes: normal intervals, and the difference of two policies is paired by
episode (same seed, same clips, payloads and pushes), which removes the between-episode variance the pairing shares.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

CONFIDENCE = 0.95


def z_value(confidence: float = CONFIDENCE) -> float:
    """Two-sided standard normal quantile (1.96 for 95%)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_ci(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion `successes / n`; (nan, nan) for n = 0."""
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return (math.nan, math.nan)
    z = z_value(confidence)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # Exact bounds at the ends (the formula gives them up to rounding).
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


def newcombe_diff_ci(
    k1: int, n1: int, k2: int, n2: int, confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """p1 - p2 and Newcombe's hybrid score interval (his method 10) from the two Wilson intervals."""
    if n1 == 0 or n2 == 0:
        return (math.nan, math.nan, math.nan)
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_ci(k1, n1, confidence)
    l2, u2 = wilson_ci(k2, n2, confidence)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (d, max(-1.0, lo), min(1.0, hi))


def mean_ci(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean of the finite values and its normal-approximation interval; nan interval below 2 values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (math.nan, math.nan, math.nan)
    m = float(v.mean())
    if v.size < 2:
        return (m, math.nan, math.nan)
    half = z_value(confidence) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return (m, m - half, m + half)


def paired_diff_ci(
    a: np.ndarray, b: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """Mean of a - b over the episodes where both are finite (same episode index = same seed), with its interval."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same episodes, got shapes {a.shape} and {b.shape}")
    return mean_ci(a - b, confidence)


def wrap_angle(x: np.ndarray) -> np.ndarray:
    """Angles wrapped to [-pi, pi)."""
    return (np.asarray(x) + np.pi) % (2 * np.pi) - np.pi


# ---------------------------------------------------------------------------------------------- per episode
def valid_mask(end_step: np.ndarray, steps: int) -> np.ndarray:
    """(E, T) True for the steps an episode was still up (before its fall step; all T without a fall)."""
    return np.arange(steps)[None, :] < np.asarray(end_step)[:, None]


def masked_stat(values: np.ndarray, mask: np.ndarray, how: str) -> np.ndarray:
    """(E,) mean / min / max of each episode's valid steps (nan for an episode with none)."""
    fill = {"mean": np.nan, "min": np.inf, "max": -np.inf}[how]
    v = np.where(mask, values, fill)
    count = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if how == "mean":
            out = np.where(mask, values, 0.0).sum(axis=1) / count
        elif how == "min":
            out = v.min(axis=1)
        else:
            out = v.max(axis=1)
    return np.where(count > 0, out, np.nan)


def com_sway(com_xy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(E,) RMS horizontal distance (m) of the centre of mass from its own mean over each episode's masked steps:
    sqrt(var x + var y), the CoM sway of the paper's Table 3."""
    w = mask[..., None].astype(np.float64)
    count = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (com_xy * w).sum(axis=1) / count
        sq = (((com_xy - mean[:, None, :]) ** 2) * w).sum(axis=(1, 2)) / count[:, 0]
    return np.where(count[:, 0] > 0, np.sqrt(sq), np.nan)


def yaw_rate(yaw: np.ndarray, init_yaw: np.ndarray, dt: float) -> np.ndarray:
    """(E, T) yaw rate (rad/s) from the yaw after each step and the yaw at the reset."""
    seq = np.unwrap(np.concatenate([init_yaw[:, None], yaw], axis=1), axis=1)
    return np.diff(seq, axis=1) / dt


def commanded_path(
    loco: np.ndarray, init_pos: np.ndarray, init_yaw: np.ndarray, dt: float
) -> tuple[np.ndarray, np.ndarray]:
    """Where a perfect tracker of the command would be after each step: (E, T, 2) position and (E, T) yaw, from
    the pose at the reset, integrating vx, vy (heading frame) and the yaw rate of `loco` (E, T, 4)."""
    yaw = init_yaw[:, None] + np.cumsum(loco[:, :, 2], axis=1) * dt
    # The velocity of step t acts over the step, in the heading at its start.
    heading = np.concatenate([init_yaw[:, None], yaw[:, :-1]], axis=1)
    c, s = np.cos(heading), np.sin(heading)
    vx, vy = loco[:, :, 0], loco[:, :, 1]
    world = np.stack([c * vx - s * vy, s * vx + c * vy], axis=-1)
    pos = init_pos[:, None, :] + np.cumsum(world, axis=1) * dt
    return pos, yaw


def tracking_errors(
    vel_h: np.ndarray,
    rate: np.ndarray,
    loco: np.ndarray,
    mask: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per episode (E,): vel_error, the mean over the masked steps of |v_xy - command| (m/s, heading frame);
    mean_vel_error, |mean v_xy - mean command| (the error of the average speed: gait oscillation cancels);
    yaw_rate_error, the mean |yaw rate - command| (rad/s)."""
    err = np.linalg.norm(vel_h - loco[:, :, :2], axis=2)
    w = mask[..., None].astype(np.float64)
    count = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_v = (vel_h * w).sum(axis=1) / count
        mean_c = (loco[:, :, :2] * w).sum(axis=1) / count
    mean_err = np.where(count[:, 0] > 0, np.linalg.norm(mean_v - mean_c, axis=1), np.nan)
    return {
        "vel_error": masked_stat(err, mask, "mean"),
        "mean_vel_error": mean_err,
        "yaw_rate_error": masked_stat(np.abs(rate - loco[:, :, 2]), mask, "mean"),
    }


def finite_mean(values: np.ndarray) -> float:
    """Mean of the finite values (nan if none): metrics of episodes that produced a value."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else math.nan
