"""Rooms of the ray-cast domain: a box room, wall panels, furniture boxes and pillars, lights and robot arms.

Everything is analytic geometry for `render.py`: the room is an axis-aligned box (floor z = 0, ceiling, four
walls), doors, windows and posters are rectangles on the walls, furniture is boxes rotated about z (crates,
pedestal tables, shelves, benches, ceiling lamps) and vertical cylinders (pillars). Furniture keeps `_CLEARANCE`
from every head position of the clip, so neither the camera nor the reaching arms ever enter it. One colour
family (textures.FAMILIES) colours the room; objects also take accent colours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lerobot_wbvla.datasets.raycast_egovideo.textures import ACCENTS, FAMILIES, Family, Material

_CLEARANCE = 0.95  # furniture keeps this far from the head path (m): arms reach ~0.8 m ahead
_WALL_MARGIN = 1.0  # the head path keeps this far from the walls (m)

# Wall ids (room faces): +x, -x, +y, -y walls, ceiling, floor.
WALL_PX, WALL_NX, WALL_PY, WALL_NY, CEILING, FLOOR = range(6)


@dataclass
class Panel:
    """A rectangle on wall `wall`: u along the wall (room x for y walls, room y for x walls), v height (m)."""

    wall: int
    u0: float
    u1: float
    v0: float
    v1: float
    material: int
    frame_material: int  # a 4 cm border in this material (-1: none)


@dataclass
class Scene:
    """Geometry, materials and lights of one room (metres, room frame: floor centre at the origin)."""

    hx: float
    hy: float
    height: float
    materials: list[Material]
    surface_material: np.ndarray  # (6,) material per room face (WALL_PX .. FLOOR)
    panels: list[Panel] = field(default_factory=list)
    box_center: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    box_axes: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 3, 3))
    )  # columns: local x, y, z in room
    box_half: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    box_material: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    box_front_material: np.ndarray = field(
        default_factory=lambda: np.zeros(0, int)
    )  # local +x face; -1 = same
    cylinders: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (x, y, radius)
    cylinder_material: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    light_pos: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    light_color: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    light_range: float = 2.5  # distance at which a light's intensity halves (m)
    ambient: np.ndarray = field(default_factory=lambda: np.full(3, 0.3))
    exposure: float = 1.5
    family: str = ""


def yaw_axes(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _path_distance(path: np.ndarray, center: np.ndarray, yaw: float, half: np.ndarray) -> float:
    """Smallest distance from the (N, 2) path points to a box footprint (centre, yaw, half extents x/y)."""
    c, s = np.cos(yaw), np.sin(yaw)
    d = path - center[:2]
    lx, ly = c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]
    ex = np.maximum(np.abs(lx) - half[0], 0)
    ey = np.maximum(np.abs(ly) - half[1], 0)
    return float(np.min(np.hypot(ex, ey)))


def place_path(path: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float, float, float]:
    """Room half sizes and a start pose (hx, hy, x, y, yaw) that keep the (T, 2) local head path inside the room
    with `_WALL_MARGIN` to spare."""
    yaw = float(rng.uniform(-np.pi, np.pi))
    rot = yaw_axes(yaw)[:2, :2]
    p = path @ rot.T
    lo, hi = p.min(0), p.max(0)
    need = (hi - lo) / 2 + _WALL_MARGIN
    hx = max(float(rng.uniform(2.2, 4.2)), float(need[0]) + 0.05)
    hy = max(float(rng.uniform(2.2, 4.2)), float(need[1]) + 0.05)
    free = np.array([hx, hy]) - need
    offset = rng.uniform(-free, free) - (lo + hi) / 2
    return hx, hy, float(offset[0]), float(offset[1]), yaw


class _Builder:
    def __init__(self, rng: np.random.Generator, family: Family, path: np.ndarray):
        self.rng, self.family, self.path = rng, family, path
        self.materials: list[Material] = []
        self.boxes: list[tuple[np.ndarray, float, np.ndarray, int, int]] = []
        self.cylinders: list[tuple[float, float, float, int]] = []
        self.footprints: list[tuple[np.ndarray, float, np.ndarray]] = []

    def color(self, accent: float = 0.0) -> np.ndarray:
        fam = self.family if self.rng.random() >= accent else ACCENTS[int(self.rng.integers(len(ACCENTS)))]
        return fam.color(self.rng)

    def material(
        self,
        kind: str,
        n_colors: int,
        scale: float,
        accent: float = 0.0,
        emissive: bool = False,
        angle: float = 0.0,
    ) -> int:
        colors = np.stack([self.color(accent) for _ in range(n_colors)]).astype(np.float32)
        self.materials.append(Material(kind, colors, scale, angle, int(self.rng.integers(1 << 30)), emissive))
        return len(self.materials) - 1

    def emissive(self, color: np.ndarray) -> int:
        self.materials.append(Material("plain", np.asarray(color, np.float32)[None], 1.0, 0.0, 0, True))
        return len(self.materials) - 1

    def free(self, center: np.ndarray, yaw: float, half: np.ndarray) -> bool:
        if _path_distance(self.path, center, yaw, half) < _CLEARANCE:
            return False
        for c, _yaw, h in self.footprints:
            reach = np.hypot(*h[:2]) + np.hypot(*half[:2]) + 0.05
            if np.linalg.norm(c[:2] - center[:2]) < reach:
                return False
        return True

    def box(self, center, yaw: float, half, mat: int, front: int = -1, footprint: bool = True) -> None:
        center, half = np.asarray(center, float), np.asarray(half, float)
        self.boxes.append((center, yaw, half, mat, front))
        if footprint:
            self.footprints.append((center, yaw, half))


def build_scene(path: np.ndarray, hx: float, hy: float, rng: np.random.Generator) -> Scene:
    """A furnished room of half sizes (hx, hy) around the room-frame head path (T, 2)."""
    family = FAMILIES[int(rng.integers(len(FAMILIES)))]
    b = _Builder(rng, family, path)
    height = float(rng.uniform(2.3, 3.0))
    floor = b.material(
        str(rng.choice(["hex", "rings", "noise", "lattice"])), 3, float(rng.uniform(0.18, 0.4))
    )
    wall_kind = str(rng.choice(["dots", "stripes", "noise", "lattice", "plain"]))
    wall = b.material(
        wall_kind, 3, float(rng.uniform(0.12, 0.35)), angle=float(rng.choice([0.0, 0.0, np.pi / 4]))
    )
    accent_wall = b.material(
        str(rng.choice(["stripes", "dots", "plain"])), 3, float(rng.uniform(0.2, 0.5)), accent=0.4
    )
    ceiling = b.material("tiles", 2, float(rng.uniform(0.5, 0.7)))
    surfaces = np.array([wall] * 4 + [ceiling, floor])
    surfaces[int(rng.integers(4))] = accent_wall

    # Doors, windows and posters.
    panels: list[Panel] = []
    for _ in range(int(rng.integers(3, 7))):
        w = int(rng.integers(4))
        half_len = hy if w in (WALL_PX, WALL_NX) else hx
        kind = rng.choice(["door", "window", "poster"], p=[0.3, 0.3, 0.4])
        if kind == "door":
            width, v0, v1 = rng.uniform(0.8, 1.0), 0.0, min(2.05, height - 0.2)
            mat, frame = b.material("slats", 3, 0.25, accent=0.5), b.material("plain", 1, 1.0, accent=1.0)
        elif kind == "window":
            width = rng.uniform(0.8, 1.6)
            v0 = rng.uniform(0.8, 1.1)
            v1 = min(v0 + rng.uniform(0.8, 1.2), height - 0.15)
            sky = np.array([0.75, 0.9, 1.0]) if rng.random() < 0.6 else np.array([1.0, 0.8, 0.55])
            mat, frame = b.emissive(sky * rng.uniform(0.85, 1.0)), b.material("plain", 1, 1.0, accent=1.0)
        else:
            width = rng.uniform(0.4, 0.9)
            v0 = rng.uniform(0.9, 1.4)
            v1 = v0 + rng.uniform(0.4, 0.8)
            mat = b.material(
                str(rng.choice(["stripes", "dots", "lattice", "hex"])),
                3,
                float(rng.uniform(0.06, 0.15)),
                accent=0.8,
            )
            frame = b.material("plain", 1, 1.0, accent=1.0) if rng.random() < 0.7 else -1
        u0 = rng.uniform(-half_len + 0.2, half_len - 0.2 - width)
        panels.append(Panel(w, float(u0), float(u0 + width), float(v0), float(v1), mat, frame))

    # Furniture, tried at random places until enough fit.
    wanted = int(rng.integers(5, 10))
    tries = 0
    while len(b.footprints) < wanted and tries < 60:
        tries += 1
        kind = rng.choice(["shelf", "crates", "table", "pillar", "bench"], p=[0.25, 0.25, 0.2, 0.15, 0.15])
        if kind == "shelf":  # against a wall, books facing the room
            w = int(rng.integers(4))
            depth, width, tall = rng.uniform(0.25, 0.4), rng.uniform(0.6, 1.4), rng.uniform(1.2, 2.0)
            along = rng.uniform(-1, 1)
            if w in (WALL_PX, WALL_NX):
                sign = 1 if w == WALL_PX else -1
                center = np.array([sign * (hx - depth / 2), along * (hy - width / 2), tall / 2])
                yaw = np.pi if sign > 0 else 0.0
            else:
                sign = 1 if w == WALL_PY else -1
                center = np.array([along * (hx - width / 2), sign * (hy - depth / 2), tall / 2])
                yaw = -np.pi / 2 if sign > 0 else np.pi / 2
            half = np.array([depth / 2, width / 2, tall / 2])
            if b.free(center, yaw, half):
                body = b.material("rings", 3, 0.2, accent=0.2)
                books = b.material("books", 6, float(tall / rng.integers(3, 6)), accent=0.7)
                b.box(center, yaw, half, body, books)
            continue
        center_xy = rng.uniform([-hx + 0.4, -hy + 0.4], [hx - 0.4, hy - 0.4])
        yaw = float(rng.uniform(-np.pi, np.pi))
        if kind == "crates":
            size = rng.uniform(0.25, 0.45)
            half = np.array([size, size, size])
            if b.free(np.r_[center_xy, size], yaw, half):
                mat = b.material("slats", 3, float(size / rng.integers(3, 6)), accent=0.3)
                b.box(np.r_[center_xy, size], yaw, half, mat)
                if rng.random() < 0.6:
                    top = size * rng.uniform(0.5, 0.8)
                    b.box(
                        np.r_[center_xy, 2 * size + top],
                        yaw + rng.uniform(-0.6, 0.6),
                        [top] * 3,
                        mat,
                        footprint=False,
                    )
        elif kind == "table":
            top_half = np.array([rng.uniform(0.35, 0.7), rng.uniform(0.3, 0.45), 0.025])
            z = rng.uniform(0.65, 0.8)
            if b.free(np.r_[center_xy, z], yaw, top_half):
                b.box(
                    np.r_[center_xy, z], yaw, top_half, b.material("rings", 3, float(rng.uniform(0.08, 0.14)))
                )
                b.box(
                    np.r_[center_xy, z / 2],
                    yaw,
                    [0.06, 0.06, z / 2],
                    b.material("plain", 1, 1.0, accent=0.8),
                    footprint=False,
                )
                thing = rng.uniform(0.05, 0.12)
                b.box(
                    np.r_[center_xy, z + 0.025 + thing],
                    rng.uniform(-np.pi, np.pi),
                    [thing] * 3,
                    b.material("plain", 1, 1.0, accent=1.0),
                    footprint=False,
                )
        elif kind == "pillar":
            r = rng.uniform(0.12, 0.25)
            if b.free(np.r_[center_xy, 0], 0.0, np.array([r, r, 0])):
                b.cylinders.append(
                    (
                        float(center_xy[0]),
                        float(center_xy[1]),
                        float(r),
                        b.material("stripes", 3, float(rng.uniform(0.1, 0.3)), angle=np.pi / 2),
                    )
                )
                b.footprints.append((np.r_[center_xy, 0], 0.0, np.array([r, r, 0])))
        else:  # bench
            half = np.array([rng.uniform(0.5, 0.9), rng.uniform(0.18, 0.28), rng.uniform(0.18, 0.24)])
            if b.free(np.r_[center_xy, half[2]], yaw, half):
                b.box(
                    np.r_[center_xy, half[2]],
                    yaw,
                    half,
                    b.material(str(rng.choice(["noise", "rings", "hazard"])), 3, 0.15, accent=0.5),
                )

    # Lights: one or two point lights under the ceiling, each with a glowing lamp box.
    n_lights = int(rng.integers(1, 3))
    tint = np.array(
        rng.choice(
            [[1.0, 0.86, 0.7], [0.75, 0.88, 1.0], [0.82, 1.0, 0.86], [1.0, 0.82, 0.96], [1.0, 1.0, 1.0]]
        )
    )
    light_pos = np.stack(
        [
            np.r_[rng.uniform(-0.6 * hx, 0.6 * hx), rng.uniform(-0.6 * hy, 0.6 * hy), height - 0.25]
            for _ in range(n_lights)
        ]
    )
    light_color = np.stack([tint * rng.uniform(1.2, 1.8) / np.sqrt(n_lights) for _ in range(n_lights)])
    for pos in light_pos:
        b.box(
            pos + [0, 0, 0.2],
            float(rng.uniform(-np.pi, np.pi)),
            [0.25, 0.12, 0.03],
            b.emissive(np.clip(tint * 1.2, 0, 1)),
            footprint=False,
        )
    ambient = np.array(rng.choice([[0.9, 0.95, 1.1], [1.1, 0.95, 0.85], [0.95, 1.05, 0.95]])) * rng.uniform(
        0.22, 0.35
    )

    centers = np.array([c for c, *_ in b.boxes]).reshape(-1, 3)
    axes = np.array([yaw_axes(y) for _, y, *_ in b.boxes]).reshape(-1, 3, 3)
    halves = np.array([h for *_, h, _, _ in b.boxes]).reshape(-1, 3)
    cyl = np.array([c[:3] for c in b.cylinders]).reshape(-1, 3)
    albedo = np.mean([m.colors.mean() for m in b.materials if not m.emissive])
    return Scene(
        hx=hx,
        hy=hy,
        height=height,
        materials=b.materials,
        surface_material=surfaces,
        panels=panels,
        box_center=centers,
        box_axes=axes,
        box_half=halves,
        box_material=np.array([m for *_, m, _ in b.boxes], int),
        box_front_material=np.array([f for *_, f in b.boxes], int),
        cylinders=cyl,
        cylinder_material=np.array([c[3] for c in b.cylinders], int),
        light_pos=light_pos,
        light_color=light_color,
        light_range=float(rng.uniform(2.0, 3.2)),
        ambient=ambient,
        exposure=float(rng.uniform(1.1, 1.6) / np.clip(albedo, 0.15, 0.6) * 0.45),
        family=family.name,
    )


@dataclass
class ArmLook:
    """Materials of the robot arms (indices into the scene's material list) and box sizes (m)."""

    shell: int
    joint: int
    gripper: int
    thickness: float


def add_arm_materials(scene: Scene, rng: np.random.Generator) -> ArmLook:
    """Robot arm colours: a neon or very dark shell (hazard stripes or plain), dark or neon joints."""
    neon, dark = ACCENTS
    shell_color = (neon if rng.random() < 0.6 else dark).color(rng)
    other = (dark if shell_color.max() > 0.5 else neon).color(rng)
    if rng.random() < 0.5:
        shell = Material(
            "hazard", np.stack([shell_color, other * 0.6]), float(rng.uniform(0.06, 0.1)), seed=1
        )
    else:
        shell = Material("plain", shell_color[None], 1.0, seed=2)
    scene.materials += [
        shell,
        Material("plain", other[None], 1.0, seed=3),
        Material("plain", (other * 0.5 + 0.1)[None], 1.0, seed=4),
    ]
    n = len(scene.materials)
    return ArmLook(shell=n - 3, joint=n - 2, gripper=n - 1, thickness=float(rng.uniform(0.06, 0.08)))
