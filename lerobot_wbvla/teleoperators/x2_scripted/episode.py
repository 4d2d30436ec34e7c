"""One scripted demonstration on a live twin, judged in sim time: shared by `wbvla-record-sim` (record_sim.py) and
the teleoperator `x2_scripted` inside lerobot-record (x2_scripted.py).

A `ScriptedEpisode` starts on a freshly reset scene, runs the scene's task script (`ScriptedOperator`), judges the
task with the env's success check (`SuccessMonitor`: `SuccessCheck` held `SUCCESS_HOLD_S`, the env's
`is_success`) once per control period, and says when the demo is over:

- "solved": the task has been solved and stayed solved for `settle_s` more seconds (a short settle, so the demo ends
  on a resting, solved scene and not at the first solved frame);
- "budget": the sim-time budget (`budget_s`; default: the task's episode length in envs/agibot_x2/tasks.py) is spent
  unsolved.

Every time here is the twin's `sim_time`, so the outcome does not depend on how fast the machine runs the loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lerobot_wbvla.envs.agibot_x2.tasks import TASKS, SuccessCheck, SuccessMonitor, TaskSpec
from lerobot_wbvla.robots.agibot_x2.joints import ARM_JOINTS, GRIPPERS
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim
from lerobot_wbvla.robots.agibot_x2.sim_backend import SimBackend

from .operator import ScriptedOperator

logger = logging.getLogger(__name__)

# Seconds of sim time an episode goes on after the task counts as solved (see the module docstring).
DEFAULT_SETTLE_S = 0.5


def task_of_scene(scene: str | None) -> TaskSpec:
    """The task (envs/agibot_x2/tasks.py) played on `scene`; ValueError naming the scripted scenes otherwise."""
    for spec in TASKS.values():
        if spec.scene == scene:
            return spec
    raise ValueError(
        f"x2_scripted cannot judge scene {scene!r}: no task plays on it. Start the robot with --robot.scene set "
        f"to one of {', '.join(s.scene for s in TASKS.values())}"
    )


def executed_action(sim: X2Sim) -> dict[str, float]:
    """The whole-body command the twin is executing (what the robot's last send_action sent), as an action dict."""
    out = {f"{j}.pos": float(sim.targets[j]) for j in ARM_JOINTS}
    out.update({f"{g}.pos": float(sim.grippers[g]) for g in GRIPPERS})
    loco = sim.loco
    out.update(
        {"loco.vx": loco.vx, "loco.vy": loco.vy, "loco.yaw_rate": loco.yaw_rate, "loco.height": loco.height}
    )
    return out


@dataclass
class EpisodeOutcome:
    """What one scripted episode attempt did (one log line; `wbvla-record-sim` stores `success` and `scene_seed`
    in the dataset's episode metadata)."""

    task: str
    scene_seed: int
    frames: int
    sim_s: float
    success: bool
    # "solved", "budget" (sim-time budget spent), "wall_clock" (lerobot-record's --dataset.episode_time_s ended
    # it first), "stopped" (the user stopped the recording), "stale" (started on the previous episode's scene)
    reason: str
    attempt: int = 1
    # Frames whose action the robot changed (clamped) before executing it: always 0 unless something is broken.
    clamped_frames: int = 0

    def describe(self) -> str:
        verdict = "solved" if self.success else "UNSOLVED"
        why = {
            "solved": "",
            "budget": " (its sim-time budget ran out)",
            "wall_clock": " (lerobot-record's wall-clock --dataset.episode_time_s ended it first)",
            "stopped": " (recording stopped)",
            "stale": " (it started on the previous episode's scene)",
        }.get(self.reason, f" ({self.reason})")
        clamp = f", {self.clamped_frames} clamped actions" if self.clamped_frames else ""
        return (
            f"{self.task} scene_seed={self.scene_seed} attempt={self.attempt}: {verdict}{why}, {self.frames} frames, "
            f"{self.sim_s:.2f} s of sim time{clamp}"
        )


class ScriptedEpisode:
    """The scripted demo of the twin behind `backend`, from the scene just reset with `seed` (see module doc).

    Per control period: `act()` (before the robot's send_action), then `judge()` (after it: the physics has
    advanced) which returns the ending reason once the episode is over.
    """

    def __init__(
        self,
        backend: SimBackend,
        seed: int,
        budget_s: float | None = None,
        settle_s: float = DEFAULT_SETTLE_S,
        attempt: int = 1,
        reset: bool = True,
    ) -> None:
        if reset:
            backend.reset_scene(seed)
        sim = backend.sim
        self.sim = sim
        self.spec = task_of_scene(sim.config.scene)
        self.seed = int(seed)
        self.attempt = attempt
        self.budget_s = float(self.spec.episode_s if budget_s is None else budget_s)
        if self.budget_s <= 0:
            raise ValueError(f"the sim-time budget of an episode must be > 0 s, got {self.budget_s}")
        self.settle_s = float(settle_s)
        self.operator = ScriptedOperator(sim)
        self.monitor = SuccessMonitor(SuccessCheck(self.spec, sim.model))
        self.t0 = sim.sim_time
        self.monitor.reset(sim.data, self.t0)
        self.frames = 0
        self.clamped_frames = 0
        self.reason: str | None = None

    @property
    def elapsed_s(self) -> float:
        return self.sim.sim_time - self.t0

    @property
    def solved(self) -> bool:
        """The task counts as solved as of the last `judge()` (the env's is_success; per-frame next.success)."""
        return self.monitor.solved

    def act(self) -> dict[str, float]:
        """The operator's action for this control period (float32 values, see ScriptedOperator.act)."""
        self.frames += 1
        return self.operator.act()

    def note_sent(self, action: dict[str, float], sent: dict[str, float]) -> None:
        """Compare the operator's action with what the robot executed (`send_action`'s return, or
        `executed_action(sim)` after it); a difference is counted and logged once."""
        if any(abs(sent[k] - v) > 1e-9 for k, v in action.items()):
            self.clamped_frames += 1
            if self.clamped_frames == 1:
                bad = {k: (v, sent[k]) for k, v in action.items() if abs(sent[k] - v) > 1e-9}
                logger.error(
                    "x2_scripted: the robot clamped the scripted action (%s, seed %d, frame %d): %s; the recorded "
                    "action may differ from the executed one. This is a bug of the scripted operator.",
                    self.spec.name,
                    self.seed,
                    self.frames - 1,
                    bad,
                )

    def judge(self) -> str | None:
        """Judge the state after the last action; returns "solved" / "budget" once the episode is over, else None."""
        t = self.sim.sim_time
        self.monitor.update(self.sim.data, t)
        if self.reason is None:
            if self.monitor.solved and self.monitor.held_s >= self.monitor.hold_s + self.settle_s - 1e-9:
                self.reason = "solved"
            elif self.elapsed_s >= self.budget_s - 1e-9:
                self.reason = "budget"
        return self.reason

    def outcome(self, reason: str | None = None) -> EpisodeOutcome:
        """The episode's outcome; `reason` overrides the judged one (an episode ended from outside)."""
        return EpisodeOutcome(
            task=self.spec.name,
            scene_seed=self.seed,
            frames=self.frames,
            sim_s=round(self.elapsed_s, 6),
            success=self.solved,
            reason=reason or self.reason or ("solved" if self.solved else "budget"),
            attempt=self.attempt,
            clamped_frames=self.clamped_frames,
        )
