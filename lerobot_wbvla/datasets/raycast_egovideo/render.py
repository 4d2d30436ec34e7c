"""The numpy ray caster and one clip end to end: seed -> plan -> trajectory -> room -> frames + labels record.

Per frame every pixel's ray (camera.Lens) is intersected analytically with the room box, all furniture and arm
boxes at once (slab test in each box's frame) and the pillars; the nearest hit picks a material, whose
procedural texture (textures.py) gives the albedo. Lighting: an ambient term plus one or two point lights with
distance falloff (1 / (1 + (d / range)^2)) and Lambert shading, no shadows; lamps and windows glow. An
exponential tone curve (1 - exp(-exposure * light)) and the lens vignette finish the image.

`make_clip` is a pure function of (seed, split, config): the same inputs give the same frames bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lerobot_wbvla.datasets.egovideo.labels import ClipRecord
from lerobot_wbvla.datasets.egovideo.split import primitive_cycle, primitive_of_seed
from lerobot_wbvla.datasets.egovideo_common.plan import PlannedClip
from lerobot_wbvla.datasets.egovideo_common.writer import clip_record
from lerobot_wbvla.datasets.raycast_egovideo.camera import Lens, rotation, sample_lens
from lerobot_wbvla.datasets.raycast_egovideo.config import RaycastEgoVideoConfig
from lerobot_wbvla.datasets.raycast_egovideo.motion import (
    Body,
    Trajectory,
    plan_clip,
    sample_body,
    trajectory,
)
from lerobot_wbvla.datasets.raycast_egovideo.room import (
    CEILING,
    FLOOR,
    WALL_NX,
    WALL_NY,
    WALL_PX,
    WALL_PY,
    ArmLook,
    Scene,
    add_arm_materials,
    build_scene,
    place_path,
)
from lerobot_wbvla.datasets.raycast_egovideo.textures import shade_albedo

_FAR = np.float32(1e6)
_EPS = np.float32(1e-4)


@dataclass
class ClipPlan(PlannedClip):
    """Everything about a clip except its pixels (seed, split, primitives, phases, then body, room and lens)."""

    body: Body
    trajectory: Trajectory  # in the room frame
    scene: Scene
    arms: ArmLook
    lens: Lens


def plan(seed: int, split: str, cfg: RaycastEgoVideoConfig) -> ClipPlan:
    """Motion plan, room and lens of clip `seed`."""
    plan_rng, motion_rng, scene_rng, lens_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    primary = primitive_of_seed(seed, primitive_cycle(cfg.primitives, cfg.balance_phases))
    body = sample_body(cfg.motion, motion_rng)
    primitives, phases = plan_clip(primary, body, cfg, plan_rng)
    local = trajectory(phases, body, cfg, motion_rng)
    hx, hy, x, y, yaw = place_path(local.head[:, :2], scene_rng)
    traj = local.moved(x, y, yaw)
    scene = build_scene(traj.head[:, :2], hx, hy, scene_rng)
    arms = add_arm_materials(scene, scene_rng)
    lens = sample_lens(cfg.lens, cfg.width, cfg.height, lens_rng)
    return ClipPlan(seed, split, primitives, phases, body, traj, scene, arms, lens)


def _segment_boxes(
    a: np.ndarray, b: np.ndarray, width: float, depth: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (T, 3), axes (T, 3, 3; columns) and half extents (T, 3) of boxes along segments a -> b (T, 3),
    each box's z axis kept as close to up as the segment allows."""
    ex = b - a
    length = np.linalg.norm(ex, axis=1, keepdims=True)
    ex = ex / np.maximum(length, 1e-9)
    up = np.where(np.abs(ex[:, 2:3]) < 0.95, np.array([[0.0, 0.0, 1.0]]), np.array([[1.0, 0.0, 0.0]]))
    ez = up - (up * ex).sum(1, keepdims=True) * ex
    ez /= np.linalg.norm(ez, axis=1, keepdims=True)
    ey = np.cross(ez, ex)
    halves = np.concatenate(
        [length / 2, np.full_like(length, width / 2), np.full_like(length, depth / 2)], axis=1
    )
    return (a + b) / 2, np.stack([ex, ey, ez], axis=2), halves


def arm_boxes(p: ClipPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Boxes of both robot arms at every frame in the room frame: centres (T, K, 3), axes (T, K, 3, 3), halves
    (T, K, 3) and materials (K,). Per arm: upper arm, elbow joint, forearm, wrist block and two gripper fingers."""
    tr, look, k = p.trajectory, p.arms, p.body.eye_height / 1.15
    th = look.thickness * k
    n = len(tr.body)
    origin = tr.body[:, :3]
    c, s = np.cos(tr.body[:, 3]), np.sin(tr.body[:, 3])
    rot = np.zeros((n, 3, 3))
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1], rot[:, 2, 2] = c, -s, s, c, 1.0
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
    for sign, wrist, elbow in ((1.0, tr.wrist_left, tr.elbow_left), (-1.0, tr.wrist_right, tr.elbow_right)):
        shoulder = np.broadcast_to(p.body.shoulder * np.array([1.0, sign, 1.0]), elbow.shape)
        parts.append((*_segment_boxes(shoulder, elbow, th, th), look.shell))
        upper_axes = parts[-1][1]
        parts.append((elbow, upper_axes, np.full((n, 3), th * 0.7), look.joint))
        centre, axes, halves = _segment_boxes(elbow, wrist, th * 0.85, th * 1.05)
        parts.append((centre, axes, halves, look.shell))
        ex, ey = axes[:, :, 0], axes[:, :, 1]
        parts.append(
            (wrist + ex * 0.03 * k, axes, np.tile(np.array([0.035, 0.045, 0.035]) * k, (n, 1)), look.joint)
        )
        for side in (-1.0, 1.0):
            finger = wrist + ex * 0.1 * k + side * ey * 0.03 * k
            parts.append((finger, axes, np.tile(np.array([0.04, 0.009, 0.016]) * k, (n, 1)), look.gripper))
    centers = np.stack([origin + np.einsum("tij,tj->ti", rot, c) for c, *_ in parts], axis=1)
    axes = np.stack([np.matmul(rot, ax) for _, ax, *_ in parts], axis=1)
    halves = np.stack([h for _, _, h, _ in parts], axis=1)
    return centers, axes, halves, np.array([m for *_, m in parts])


class RayCaster:
    """Renders frames of one clip plan (rays, static geometry and material tables prepared once).

    Per-pixel vectors are kept as separate x, y, z arrays (structure of arrays): numpy is much faster at
    elementwise work on long rows than at reductions over a short last axis.
    """

    def __init__(self, p: ClipPlan, supersample: int = 1):
        self.p, self.s = p, supersample
        lens = p.lens
        dirs = lens.rays(supersample).reshape(-1, 3)
        self.dirs_t = np.ascontiguousarray(dirs.T)  # (3, P), camera frame
        self.max_angle = float(
            np.arccos(np.clip(dirs[:, 0].min(), -1, 1))
        )  # widest ray from the optical axis
        self.pixel_angle = np.float32(lens.pixel_angle() / supersample)
        self.vignette = lens.vignette_map()[..., None]
        self.shape = (lens.height * supersample, lens.width * supersample)
        self.arms = arm_boxes(p)

    def _visible(
        self, centers: np.ndarray, halves: np.ndarray, o: np.ndarray, forward: np.ndarray
    ) -> np.ndarray:
        """Boxes whose bounding sphere meets the view cone (the rest cannot be hit by any ray)."""
        oc = centers - o
        dist = np.linalg.norm(oc, axis=1)
        radius = np.linalg.norm(halves, axis=1)
        inside = dist <= radius
        cos = (oc @ forward) / np.maximum(dist, 1e-9)
        spread = np.arcsin(np.clip(radius / np.maximum(dist, 1e-9), 0, 1))
        return inside | (np.arccos(np.clip(cos, -1, 1)) <= self.max_angle + spread)

    def render(self, t_frame: int) -> np.ndarray:
        """Frame t_frame as (H, W, 3) uint8."""
        p, sc = self.p, self.p.scene
        pose = p.trajectory.head[t_frame]
        rot = rotation(pose[5], pose[4], pose[3])
        o = pose[:3]
        d = (rot.astype(np.float32) @ self.dirs_t).astype(np.float32)  # (3, P) room frame
        dx, dy, dz = d
        n_pix = d.shape[1]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return self._render(p, sc, o, rot, d, dx, dy, dz, n_pix, t_frame)

    def _render(self, p, sc, o, rot, d, dx, dy, dz, n_pix, t_frame) -> np.ndarray:
        f32 = np.float32
        # Room box (camera inside): nearest of the three face planes in the ray's direction.
        tx = (np.where(dx > 0, f32(sc.hx), f32(-sc.hx)) - f32(o[0])) / dx
        ty = (np.where(dy > 0, f32(sc.hy), f32(-sc.hy)) - f32(o[1])) / dy
        tz = (np.where(dz > 0, f32(sc.height), f32(0.0)) - f32(o[2])) / dz
        tx = np.where(np.isfinite(tx) & (tx > 0), tx, _FAR)
        ty = np.where(np.isfinite(ty) & (ty > 0), ty, _FAR)
        tz = np.where(np.isfinite(tz) & (tz > 0), tz, _FAR)
        on_x = (tx <= ty) & (tx <= tz)
        on_y = ~on_x & (ty <= tz)
        t = np.minimum(np.minimum(tx, ty), tz)
        face = np.where(
            on_x,
            np.where(dx > 0, WALL_PX, WALL_NX),
            np.where(on_y, np.where(dy > 0, WALL_PY, WALL_NY), np.where(dz > 0, CEILING, FLOOR)),
        )
        kind = np.zeros(n_pix, np.int8)  # 0 room, 1 box, 2 cylinder

        # Boxes: furniture, lamps and the arms, slab test in each box's frame.
        ac, aa, ah, am = self.arms
        ac, aa, ah = ac[t_frame], aa[t_frame], ah[t_frame]
        centers = np.concatenate([sc.box_center, ac])
        axes = np.concatenate([sc.box_axes, aa])
        halves = np.concatenate([sc.box_half, ah])
        mats = np.concatenate([sc.box_material, am])
        fronts = np.concatenate([sc.box_front_material, np.full(len(am), -1)])
        keep = np.flatnonzero(self._visible(centers, halves, o, rot[:, 0]))
        centers, axes, halves, mats, fronts = (
            centers[keep],
            axes[keep],
            halves[keep],
            mats[keep],
            fronts[keep],
        )
        nb = len(keep)
        best = np.zeros(n_pix, np.int64)
        if nb:
            o_local = np.einsum("nji,nj->ni", axes, o[None] - centers).astype(f32)  # (N, 3)
            rows = np.ascontiguousarray(axes.transpose(0, 2, 1).reshape(3 * nb, 3), dtype=f32)
            d_local = (rows @ d).reshape(nb, 3, n_pix)  # d_local[n, a] = axis a of box n . ray
            h32 = halves.astype(f32)
            t_near = t_far = None
            for a in range(3):
                inv = f32(1.0) / d_local[:, a]
                t1 = (-h32[:, a : a + 1] - o_local[:, a : a + 1]) * inv
                t2 = (h32[:, a : a + 1] - o_local[:, a : a + 1]) * inv
                lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
                t_near = lo if t_near is None else np.maximum(t_near, lo)
                t_far = hi if t_far is None else np.minimum(t_far, hi)
            t_hit = np.where((t_far >= t_near) & (t_near > _EPS), t_near, _FAR)
            best = t_hit.argmin(axis=0)
            t_box = np.take_along_axis(t_hit, best[None], axis=0)[0]
            closer = t_box < t
            t = np.where(closer, t_box, t)
            kind[closer] = 1

        # Pillars: vertical cylinders from floor to ceiling.
        cyl_idx = np.zeros(n_pix, np.int64)
        if len(sc.cylinders):
            a2 = dx * dx + dy * dy
            t_cyl = np.full(n_pix, _FAR, f32)
            for i, (cx, cy, r) in enumerate(sc.cylinders):
                ox, oy = f32(o[0] - cx), f32(o[1] - cy)
                bq = ox * dx + oy * dy
                disc = bq * bq - a2 * f32(ox * ox + oy * oy - r * r)
                tc = (-bq - np.sqrt(np.maximum(disc, 0))) / a2
                tc = np.where((disc > 0) & (tc > _EPS), tc, _FAR)
                nearer = tc < t_cyl
                t_cyl = np.where(nearer, tc, t_cyl)
                cyl_idx[nearer] = i
            closer = t_cyl < t
            t = np.where(closer, t_cyl, t)
            kind[closer] = 2

        px, py, pz = f32(o[0]) + t * dx, f32(o[1]) + t * dy, f32(o[2]) + t * dz
        nx, ny, nz = np.zeros(n_pix, f32), np.zeros(n_pix, f32), np.zeros(n_pix, f32)
        u, v = np.zeros(n_pix, f32), np.zeros(n_pix, f32)
        mat = np.zeros(n_pix, np.int64)

        room = np.flatnonzero(kind == 0)
        f = face[room]
        nx[room] = np.where(f == WALL_PX, -1, np.where(f == WALL_NX, 1, 0))
        ny[room] = np.where(f == WALL_PY, -1, np.where(f == WALL_NY, 1, 0))
        nz[room] = np.where(f == CEILING, -1, np.where(f == FLOOR, 1, 0))
        mat[room] = sc.surface_material[f]
        x_wall = (f == WALL_PX) | (f == WALL_NX)
        wall = x_wall | (f == WALL_PY) | (f == WALL_NY)
        ur = np.where(x_wall, py[room], px[room])
        vr = np.where(wall, pz[room], py[room])
        u[room], v[room] = ur, vr
        for panel in sc.panels:
            on = f == panel.wall
            inside = on & (ur >= panel.u0) & (ur <= panel.u1) & (vr >= panel.v0) & (vr <= panel.v1)
            mat[room[inside]] = panel.material
            if panel.frame_material >= 0:
                g = 0.04
                near = (
                    on
                    & (ur >= panel.u0 - g)
                    & (ur <= panel.u1 + g)
                    & (vr >= panel.v0 - g)
                    & (vr <= panel.v1 + g)
                )
                mat[room[near & ~inside]] = panel.frame_material

        boxes = np.flatnonzero(kind == 1)
        if len(boxes):
            bi = best[boxes]
            q = o_local[bi] + t[boxes, None] * d_local[bi, :, boxes]
            rel = np.abs(q) / h32[bi]
            ax = rel.argmax(axis=1)
            rows_m = np.arange(len(boxes))
            sign = np.sign(q[rows_m, ax])
            normal = axes[bi, :, ax] * sign[:, None]  # column ax of each box's axes
            nx[boxes], ny[boxes], nz[boxes] = normal.T
            front = (ax == 0) & (sign > 0) & (fronts[bi] >= 0)
            mat[boxes] = np.where(front, fronts[bi], mats[bi])
            u[boxes] = np.where(ax == 0, q[:, 1], q[:, 0])
            v[boxes] = np.where(ax == 2, q[:, 1], q[:, 2] + h32[bi, 2])

        cyls = np.flatnonzero(kind == 2)
        if len(cyls):
            c = sc.cylinders[cyl_idx[cyls]].astype(f32)
            rx, ry = px[cyls] - c[:, 0], py[cyls] - c[:, 1]
            nx[cyls], ny[cyls] = rx / c[:, 2], ry / c[:, 2]
            mat[cyls] = sc.cylinder_material[cyl_idx[cyls]]
            u[cyls] = np.arctan2(ry, rx) * c[:, 2]
            v[cyls] = pz[cyls]

        cos = np.abs(nx * dx + ny * dy + nz * dz)
        footprint = t * self.pixel_angle / np.maximum(cos, f32(0.25))
        albedo = np.empty((n_pix, 3), f32)
        emissive = np.zeros(n_pix, bool)
        order = np.argsort(mat, kind="stable")
        ids, starts = np.unique(mat[order], return_index=True)
        ends = np.r_[starts[1:], n_pix]
        for mid, a, b in zip(ids, starts, ends, strict=True):
            idx = order[a:b]
            material = sc.materials[mid]
            albedo[idx] = shade_albedo(material, u[idx], v[idx], footprint[idx])
            if material.emissive:
                emissive[idx] = True

        light = np.zeros((3, n_pix), f32)
        for pos, col in zip(sc.light_pos, sc.light_color, strict=True):
            lx, ly, lz = f32(pos[0]) - px, f32(pos[1]) - py, f32(pos[2]) - pz
            dist2 = lx * lx + ly * ly + lz * lz
            lam = np.maximum(nx * lx + ny * ly + nz * lz, 0) / np.sqrt(dist2)
            gain = lam / (1 + dist2 / f32(sc.light_range**2))
            light += col.astype(f32)[:, None] * gain[None]
        light += sc.ambient.astype(f32)[:, None]
        rgb = albedo * light.T
        if emissive.any():
            rgb[emissive] = albedo[emissive] * f32(1.6)
        img = 1 - np.exp(-f32(sc.exposure) * rgb)
        img = img.reshape(*self.shape, 3)
        if self.s > 1:
            hh, ww = self.shape[0] // self.s, self.shape[1] // self.s
            img = img.reshape(hh, self.s, ww, self.s, 3).mean(axis=(1, 3))
        img = img * self.vignette
        return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def render_frames(p: ClipPlan, supersample: int = 1) -> np.ndarray:
    """All frames (T, H, W, 3) uint8 of a planned clip."""
    caster = RayCaster(p, supersample)
    return np.stack([caster.render(t) for t in range(len(p.trajectory.head))])


def make_clip(seed: int, split: str, cfg: RaycastEgoVideoConfig) -> tuple[ClipRecord, np.ndarray]:
    """Labels record and frames of one clip (record.clip is clips/<seed:09d>_<primitive>.mp4)."""
    p = plan(seed, split, cfg)
    frames = render_frames(p, cfg.supersample)
    return clip_record(p, cfg, palette=p.scene.family, head_pose=p.trajectory.head), frames
