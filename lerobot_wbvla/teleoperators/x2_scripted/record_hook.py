"""The one hook that lets `x2_scripted` see lerobot-record's episode loop (LeRobot gives a teleoperator no view of it).

lerobot-record's `record()` (lerobot/scripts/lerobot_record.py, LeRobot 0.6) connects the teleoperator, then runs,
per episode, `record_loop(..., dataset=dataset, control_time_s=episode_time_s)` (recorded) and
`record_loop(..., control_time_s=reset_time_s)` (the unrecorded reset phase; skipped after the last episode unless
the episode is to be re-recorded), then `dataset.save_episode()`. `record_loop` stops early when its `events` dict
has `exit_early` set, and `record()` throws the episode away and records it again when `rerecord_episode` is set.
`record()` looks `record_loop` up in its module's globals at each call.

`install()` (called by `X2Scripted.connect()`, which `record()` calls before its first `record_loop`) replaces that
module-level `record_loop` with a thin wrapper. For a loop whose `teleop` argument has the methods below, the
wrapper calls `teleop.begin_record_loop(events, dataset, control_time_s)` before the loop and
`teleop.end_record_loop()` after it, then runs LeRobot's own loop unchanged; for any other teleop it only passes the
call through. So x2_scripted knows exactly where each recorded episode starts and ends, holds the very `events`
dict lerobot-record reads (to end an episode when the task is solved, and to ask for a re-record), and can judge an
episode that the wall clock ended, including the last one (setting `rerecord_episode` after the loop makes
`record()` run a reset phase and record it again).

Without the hook (x2_scripted driven by another loop, or a LeRobot whose record script differs) the teleop falls back
to inferring episodes from the wall clock (episode_clock.py) and says so in the log.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
from collections.abc import Callable

logger = logging.getLogger(__name__)

RECORD_MODULE = "lerobot.scripts.lerobot_record"
_MARK = "__wbvla_x2_scripted_hook__"


def _record_modules() -> list:
    """The loaded copies of LeRobot's record script: the module, and `__main__` when run with `python -m`."""
    mods = [sys.modules.get(RECORD_MODULE)]
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None) == RECORD_MODULE:
        mods.append(main)
    return [m for m in mods if m is not None and callable(getattr(m, "record_loop", None))]


def install() -> bool:
    """Wrap `record_loop` in each loaded copy of LeRobot's record script (once); False when none is loaded."""
    mods = _record_modules()
    for mod in mods:
        if not getattr(mod.record_loop, _MARK, False):
            mod.record_loop = _wrap(mod.record_loop)
    return bool(mods)


def _signature(func: Callable) -> inspect.Signature:
    """The parameters of LeRobot's `record_loop` itself: its decorator (`safe_stop_image_writer`) takes
    `*args, **kwargs` and keeps no `__wrapped__`, so look for the decorated function in the decorator's closure."""
    for cell in getattr(func, "__closure__", None) or ():
        inner = cell.cell_contents
        if callable(inner) and getattr(inner, "__name__", "") == "record_loop":
            return _signature(inner)
    return inspect.signature(inspect.unwrap(func))


def _wrap(original: Callable) -> Callable:
    signature = _signature(original)

    @functools.wraps(original)
    def record_loop(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:  # let LeRobot's own loop report the bad call
            return original(*args, **kwargs)
        teleop, events = bound.arguments.get("teleop"), bound.arguments.get("events")
        begin = getattr(teleop, "begin_record_loop", None)
        end = getattr(teleop, "end_record_loop", None)
        if begin is None or end is None or not isinstance(events, dict):
            return original(*args, **kwargs)
        begin(
            events=events,
            dataset=bound.arguments.get("dataset"),
            control_time_s=bound.arguments.get("control_time_s"),
        )
        completed = False
        try:
            result = original(*args, **kwargs)
            completed = True
            return result
        finally:
            end(completed=completed)

    setattr(record_loop, _MARK, True)
    return record_loop
