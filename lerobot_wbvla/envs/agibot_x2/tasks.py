"""The four task families of the WholeBodyVLA article on the X2 twin, and their success checks.

Each task names a scene of robots/agibot_x2/scenes.py (which builds and randomises the props and holds the language
instruction) and a check that reads only the physical state of the world:

- pick_place:  the object rests inside the target region on the table (position, low velocity, touching the
               table top and nothing of the robot).
- walk_carry:  same, on a second table whose target region is >= 2 m from where the object started; the check
               also measures that distance (object start -> final position) itself.
- shelf_place: the object rests on the shelf board (in contact with the board, inside its extent, still, not
               touching the robot).
- cart_push:   the cart (>= 30 kg, on a low-friction slide along its track) has moved >= `CART_SUCCESS_DISTANCE`
               along the track from its reset position, and the robot is holding it by its two handles (each
               gripper touches its handle post). Without the second part, flailing at random scores: random
               walking commands drift the kinematic base ~0.7 m (1 sigma) in 25 s and the body shoves the cart.

"Not touching the robot" is checked through MuJoCo contacts between the object's geoms and any geom of the robot's
body tree, so an object still held by (or lying on) a gripper never counts. Grasps are made by friction alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

# Thresholds of an honest "object at rest" check.
REST_LIN_SPEED = 0.05  # m/s
REST_ANG_SPEED = 1.0  # rad/s
# Walk + carry: the article's "pick, walk 2 m, place".
CARRY_MIN_DISTANCE = 2.0  # m
# Cart push: distance the cart must travel along its track.
CART_SUCCESS_DISTANCE = 1.0  # m
CART_MIN_MASS = 30.0  # kg
# The success condition must hold this long (sim seconds) before it counts: a box bouncing through the target or
# a cart coasting past the mark for one frame is not a success.
SUCCESS_HOLD_S = 0.3


@dataclass(frozen=True)
class TaskSpec:
    """A task of `--env.type=agibot_x2`: its scene (scenes.py registry name), episode length, success kind."""

    name: str
    scene: str
    episode_s: float
    kind: str  # "place" | "shelf" | "cart"
    min_carry_distance: float = 0.0
    extra: dict = field(default_factory=dict)


TASKS: dict[str, TaskSpec] = {
    "pick_place": TaskSpec("pick_place", "pick_place", episode_s=20.0, kind="place"),
    "walk_carry": TaskSpec(
        "walk_carry", "walk_carry", episode_s=40.0, kind="place", min_carry_distance=CARRY_MIN_DISTANCE
    ),
    "shelf_place": TaskSpec("shelf_place", "shelf_place", episode_s=40.0, kind="shelf"),
    "cart_push": TaskSpec("cart_push", "cart_push", episode_s=25.0, kind="cart"),
}


def _id(model: mujoco.MjModel, obj: mujoco.mjtObj, name: str) -> int:
    i = mujoco.mj_name2id(model, obj, name)
    if i < 0:
        raise KeyError(
            f"The scene has no {obj.name[6:].lower()} named {name!r}; the task's scene is not built"
        )
    return i


class SuccessCheck:
    """Evaluates one task's success on a live (model, data). Call `reset(data)` after each sim reset."""

    def __init__(self, spec: TaskSpec, model: mujoco.MjModel, robot_root_body: str = "pelvis"):
        self.spec = spec
        self.model = model
        root = _id(model, mujoco.mjtObj.mjOBJ_BODY, robot_root_body)
        self.robot_geoms = {g for g in range(model.ngeom) if model.body_rootid[model.geom_bodyid[g]] == root}
        self.start_pos: np.ndarray | None = None
        if spec.kind in ("place", "shelf"):
            self.obj_body = _id(model, mujoco.mjtObj.mjOBJ_BODY, "object")
            self.obj_geoms = {g for g in range(model.ngeom) if model.geom_bodyid[g] == self.obj_body}
            self.obj_half = _object_half_height(model, self.obj_geoms)
        if spec.kind == "place":
            self.target_site = _id(model, mujoco.mjtObj.mjOBJ_SITE, "target")
        if spec.kind == "shelf":
            self.board_geom = _id(model, mujoco.mjtObj.mjOBJ_GEOM, "shelf_board")
        if spec.kind == "cart":
            self.cart_body = _id(model, mujoco.mjtObj.mjOBJ_BODY, "cart")
            jnt = _id(model, mujoco.mjtObj.mjOBJ_JOINT, "cart_track")
            if model.jnt_type[jnt] != mujoco.mjtJoint.mjJNT_SLIDE:
                raise ValueError("cart_track must be a slide joint (the cart's track)")
            self.cart_qadr = int(model.jnt_qposadr[jnt])
            self.handle_geoms = {
                side: _id(model, mujoco.mjtObj.mjOBJ_GEOM, f"cart_handle_{side}")
                for side in ("left", "right")
            }
            self.gripper_geoms = {
                side: {
                    g
                    for g in self.robot_geoms
                    if (
                        mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, model.geom_bodyid[g]) or ""
                    ).startswith(f"{side}_gripper")
                }
                for side in ("left", "right")
            }
            if not all(self.gripper_geoms.values()):
                raise KeyError(
                    "cart_push needs the robot's gripper bodies (<side>_gripper_*) to check the grip"
                )
            mass = float(model.body_subtreemass[self.cart_body])
            if mass < CART_MIN_MASS:
                raise ValueError(f"The cart weighs {mass:.1f} kg; the task needs >= {CART_MIN_MASS} kg")

    def reset(self, data: mujoco.MjData) -> None:
        """Remember the start state (object position / cart track position) of a fresh episode."""
        if self.spec.kind in ("place", "shelf"):
            self.start_pos = data.xpos[self.obj_body].copy()
        else:
            self.start_pos = np.array([data.qpos[self.cart_qadr]])

    def metrics(self, data: mujoco.MjData) -> dict[str, float]:
        """The quantities the check is made of (for logs and tests)."""
        if self.start_pos is None:
            raise RuntimeError("SuccessCheck.reset(data) must be called after each sim reset")
        if self.spec.kind == "cart":
            out = {"cart_distance": float(data.qpos[self.cart_qadr] - self.start_pos[0])}
            for side, handle in self.handle_geoms.items():
                out[f"{side}_hand_on_handle"] = float(
                    bool(_touching(data, {handle}) & self.gripper_geoms[side])
                )
            return out
        pos = data.xpos[self.obj_body]
        vel = np.zeros(6)
        mujoco.mj_objectVelocity(self.model, data, mujoco.mjtObj.mjOBJ_BODY, self.obj_body, vel, 0)
        touching = self._contacts(data)
        out = {
            "lin_speed": float(np.linalg.norm(vel[3:])),
            "ang_speed": float(np.linalg.norm(vel[:3])),
            "touches_robot": float(bool(touching & self.robot_geoms)),
            "carry_distance": float(np.linalg.norm(pos[:2] - self.start_pos[:2])),
        }
        if self.spec.kind == "place":
            site_pos = data.site_xpos[self.target_site]
            rot = data.site_xmat[self.target_site].reshape(3, 3)
            local = rot.T @ (pos - site_pos)
            half = self.model.site_size[self.target_site]
            out["in_region"] = float(abs(local[0]) <= half[0] and abs(local[1]) <= half[1])
            # The target site sits on the support surface: the object's centre is one half-height above it.
            out["height_error"] = float(abs(local[2] - self.obj_half))
            out["on_support"] = float(out["height_error"] < 0.02)
        else:
            board = self.board_geom
            rot = data.geom_xmat[board].reshape(3, 3)
            local = rot.T @ (pos - data.geom_xpos[board])
            half = self.model.geom_size[board]
            out["in_region"] = float(abs(local[0]) <= half[0] and abs(local[1]) <= half[1])
            out["on_support"] = float(board in touching)
        return out

    def __call__(self, data: mujoco.MjData) -> bool:
        if self.spec.kind == "cart":
            if data.qpos[self.cart_qadr] - self.start_pos[0] < CART_SUCCESS_DISTANCE:
                return False
            m = self.metrics(data)
            return bool(m["left_hand_on_handle"] and m["right_hand_on_handle"])
        if not self._near_goal(data):  # cheap position test first; contacts and velocities only near the goal
            return False
        m = self.metrics(data)
        return bool(
            m["in_region"]
            and m["on_support"]
            and not m["touches_robot"]
            and m["lin_speed"] < REST_LIN_SPEED
            and m["ang_speed"] < REST_ANG_SPEED
            and m["carry_distance"] >= self.spec.min_carry_distance
        )

    def _near_goal(self, data: mujoco.MjData) -> bool:
        """Object centre within the goal's horizontal extent (+2 cm); necessary for success, cheap to test."""
        if self.spec.kind == "place":
            centre, rot, half = (
                data.site_xpos[self.target_site],
                data.site_xmat[self.target_site],
                self.model.site_size[self.target_site],
            )
        else:
            centre, rot, half = (
                data.geom_xpos[self.board_geom],
                data.geom_xmat[self.board_geom],
                self.model.geom_size[self.board_geom],
            )
        local = rot.reshape(3, 3).T @ (data.xpos[self.obj_body] - centre)
        return abs(local[0]) <= half[0] + 0.02 and abs(local[1]) <= half[1] + 0.02

    def _contacts(self, data: mujoco.MjData) -> set[int]:
        """Geoms in contact with the object."""
        return _touching(data, self.obj_geoms)


class SuccessMonitor:
    """A task's success over time: `SuccessCheck` held for `hold_s` seconds of sim time in a row (the env's
    `is_success`, and the recorders' per-frame `next.success`). Call `reset(data, t)` after each sim reset and
    `update(data, t)` once per control period after the physics advanced."""

    def __init__(self, check: SuccessCheck, hold_s: float = SUCCESS_HOLD_S) -> None:
        self.check = check
        self.hold_s = float(hold_s)
        self._since: float | None = None
        self._t = 0.0

    def reset(self, data: mujoco.MjData, t: float) -> None:
        self.check.reset(data)
        self._since = None
        self._t = float(t)

    def update(self, data: mujoco.MjData, t: float) -> bool:
        """Evaluate the check at sim time `t`; returns `solved`."""
        self._t = float(t)
        if not self.check(data):
            self._since = None
        elif self._since is None:
            self._since = self._t
        return self.solved

    @property
    def solved(self) -> bool:
        """The check has held for at least `hold_s` (as of the last update)."""
        return self._since is not None and self._t - self._since >= self.hold_s - 1e-9

    @property
    def held_s(self) -> float:
        """How long the check has held without a break (0 when it does not hold)."""
        return 0.0 if self._since is None else self._t - self._since


def _touching(data: mujoco.MjData, geoms: set[int]) -> set[int]:
    """Geoms in contact with any of `geoms`."""
    out = set()
    for i in range(data.ncon):
        c = data.contact[i]
        g1, g2 = int(c.geom1), int(c.geom2)
        if g1 in geoms:
            out.add(g2)
        elif g2 in geoms:
            out.add(g1)
    return out


def _object_half_height(model: mujoco.MjModel, geoms: set[int]) -> float:
    """Half height of the object (its geoms' extent along the body z axis, in the resting orientation)."""
    top = 0.0
    for g in geoms:
        t = model.geom_type[g]
        size = model.geom_size[g]
        if t == mujoco.mjtGeom.mjGEOM_BOX:
            h = size[2]
        elif t == mujoco.mjtGeom.mjGEOM_CYLINDER:
            h = size[1]
        elif t == mujoco.mjtGeom.mjGEOM_SPHERE:
            h = size[0]
        else:
            h = model.geom_rbound[g]
        top = max(top, abs(model.geom_pos[g][2]) + h)
    return top
