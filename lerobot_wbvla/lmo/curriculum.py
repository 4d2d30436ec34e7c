"""The LMO's training curriculum: how hard the env is (`X2LMOVecEnv.set_difficulty`) at each PPO iteration.

Why adaptive by default: measured on 2 cores, a linear ramp either outruns the policy (full randomization reached
in 300 iterations: nothing learned in 12 minutes) or lets it learn to about half difficulty and then lose it as the
ranges keep widening (800 iterations). The adaptive schedule raises the difficulty only while the robot stays up and
lowers it when it falls, like legged_gym's terrain levels, but for the whole batch: the signal is the fall hazard,
falls per robot-minute (every env counts, not only the few episodes that end in an iteration), smoothed over
iterations.

Stages (issue 11, the paper's two-stage curriculum): `CurriculumConfig.stages` splits the run by iteration into
named stages, each of which changes what the env asks of the legs (`X2LMOVecEnv.set_stage`): stage I "gait"
draws random velocity commands whose ranges widen with the level, widens the legs' joint ranges and grows the
pushes with still arms, no payload and no z_t; stage II "loco_manipulation" replays the arm clips with their
locomotion schedule, hand payloads and z_t. The level above still scales every disturbance within a stage. With
no stages (the default) the env runs as it always did: the clips' commands and arms at the level's amplitude.

The state (level, smoothed hazard, stage) is saved with each checkpoint so a resumed run continues where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STAGE_COMMANDS = ("random", "clips")


@dataclass
class StageConfig:
    """One stage of the curriculum: from `start_iteration` until the next stage starts."""

    # Stage name (logged per iteration, recorded in checkpoints).
    name: str = "gait"
    # First PPO iteration of the stage; the first stage must start at 0 and stages must be in increasing order.
    start_iteration: int = 0
    # Where the legs' locomotion command comes from: random (per-env velocity commands drawn from the ranges below,
    # resampled every command_resample_s) | clips (each arm clip's own command schedule, as without stages).
    commands: str = "random"
    # Random commands at full level ([low, high], heading frame): forward (m/s), lateral (m/s), yaw rate (rad/s).
    vx: tuple[float, float] = (-0.8, 1.2)
    vy: tuple[float, float] = (-0.5, 0.5)
    yaw_rate: tuple[float, float] = (-0.8, 0.8)
    # Fraction of the command ranges at level 0 (they widen linearly to the full ranges at level 1).
    command_range_start: float = 0.3
    # Seconds between two random commands of an env (also drawn at every reset).
    command_resample_s: float = 4.0
    # Fraction of random commands that are "stand" (all zero: J_stand's case).
    stand_fraction: float = 0.1
    # Fraction of each leg joint's range (around the stance) the PD targets may reach at level 0; it widens
    # linearly to the full joint range at level 1.
    joint_range_start: float = 1.0
    # Multipliers of the arm clips' motion amplitude (0: still arms at the stance), of the hand payload range (0: no
    # payload) and of the push forces, on top of the level.
    arm_motion: float = 1.0
    payload: float = 1.0
    push: float = 1.0
    # z_t in the observation (false: zeros in its place; the layout is kept, so one policy serves both stages).
    latent: bool = True
    # Reward weights for this stage (replaces env.reward_weights from the stage's start; empty = keep them).
    reward_weights: dict[str, float] = field(default_factory=dict)
    # Curriculum level set when the stage starts (None: carry the level over).
    level_at_start: float | None = None

    def validate(self) -> None:
        where = f"curriculum stage {self.name!r}"
        if self.commands not in STAGE_COMMANDS:
            raise ValueError(f"{where}: commands={self.commands!r}; choose {' or '.join(STAGE_COMMANDS)}")
        for name in ("command_range_start", "joint_range_start", "stand_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{where}: {name}={getattr(self, name)} must be in [0, 1]")
        for name in ("arm_motion", "payload", "push"):
            if getattr(self, name) < 0:
                raise ValueError(f"{where}: {name}={getattr(self, name)} must be >= 0")
        for name in ("vx", "vy", "yaw_rate"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{where}: {name}=({lo}, {hi}) must be [low, high]")
        if self.command_resample_s <= 0:
            raise ValueError(f"{where}: command_resample_s={self.command_resample_s} must be > 0")
        if self.level_at_start is not None and not 0.0 <= self.level_at_start <= 1.0:
            raise ValueError(f"{where}: level_at_start={self.level_at_start} must be in [0, 1]")


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
    # The paper's stages by iteration (StageConfig; empty = one stage-less run, the clips' commands throughout).
    stages: list[StageConfig] = field(default_factory=list)

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
        for stage in self.stages:
            stage.validate()
        starts = [s.start_iteration for s in self.stages]
        if starts and (starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:], strict=False))):
            raise ValueError(
                f"curriculum.stages start at iterations {starts}: the first must start at 0 and each later one "
                "after the one before"
            )


class Curriculum:
    """Difficulty per iteration. `level` is what the env runs at; `update()` takes one iteration's falls."""

    def __init__(self, cfg: CurriculumConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.level = 1.0 if cfg.mode == "off" else float(cfg.start)
        self.hazard: float | None = None  # smoothed falls per robot-minute
        self.stage_index: int | None = (
            None  # the stage the env was last switched to (None: not yet / no stages)
        )
        self._resumed_stage: int | None = None

    def stage_at(self, iteration: int) -> tuple[int, StageConfig] | None:
        """The stage that `iteration` belongs to (index, config), or None without stages."""
        stages = self.cfg.stages
        if not stages:
            return None
        index = max(i for i, s in enumerate(stages) if s.start_iteration <= iteration)
        return index, stages[index]

    def enter_stage(self, iteration: int) -> StageConfig | None:
        """The stage to switch the env to before `iteration`, or None when it is the one already running. A stage
        with level_at_start sets the level when it is entered (not again when a run resumes inside it; in linear
        mode level_at() recomputes the level from the iteration anyway; off mode stays at 1)."""
        found = self.stage_at(iteration)
        if found is None or found[0] == self.stage_index:
            return None
        index, stage = found
        resumed_inside = self._resumed_stage == index  # a resumed run continues inside it: keep its level
        if stage.level_at_start is not None and not resumed_inside and self.cfg.mode != "off":
            self.level = float(stage.level_at_start)
        self._resumed_stage = None
        self.stage_index = index
        return stage

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
        return {"level": self.level, "hazard": self.hazard, "stage": self.stage_index}

    def load_state_dict(self, state: dict) -> None:
        self.level = float(state["level"])
        self.hazard = None if state.get("hazard") is None else float(state["hazard"])
        # The env is new after a resume: remember the stage only to keep its level_at_start from applying again.
        self._resumed_stage = state.get("stage")
