"""Procedural rooms for the egocentric clips, built in code with `mujoco.MjSpec`.

A room is an axis-aligned box (floor, four walls, ceiling) with procedural textures, doors, windows and pictures
on the walls, furniture along the walls and in the middle (shelves with books, tables with things on them,
cabinets, sofas, chairs, plants, box stacks, rugs), small objects on the floor, ceiling lamps and 2-4 lights.
Everything is drawn from the clip's scene seed and one colour palette. Furniture keeps clear of the body's path,
so the camera never goes through anything. The room's size and the path's place in it are chosen first, in
floorplan.py; this module builds the room around them.

Rendering cost is kept low on purpose: no shadows, no reflections, primitives only (boxes, cylinders, capsules,
spheres, ellipsoids), textures of 128-256 px.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np

from lerobot_wbvla.datasets.egovideo import textures as tex
from lerobot_wbvla.datasets.egovideo.floorplan import Footprint, Room, footprint

# Re-exported: the room's floor plan moved to floorplan.py; `from ...egovideo.scene import place_path` still works.
from lerobot_wbvla.datasets.egovideo.floorplan import keep_clear_points as keep_clear_points
from lerobot_wbvla.datasets.egovideo.floorplan import place_path as place_path
from lerobot_wbvla.datasets.egovideo.palettes import Palette

BOX, CYL, CAP, SPH, ELL, PLANE = (
    mujoco.mjtGeom.mjGEOM_BOX,
    mujoco.mjtGeom.mjGEOM_CYLINDER,
    mujoco.mjtGeom.mjGEOM_CAPSULE,
    mujoco.mjtGeom.mjGEOM_SPHERE,
    mujoco.mjtGeom.mjGEOM_ELLIPSOID,
    mujoco.mjtGeom.mjGEOM_PLANE,
)
_TEX = 128  # side of most textures (px)
_PATH_CLEARANCE = 0.55  # furniture keeps this far from any head position of the clip (m)
_FLOOR_ITEM_CLEARANCE = 0.4  # small floor objects keep this far (m)


def quat_from_axes(x_axis: np.ndarray, y_axis: np.ndarray) -> np.ndarray:
    """Quaternion of the frame whose x and y axes are given (z = x cross y)."""
    x = np.asarray(x_axis, float) / np.linalg.norm(x_axis)
    y = np.asarray(y_axis, float) / np.linalg.norm(y_axis)
    mat = np.stack([x, y, np.cross(x, y)], axis=1).flatten()
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, mat)
    return q


def yaw_quat(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)])


@dataclass
class SceneBuilder:
    """Adds a randomised room to an MjSpec; `path` (N, 2) are the head positions to keep clear."""

    spec: mujoco.MjSpec
    rng: np.random.Generator
    palette: Palette
    room: Room
    path: np.ndarray
    taken: list[Footprint] = field(default_factory=list)
    _n: int = 0

    # ---------------------------------------------------------------- materials
    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def texture_material(
        self,
        image: np.ndarray,
        repeat_per_m: float = 1.0,
        uniform: bool = True,
        specular: float = 0.1,
        shininess: float = 0.2,
    ) -> str:
        """A material showing `image` (H, W, 3 uint8); uniform=True repeats it `repeat_per_m` times per metre."""
        name = self._name("tex")
        t = self.spec.add_texture(
            name=name,
            type=mujoco.mjtTexture.mjTEXTURE_2D,
            width=image.shape[1],
            height=image.shape[0],
            nchannel=3,
        )
        t.data = np.ascontiguousarray(image).tobytes()
        repeat = [repeat_per_m, repeat_per_m] if uniform else [1, 1]
        mat = self.spec.add_material(
            name=name,
            textures=["", name],
            texuniform=uniform,
            texrepeat=repeat,
            specular=specular,
            shininess=shininess,
            reflectance=0.0,
        )
        return mat.name

    def builtin_material(
        self, builtin: str, rgb1: np.ndarray, rgb2: np.ndarray, repeat_per_m: float, mark_random: float = 0.0
    ) -> str:
        """A material from MuJoCo's built-in procedural textures (checker, gradient, flat with random dots)."""
        name = self._name("btex")
        kind = {
            "checker": mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
            "gradient": mujoco.mjtBuiltin.mjBUILTIN_GRADIENT,
            "flat": mujoco.mjtBuiltin.mjBUILTIN_FLAT,
        }[builtin]
        t = self.spec.add_texture(
            name=name,
            type=mujoco.mjtTexture.mjTEXTURE_2D,
            builtin=kind,
            width=_TEX,
            height=_TEX,
            rgb1=list(rgb1),
            rgb2=list(rgb2),
        )
        if mark_random > 0:
            t.mark = mujoco.mjtMark.mjMARK_RANDOM
            t.random = mark_random
            t.markrgb = list(np.clip(rgb1 * 0.7, 0, 1))
        mat = self.spec.add_material(
            name=name,
            textures=["", name],
            texuniform=True,
            texrepeat=[repeat_per_m, repeat_per_m],
            specular=0.1,
            reflectance=0.0,
        )
        return mat.name

    def color_material(
        self, rgb: np.ndarray, specular: float = 0.2, shininess: float = 0.3, emission: float = 0.0
    ) -> str:
        name = self._name("col")
        self.spec.add_material(
            name=name,
            rgba=[*np.clip(rgb, 0, 1), 1.0],
            specular=specular,
            shininess=shininess,
            emission=emission,
            reflectance=0.0,
        )
        return name

    # ---------------------------------------------------------------- geometry helpers
    def _geom(self, parent, gtype, size, pos, material: str, quat=None, **kw) -> None:
        g = parent.add_geom(
            type=gtype,
            size=list(size) + [0] * (3 - len(size)),
            pos=list(pos),
            material=material,
            contype=0,
            conaffinity=0,
            **kw,
        )
        if quat is not None:
            g.quat = list(quat)

    def _item_body(self, center: np.ndarray, yaw: float):
        return self.spec.worldbody.add_body(
            name=self._name("item"), pos=[center[0], center[1], 0], quat=list(yaw_quat(yaw))
        )

    def _free(self, fp: Footprint, clearance: float) -> bool:
        inside = (
            fp.xmin > -self.room.hx
            and fp.xmax < self.room.hx
            and fp.ymin > -self.room.hy
            and fp.ymax < self.room.hy
        )
        return inside and fp.distance(self.path) > clearance and not any(fp.overlaps(o) for o in self.taken)

    # ---------------------------------------------------------------- the room shell
    def build_shell(self) -> None:
        rng, pal, room = self.rng, self.palette, self.room
        floor_kind = rng.choice(["planks", "planks", "tiles", "carpet", "checker", "concrete"])
        base = pal.color(rng, sat_scale=0.8)
        if floor_kind == "planks":
            wood_base = np.array([0.55, 0.38, 0.22]) * rng.uniform(0.6, 1.3) * 0.6 + base * 0.4
            floor = self.texture_material(
                tex.planks(256, np.clip(wood_base, 0, 1), rng), 1 / rng.uniform(0.9, 1.6)
            )
        elif floor_kind == "tiles":
            floor = self.texture_material(
                tex.tiles(_TEX, base, base * rng.uniform(0.4, 0.7), rng),
                1 / rng.uniform(0.6, 1.2),
                specular=0.3,
            )
        elif floor_kind == "carpet":
            floor = self.texture_material(
                tex.carpet(_TEX, base, pal.color(rng), rng), 1 / rng.uniform(0.8, 2.0)
            )
        elif floor_kind == "checker":
            floor = self.builtin_material(
                "checker", base, pal.color(rng, val_shift=-0.3), 1 / rng.uniform(0.6, 1.4)
            )
        else:
            grey = np.full(3, rng.uniform(0.4, 0.7)) * 0.7 + base * 0.3
            floor = self.builtin_material("flat", grey, grey, 1 / rng.uniform(0.3, 0.8), mark_random=0.08)
        self.spec.worldbody.add_geom(
            type=PLANE, size=[room.hx, room.hy, 0.1], material=floor, contype=0, conaffinity=0
        )

        ceiling = self.texture_material(tex.plaster(_TEX, np.full(3, rng.uniform(0.75, 0.95)), rng), 0.5)
        self.spec.worldbody.add_geom(
            type=PLANE,
            size=[room.hx, room.hy, 0.1],
            pos=[0, 0, room.height],
            quat=[0, 1, 0, 0],
            material=ceiling,
            contype=0,
            conaffinity=0,
        )

        walls = [self._wall_material() for _ in range(2)]
        trim = self.color_material(
            pal.color(rng, sat_scale=0.5, val_shift=rng.choice([-0.4, 0.2])), specular=0.3
        )
        for w, (origin, along, inward, half_len) in enumerate(self.walls()):
            center = origin + np.array([0, 0, room.height / 2])
            mat = walls[1] if (w == int(rng.integers(4)) and rng.random() < 0.5) else walls[0]
            self.spec.worldbody.add_geom(
                type=PLANE,
                size=[half_len, room.height / 2, 0.1],
                pos=list(center),
                quat=list(quat_from_axes(along, [0, 0, 1])),
                material=mat,
                contype=0,
                conaffinity=0,
            )
            # Skirting board.
            self.spec.worldbody.add_geom(
                type=BOX,
                size=[half_len, 0.01, 0.05],
                pos=list(origin + inward * 0.01 + np.array([0, 0, 0.05])),
                quat=list(quat_from_axes(along, inward)),
                material=trim,
                contype=0,
                conaffinity=0,
            )
        self._wall_features(trim)

    def _wall_material(self) -> str:
        rng, pal = self.rng, self.palette
        kind = rng.choice(["plaster", "plaster", "stripes", "bricks", "panels", "gradient"])
        base = pal.color(rng, val_shift=0.1)
        if kind == "plaster":
            return self.texture_material(tex.plaster(_TEX, base, rng), 1 / rng.uniform(1.0, 2.0))
        if kind == "stripes":
            return self.texture_material(
                tex.stripes(_TEX, [base, pal.color(rng), pal.color(rng, val_shift=0.2)], rng),
                1 / rng.uniform(0.6, 1.2),
            )
        if kind == "bricks":
            brick = np.array([0.6, 0.3, 0.22]) * rng.uniform(0.7, 1.2) * 0.7 + base * 0.3
            return self.texture_material(
                tex.bricks(256, np.clip(brick, 0, 1), np.full(3, rng.uniform(0.6, 0.85)), rng),
                1 / rng.uniform(1.2, 1.8),
            )
        if kind == "panels":
            return self.texture_material(tex.panels(_TEX, base, rng), 1 / rng.uniform(1.0, 2.0))
        return self.builtin_material(
            "gradient", base, pal.color(rng, val_shift=-0.2), 1 / rng.uniform(1.5, 3.0)
        )

    def walls(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
        """Per wall: (floor-level centre, unit vector along the wall, inward normal, half length)."""
        hx, hy = self.room.hx, self.room.hy
        return [
            (np.array([hx, 0, 0]), np.array([0, -1, 0]), np.array([-1, 0, 0]), hy),
            (np.array([-hx, 0, 0]), np.array([0, 1, 0]), np.array([1, 0, 0]), hy),
            (np.array([0, hy, 0]), np.array([1, 0, 0]), np.array([0, -1, 0]), hx),
            (np.array([0, -hy, 0]), np.array([-1, 0, 0]), np.array([0, 1, 0]), hx),
        ]

    def _wall_features(self, trim: str) -> None:
        """Doors, windows and pictures: flat boxes just in front of the walls."""
        rng, pal, room = self.rng, self.palette, self.room
        walls = self.walls()
        door_mat = self.texture_material(
            tex.panels(_TEX, pal.color(rng, sat_scale=0.6), rng), 1.0, uniform=False
        )
        window_mat = self.color_material(np.array([0.75, 0.85, 0.95]) * rng.uniform(0.85, 1.0), emission=0.6)
        for kind, count in (
            ("door", int(rng.integers(0, 3))),
            ("window", int(rng.integers(0, 3))),
            ("picture", int(rng.integers(2, 7))),
        ):
            for _ in range(count):
                origin, along, inward, half_len = walls[int(rng.integers(4))]
                if kind == "door":
                    w, h, z = 0.9, 2.05, 2.05 / 2
                elif kind == "window":
                    w, h = rng.uniform(0.8, 1.6), rng.uniform(0.8, 1.3)
                    z = rng.uniform(1.0, 1.3) + h / 2
                else:
                    w, h = rng.uniform(0.3, 1.0), rng.uniform(0.3, 0.8)
                    z = rng.uniform(1.3, 1.8)
                if 2 * half_len < w + 0.4 or z + h / 2 > room.height - 0.05:
                    continue
                a = rng.uniform(-half_len + w / 2 + 0.2, half_len - w / 2 - 0.2)
                center = origin + along * a + inward * 0.02 + np.array([0, 0, z])
                quat = quat_from_axes(along, [0, 0, 1])
                if kind == "picture":
                    colors = [pal.accent(rng) for _ in range(3)]
                    mat = self.texture_material(tex.picture(64, colors, rng), uniform=False)
                elif kind == "door":
                    mat = door_mat
                else:
                    mat = window_mat
                self.spec.worldbody.add_geom(
                    type=BOX,
                    size=[w / 2, h / 2, 0.012],
                    pos=list(center),
                    quat=list(quat),
                    material=mat,
                    contype=0,
                    conaffinity=0,
                )
                if kind != "picture":  # frame
                    frame_quat = quat_from_axes(along, inward)
                    for dz in (-h / 2, h / 2):
                        self.spec.worldbody.add_geom(
                            type=BOX,
                            size=[w / 2 + 0.05, 0.03, 0.03],
                            pos=list(center + np.array([0, 0, dz])),
                            quat=list(frame_quat),
                            material=trim,
                            contype=0,
                            conaffinity=0,
                        )
                    for da in (-w / 2, w / 2):
                        self.spec.worldbody.add_geom(
                            type=BOX,
                            size=[0.03, 0.03, h / 2],
                            pos=list(center + along * da),
                            quat=list(frame_quat),
                            material=trim,
                            contype=0,
                            conaffinity=0,
                        )
                    if kind == "window":
                        self.spec.worldbody.add_geom(
                            type=BOX,
                            size=[0.015, 0.02, h / 2],
                            pos=list(center),
                            quat=list(frame_quat),
                            material=trim,
                            contype=0,
                            conaffinity=0,
                        )
                    else:
                        handle = center + along * (w / 2 - 0.1) + inward * 0.05 + np.array([0, 0, -0.05])
                        self.spec.worldbody.add_geom(
                            type=SPH, size=[0.035], pos=list(handle), material=trim, contype=0, conaffinity=0
                        )

    # ---------------------------------------------------------------- furniture
    def furnish(self) -> None:
        """Furniture along the walls, a few items in the middle, a rug and small floor objects."""
        rng, pal = self.rng, self.palette
        self.wood = [
            self.texture_material(tex.wood(_TEX, self._wood_color(), rng), 1 / rng.uniform(0.5, 1.0))
            for _ in range(2)
        ]
        self.fabric = self.texture_material(
            tex.carpet(64, pal.color(rng), pal.color(rng, val_shift=-0.2), rng), 4.0
        )
        self.metal = self.color_material(np.full(3, rng.uniform(0.3, 0.8)), specular=0.6, shininess=0.7)
        self.cardboard = self.texture_material(tex.cardboard(64, rng), uniform=False)
        wall_items = ["shelf", "shelf", "table", "cabinet", "sofa", "boxes", "plant", "chair", "bin", "lamp"]
        for origin, along, inward, half_len in self.walls():
            a = -half_len + rng.uniform(0.1, 0.8)
            while a < half_len - 0.4:
                kind = str(rng.choice(wall_items))
                width, depth = self._size_of(kind)
                if a + width > half_len - 0.05:
                    break
                center = origin + along * (a + width / 2) + inward * (depth / 2 + 0.03)
                yaw = float(np.arctan2(inward[1], inward[0]))
                fp = footprint(center[:2], yaw, depth, width)
                if self._free(fp, _PATH_CLEARANCE):
                    self.taken.append(fp)
                    self._build(kind, center, yaw, width, depth)
                a += width + rng.uniform(0.05, 1.2)
        for _ in range(int(rng.integers(1, 5))):
            kind = str(rng.choice(["dining", "boxes", "plant", "table", "chair", "sofa"]))
            width, depth = self._size_of(kind)
            for _try in range(15):
                center = np.array(
                    [rng.uniform(-self.room.hx, self.room.hx), rng.uniform(-self.room.hy, self.room.hy)]
                )
                yaw = float(rng.uniform(-np.pi, np.pi))
                fp = footprint(center, yaw, depth, width)
                if self._free(fp, _PATH_CLEARANCE):
                    self.taken.append(fp)
                    self._build(kind, np.array([*center, 0.0]), yaw, width, depth)
                    break
        if rng.random() < 0.6:
            self._rug()
        self._floor_objects(int(rng.integers(3, 10)))

    def _wood_color(self) -> np.ndarray:
        rng = self.rng
        if rng.random() < 0.7:
            return np.clip(np.array([0.55, 0.38, 0.22]) * rng.uniform(0.5, 1.4), 0, 1)
        return self.palette.color(rng)

    def _size_of(self, kind: str) -> tuple[float, float]:
        """(width along the wall, depth) of an item kind."""
        u = self.rng.uniform
        return {
            "shelf": (u(0.7, 1.6), u(0.28, 0.4)),
            "table": (u(0.8, 1.6), u(0.6, 0.9)),
            "cabinet": (u(0.6, 1.4), u(0.4, 0.55)),
            "sofa": (u(1.4, 2.2), u(0.8, 0.95)),
            "boxes": (u(0.4, 0.9), u(0.4, 0.7)),
            "plant": (u(0.35, 0.6), u(0.35, 0.6)),
            "chair": (0.48, 0.48),
            "bin": (0.35, 0.35),
            "lamp": (0.4, 0.4),
            "dining": (u(1.8, 2.4), u(1.5, 1.9)),
        }[kind]

    def _build(self, kind: str, center: np.ndarray, yaw: float, width: float, depth: float) -> None:
        body = self._item_body(center, yaw)
        getattr(self, f"_{kind}")(body, width, depth)

    # Each builder works in the item frame: x = depth (front = +x, away from the wall), y = width, z up,
    # origin at the floor centre of the footprint.
    def _table(self, body, width: float, depth: float, height: float | None = None) -> None:
        rng = self.rng
        h = height or rng.uniform(0.7, 0.8)
        mat = self.wood[int(rng.integers(2))]
        self._geom(body, BOX, [depth / 2, width / 2, 0.02], [0, 0, h - 0.02], mat)
        leg = self.metal if rng.random() < 0.4 else mat
        for sx in (-1, 1):
            for sy in (-1, 1):
                self._geom(
                    body,
                    BOX,
                    [0.025, 0.025, (h - 0.04) / 2],
                    [sx * (depth / 2 - 0.05), sy * (width / 2 - 0.05), (h - 0.04) / 2],
                    leg,
                )
        self._tabletop_objects(body, width, depth, h)

    def _tabletop_objects(self, body, width: float, depth: float, h: float) -> None:
        rng = self.rng
        for _ in range(int(rng.integers(1, 6))):
            x = rng.uniform(-depth / 2 + 0.1, depth / 2 - 0.1)
            y = rng.uniform(-width / 2 + 0.1, width / 2 - 0.1)
            self._small_object(body, np.array([x, y, h]), scale=0.7)

    def _small_object(self, body, base: np.ndarray, scale: float = 1.0) -> None:
        """A random small object standing on `base` (cup, bottle, ball, box, book, bowl)."""
        rng = self.rng
        mat = self.color_material(self.palette.accent(rng), specular=rng.uniform(0.1, 0.6))
        kind = int(rng.integers(6))
        s = scale * rng.uniform(0.7, 1.3)
        if kind == 0:  # cup
            r, h = 0.045 * s, 0.1 * s
            self._geom(body, CYL, [r, h / 2], base + [0, 0, h / 2], mat)
        elif kind == 1:  # bottle
            r, h = 0.04 * s, 0.22 * s
            self._geom(body, CYL, [r, h / 2], base + [0, 0, h / 2], mat)
            self._geom(body, CYL, [r * 0.4, 0.03 * s], base + [0, 0, h + 0.03 * s], mat)
        elif kind == 2:  # ball
            r = 0.08 * s
            self._geom(body, SPH, [r], base + [0, 0, r], mat)
        elif kind == 3:  # box
            size = np.array([rng.uniform(0.05, 0.15), rng.uniform(0.05, 0.15), rng.uniform(0.04, 0.14)]) * s
            self._geom(body, BOX, size, base + [0, 0, size[2]], mat, quat=yaw_quat(rng.uniform(0, np.pi)))
        elif kind == 4:  # book lying flat
            size = np.array([0.1, 0.14, 0.02]) * s
            self._geom(body, BOX, size, base + [0, 0, size[2]], mat, quat=yaw_quat(rng.uniform(0, np.pi)))
        else:  # bowl
            self._geom(body, ELL, [0.09 * s, 0.09 * s, 0.04 * s], base + [0, 0, 0.03 * s], mat)

    def _shelf(self, body, width: float, depth: float) -> None:
        rng = self.rng
        h = rng.uniform(1.1, 2.0)
        mat = self.wood[int(rng.integers(2))]
        t = 0.018
        for sy in (-1, 1):
            self._geom(body, BOX, [depth / 2, t, h / 2], [0, sy * (width / 2 - t), h / 2], mat)
        self._geom(body, BOX, [0.006, width / 2, h / 2], [-depth / 2 + 0.006, 0, h / 2], mat)
        n = max(2, int(h / rng.uniform(0.3, 0.45)))
        levels = np.linspace(0.05, h - t, n + 1)
        for z in levels:
            self._geom(body, BOX, [depth / 2, width / 2 - 2 * t, t], [0, 0, z], mat)
        for z0, z1 in zip(levels[:-1], levels[1:], strict=True):
            self._fill_shelf(body, width - 4 * t, depth, z0 + t, z1 - z0 - 2 * t)

    def _fill_shelf(self, body, width: float, depth: float, z: float, clear_h: float) -> None:
        """One or two blocks of books (a box showing a row of spines) and now and then a small object."""
        rng = self.rng
        y = -width / 2
        while y < width / 2 - 0.1:
            if rng.random() < 0.3:
                self._small_object(body, np.array([0.0, y + 0.07, z]), scale=0.8)
                y += 0.16 + rng.uniform(0, 0.15)
                continue
            w = min(width / 2 - y, rng.uniform(0.2, width))
            bh = min(clear_h - 0.01, rng.uniform(0.17, 0.28))
            bd = min(depth - 0.04, rng.uniform(0.15, 0.22))
            if bh < 0.06 or w < 0.08:
                break
            colors = [self.palette.accent(rng) for _ in range(4)]
            mat = self.texture_material(tex.book_row(32, 128, colors, rng), uniform=False)
            self._geom(
                body,
                BOX,
                [bd / 2, w / 2, bh / 2],
                [depth / 2 - bd / 2 - 0.01, y + w / 2, z + bh / 2],
                mat,
                quat=None,
            )
            y += w + rng.uniform(0.0, 0.2)

    def _cabinet(self, body, width: float, depth: float) -> None:
        rng = self.rng
        h = rng.uniform(0.6, 1.1)
        mat = self.wood[int(rng.integers(2))]
        self._geom(body, BOX, [depth / 2, width / 2, h / 2], [0, 0, h / 2], mat)
        rows = int(rng.integers(2, 5))
        front = self.color_material(self.palette.color(self.rng, sat_scale=0.6))
        for r in range(rows):
            zc = (r + 0.5) * h / rows
            self._geom(
                body, BOX, [0.01, width / 2 - 0.02, h / rows / 2 - 0.015], [depth / 2 + 0.005, 0, zc], front
            )
            self._geom(
                body,
                CAP,
                [0.01, width / 6],
                [depth / 2 + 0.025, 0, zc],
                self.metal,
                quat=quat_from_axes([0, 0, 1], [1, 0, 0]),
            )
        if rng.random() < 0.7:
            self._tabletop_objects(body, width, depth, h)

    def _sofa(self, body, width: float, depth: float) -> None:
        rng = self.rng
        seat_h, back_h = rng.uniform(0.38, 0.45), rng.uniform(0.75, 0.9)
        mat = self.fabric
        self._geom(body, BOX, [depth / 2, width / 2, seat_h / 2], [0, 0, seat_h / 2], mat)
        self._geom(body, BOX, [0.1, width / 2, back_h / 2], [-depth / 2 + 0.1, 0, back_h / 2], mat)
        for sy in (-1, 1):
            self._geom(body, BOX, [depth / 2, 0.09, 0.3], [0, sy * (width / 2 - 0.09), 0.3], mat)
        for _ in range(int(rng.integers(0, 3))):
            cushion = self.color_material(self.palette.accent(rng))
            y = rng.uniform(-width / 2 + 0.35, width / 2 - 0.35)
            self._geom(body, ELL, [0.08, 0.2, 0.18], [-depth / 2 + 0.28, y, seat_h + 0.16], cushion)

    def _chair(self, body, width: float, depth: float) -> None:
        rng = self.rng
        mat = (
            self.wood[int(rng.integers(2))]
            if rng.random() < 0.6
            else self.color_material(self.palette.accent(rng))
        )
        seat = rng.uniform(0.43, 0.48)
        self._geom(body, BOX, [depth / 2, width / 2, 0.025], [0, 0, seat], mat)
        for sx in (-1, 1):
            for sy in (-1, 1):
                self._geom(
                    body,
                    BOX,
                    [0.018, 0.018, seat / 2],
                    [sx * (depth / 2 - 0.04), sy * (width / 2 - 0.04), seat / 2],
                    mat,
                )
        self._geom(body, BOX, [0.02, width / 2, 0.22], [-depth / 2 + 0.02, 0, seat + 0.25], mat)

    def _dining(self, body, width: float, depth: float) -> None:
        """A table with chairs around it (the footprint includes the chairs)."""
        tw, td = width - 0.7, depth - 0.7
        self._table(body, tw, td)
        for sx in (-1, 1):
            for sy in (-0.25, 0.25):
                chair = body.add_body(
                    pos=[sx * (td / 2 + 0.2), sy * tw, 0], quat=list(yaw_quat(np.pi if sx > 0 else 0))
                )
                self._chair(chair, 0.44, 0.44)

    def _boxes(self, body, width: float, depth: float) -> None:
        rng = self.rng
        z = 0.0
        for _ in range(int(rng.integers(1, 4))):
            bw, bd = width * rng.uniform(0.7, 1.0), depth * rng.uniform(0.7, 1.0)
            bh = rng.uniform(0.2, 0.45)
            self._geom(
                body,
                BOX,
                [bd / 2, bw / 2, bh / 2],
                [0, 0, z + bh / 2],
                self.cardboard,
                quat=yaw_quat(rng.uniform(-0.2, 0.2)),
            )
            z += bh

    def _plant(self, body, width: float, depth: float) -> None:
        rng = self.rng
        r = min(width, depth) / 2 * 0.6
        pot_h = rng.uniform(0.25, 0.45)
        pot = self.color_material(self.palette.color(rng, sat_scale=0.7))
        self._geom(body, CYL, [r, pot_h / 2], [0, 0, pot_h / 2], pot)
        stem_h = rng.uniform(0.2, 0.9)
        self._geom(body, CAP, [0.02, stem_h / 2], [0, 0, pot_h + stem_h / 2], self.wood[0])
        for _ in range(int(rng.integers(3, 7))):
            leaf = self.color_material(np.array([0.15, 0.45, 0.15]) * rng.uniform(0.6, 1.4), specular=0.2)
            size = rng.uniform(0.08, 0.2, size=3)
            pos = [
                rng.uniform(-0.12, 0.12),
                rng.uniform(-0.12, 0.12),
                pot_h + stem_h + rng.uniform(-0.15, 0.15),
            ]
            self._geom(body, ELL, size, pos, leaf)

    def _bin(self, body, width: float, depth: float) -> None:
        h = self.rng.uniform(0.3, 0.6)
        self._geom(
            body,
            CYL,
            [width / 2 * 0.8, h / 2],
            [0, 0, h / 2],
            self.color_material(self.palette.accent(self.rng)),
        )

    def _lamp(self, body, width: float, depth: float) -> None:
        rng = self.rng
        h = rng.uniform(1.3, 1.7)
        self._geom(body, CYL, [0.15, 0.015], [0, 0, 0.015], self.metal)
        self._geom(body, CYL, [0.015, h / 2], [0, 0, h / 2], self.metal)
        shade = self.color_material(np.array([1.0, 0.95, 0.85]) * rng.uniform(0.8, 1.0), emission=0.5)
        self._geom(body, CYL, [0.18, 0.12], [0, 0, h + 0.05], shade)

    def _rug(self) -> None:
        rng, pal = self.rng, self.palette
        w, d = rng.uniform(1.2, 2.5), rng.uniform(0.8, 1.8)
        center = np.array(
            [
                rng.uniform(-self.room.hx + 1, self.room.hx - 1),
                rng.uniform(-self.room.hy + 1, self.room.hy - 1),
            ]
        )
        if rng.random() < 0.5:
            mat = self.texture_material(
                tex.stripes(_TEX, [pal.accent(rng), pal.color(rng), pal.accent(rng)], rng), uniform=False
            )
        else:
            mat = self.texture_material(tex.carpet(_TEX, pal.accent(rng), pal.color(rng), rng), uniform=False)
        self.spec.worldbody.add_geom(
            type=BOX,
            size=[d / 2, w / 2, 0.004],
            pos=[*center, 0.004],
            quat=list(yaw_quat(rng.uniform(0, np.pi))),
            material=mat,
            contype=0,
            conaffinity=0,
        )

    def _floor_objects(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            for _try in range(10):
                c = np.array(
                    [
                        rng.uniform(-self.room.hx + 0.2, self.room.hx - 0.2),
                        rng.uniform(-self.room.hy + 0.2, self.room.hy - 0.2),
                    ]
                )
                fp = Footprint(c[0] - 0.15, c[0] + 0.15, c[1] - 0.15, c[1] + 0.15)
                if self._free(fp, _FLOOR_ITEM_CLEARANCE):
                    self.taken.append(fp)
                    self._small_object(self.spec.worldbody, np.array([c[0], c[1], 0.0]), scale=1.5)
                    break

    # ---------------------------------------------------------------- light
    def light(self) -> None:
        """Headlight ambient plus 2-4 ceiling point lights (no shadows) with visible lamp discs."""
        rng, room = self.rng, self.room
        vis = self.spec.visual.headlight
        amb = rng.uniform(0.3, 0.5)
        vis.ambient = [amb, amb, amb]
        d = rng.uniform(0.2, 0.35)
        vis.diffuse = [d, d, d]
        vis.specular = [0.05, 0.05, 0.05]
        warmth = rng.uniform(-0.12, 0.12)
        n = int(rng.integers(2, 5))
        lamp = self.color_material(np.array([1.0, 0.97, 0.9]), emission=1.0)
        for _ in range(n):
            pos = np.array(
                [
                    rng.uniform(-room.hx * 0.7, room.hx * 0.7),
                    rng.uniform(-room.hy * 0.7, room.hy * 0.7),
                    room.height - 0.05,
                ]
            )
            level = rng.uniform(0.3, 0.6) * 3 / n
            color = np.clip(level * np.array([1 + warmth, 1.0, 1 - warmth]), 0, 1)
            self.spec.worldbody.add_light(
                type=mujoco.mjtLightType.mjLIGHT_POINT,
                pos=list(pos - [0, 0, 0.3]),
                diffuse=list(color),
                specular=[0.1, 0.1, 0.1],
                castshadow=False,
            )
            self.spec.worldbody.add_geom(
                type=CYL,
                size=[rng.uniform(0.15, 0.3), 0.02, 0],
                pos=list(pos),
                material=lamp,
                contype=0,
                conaffinity=0,
            )


def build_room(
    spec: mujoco.MjSpec, rng: np.random.Generator, palette: Palette, room: Room, path: np.ndarray
) -> None:
    """Add a full room around `path` (head positions, (N, 2), room frame) to `spec`."""
    builder = SceneBuilder(spec, rng, palette, room, path)
    builder.build_shell()
    builder.furnish()
    builder.light()
