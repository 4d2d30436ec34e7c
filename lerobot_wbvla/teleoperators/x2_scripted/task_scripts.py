"""The scripted solutions of the four X2 task scenes (robots/agibot_x2/scenes.py), one builder per scene name.

Each builder returns a `Script` (skills.py) for a freshly reset scene. The scripts read the props' poses from the
twin (a demonstrator may use privileged state; the recorded observations are still only the robot's own), grasp
with the right gripper by friction (the grippers close on the box or the cart's handle posts), and walk with the
locomotion command. Geometry constants come from scenes.py so the scripts follow any change of the scenes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from lerobot_wbvla.robots.agibot_x2 import scenes as S

from .locomotion import GoToGains, PlanarPose, wrap_angle
from .skills import (
    APPROACH_PITCH,
    ArmsTo,
    BaseTo,
    Call,
    Controller,
    Grip,
    HandTo,
    Label,
    Script,
    Step,
    Wait,
    approach_rotation,
)

# Where the right grasp site works best in the base frame (x forward, y left; z world), from the IK workspace.
READY = {"right": (0.15, -0.30, 0.90), "left": (0.15, 0.30, 0.90)}
PLACE_REL = (0.37, -0.22)  # the base stands so that the place point sits here (base frame, in camera view)
PREGRASP_BACKOFF = 0.10  # m behind the grasp point along the approach axis
GRASP_ABOVE_CENTRE = 0.01  # m: grasp a little above the box centre (fingertips clear the table)
LIFT = 0.08  # m
CARRY_Z = 0.90  # m: grasp-site height while walking with the box (over table tops)
SHELF_CARRY_Z = 0.95  # m: over the shelf board
BACK_UP_X = -0.30  # m: where the robot backs up to before turning away from the first table
MAX_GRASP_TRIES = 3
WALK_GAINS = GoToGains(kp_lin=2.5, kp_yaw=3.0, max_vx=0.5, max_vy=0.3, max_yaw_rate=0.8)
CART_GAINS = GoToGains(max_vx=0.3, max_vy=0.1, max_yaw_rate=0.2)
CART_WALK = 1.35  # m: the robot walks this far with the cart (the check needs >= 1.0 m of cart travel)


def _grasp_yaw(c: Controller) -> float:
    """Heading for the approach that squares the fingers with the box (box yaw modulo 90 deg, near the base's)."""
    base_yaw = c.base().yaw
    rel = wrap_angle(c.body_yaw("object") - base_yaw)
    rel = (rel + math.pi / 4) % (math.pi / 2) - math.pi / 4
    return base_yaw + rel


def _pose(c: Controller, p: np.ndarray, yaw: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    yaw = c.base().yaw if yaw is None else yaw
    return np.asarray(p, dtype=float), approach_rotation(yaw, APPROACH_PITCH)


def _approach_dir(yaw: float) -> np.ndarray:
    return np.array(
        [
            math.cos(APPROACH_PITCH) * math.cos(yaw),
            math.cos(APPROACH_PITCH) * math.sin(yaw),
            -math.sin(APPROACH_PITCH),
        ]
    )


def _held_yaw(c: Controller) -> float:
    return c.base().yaw + float(c.memory.get("grasp_yaw_rel", 0.0))


def _ready(side: str) -> Callable[[Controller], dict]:
    return lambda c: {side: _pose(c, c.world_from_base(READY[side]))}


def _stance(sides: tuple[str, ...]) -> Callable[[Controller], dict[str, float]]:
    return lambda c: {j: v for j, v in c.stance.items() if j.startswith(sides)}


def _remember_grasp(c: Controller) -> None:
    yaw = _grasp_yaw(c)
    c.memory["grasp_yaw_rel"] = wrap_angle(yaw - c.base().yaw)
    c.memory["grasp_point"] = c.body_pos("object") + np.array([0.0, 0.0, GRASP_ABOVE_CENTRE])


def _check_held(c: Controller) -> bool | str:
    """After the lift: is the box in the hand (near the grasp site and off the table)? Else retry the grasp."""
    obj, tcp = c.body_pos("object"), c.tcp("right")
    held = np.linalg.norm(obj - tcp) < 0.05 and obj[2] > S.TABLE_TOP + S.OBJECT_HALF[2] + 0.03
    if held:
        b = c.base()
        cy, sy = math.cos(b.yaw), math.sin(b.yaw)
        d = obj - tcp
        c.held_offset = np.array([cy * d[0] + sy * d[1], -sy * d[0] + cy * d[1], d[2]])
        return True
    tries = int(c.memory.get("tries", 0)) + 1
    c.memory["tries"] = tries
    return "retry" if tries < MAX_GRASP_TRIES else "give_up"


def _site_goal_for_object(c: Controller, obj_goal: np.ndarray) -> np.ndarray:
    """Grasp-site position that puts the held box's centre at `obj_goal` (using the offset measured at lift)."""
    off = c.held_offset if c.held_offset is not None else np.zeros(3)
    b = c.base()
    cy, sy = math.cos(b.yaw), math.sin(b.yaw)
    return obj_goal - np.array([cy * off[0] - sy * off[1], sy * off[0] + cy * off[1], off[2]])


def pick_steps() -> list[Step]:
    """Reach, grasp and lift the box with the right gripper (retrying a missed grasp)."""
    return [
        Label("reach"),
        Grip({"right": 0.0}, 0.2),
        HandTo(_ready("right"), 1.2),
        Call(_remember_grasp),
        HandTo(
            lambda c: {
                "right": _pose(
                    c,
                    c.memory["grasp_point"] - PREGRASP_BACKOFF * _approach_dir(_held_yaw(c)),
                    _held_yaw(c),
                )
            },
            1.2,
        ),
        HandTo(lambda c: {"right": _pose(c, c.memory["grasp_point"], _held_yaw(c))}, 1.0),
        Grip({"right": 1.0}, 0.6),
        HandTo(lambda c: {"right": _pose(c, c.tcp("right") + np.array([0, 0, LIFT]), _held_yaw(c))}, 0.8),
        Call(_check_held),
        Label("picked"),
    ]


def _retry_steps() -> list[Step]:
    """Jump targets after the main sequence: open, back off and try the grasp again, or give up and stand."""
    return [
        Call(lambda c: "end"),
        Label("retry"),
        Grip({"right": 0.0}, 0.4),
        HandTo(
            lambda c: {"right": _pose(c, c.tcp("right") - 0.08 * _approach_dir(_held_yaw(c)) + [0, 0, 0.04])},
            0.6,
        ),
        Call(lambda c: "reach"),
        Label("give_up"),
        Grip({"right": 0.0}, 0.4),
        ArmsTo(_stance(("right",)), 1.5),
        Label("end"),
    ]


def place_steps(obj_goal: Callable[[Controller], np.ndarray]) -> list[Step]:
    """Put the held box down with its centre at `obj_goal` (world), release, pull the hand out, stand."""
    return [
        HandTo(
            lambda c: {
                "right": _pose(
                    c, _site_goal_for_object(c, obj_goal(c) + np.array([0, 0, 0.05])), _held_yaw(c)
                )
            },
            1.5,
        ),
        HandTo(
            lambda c: {
                "right": _pose(
                    c, _site_goal_for_object(c, obj_goal(c) + np.array([0, 0, 0.004])), _held_yaw(c)
                )
            },
            1.0,
        ),
        Grip({"right": 0.0}, 0.6),
        Wait(0.2),
        HandTo(
            lambda c: {
                "right": _pose(
                    c,
                    c.tcp("right") - PREGRASP_BACKOFF * _approach_dir(_held_yaw(c)) + [0, 0, 0.03],
                    _held_yaw(c),
                )
            },
            0.8,
        ),
        ArmsTo(_stance(("right",)), 1.2),
    ]


def carry_pose(z: float) -> Callable[[Controller], dict]:
    """Hold the box at height `z` (grasp site), in front of the right hip, for walking."""
    return lambda c: {"right": _pose(c, c.world_from_base((0.30, -0.28, z)), _held_yaw(c))}


def walk_steps(side_sign: float, place_point: Callable[[Controller], np.ndarray]) -> list[Step]:
    """Back away from the first table, turn toward `side_sign` (+1 left, -1 right), walk, turn back to +x and step
    up so that the place point is at PLACE_REL in the base frame."""

    def final_pose(c: Controller) -> PlanarPose:
        p = place_point(c)
        return PlanarPose(float(p[0] - PLACE_REL[0]), float(p[1] - PLACE_REL[1]), 0.0)

    via = {"pos_tol": 0.06, "yaw_tol": 0.08, "stop": False}
    return [
        BaseTo(lambda c: PlanarPose(BACK_UP_X, c.base().y, 0.0), WALK_GAINS, **via),
        BaseTo(lambda c: PlanarPose(BACK_UP_X, c.base().y, side_sign * math.pi / 2), WALK_GAINS, **via),
        BaseTo(lambda c: PlanarPose(BACK_UP_X, final_pose(c).y, side_sign * math.pi / 2), WALK_GAINS, **via),
        BaseTo(lambda c: PlanarPose(BACK_UP_X, final_pose(c).y, 0.0), WALK_GAINS, **via),
        BaseTo(final_pose, WALK_GAINS),
    ]


def _target_centre(c: Controller) -> np.ndarray:
    return c.site_pos("target") + np.array([0.0, 0.0, S.OBJECT_HALF[2]])


def _shelf_point(c: Controller) -> np.ndarray:
    board = c.sim.data.geom("shelf_board")
    top = board.xpos[2] + c.model.geom("shelf_board").size[2]
    half_x = c.model.geom("shelf_board").size[0]
    return np.array([board.xpos[0] - half_x + 0.10, board.xpos[1], top + S.OBJECT_HALF[2]])


def build_pick_place() -> Script:
    return Script(pick_steps() + place_steps(_target_centre) + _retry_steps())


def build_walk_carry() -> Script:
    return Script(
        pick_steps()
        + [HandTo(carry_pose(CARRY_Z), 0.8)]
        + walk_steps(-1.0, _target_centre)
        + place_steps(_target_centre)
        + _retry_steps()
    )


def build_shelf_place() -> Script:
    return Script(
        pick_steps()
        + [HandTo(carry_pose(SHELF_CARRY_Z), 0.8)]
        + walk_steps(+1.0, _shelf_point)
        + place_steps(_shelf_point)
        + _retry_steps()
    )


def _post_pose(c: Controller, side: str, backoff: float) -> tuple[np.ndarray, np.ndarray]:
    geom = c.sim.data.geom(f"cart_handle_{side}")
    p = np.array([geom.xpos[0], geom.xpos[1], 0.85])
    return _pose(c, p - backoff * _approach_dir(c.base().yaw))


def build_cart_push() -> Script:
    both = ("left", "right")
    return Script(
        [
            Grip({"left": 0.0, "right": 0.0}, 0.2),
            HandTo(lambda c: {s: _pose(c, c.world_from_base(READY[s])) for s in both}, 1.2),
            HandTo(lambda c: {s: _post_pose(c, s, PREGRASP_BACKOFF) for s in both}, 1.2),
            HandTo(lambda c: {s: _post_pose(c, s, 0.0) for s in both}, 1.0),
            Grip({"left": 1.0, "right": 1.0}, 0.6),
            BaseTo(lambda c: PlanarPose(c.base().x + CART_WALK, c.base().y, 0.0), CART_GAINS, timeout=15.0),
            Grip({"left": 0.0, "right": 0.0}, 0.5),
            HandTo(
                lambda c: {
                    s: _pose(c, c.tcp(s) - PREGRASP_BACKOFF * _approach_dir(c.base().yaw) + [0, 0, 0.03])
                    for s in both
                },
                0.8,
            ),
            ArmsTo(_stance(both), 1.2),
        ]
    )


SCRIPTS: dict[str, Callable[[], Script]] = {
    "pick_place": build_pick_place,
    "walk_carry": build_walk_carry,
    "shelf_place": build_shelf_place,
    "cart_push": build_cart_push,
}


def build_script(scene: str) -> Script:
    """The script solving scene `scene` (a scenes.py name)."""
    if scene not in SCRIPTS:
        raise ValueError(
            f"x2_scripted has no script for scene {scene!r}; scripted scenes: {', '.join(SCRIPTS)}"
        )
    return SCRIPTS[scene]()
