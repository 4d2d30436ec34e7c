"""Live X2 twins by robot id, so that a process-local peer (the scripted operator inside `lerobot-record`) can read
the world that the robot `agibot_x2` with the same `--robot.id` is simulating, and reset its scene.

`AgibotX2.connect()` (sim backend) registers its twin and its backend under `config.id` (or "agibot_x2" if no id)
and `disconnect()` removes them. `lookup(id)` gives the twin (`X2Sim`); `lookup_backend(id)` the sim backend, whose
`reset_scene(seed)` / `request_reset(seed)` reset the scene so that the robot knows (its per-tick step limits
restart from the reset pose) and the seed of the scene is on record (`scene_seed`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sim import X2Sim
    from .sim_backend import SimBackend

DEFAULT_ID = "agibot_x2"
_LOCK = threading.Lock()
_SIMS: dict[str, X2Sim] = {}
_BACKENDS: dict[str, SimBackend] = {}


def register(robot_id: str | None, sim: X2Sim, backend: SimBackend | None = None) -> None:
    key = robot_id or DEFAULT_ID
    with _LOCK:
        _SIMS[key] = sim
        if backend is not None:
            _BACKENDS[key] = backend
        else:
            _BACKENDS.pop(key, None)


def unregister(robot_id: str | None, sim: X2Sim | None = None) -> None:
    """Remove the entry (only if it still points at `sim`, when given)."""
    key = robot_id or DEFAULT_ID
    with _LOCK:
        if key in _SIMS and (sim is None or _SIMS[key] is sim):
            del _SIMS[key]
            _BACKENDS.pop(key, None)


def _missing(key: str) -> KeyError:
    known = ", ".join(sorted(_SIMS)) or "none"
    return KeyError(
        f"No live X2 twin for robot id {key!r} (live: {known}). Connect the robot "
        "(--robot.type=agibot_x2 --robot.backend=sim) with the same --robot.id first."
    )


def lookup(robot_id: str | None) -> X2Sim:
    key = robot_id or DEFAULT_ID
    with _LOCK:
        if key not in _SIMS:
            raise _missing(key)
        return _SIMS[key]


def lookup_backend(robot_id: str | None) -> SimBackend:
    """The sim backend driving the twin of `robot_id` (KeyError naming the fix when there is none)."""
    key = robot_id or DEFAULT_ID
    with _LOCK:
        if key not in _BACKENDS:
            raise _missing(key)
        return _BACKENDS[key]
