"""Floor plan of a clip's room: its size, where the body's path goes in it, and the floor rectangles items take.

Plain geometry (no MuJoCo): `place_path` picks the room and the path's start pose from the scene seed before
anything is built; `scene.SceneBuilder` then furnishes the room around the path, keeping items' `Footprint`s
clear of it (`keep_clear_points`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Room:
    """Room half-extents (m) along x and y, and ceiling height (m). The floor centre is the origin."""

    hx: float
    hy: float
    height: float


@dataclass
class Footprint:
    """Axis-aligned floor rectangle taken by an item."""

    xmin: float
    xmax: float
    ymin: float
    ymax: float

    def overlaps(self, other: Footprint, gap: float = 0.05) -> bool:
        return not (
            self.xmax + gap < other.xmin
            or other.xmax + gap < self.xmin
            or self.ymax + gap < other.ymin
            or other.ymax + gap < self.ymin
        )

    def distance(self, points: np.ndarray) -> float:
        """Smallest distance from the rectangle to any of the (N, 2) points."""
        dx = np.maximum(np.maximum(self.xmin - points[:, 0], points[:, 0] - self.xmax), 0)
        dy = np.maximum(np.maximum(self.ymin - points[:, 1], points[:, 1] - self.ymax), 0)
        return float(np.min(np.hypot(dx, dy)))


def footprint(center: np.ndarray, yaw: float, depth: float, width: float) -> Footprint:
    """AABB of a depth (local x) by width (local y) rectangle rotated by yaw."""
    c, s = abs(np.cos(yaw)), abs(np.sin(yaw))
    ex = c * depth / 2 + s * width / 2
    ey = s * depth / 2 + c * width / 2
    return Footprint(center[0] - ex, center[0] + ex, center[1] - ey, center[1] + ey)


def _wall_distance(room: Room, xy: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """Distance from each point (N, 2) along its heading (N,) to the walls of the room."""
    c, s = np.cos(heading), np.sin(heading)
    with np.errstate(divide="ignore"):
        tx = np.where(
            c > 1e-9, (room.hx - xy[:, 0]) / c, np.where(c < -1e-9, (-room.hx - xy[:, 0]) / c, np.inf)
        )
        ty = np.where(
            s > 1e-9, (room.hy - xy[:, 1]) / s, np.where(s < -1e-9, (-room.hy - xy[:, 1]) / s, np.inf)
        )
    return np.minimum(tx, ty)


def place_path(
    local_xy: np.ndarray, local_yaw: np.ndarray, rng: np.random.Generator
) -> tuple[Room, float, float, float]:
    """Choose a room and a start pose (x, y, yaw) for a head path given in its start frame (origin, heading +x):
    every head position stays >= 1 m from the walls and every frame looks >= 1.5 m into the room, so no clip
    stares at a wall from up close. Rooms grow when a long path does not fit."""
    margin, view = 1.0, 1.5
    for attempt in range(300):
        grow = 1.0 + attempt / 60
        room = Room(rng.uniform(2.5, 5.0) * grow, rng.uniform(2.5, 5.0) * grow, rng.uniform(2.6, 3.2))
        yaw = rng.uniform(-np.pi, np.pi)
        c, s = np.cos(yaw), np.sin(yaw)
        pts = local_xy @ np.array([[c, s], [-s, c]])
        lo, hi = pts.min(0), pts.max(0)
        xlo, xhi = -room.hx + margin - lo[0], room.hx - margin - hi[0]
        ylo, yhi = -room.hy + margin - lo[1], room.hy - margin - hi[1]
        if xlo > xhi or ylo > yhi:
            continue
        x, y = rng.uniform(xlo, xhi), rng.uniform(ylo, yhi)
        if _wall_distance(room, pts + [x, y], local_yaw + yaw).min() >= view:
            return room, float(x), float(y), float(yaw)
    raise RuntimeError(
        "Could not fit the clip's path into a room; the path is too long for rooms up to ~30 m."
    )


def keep_clear_points(xy: np.ndarray, heading: np.ndarray, ahead: float = 0.6) -> np.ndarray:
    """Points furniture must keep clear of: the head path and the path pushed `ahead` metres along the heading
    (so the view ahead stays open and reaching hands never go into furniture)."""
    forward = np.stack([np.cos(heading), np.sin(heading)], 1)
    return np.concatenate([xy, xy + ahead * forward])
