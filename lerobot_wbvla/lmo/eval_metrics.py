"""Statistics and metric math of `wbvla-eval-lmo` (pure numpy, no env): confidence intervals, the per-episode
metrics computed from recorded step arrays, and each scenario's summary from an `eval_env.EpisodeRecord`.

Why these intervals: fall rates over 200 episodes sit near 0 or 1 for the policies that matter (the acceptance is
<= 5% falls vs "nearly every episode"), where the normal approximation gives intervals below 0 or above 1; Wilson's
score interval stays inside [0, 1] and keeps its coverage there. Differences of two fall rates use Newcombe's
hybrid score interval, built from the two Wilson intervals (conservative: it ignores that the policies ran the same
episodes). CoM margins are means over episodes: normal intervals, and the difference of two policies is paired by
episode (same seed, same clips, payloads and pushes), which removes the between-episode variance the pairing shares.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lerobot_wbvla.lmo.eval_env import EpisodeRecord

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


# ---------------------------------------------------------------------------------------------- scenarios
def _round(x: float, digits: int = 5) -> float | None:
    return round(float(x), digits) if np.isfinite(x) else None


def fall_stats(fell: np.ndarray) -> dict[str, Any]:
    k, n = int(np.sum(fell)), int(np.size(fell))
    return {
        "episodes": n,
        "falls": k,
        "fall_rate": k / n if n else math.nan,
        "fall_rate_ci": list(wilson_ci(k, n)),
    }


def perturbation_metrics(
    rec: EpisodeRecord, episode_s: float
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Falls and CoM margins of the perturbation episodes, with each episode's outcome and what it was made of;
    plus the raw margins (every step while up, each episode's mean and minimum) for plots and paired differences."""
    mask = valid_mask(rec.end_step, rec.steps)
    mean = masked_stat(rec.margin, mask, "mean")
    low = masked_stat(rec.margin, mask, "min")
    m, lo, hi = mean_ci(mean)
    mn, mlo, mhi = mean_ci(low)
    out = fall_stats(rec.fell) | {
        "com_margin_mean": m,
        "com_margin_mean_ci": [lo, hi],
        "com_margin_min": mn,
        "com_margin_min_ci": [mlo, mhi],
        "com_margin_worst": float(np.nanmin(low)) if np.isfinite(low).any() else math.nan,
        "fall_time_s_mean": finite_mean(rec.fall_time_s),
        "per_episode": [
            {
                "fell": bool(rec.fell[k]),
                "fall_time_s": None if not rec.fell[k] else round(float(rec.fall_time_s[k]), 3),
                "com_margin_mean": _round(mean[k]),
                "com_margin_min": _round(low[k]),
                **rec.logs[k].to_dict(episode_s),
            }
            for k in range(len(rec.fell))
        ],
    }
    raw = {"step_margins": rec.margin[mask], "episode_mean": mean, "episode_min": low}
    return out, raw


def locomotion_metrics(
    rec: EpisodeRecord, commands: Mapping[str, Sequence[float]], episodes: int, settle_s: float
) -> dict[str, Any]:
    """Per command (episodes listed command by command, `episodes` each): falls, tracking errors after
    `settle_s`, position and heading error at the end vs the commanded path, and the mean velocity curve along the
    commanded axis (yaw rate for a turn); `_all`: the falls over every command."""
    rate = yaw_rate(rec.yaw, rec.init_yaw, rec.dt)
    up = valid_mask(rec.end_step, rec.steps)
    settled = up & (np.arange(rec.steps)[None, :] * rec.dt >= settle_s)
    errors = tracking_errors(rec.vel_h, rate, rec.loco, settled)
    path, path_yaw = commanded_path(rec.loco, rec.init_pos, rec.init_yaw, rec.dt)
    done = ~rec.fell
    pos_err = np.where(done, np.linalg.norm(rec.pos_xy[:, -1] - path[:, -1], axis=1), np.nan)
    head_err = np.where(done, np.abs(wrap_angle(rec.yaw[:, -1] - path_yaw[:, -1])), np.nan)
    out: dict[str, Any] = {}
    for c, name in enumerate(commands):
        ep = slice(c * episodes, (c + 1) * episodes)
        cmd = np.asarray(commands[name], dtype=float)
        axis = int(np.argmax(np.abs(cmd)))
        series = rate if axis == 2 else rec.vel_h[:, :, axis]
        with warnings.catch_warnings():  # steps where every episode of the command had fallen: nan
            warnings.simplefilter("ignore", RuntimeWarning)
            curve = np.nanmean(np.where(up[ep], series[ep], np.nan), axis=0)
        out[name] = fall_stats(rec.fell[ep]) | {
            "command": cmd.tolist(),
            "vel_error": finite_mean(errors["vel_error"][ep]),
            "mean_vel_error": finite_mean(errors["mean_vel_error"][ep]),
            "yaw_rate_error": finite_mean(errors["yaw_rate_error"][ep]),
            "position_error_m": finite_mean(pos_err[ep]),
            "heading_error_rad": finite_mean(head_err[ep]),
            "completed": int(done[ep].sum()),
            "curve": {
                "t": [round((i + 1) * rec.dt, 3) for i in range(rec.steps)],
                "value": [_round(v) for v in curve],
            },
        }
    out["_all"] = fall_stats(rec.fell)
    return out


def sway_metrics(rec: EpisodeRecord, episodes: int, settle_s: float, squat_height_m: float) -> dict[str, Any]:
    """Standing then squatting episodes (`episodes` each): CoM sway after `settle_s`, pelvis height, falls."""
    from lerobot_wbvla.lmo.mdp.observations import NOMINAL_HEIGHT

    up = valid_mask(rec.end_step, rec.steps)
    window = up & (np.arange(rec.steps)[None, :] * rec.dt >= settle_s)
    sway = com_sway(rec.com_xy, window)
    height = masked_stat(rec.height, window, "mean")
    out = {}
    for q, (name, target) in enumerate((("stand", NOMINAL_HEIGHT), ("squat", squat_height_m))):
        ep = slice(q * episodes, (q + 1) * episodes)
        m, lo, hi = mean_ci(sway[ep])
        out[name] = fall_stats(rec.fell[ep]) | {
            "com_sway_m": m,
            "com_sway_m_ci": [lo, hi],
            "height_m": finite_mean(height[ep]),
            "height_target_m": float(target),
        }
    return out


def differences(
    labels: Sequence[str], per_policy: Mapping[str, Any], margins: Mapping[str, Mapping[str, np.ndarray]]
) -> dict[str, Any]:
    """Each policy minus the first one: fall rate (Newcombe interval), CoM margin (paired by episode); and whether
    every policy's episodes started from the same robots (payloads, friction, motors, lag)."""
    ref = labels[0]
    r = per_policy[ref]
    diffs = {}
    for label in labels[1:]:
        m = per_policy[label]
        d, lo, hi = newcombe_diff_ci(m["falls"], m["episodes"], r["falls"], r["episodes"])
        dm, mlo, mhi = paired_diff_ci(margins[label]["episode_mean"], margins[ref]["episode_mean"])
        diffs[label] = {
            "fall_rate": d,
            "fall_rate_ci": [lo, hi],
            "com_margin_mean": dm,
            "com_margin_mean_ci": [mlo, mhi],
        }
    resets = [
        [(e["payload_kg"], e["friction"], e["motor_strength"], e["action_lag"]) for e in m["per_episode"]]
        for m in per_policy.values()
    ]
    return {"reference": ref, "differences": diffs, "same_episodes": all(x == resets[0] for x in resets)}


def pooled_by_group(
    groups: Mapping[str, str], per_policy: Mapping[str, Any], margins: Mapping[str, Mapping[str, np.ndarray]]
) -> dict[str, Any]:
    """Policies of one group (label -> group, e.g. the conditioning of each training seed's export) pooled: their
    episodes together (Wilson interval of all falls; CoM margin over all episodes). Groups of one policy are left
    out (their row is the policy's own). Pooling treats the seeds' episodes as independent samples."""
    members: dict[str, list[str]] = {}
    for label, group in groups.items():
        members.setdefault(group, []).append(label)
    out = {}
    for group, labels in members.items():
        if len(labels) < 2:
            continue
        falls = sum(per_policy[lab]["falls"] for lab in labels)
        n = sum(per_policy[lab]["episodes"] for lab in labels)
        m, lo, hi = mean_ci(np.concatenate([margins[lab]["episode_mean"] for lab in labels]))
        out[group] = {
            "policies": list(labels),
            "episodes": n,
            "falls": falls,
            "fall_rate": falls / n,
            "fall_rate_ci": list(wilson_ci(falls, n)),
            "com_margin_mean": m,
            "com_margin_mean_ci": [lo, hi],
        }
    return out
