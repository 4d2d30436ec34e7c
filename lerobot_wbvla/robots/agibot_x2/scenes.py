"""Registry of task scenes for the X2 twin.

A scene builder receives the world `mujoco.MjSpec` (floor, light and robot already in it; the robot stands at the
origin facing +x) and adds its props to `spec.worldbody`. It returns a `SceneHandles`: the task string, the names
of the bodies/sites the task and the scripted operator refer to (e.g. {"object": "box", "target": "bin"}), and a
`randomise(model, data, rng)` callback that X2Sim calls on every reset (after the robot's standing pose is set and
before `mj_forward`) to place the props from the episode's seed. Props should keep MuJoCo's default
contype=conaffinity=1 so they collide with the robot (robot geoms use contype=2, conaffinity=1) and each other.

    @register_scene("my_task")
    def build_my_task(spec: mujoco.MjSpec) -> SceneHandles:
        box = spec.worldbody.add_body(name="box", pos=(0.45, 0, 0.8))
        box.add_freejoint(name="box_free")
        box.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=(0.03, 0.03, 0.03), mass=0.3)
        def randomise(model, data, rng): ...
        return SceneHandles(task="pick up the box", bodies={"object": "box"}, randomise=randomise)

`None` / "floor" is the floor-only scene. Task scenes (pick_place, walk_carry, shelf_place, cart_push) are added
below by the scenes' owner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import mujoco
import numpy as np

Randomiser = Callable[[mujoco.MjModel, mujoco.MjData, np.random.Generator], None]


def _no_randomise(model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
    return None


@dataclass
class SceneHandles:
    """What a scene builder returns: task string, named handles (role -> MJCF name), reset-time randomiser."""

    task: str
    bodies: dict[str, str] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=dict)
    randomise: Randomiser = _no_randomise


SceneBuilder = Callable[[mujoco.MjSpec], SceneHandles]
_SCENES: dict[str, SceneBuilder] = {}


def register_scene(name: str) -> Callable[[SceneBuilder], SceneBuilder]:
    """Decorator registering a scene builder under `name` (the value of `scene=` in X2SimConfig/the robot)."""

    def wrap(builder: SceneBuilder) -> SceneBuilder:
        if name in _SCENES and _SCENES[name] is not builder:
            raise ValueError(f"Scene {name!r} is already registered")
        _SCENES[name] = builder
        return builder

    return wrap


def get_scene(name: str | None) -> SceneBuilder:
    """The builder of scene `name` (None = "floor")."""
    key = "floor" if name is None else name
    if key not in _SCENES:
        raise ValueError(f"Unknown X2 scene {name!r}; registered scenes: {', '.join(list_scenes())}")
    return _SCENES[key]


def list_scenes() -> list[str]:
    return sorted(_SCENES)


@register_scene("floor")
def build_floor(spec: mujoco.MjSpec) -> SceneHandles:
    """Floor only (the world already has the floor): nothing to add."""
    return SceneHandles(task="stand still")


# ---- task scenes (owned by the env/scenes author) go below this line ----
