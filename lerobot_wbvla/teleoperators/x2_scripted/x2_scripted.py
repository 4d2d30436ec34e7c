"""The teleoperator `x2_scripted`: solves the X2 twin's task scene while lerobot-record drives the robot.

It finds the sim backend of the robot `agibot_x2` through robots/agibot_x2/sim_registry.py by robot id and plays
one `ScriptedEpisode` (episode.py) per recorded episode: the scene's task script from a freshly reset scene, judged
in sim time.

Inside lerobot-record (the normal case) `connect()` installs the hook of record_hook.py, which tells the operator
where each of lerobot-record's loops starts and ends and hands it lerobot-record's `events` dict:
- at the start of a recorded episode it resets the scene with the next seed (`seed`, `seed + 1`, ... one per
  attempt), so the episode's first observation is exactly the fresh scene and the episode replays from
  `reset(scene_seed)`;
- it ends the episode itself (`events["exit_early"]`) a short settle after the task is solved, or once the
  sim-time budget is spent; an unsolved episode is re-recorded (`events["rerecord_episode"]`) with the next seed
  while attempts are left, else kept and flagged in the log;
- an episode that lerobot-record's wall clock (`--dataset.episode_time_s`) ends first is judged there: unsolved,
  it is flagged and re-recorded the same way (the last episode too: a re-record request makes `record()` run a
  reset phase and record it again);
- it ends each (unrecorded) reset phase at its first call: the next episode resets its own scene.
Each attempt gets one log line (task, seed, frames, sim time, solved or not, saved or re-recorded). lerobot-record
stores no success column (its dataset features come from the robot); `wbvla-record-sim` does.

Without the hook (another loop drives it) it falls back to inferring lerobot-record-like episodes from the wall
clock (episode_clock.py) with `fallback_episode_time_s` / `fallback_reset_time_s`: it resets the scene during the
reset phase (applied right after a command's physics, so the following observation is the fresh scene), flags an
episode that started on a stale scene or ended unsolved, and cannot re-record.

Actions are float32 values (ScriptedOperator.act) that the robot never clamps; each one is checked against the
command the twin executes and any difference is logged as an error.
"""

from __future__ import annotations

import logging
import time
from functools import cached_property

import numpy as np
from lerobot.teleoperators.teleoperator import Teleoperator

from lerobot_wbvla.robots.agibot_x2 import sim_registry
from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, ARM_JOINTS, GRIPPERS
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim
from lerobot_wbvla.robots.agibot_x2.sim_backend import SimBackend

from . import record_hook
from .config_x2_scripted import X2ScriptedConfig
from .episode import EpisodeOutcome, ScriptedEpisode, executed_action
from .episode_clock import EpisodeClock, RecordPhase
from .realtime import demote_realtime_threads

logger = logging.getLogger(__name__)


class X2Scripted(Teleoperator):
    """Scripted demonstrator for the X2 twin's task scenes (see the module docstring)."""

    config_class = X2ScriptedConfig
    name = "x2_scripted"

    def __init__(self, config: X2ScriptedConfig) -> None:
        super().__init__(config)
        self.config = config
        self.clock = EpisodeClock(config.fallback_episode_time_s, config.fallback_reset_time_s)
        self._connected = False
        self.hooked = False  # lerobot-record's record_loop is wrapped (record_hook.py)
        self._backend: SimBackend | None = None
        self.run: ScriptedEpisode | None = None  # the current (or last) episode attempt
        self._last_action: dict[str, float] | None = None
        self._calls = 0
        self._seeds_drawn = 0
        self.episode_seeds: list[int] = []  # scene seed of every episode attempt, in order
        self.outcomes: list[EpisodeOutcome] = []  # every finished attempt, in order
        # Hooked loop state (record_hook.py): the running loop, and how the operator ended it.
        self._loop: dict | None = None
        self._episode_index = -1
        self._attempt = 0
        self._end_reason: str | None = None
        self._rerecord = False
        self._set_exit_early = False
        # Fallback state: the seed the reset phase reset to, whether the current episode started stale.
        self.phase: RecordPhase | None = None
        self._pending_seed: int | None = None
        self._stale = False

    # ------------------------------------------------------------------ Teleoperator API
    @cached_property
    def action_features(self) -> dict[str, type]:
        return dict.fromkeys(ACTION_KEYS, float)

    @cached_property
    def feedback_features(self) -> dict[str, type]:
        return {}

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self, calibrate: bool = True) -> None:
        # Nothing to open: the twin is looked up on the first call (lerobot-record connects the teleop before the
        # robot, so the twin does not exist yet here). lerobot-record's record script is loaded by now.
        if self._connected:
            raise ConnectionError(f"{self} is already connected")
        self.hooked = record_hook.install()
        if not self.hooked:
            logger.info(
                "x2_scripted: not inside lerobot-record; episodes are inferred from the wall clock "
                "(--teleop.fallback_episode_time_s / fallback_reset_time_s) and cannot be re-recorded."
            )
        self._connected = True

    @property
    def is_calibrated(self) -> bool:
        return True

    def calibrate(self) -> None:
        pass

    def configure(self) -> None:
        pass

    def send_feedback(self, feedback: dict) -> None:
        pass

    def disconnect(self) -> None:
        self._connected = False
        self._backend = None
        self._loop = None

    def get_action(self, now: float | None = None) -> dict[str, float]:
        """The next whole-body action. `now` (monotonic seconds) is for tests of the wall-clock fallback;
        lerobot-record leaves it None."""
        if not self._connected:
            raise ConnectionError(f"{self} is not connected; call connect() first")
        backend = self._live_backend()
        if self._loop is not None:
            action = self._hooked_action(backend)
        else:
            action = self._fallback_action(backend, time.monotonic() if now is None else now)
        self._last_action = dict(action)
        self._calls += 1
        if self._calls % 16 == 1:  # LeRobot's AV1 encoder threads, when run as root (realtime.py)
            demote_realtime_threads()
        return action

    # ------------------------------------------------------------------ lerobot-record's loops (record_hook.py)
    def begin_record_loop(self, events: dict, dataset, control_time_s: float | None) -> None:
        """Called by the hook before each of lerobot-record's loops (`dataset` None: the reset phase)."""
        if not self._connected:
            return
        backend = self._live_backend()
        self._loop = {"events": events, "recording": dataset is not None, "limit_s": control_time_s}
        self._end_reason, self._rerecord, self._set_exit_early = None, False, False
        if dataset is None:
            return
        if events.get("exit_early"):  # left over from the last loop: it would end this one before any frame
            events["exit_early"] = False
        index = int(dataset.num_episodes)
        self._attempt = self._attempt + 1 if index == self._episode_index else 1
        self._episode_index = index
        seed = self._draw_seed()
        # Reset now, before the loop's first observation: the episode starts exactly on reset(seed).
        self.run = ScriptedEpisode(
            backend, seed, self.config.episode_time_s, self.config.settle_s, attempt=self._attempt
        )
        self._last_action = None
        logger.info(
            "x2_scripted: episode %d (attempt %d/%d): %s, scene_seed=%d, sim-time budget %.1f s",
            index,
            self._attempt,
            self.config.max_attempts,
            self.run.spec.name,
            seed,
            self.run.budget_s,
        )

    def end_record_loop(self, completed: bool = True) -> None:
        """Called by the hook after each of lerobot-record's loops: judge and report a recorded episode."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        events = loop["events"]
        if self._set_exit_early:  # ours, and the loop is over: never let it end the next loop at once
            events["exit_early"] = False
        if not loop["recording"] or self.run is None:
            return
        run = self.run
        if self._end_reason is not None:
            reason = self._end_reason
        else:  # lerobot-record's loop ended the episode: its wall clock, a key, ESC or an error
            if run.frames:
                self._check_executed(run)
                run.judge()
            if run.solved:
                reason = "solved"
            elif not completed or events.get("stop_recording"):
                reason = "stopped"
            else:
                reason = "wall_clock"
            if not run.solved and reason == "wall_clock" and self._may_rerecord(events):
                events["rerecord_episode"] = True
        outcome = run.outcome(reason)
        self._report(
            outcome,
            index=self._episode_index,
            rerecorded=bool(events.get("rerecord_episode")),
            why_kept="re-recording is off, its attempts are spent or the recording was stopped",
        )
        if reason == "wall_clock" and not run.solved:
            logger.error(
                "x2_scripted: lerobot-record's loop ended episode %d after %.1f s of wall clock "
                "(--dataset.episode_time_s=%s) with %.1f s of its %.1f s sim-time budget used: set "
                "--dataset.episode_time_s well above the sim-time budget (the loop runs below --dataset.fps on "
                "a busy machine); x2_scripted ends each episode itself.",
                self._episode_index,
                loop["limit_s"] or 0.0,
                loop["limit_s"],
                run.elapsed_s,
                run.budget_s,
            )

    def _hooked_action(self, backend: SimBackend) -> dict[str, float]:
        loop = self._loop
        if not loop["recording"]:  # reset phase: the next episode resets its own scene; end it now
            self._end_loop_now()
            return self._hold_action()
        run = self.run
        if self._end_reason is not None:  # the loop goes on after we ended it (not LeRobot 0.6's behaviour)
            return self._hold_action()
        if run.frames:
            self._check_executed(run)
            reason = run.judge()
            if reason is not None:
                self._end_reason = reason
                if reason != "solved" and self._may_rerecord(loop["events"]):
                    loop["events"]["rerecord_episode"] = True
                self._end_loop_now()
        return run.act()

    def _end_loop_now(self) -> None:
        self._loop["events"]["exit_early"] = True
        self._set_exit_early = True

    def _may_rerecord(self, events: dict) -> bool:
        return (
            self.config.rerecord_failed
            and self._attempt < self.config.max_attempts
            and not events.get("stop_recording")
        )

    # ------------------------------------------------------------------ fallback: wall-clock phases
    def _fallback_action(self, backend: SimBackend, now: float) -> dict[str, float]:
        self.phase = self.clock.tick(now)
        if self.phase is RecordPhase.EPISODE_START:
            self._start_fallback_episode(backend)
            return self.run.act()
        if self.phase is RecordPhase.EPISODE:
            if self.run.frames:
                self._check_executed(self.run)
                self.run.judge()
            return self.run.act()
        if self.phase is RecordPhase.RESET_START:
            self._end_fallback_episode()
            self._pending_seed = self._draw_seed()
        # Reset right after this call's physics, on every reset-phase call: whichever call turns out to be the
        # next episode's first observes exactly the fresh scene.
        backend.request_reset(self._pending_seed)
        return self._home_action()

    def _start_fallback_episode(self, backend: SimBackend) -> None:
        k = self.clock.episode_index
        seed = backend.scene_seed
        self._stale = not backend.fresh or seed is None
        if self._stale:
            seed = self._draw_seed()
            backend.reset_scene(seed)
            logger.error(
                "x2_scripted: episode %d started before its scene was reset (the reset phase was too short): "
                "its first frame shows the previous scene; reset to scene_seed=%d now. FLAGGED: drop it. Use "
                "--teleop.fallback_reset_time_s = the loop's reset time >= 2 s.",
                k,
                seed,
            )
        elif self._pending_seed is None:  # episode 0 on the scene the robot built at connect (--robot.seed)
            self._seeds_drawn += 1
            self.episode_seeds.append(seed)
        self._pending_seed = None
        self.run = ScriptedEpisode(
            backend, seed, self.config.episode_time_s, self.config.settle_s, attempt=1, reset=False
        )
        self._episode_index = k

    def _end_fallback_episode(self) -> None:
        run = self.run
        if run is None:
            return
        if run.frames:
            self._check_executed(run)
            run.judge()
        reason = "stale" if self._stale else ("solved" if run.solved else "wall_clock")
        self._report(
            run.outcome(reason),
            index=self._episode_index,
            rerecorded=False,
            why_kept="x2_scripted re-records only inside lerobot-record",
        )

    # ------------------------------------------------------------------ helpers
    def _live_backend(self) -> SimBackend:
        backend = sim_registry.lookup_backend(self.config.robot_id)
        if backend is not self._backend:  # first call, or the robot reconnected with a new twin
            self._backend = backend
            self.run = None
            self._last_action = None
        return backend

    def _draw_seed(self) -> int:
        seed = self.config.seed + self._seeds_drawn
        self._seeds_drawn += 1
        self.episode_seeds.append(seed)
        return seed

    def _check_executed(self, run: ScriptedEpisode) -> None:
        """The action the operator returned last must be what the twin executes (nothing clamped it)."""
        if self._last_action is not None:
            run.note_sent(self._last_action, executed_action(run.sim))

    def _report(self, outcome: EpisodeOutcome, index: int, rerecorded: bool, why_kept: str) -> None:
        """One log line per attempt: INFO when solved and clean, ERROR (flagged) otherwise."""
        self.outcomes.append(outcome)
        text = f"x2_scripted: episode {index} {outcome.describe()}"
        if outcome.success and outcome.reason != "stale" and not outcome.clamped_frames:
            logger.info("%s -> %s", text, "discarded (re-record requested)" if rerecorded else "kept")
        elif rerecorded:
            logger.error("%s -> FLAGGED, discarded: re-recording it with the next scene seed", text)
        else:
            logger.error("%s -> FLAGGED and KEPT (%s)", text, why_kept)

    @staticmethod
    def _home_action() -> dict[str, float]:
        """Standing pose, grippers open, no locomotion: what the twin commands right after a reset."""
        stance = X2Sim.stance_upper_body()
        out = {f"{j}.pos": float(np.float32(stance[j])) for j in ARM_JOINTS}
        out.update({f"{g}.pos": 0.0 for g in GRIPPERS})
        out.update({"loco.vx": 0.0, "loco.vy": 0.0, "loco.yaw_rate": 0.0, "loco.height": 0.0})
        return out

    def _hold_action(self) -> dict[str, float]:
        """Keep the last command, base stopped (the kinematic base decelerates within its limits)."""
        if self._last_action is None:
            return self._home_action()
        return {**self._last_action, "loco.vx": 0.0, "loco.vy": 0.0, "loco.yaw_rate": 0.0}
