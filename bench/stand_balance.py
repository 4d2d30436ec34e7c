"""How much the standing controller holds: the largest payload at full forward reach and the largest push survived,
for the balance controller (`stand`) and the stiff PD stance it replaced (`pd_stance`), in base_mode=physical.

Every trial starts from a fresh twin (reset, standing), then (disturbances.py, shared with the tests):
- payload: `payload` kg in EACH hand (a ball at the gripper's tool point); both arms go from the stance to straight
  out in front, horizontal (shoulder pitch -pi/2, elbows straight), at `arm_rate` rad/s, and stay there; held =
  no fall for `hold_s` seconds after the arms got there, and the arms still at the pose (within 0.1 rad);
- push: arms at the stance; after `push_start_s` a force of F newtons on the torso's centre of mass, horizontal,
  for `push_duration_s`; survived = no fall over `push_watch_s` seconds (the robot cannot step).
A fall is a pelvis tilt past 0.5 rad or a pelvis below 0.45 m. The largest payload and push are found by bisection
(held at `lo`, not held at `hi`; the interval halves until it is narrower than the tolerance); `max_push_n` is the
weakest of the four directions (the push survived from any side), with each direction reported.

Usage: python bench/stand_balance.py [--smoke=true] [--output=bench/results/stand_balance.json]
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import draccus  # noqa: E402
from _results import RESULTS, machine_description, write_result  # bench/_results.py

from lerobot_wbvla.robots.agibot_x2.disturbances import (  # noqa: E402
    FORWARD_REACH,
    Push,
    run_stand_trial,
    set_hand_payload,
)
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim, X2SimConfig  # noqa: E402

ARM_TOLERANCE = 0.1  # rad: the arms count as at the pose
DIRECTIONS = {"forward": (1.0, 0.0), "backward": (-1.0, 0.0), "left": (0.0, 1.0), "right": (0.0, -1.0)}


@dataclass
class StandBalanceConfig:
    # Lower-body controllers compared (lower_body.py registry names).
    controllers: list[str] = field(default_factory=lambda: ["stand", "pd_stance"])
    # Payload trials: seconds held after the arms reached the pose (they rise from the stance for ~1.6 s at
    # 1 rad/s), arm speed (rad/s per joint), bisection range and tolerance (kg in each hand).
    hold_s: float = 10.0
    arm_rate: float = 1.0
    payload_range: tuple[float, float] = (0.0, 6.0)
    payload_tol: float = 0.1
    # Also: the fastest arm raise (rad/s per joint, bisection in this range) that holds `rate_payload` kg in each hand.
    rate_payload: float = 2.0
    rate_range: tuple[float, float] = (0.25, 4.5)
    rate_tol: float = 0.25
    # Push trials: force on the torso's centre of mass, horizontal; start, duration and watch time (s); bisection
    # range and tolerance (N).
    push_start_s: float = 1.0
    push_duration_s: float = 0.1
    push_watch_s: float = 5.0
    push_range: tuple[float, float] = (0.0, 800.0)
    push_tol: float = 5.0
    # Tiny settings for the test suite; the figures mean nothing.
    smoke: bool = False
    # Where the JSON goes.
    output: Path = RESULTS / "stand_balance.json"

    def __post_init__(self) -> None:
        if self.smoke:
            self.controllers = self.controllers[:1]
            self.hold_s, self.push_watch_s = 1.0, 1.5
            self.payload_tol = self.payload_range[1] - self.payload_range[0]
            self.rate_tol = self.rate_range[1] - self.rate_range[0]
            self.push_tol = self.push_range[1] - self.push_range[0]


def _sim(controller: str) -> X2Sim:
    return X2Sim(X2SimConfig(base_mode="physical", lower_body_controller=controller))


def payload_trial(cfg: StandBalanceConfig, controller: str, kg: float, arm_rate: float | None = None) -> bool:
    """Held: `kg` in each hand at full forward reach for `hold_s` after the arms got there (at `arm_rate`, default
    `cfg.arm_rate`) without a fall, the arms still within `ARM_TOLERANCE` of the pose at the end."""
    rate = cfg.arm_rate if arm_rate is None else arm_rate
    sim = _sim(controller)
    for side in ("left", "right"):
        set_hand_payload(sim.model, side, kg)
    raise_s = max(abs(v) for v in FORWARD_REACH.values()) / rate
    trial = run_stand_trial(sim, FORWARD_REACH, cfg.hold_s + raise_s, arm_rate=rate)
    return trial.held and trial.arm_error < ARM_TOLERANCE


def push_trial(cfg: StandBalanceConfig, controller: str, direction: str, newtons: float) -> bool:
    """Survived: a push of `newtons` toward `direction` without a fall."""
    sim = _sim(controller)
    dx, dy = DIRECTIONS[direction]
    push = Push((dx * newtons, dy * newtons, 0.0), cfg.push_start_s, cfg.push_duration_s)
    return run_stand_trial(sim, {}, cfg.push_watch_s, push=push).held


def bisect(trial, lo: float, hi: float, tol: float) -> tuple[float, int]:
    """Largest value in [lo, hi] that `trial` passes, to within `tol` (assumes pass at lo, fail above some value),
    and the number of trials run. Returns hi if hi passes, lo if lo fails."""
    runs = 1
    if trial(hi):
        return hi, runs
    runs += 1
    if not trial(lo):
        return lo, runs
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        runs += 1
        lo, hi = (mid, hi) if trial(mid) else (lo, mid)
    return lo, runs


def measure(cfg: StandBalanceConfig, controller: str) -> dict:
    t0 = time.time()
    payload, payload_runs = bisect(
        lambda kg: payload_trial(cfg, controller, kg), *cfg.payload_range, cfg.payload_tol
    )
    rate, rate_runs = bisect(
        lambda r: payload_trial(cfg, controller, cfg.rate_payload, arm_rate=r), *cfg.rate_range, cfg.rate_tol
    )
    rate_held = rate > cfg.rate_range[0] or payload_trial(cfg, controller, cfg.rate_payload, arm_rate=rate)
    pushes, push_runs = {}, 0
    for direction in DIRECTIONS:
        f, runs = bisect(
            lambda n, d=direction: push_trial(cfg, controller, d, n), *cfg.push_range, cfg.push_tol
        )
        pushes[direction] = round(f, 1)
        push_runs += runs
    impulse = {d: round(f * cfg.push_duration_s, 1) for d, f in pushes.items()}
    return {
        "max_payload_kg_forward_reach": round(payload, 2),
        # False: not even the empty arms at full forward reach (then the payload figure is 0).
        "holds_forward_reach": payload > cfg.payload_range[0] or payload_trial(cfg, controller, payload),
        # The fastest raise to the forward reach with `rate_payload` kg in each hand (None: not even the slowest).
        f"max_arm_rate_rad_s_with_{cfg.rate_payload:g}kg": round(rate, 2) if rate_held else None,
        "max_push_n": min(pushes.values()),
        "max_push_n_by_direction": pushes,
        "max_push_impulse_ns_by_direction": impulse,
        "trials": payload_runs + rate_runs + push_runs,
        "wall_s": round(time.time() - t0, 1),
    }


RESULT_KEYS = {"stand": "balance"}


def main(cfg: StandBalanceConfig) -> dict:
    t0 = time.time()
    # The result layout names the balancing controller (registered as `stand`) "balance".
    out: dict = {RESULT_KEYS.get(c, c): measure(cfg, c) for c in cfg.controllers}
    if "balance" in out and "pd_stance" in out:
        base = out["pd_stance"]
        out["ratios"] = {
            "payload": _ratio(
                out["balance"]["max_payload_kg_forward_reach"], base["max_payload_kg_forward_reach"]
            ),
            "push": _ratio(out["balance"]["max_push_n"], base["max_push_n"]),
        }
    out["setup"] = {
        "base_mode": "physical",
        "payload": f"kg in EACH hand, a ball at the gripper tool point; both arms raised to full forward reach "
        f"(shoulder pitch -pi/2, elbows straight) at {cfg.arm_rate} rad/s, then held {cfg.hold_s} s (arms within "
        f"{ARM_TOLERANCE} rad of the pose at the end)",
        "push": f"horizontal force on the torso's centre of mass for {cfg.push_duration_s} s, {cfg.push_start_s} s "
        f"after reset, arms at the stance; {cfg.push_watch_s} s watched; max_push_n = weakest direction",
        "fall": "pelvis tilt > 0.5 rad or pelvis height < 0.45 m",
        "tolerance": {"payload_kg": cfg.payload_tol, "push_n": cfg.push_tol},
        "smoke": cfg.smoke,
    }
    out["machine"] = machine_description(with_torch=False)
    out["wall_s"] = round(time.time() - t0, 1)
    write_result(cfg.output, out, measures=["lerobot_wbvla/robots"], smoke=cfg.smoke)
    return out


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b > 0 and math.isfinite(a / b) else None


if __name__ == "__main__":
    main(draccus.parse(StandBalanceConfig))
