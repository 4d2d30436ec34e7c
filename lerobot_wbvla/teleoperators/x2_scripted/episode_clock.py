"""Where lerobot-record's loop is, seen only from the wall-clock times of `get_action` calls.

`lerobot-record` never tells a teleoperator where an episode starts. Its loop (lerobot/scripts/lerobot_record.py)
runs, per episode: `record_loop(control_time_s=episode_time_s)` (recorded) -> `record_loop(reset_time_s)` (not
recorded; skipped after the last episode) -> `dataset.save_episode()` (a pause with no calls). Each loop iteration
is `robot.get_observation()` -> `teleop.get_action()` -> `robot.send_action()`, and the loop checks its clock
*after* the iteration: it stops once `now - loop_start >= control_time_s`.

The clock below is started by the first call it sees in a phase, which is never earlier than that phase's loop
start, so its elapsed time under-estimates the loop's. Hence the one rule it uses, which is never early:

    if the *previous* call was already >= `phase length` after our phase start, the loop that made it has
    stopped, so the current call belongs to the next phase.

A phase switch is therefore detected at most about one control period late. The operator uses that: when the
recorded phase ends it resets the scene at once (the reset phase is not recorded), then holds the robot still
until the next episode is detected, so a late detection only adds a few still frames at an episode's start in a
scene that is already fresh. `reset_time_s` must be long enough to hold at least a couple of calls; the pause of
`save_episode()` (video encoding) absorbs the up-to-one-period lateness so it does not accumulate over episodes.
"""

from __future__ import annotations

import enum
import logging

logger = logging.getLogger(__name__)


class RecordPhase(enum.Enum):
    """What a `get_action` call belongs to."""

    EPISODE_START = "episode_start"  # first call of a recorded episode: start the task script from scratch
    EPISODE = "episode"  # inside a recorded episode: keep running the task script
    RESET_START = "reset_start"  # first call after the recorded part ended: reset the scene now
    RESET = "reset"  # inside the reset phase (or a late-detected episode start): hold still


class EpisodeClock:
    """Classifies `get_action` call times into the phases of lerobot-record's episode loop (see module doc).

    Args:
        episode_time_s: `--dataset.episode_time_s` of the lerobot-record run.
        reset_time_s: `--dataset.reset_time_s` of the run; must be > 0 so the scene can be reset unrecorded.
    """

    def __init__(self, episode_time_s: float, reset_time_s: float) -> None:
        if episode_time_s <= 0:
            raise ValueError(
                f"episode_time_s must be > 0 (the --dataset.episode_time_s), got {episode_time_s}"
            )
        if reset_time_s <= 0:
            raise ValueError(
                f"reset_time_s must be > 0, got {reset_time_s}: the scripted operator resets the scene during "
                "lerobot-record's reset phase. Pass the same positive value as --dataset.reset_time_s "
                "(recommended 1.0 or more) and --teleop.reset_time_s."
            )
        self.episode_time_s = float(episode_time_s)
        self.reset_time_s = float(reset_time_s)
        self._phase_start: float | None = None
        self._last_call: float | None = None
        self._in_episode = False
        self.episode_index = -1  # index of the current (or last) recorded episode

    @property
    def in_episode(self) -> bool:
        return self._in_episode

    def tick(self, now: float) -> RecordPhase:
        """Classify a call made at wall-clock time `now` (seconds, monotonic)."""
        if self._last_call is not None and now < self._last_call:
            raise ValueError(f"EpisodeClock.tick got a time going backwards ({now} < {self._last_call})")
        prev = self._last_call
        self._last_call = now
        if self._phase_start is None:  # the first call ever starts episode 0
            return self._start_episode(now)
        prev_elapsed = prev - self._phase_start
        if self._in_episode:
            if prev_elapsed >= self.episode_time_s:
                self._in_episode = False
                self._phase_start = now
                return RecordPhase.RESET_START
            return RecordPhase.EPISODE
        if prev_elapsed >= self.reset_time_s:
            return self._start_episode(now)
        return RecordPhase.RESET

    def _start_episode(self, now: float) -> RecordPhase:
        self._in_episode = True
        self._phase_start = now
        self.episode_index += 1
        return RecordPhase.EPISODE_START
