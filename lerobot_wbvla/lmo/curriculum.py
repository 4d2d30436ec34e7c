"""The LMO's training curriculum: how hard the env is (`X2LMOVecEnv.set_difficulty`) at each PPO iteration.

Why adaptive by default: measured on 2 cores, a linear ramp either outruns the policy (full randomization reached
in 300 iterations: nothing learned in 12 minutes) or lets it learn to about half difficulty and then lose it as the
ranges keep widening (800 iterations). The adaptive schedule raises the difficulty only while the robot stays up and
lowers it when it falls, like legged_gym's terrain levels, but for the whole batch: the signal is the fall hazard,
falls per robot-minute (every env counts, not only the few episodes that end in an iteration), smoothed over
iterations.

The state (level and smoothed hazard) is saved with each checkpoint so a resumed run continues where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CurriculumConfig:
    # adaptive: follow the fall hazard (below); linear: ramp 0 -> 1 over linear_iterations; off: full ranges.
    mode: str = "adaptive"
    # linear mode: iterations of the ramp.
    linear_iterations: int = 200
    # adaptive mode: raise the level by `step` while the smoothed hazard is below promote_falls_per_min (falls per
    # robot-minute), lower it by `step` above demote_falls_per_min.
    step: float = 0.01
    promote_falls_per_min: float = 1.0
    demote_falls_per_min: float = 4.0
    # Exponential smoothing of the per-iteration hazard (weight of the past).
    smoothing: float = 0.8
    # Level the run starts at.
    start: float = 0.0

    def validate(self) -> None:
        if self.mode not in ("adaptive", "linear", "off"):
            raise ValueError(f"curriculum.mode={self.mode!r}; choose adaptive, linear or off")
        if not 0.0 <= self.start <= 1.0:
            raise ValueError(f"curriculum.start={self.start} must be in [0, 1]")
        if not 0.0 < self.step <= 1.0:
            raise ValueError(f"curriculum.step={self.step} must be in (0, 1]")
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"curriculum.smoothing={self.smoothing} must be in [0, 1)")
        if self.promote_falls_per_min >= self.demote_falls_per_min:
            raise ValueError(
                f"curriculum.promote_falls_per_min={self.promote_falls_per_min} must be below "
                f"demote_falls_per_min={self.demote_falls_per_min}"
            )
        if self.mode == "linear" and self.linear_iterations < 1:
            raise ValueError(f"curriculum.linear_iterations={self.linear_iterations} must be >= 1")


class Curriculum:
    """Difficulty per iteration. `level` is what the env runs at; `update()` takes one iteration's falls."""

    def __init__(self, cfg: CurriculumConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.level = 1.0 if cfg.mode == "off" else float(cfg.start)
        self.hazard: float | None = None  # smoothed falls per robot-minute

    def level_at(self, iteration: int) -> float:
        """The level for `iteration` (linear mode: a function of the iteration only; otherwise the current one)."""
        if self.cfg.mode == "linear":
            self.level = min(1.0, self.cfg.start + iteration / self.cfg.linear_iterations)
        return self.level

    def update(self, falls: int, robot_seconds: float) -> None:
        """One iteration's number of falls over `robot_seconds` of simulated time summed over the envs."""
        if self.cfg.mode != "adaptive" or robot_seconds <= 0:
            return
        rate = 60.0 * falls / robot_seconds
        a = self.cfg.smoothing
        self.hazard = rate if self.hazard is None else a * self.hazard + (1.0 - a) * rate
        if self.hazard < self.cfg.promote_falls_per_min:
            self.level = min(1.0, self.level + self.cfg.step)
        elif self.hazard > self.cfg.demote_falls_per_min:
            self.level = max(0.0, self.level - self.cfg.step)

    def state_dict(self) -> dict:
        return {"level": self.level, "hazard": self.hazard}

    def load_state_dict(self, state: dict) -> None:
        self.level = float(state["level"])
        self.hazard = None if state.get("hazard") is None else float(state["hazard"])
