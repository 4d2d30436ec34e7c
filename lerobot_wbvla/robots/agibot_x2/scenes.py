"""Registry of task scenes for the X2 twin.

A scene builder receives the world `mujoco.MjSpec` (floor, light and robot already in it; the robot stands at the
origin facing +x) and adds its props to `spec.worldbody`. It returns a `SceneHandles`: the task string, the names
of the bodies/sites the task and the scripted operator refer to (e.g. {"object": "box", "target": "bin"}), and a
`randomise(model, data, rng)` callback that X2Sim calls on every reset (after the robot's standing pose is set and
before the reset's settle) to place the props from the episode's seed. Props should keep MuJoCo's default
contype=conaffinity=1 so they collide with the robot (every robot geom has conaffinity bit 1, see mjcf.py
"Collision filtering") and each other.

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

# The four task families of the WholeBodyVLA article (static pick & place, walk + carry, walk + place on a shelf,
# push a heavy cart). Geometry [ours], sized for the twin's right-arm workspace: with the robot at the origin, the
# gripper reaches a forward-down grasp pose (14 deg down) for x in ~0.25..0.45 m, y in ~-0.40..-0.15 m at a table
# height of 0.80 m (measured with the x2_scripted IK); the head camera sees y >= ~-0.30 m at x = 0.32 m, so props
# are placed where both hold. The success checks are in lerobot_wbvla/envs/agibot_x2/tasks.py
# and refer to the names used here: body `object`, site `target`, geom `shelf_board`, body `cart` + joint
# `cart_track`.

TABLE_TOP = 0.76  # m: table surface height
TABLE_HALF = (0.30, 0.40)  # m: half depth (x) and half width (y) of a table top
OBJECT_HALF = (0.025, 0.025, 0.04)  # m: the box to pick (5 x 5 x 8 cm)
OBJECT_MASS = 0.2  # kg, well under the X2's 1 kg full-workspace payload
PAD_HALF = 0.05  # m: half side of the square target region
REACH_X = (0.32, 0.42)  # m: grasp/place workspace in the robot frame at standing (x forward)
REACH_Y = (-0.29, -0.15)  # m: (y left; the right hand works right of the body, inside the head camera view)
MIN_PICK_PLACE_SEPARATION = 0.09  # m: box start to target centre (> PAD_HALF * sqrt(2): never starts inside)
CARRY_TABLE_OFFSET = (2.55, 2.80)  # m: the second table is this far to the robot's right
SHELF_OFFSET = (1.70, 2.00)  # m: the shelf is this far to the robot's left
SHELF_BOARD_TOP = 0.86  # m: the target board's surface
CART_MASS = 35.0  # kg (>= 30 kg: the article's "push heavy object")
CART_TRACK_FRICTION = 6.0  # N: Coulomb friction of the slide (rolling resistance ~ 0.017 * m * g)
CART_TRACK_DAMPING = 3.0  # N*s/m
CART_HANDLE_Y = 0.22  # m: the two vertical handle posts sit at y = +/- this

_WOOD = (0.62, 0.47, 0.32, 1.0)
_RED = (0.85, 0.15, 0.12, 1.0)
_GREEN = (0.2, 0.75, 0.3, 1.0)
_STEEL = (0.55, 0.57, 0.6, 1.0)
_BOX = mujoco.mjtGeom.mjGEOM_BOX
_CYL = mujoco.mjtGeom.mjGEOM_CYLINDER


def _cam_quat(forward: tuple[float, float, float], up: tuple[float, float, float] = (0, 0, 1)) -> np.ndarray:
    """Quaternion of a camera looking along `forward` with `up` roughly up (MuJoCo cameras look along -z)."""
    z = -np.asarray(forward, dtype=float)
    z /= np.linalg.norm(z)
    y = np.asarray(up, dtype=float) - np.dot(up, z) * z
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.stack([x, y, z], axis=1).reshape(-1))
    return quat


def _add_overview_camera(spec: mujoco.MjSpec) -> None:
    """`overview`: a third-person camera that follows the robot (fixed offset and orientation in the world), for
    eval videos."""
    pelvis = spec.body("pelvis")
    forward = np.array([1.4, 0.9, -0.9])
    pelvis.add_camera(
        name="overview",
        pos=(-0.9, -1.0, 1.0),
        quat=_cam_quat(tuple(forward)),
        fovy=70.0,
        mode=mujoco.mjtCamLight.mjCAMLIGHT_TRACK,
    )


def _add_table(spec: mujoco.MjSpec, name: str, center: tuple[float, float]) -> mujoco.MjsBody:
    """A table: top slab (surface at TABLE_TOP) and four legs, as one static body at `center` (x, y)."""
    body = spec.worldbody.add_body(name=name, pos=(center[0], center[1], 0.0))
    hx, hy = TABLE_HALF
    body.add_geom(
        name=f"{name}_top", type=_BOX, size=(hx, hy, 0.02), pos=(0, 0, TABLE_TOP - 0.02), rgba=_WOOD
    )
    for i, (sx, sy) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
        body.add_geom(
            name=f"{name}_leg{i}",
            type=_BOX,
            size=(0.02, 0.02, (TABLE_TOP - 0.04) / 2),
            pos=(sx * (hx - 0.03), sy * (hy - 0.03), (TABLE_TOP - 0.04) / 2),
            rgba=_WOOD,
        )
    return body


def _add_object(spec: mujoco.MjSpec) -> None:
    """The red box to pick (free body `object`); grasped by friction only."""
    body = spec.worldbody.add_body(name="object", pos=(0.35, -0.25, TABLE_TOP + OBJECT_HALF[2]))
    body.add_freejoint(name="object_free")
    g = body.add_geom(name="object_geom", type=_BOX, size=OBJECT_HALF, mass=OBJECT_MASS, rgba=_RED)
    g.condim = 4
    g.friction = (1.0, 0.01, 0.0001)


def _add_target_pad(table: mujoco.MjsBody) -> None:
    """Green square on a table top (visual only) and the site `target` marking the region (size = half sides)."""
    table.add_geom(
        name="target_pad",
        type=_BOX,
        size=(PAD_HALF, PAD_HALF, 0.0005),
        pos=(0, 0, TABLE_TOP + 0.0005),
        rgba=_GREEN,
        contype=0,
        conaffinity=0,
    )
    table.add_site(
        name="target", type=_BOX, size=(PAD_HALF, PAD_HALF, 0.001), pos=(0, 0, TABLE_TOP), rgba=(0, 0, 0, 0)
    )


def _set_object(model: mujoco.MjModel, data: mujoco.MjData, xy: tuple[float, float], yaw: float) -> None:
    adr = model.jnt_qposadr[model.joint("object_free").id]
    data.qpos[adr : adr + 3] = (xy[0], xy[1], TABLE_TOP + OBJECT_HALF[2] + 0.0005)
    data.qpos[adr + 3 : adr + 7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
    vadr = model.jnt_dofadr[model.joint("object_free").id]
    data.qvel[vadr : vadr + 6] = 0.0


def _place_on_table(model: mujoco.MjModel, table: str, table_xy: tuple[float, float], pad_xy=None) -> None:
    """Move a static table (and its target pad, given in world x, y) in the model."""
    bid = model.body(table).id
    model.body_pos[bid][:2] = table_xy
    if pad_xy is not None:
        local = (pad_xy[0] - table_xy[0], pad_xy[1] - table_xy[1])
        model.geom_pos[model.geom("target_pad").id][:2] = local
        model.site_pos[model.site("target").id][:2] = local


def _sample_reach(rng: np.random.Generator, x=REACH_X, y=REACH_Y) -> tuple[float, float]:
    return float(rng.uniform(*x)), float(rng.uniform(*y))


@register_scene("pick_place")
def build_pick_place(spec: mujoco.MjSpec) -> SceneHandles:
    """Static manipulation: a box and a target pad on one table in front of the robot."""
    table = _add_table(spec, "table", (0.50, -0.15))
    _add_target_pad(table)
    _add_object(spec)
    _add_overview_camera(spec)

    def randomise(model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        table_xy = (0.50 + rng.uniform(-0.02, 0.02), -0.15)
        # Draw both together until far enough apart (~20% of draws are; a centre-drawn box could have no
        # valid pad at all, so never redraw only one of them).
        for _ in range(1000):
            obj, pad = _sample_reach(rng), _sample_reach(rng)
            if np.hypot(obj[0] - pad[0], obj[1] - pad[1]) >= MIN_PICK_PLACE_SEPARATION:
                break
        else:
            raise RuntimeError("pick_place: could not place box and target apart; check REACH_X/REACH_Y")
        _place_on_table(model, "table", table_xy, pad)
        _set_object(model, data, obj, rng.uniform(-0.3, 0.3))

    return SceneHandles(
        task="pick up the red box and place it on the green square",
        bodies={"object": "object", "table": "table"},
        sites={"target": "target"},
        randomise=randomise,
    )


@register_scene("walk_carry")
def build_walk_carry(spec: mujoco.MjSpec) -> SceneHandles:
    """Walk + carry: pick the box from the table in front, carry it >= 2 m to a second table on the right, place
    it on the green square there."""
    _add_table(spec, "table", (0.50, -0.15))
    table_b = _add_table(spec, "table_b", (0.50, -2.65))
    _add_target_pad(table_b)
    _add_object(spec)
    _add_overview_camera(spec)

    def randomise(model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        obj = _sample_reach(rng, y=(-0.29, -0.17))
        off = rng.uniform(*CARRY_TABLE_OFFSET)
        table_b_xy = (0.50 + rng.uniform(-0.02, 0.02), -off)
        pad = (float(rng.uniform(0.32, 0.40)), float(-off + rng.uniform(-0.10, 0.10)))
        _place_on_table(model, "table_b", table_b_xy, pad)
        _set_object(model, data, obj, rng.uniform(-0.3, 0.3))

    return SceneHandles(
        task="pick up the red box, carry it to the other table and place it on the green square",
        bodies={"object": "object", "table": "table", "table_b": "table_b"},
        sites={"target": "target"},
        randomise=randomise,
    )


def _add_shelf(spec: mujoco.MjSpec, center: tuple[float, float]) -> None:
    """An open shelf facing -x: three boards (the middle one, `shelf_board`, is the target), side walls, back."""
    body = spec.worldbody.add_body(name="shelf", pos=(center[0], center[1], 0.0))
    hx, hy, t = 0.18, 0.38, 0.015
    for name, top in (("shelf_low", 0.45), ("shelf_board", SHELF_BOARD_TOP), ("shelf_top", 1.40)):
        body.add_geom(name=name, type=_BOX, size=(hx, hy, t), pos=(0, 0, top - t), rgba=_WOOD)
    for i, sy in enumerate((1, -1)):
        body.add_geom(
            name=f"shelf_side{i}", type=_BOX, size=(hx, t, 0.70), pos=(0, sy * (hy + t), 0.70), rgba=_WOOD
        )
    body.add_geom(name="shelf_back", type=_BOX, size=(t, hy, 0.70), pos=(hx + t, 0, 0.70), rgba=_WOOD)


@register_scene("shelf_place")
def build_shelf_place(spec: mujoco.MjSpec) -> SceneHandles:
    """Walk + place on a shelf: pick the box from the table in front, walk to the shelf on the left, put the box
    on the middle board."""
    _add_table(spec, "table", (0.50, -0.15))
    _add_shelf(spec, (0.45, 1.85))
    _add_object(spec)
    _add_overview_camera(spec)

    def randomise(model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        obj = _sample_reach(rng, y=(-0.29, -0.17))
        model.body_pos[model.body("shelf").id][:2] = (
            0.45 + rng.uniform(-0.03, 0.03),
            rng.uniform(*SHELF_OFFSET),
        )
        _set_object(model, data, obj, rng.uniform(-0.3, 0.3))

    return SceneHandles(
        task="pick up the red box, walk to the shelf and put the box on the middle shelf",
        bodies={"object": "object", "table": "table", "shelf": "shelf"},
        sites={},
        randomise=randomise,
    )


@register_scene("cart_push")
def build_cart_push(spec: mujoco.MjSpec) -> SceneHandles:
    """Push a heavy cart: a 35 kg cart on a low-friction slide along +x (its track); the robot grips the two
    handle posts and walks it forward."""
    near = 0.35  # m: the handle posts' x at reset (nominal)
    hx, hy = 0.35, 0.28
    cart = spec.worldbody.add_body(name="cart", pos=(near + hx, 0.0, 0.0))
    track = cart.add_joint(name="cart_track", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=(1, 0, 0))
    track.frictionloss = CART_TRACK_FRICTION
    track.damping = (CART_TRACK_DAMPING, 0.0, 0.0)
    deck_mass, post_mass = 8.0, 0.5
    cart.add_geom(
        name="cart_deck", type=_BOX, size=(hx, hy, 0.02), pos=(0, 0, 0.30), mass=deck_mass, rgba=_STEEL
    )
    cart.add_geom(
        name="cart_load",
        type=_BOX,
        size=(0.2, 0.18, 0.12),
        pos=(0.05, 0, 0.44),
        mass=CART_MASS - deck_mass - 2 * post_mass,
        rgba=(0.35, 0.3, 0.25, 1.0),
    )
    for side, sy in (("left", 1), ("right", -1)):
        cart.add_geom(
            name=f"cart_handle_{side}",
            type=_CYL,
            size=(0.015, 0.32),
            pos=(-hx + 0.0, sy * CART_HANDLE_Y, 0.32 + 0.32),
            mass=post_mass,
            rgba=_STEEL,
            friction=(1.2, 0.01, 0.0001),
        )
    for i, (sx, sy) in enumerate(((1, 1), (1, -1), (-1, 1), (-1, -1))):
        cart.add_geom(
            name=f"cart_wheel{i}",
            type=_CYL,
            size=(0.07, 0.02),
            pos=(sx * (hx - 0.08), sy * (hy - 0.03), 0.07),
            quat=(0.7071068, 0.7071068, 0, 0),
            rgba=(0.1, 0.1, 0.1, 1.0),
            contype=0,
            conaffinity=0,
            mass=0.0,
        )
    _add_overview_camera(spec)

    def randomise(model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        model.body_pos[model.body("cart").id][:2] = (
            near + hx + rng.uniform(-0.03, 0.04),
            rng.uniform(-0.02, 0.02),
        )

    return SceneHandles(
        task="grab the cart's handles and push the cart forward",
        bodies={"cart": "cart"},
        sites={},
        randomise=randomise,
    )


# Rough ground for locomotion training and evaluation (lmo/): a 20 x 20 m heightfield over the floor, flat until a
# user (the LMO's terrain randomisation) writes `model.hfield_data` of "terrain": heights in [0, 1] scale to
# [0, TERRAIN_MAX_HEIGHT] m above the floor. 0.1 m grid; a bump field of a few cm is what the article's
# "terrain roughness 0-5 cm" randomises.
TERRAIN_HALF = 10.0  # m
TERRAIN_CELLS = 201  # samples per side (0.1 m spacing)
TERRAIN_MAX_HEIGHT = 0.05  # m


@register_scene("rough_floor")
def build_rough_floor(spec: mujoco.MjSpec) -> SceneHandles:
    """The floor plus a flat-by-default heightfield `terrain` (see TERRAIN_* above)."""
    spec.add_hfield(
        name="terrain",
        size=(TERRAIN_HALF, TERRAIN_HALF, TERRAIN_MAX_HEIGHT, 0.01),
        nrow=TERRAIN_CELLS,
        ncol=TERRAIN_CELLS,
        userdata=[0.0] * (TERRAIN_CELLS * TERRAIN_CELLS),
    )
    spec.worldbody.add_geom(
        name="terrain",
        type=mujoco.mjtGeom.mjGEOM_HFIELD,
        hfieldname="terrain",
        pos=(0, 0, 0),
        rgba=(0.5, 0.5, 0.47, 1.0),
    )
    return SceneHandles(task="stand and walk on rough ground")
