"""Live X2 twins by robot id, so that a process-local peer (the scripted operator inside `lerobot-record`) can read
the world that the robot `agibot_x2` with the same `--robot.id` is simulating.

`AgibotX2.connect()` registers its sim under `config.id` (or "agibot_x2" if no id) and `disconnect()` removes it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sim import X2Sim

DEFAULT_ID = "agibot_x2"
_LOCK = threading.Lock()
_SIMS: dict[str, X2Sim] = {}


def register(robot_id: str | None, sim: X2Sim) -> None:
    with _LOCK:
        _SIMS[robot_id or DEFAULT_ID] = sim


def unregister(robot_id: str | None, sim: X2Sim | None = None) -> None:
    """Remove the entry (only if it still points at `sim`, when given)."""
    key = robot_id or DEFAULT_ID
    with _LOCK:
        if key in _SIMS and (sim is None or _SIMS[key] is sim):
            del _SIMS[key]


def lookup(robot_id: str | None) -> X2Sim:
    key = robot_id or DEFAULT_ID
    with _LOCK:
        if key not in _SIMS:
            known = ", ".join(sorted(_SIMS)) or "none"
            raise KeyError(
                f"No live X2 twin for robot id {key!r} (live: {known}). Connect the robot "
                "(--robot.type=agibot_x2 --robot.backend=sim) with the same --robot.id first."
            )
        return _SIMS[key]
