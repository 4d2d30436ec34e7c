"""Procedural surface textures evaluated per ray hit, as functions of surface coordinates (metres).

No images: a texture is a function of the hit point's (u, v) coordinates on its surface and of the pixel's
footprint there (the size of one pixel on the surface, in metres). Patterns finer than a pixel fade to their mean
colour (`_fade`), a cheap band limit that keeps distant tiles and stripes from shimmering when the camera moves.

Colour families are chosen outside the MuJoCo generator's (egovideo/palettes.py) hue/saturation/value boxes:
teal, wine and indigo hues at a saturation between its pastel and vivid bands, very dark colours, and neon ones
more saturated than its most vivid family.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np

# Texture kinds, each a function below. "emissive" is lit by nothing (lamps, windows).
KINDS = ("hex", "rings", "noise", "stripes", "dots", "lattice", "tiles", "slats", "books", "plain", "hazard")


@dataclass(frozen=True)
class Family:
    """A colour family: hue range (deg, may wrap past 360), saturation and value ranges."""

    name: str
    hue: tuple[float, float]
    sat: tuple[float, float]
    val: tuple[float, float]

    def color(self, rng: np.random.Generator) -> np.ndarray:
        """One RGB colour in [0, 1] from this family."""
        h = (rng.uniform(*self.hue) % 360.0) / 360.0
        return np.array(colorsys.hsv_to_rgb(h, rng.uniform(*self.sat), rng.uniform(*self.val)), np.float32)


# Room families (all surfaces of a room come from one of these, objects also from the accent families).
FAMILIES: tuple[Family, ...] = (
    Family("lagoon", (166.0, 184.0), (0.32, 0.44), (0.3, 0.95)),
    Family("wine", (342.0, 358.0), (0.32, 0.44), (0.3, 0.95)),
    Family("indigo", (251.0, 259.0), (0.32, 0.44), (0.3, 0.95)),
    Family("night", (0.0, 360.0), (0.0, 1.0), (0.08, 0.28)),
)
# Accent families for objects and robot arms.
ACCENTS: tuple[Family, ...] = (
    Family("neon", (0.0, 360.0), (0.96, 1.0), (0.6, 1.0)),
    Family("night", (0.0, 360.0), (0.0, 1.0), (0.08, 0.28)),
)


@dataclass
class Material:
    """A surface look: texture kind, its colours (K, 3), pattern period (m), angle (rad) and a hash seed."""

    kind: str
    colors: np.ndarray
    scale: float = 0.3
    angle: float = 0.0
    seed: int = 0
    emissive: bool = False
    extra: dict = field(default_factory=dict)


def _fade(footprint: np.ndarray, period: float) -> np.ndarray:
    """1 where a pattern of `period` metres is well resolved by pixels of `footprint` metres, 0 where it is not."""
    return np.clip(1.6 - 1.6 * footprint / period, 0.0, 1.0)[:, None]


def _hash(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """Uniform [0, 1) value per integer lattice point (ix, iy) and seed (a 32-bit integer hash)."""
    h = ix.astype(np.uint32) * np.uint32(0x27D4EB2D) ^ iy.astype(np.uint32) * np.uint32(0x165667B1)
    h = h ^ np.uint32(seed * 0x9E3779B1 & 0xFFFFFFFF)
    h ^= h >> np.uint32(15)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    return (h & np.uint32(0xFFFFFF)).astype(np.float32) / np.float32(16777216.0)


def value_noise(u: np.ndarray, v: np.ndarray, seed: int) -> np.ndarray:
    """Smooth value noise in [0, 1) with unit lattice spacing."""
    iu, iv = np.floor(u), np.floor(v)
    fu, fv = u - iu, v - iv
    fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    iu, iv = iu.astype(np.int64), iv.astype(np.int64)
    a, b = _hash(iu, iv, seed), _hash(iu + 1, iv, seed)
    c, d = _hash(iu, iv + 1, seed), _hash(iu + 1, iv + 1, seed)
    return (a + (b - a) * fu) * (1 - fv) + (c + (d - c) * fu) * fv


def _mix(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    w = w[:, None] if w.ndim == 1 else w
    return a + (b - a) * w


def shade_albedo(mat: Material, u: np.ndarray, v: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Albedo (M, 3) of `mat` at surface coordinates (u, v) (M,) seen with pixel footprints (M,) in metres."""
    c = mat.colors
    s = mat.scale
    if mat.angle:
        ca, sa = np.cos(mat.angle), np.sin(mat.angle)
        u, v = ca * u - sa * v, sa * u + ca * v
    m = len(u)
    if mat.emissive:
        return np.broadcast_to(c[0], (m, 3)).copy()
    if mat.kind == "plain":
        grain = 0.08 * (value_noise(u / 0.2, v / 0.2, mat.seed) - 0.5)
        return c[0][None] * (1 + grain[:, None])
    if mat.kind == "hex":
        # Hexagonal tiles of circumradius s with grout lines; tiles alternate between two colours by a hash.
        q = (np.sqrt(3) / 3 * u - v / 3) / s
        r = (2 / 3 * v) / s
        x, z = q, r
        y = -x - z
        rx, ry, rz = np.round(x), np.round(y), np.round(z)
        dx, dy, dz = np.abs(rx - x), np.abs(ry - y), np.abs(rz - z)
        fix_x = (dx > dy) & (dx > dz)
        fix_y = ~fix_x & (dy > dz)
        rx = np.where(fix_x, -ry - rz, rx)
        ry = np.where(fix_y, -rx - rz, ry)
        rz = np.where(~fix_x & ~fix_y, -rx - ry, rz)
        edge = np.maximum(np.maximum(np.abs(rx - x), np.abs(ry - y)), np.abs(rz - z))  # 0 centre, 0.5 edge
        tile = _mix(
            c[0], c[1], (_hash(rx.astype(np.int64), rz.astype(np.int64), mat.seed) > 0.6).astype(np.float32)
        )
        grout = np.clip((edge - 0.43) / 0.04, 0, 1)
        pattern = _mix(tile, np.broadcast_to(c[2], (m, 3)), grout)
        mean = 0.4 * c[0] + 0.3 * c[1] + 0.3 * c[2]
        return mean + (pattern - mean) * _fade(footprint, s)
    if mat.kind == "rings":
        # Wood: rings around a far-away axis, disturbed by noise, across planks of width s.
        plank = np.floor(v / s)
        off = _hash(plank.astype(np.int64), np.zeros_like(plank, dtype=np.int64), mat.seed) * 7.0
        rad = np.hypot(u * 0.25 + off, (v - plank * s) * 3.0 + 1.5)
        rad = rad + 0.6 * value_noise(u * 2.0, v * 6.0, mat.seed + 1)
        ring = 0.5 + 0.5 * np.sin(rad * 2 * np.pi * 3.0)
        seam = (np.abs((v / s) - np.round(v / s)) < 0.04).astype(np.float32)
        wood = _mix(c[0], c[1], ring * _fade(footprint, 0.1)[:, 0])
        return _mix(wood, np.broadcast_to(c[2], (m, 3)), seam * _fade(footprint, s)[:, 0])
    if mat.kind == "noise":
        # Terrazzo / concrete: two octaves of value noise plus sparse chips.
        n = 0.65 * value_noise(u / s, v / s, mat.seed) + 0.35 * value_noise(
            u / (0.3 * s), v / (0.3 * s), mat.seed + 7
        )
        chips = (value_noise(u / (0.08 * s), v / (0.08 * s), mat.seed + 3) > 0.8).astype(np.float32)
        base = _mix(c[0], c[1], n)
        return _mix(base, np.broadcast_to(c[2], (m, 3)), chips * _fade(footprint, 0.08 * s)[:, 0])
    if mat.kind == "stripes":
        # Stripes of period s: three colour bands of unequal width.
        f = (u / s) % 1.0
        band = np.where(f < 0.5, 0, np.where(f < 0.8, 1, 2))
        pattern = c[band]
        mean = 0.5 * c[0] + 0.3 * c[1] + 0.2 * c[2]
        return mean + (pattern - mean) * _fade(footprint, s)
    if mat.kind == "dots":
        # Wallpaper: staggered dots of radius 0.22 s on a grid of pitch s.
        row = np.floor(v / s)
        fu = (u / s + 0.5 * (row % 2)) % 1.0 - 0.5
        fv = (v / s) % 1.0 - 0.5
        dot = np.clip((0.22 - np.hypot(fu, fv)) / 0.04, 0, 1)
        pattern = _mix(np.broadcast_to(c[0], (m, 3)), np.broadcast_to(c[1], (m, 3)), dot)
        mean = 0.85 * c[0] + 0.15 * c[1]
        return mean + (pattern - mean) * _fade(footprint, s)
    if mat.kind == "lattice":
        # Diamond (argyle) lattice: thin lines on diagonals, alternate diamonds in two colours.
        a, b = (u + v) / s, (u - v) / s
        cell = (np.floor(a) + np.floor(b)) % 2
        line = np.clip(1 - np.minimum(np.abs(a - np.round(a)), np.abs(b - np.round(b))) / 0.05, 0, 1)
        pattern = _mix(_mix(np.broadcast_to(c[0], (m, 3)), np.broadcast_to(c[1], (m, 3)), cell), c[2], line)
        mean = 0.45 * c[0] + 0.45 * c[1] + 0.1 * c[2]
        return mean + (pattern - mean) * _fade(footprint, s)
    if mat.kind == "tiles":
        # Ceiling panels: squares of side s with dark seams, each a little brighter or darker.
        fu, fv = (u / s) % 1.0, (v / s) % 1.0
        seam = ((np.minimum(fu, 1 - fu) < 0.03) | (np.minimum(fv, 1 - fv) < 0.03)).astype(np.float32)
        shade = 0.9 + 0.2 * _hash(
            np.floor(u / s).astype(np.int64), np.floor(v / s).astype(np.int64), mat.seed
        )
        pattern = _mix(c[0] * shade[:, None], np.broadcast_to(c[1], (m, 3)), seam)
        return c[0] + (pattern - c[0]) * _fade(footprint, s)
    if mat.kind == "slats":
        # Crate: horizontal slats of height s with gaps, each slat's tone from a hash.
        k = np.floor(v / s)
        tone = _hash(k.astype(np.int64), np.ones_like(k, dtype=np.int64), mat.seed)
        gap = (((v / s) % 1.0) < 0.12).astype(np.float32)
        slat = _mix(c[0], c[1], tone)
        return _mix(slat, np.broadcast_to(c[2], (m, 3)), gap * _fade(footprint, s)[:, 0])
    if mat.kind == "books":
        # Shelf front: boards every s metres (dark), spines of random width and colour in between.
        shelf = np.floor(v / s)
        fv = (v / s) % 1.0
        spine = np.floor(
            u / 0.05 + 3 * _hash(shelf.astype(np.int64), np.zeros_like(shelf, dtype=np.int64), mat.seed)
        )
        pick = _hash(spine.astype(np.int64), shelf.astype(np.int64), mat.seed + 5)
        idx = np.minimum((pick * (len(c) - 1)).astype(np.int64), len(c) - 2) + 1
        top = fv > 0.6 + 0.3 * _hash(spine.astype(np.int64), shelf.astype(np.int64), mat.seed + 9)
        board = (fv < 0.1).astype(np.float32)
        books = np.where(top[:, None], c[0][None] * 0.5, c[idx])
        books = c[1:].mean(0) + (books - c[1:].mean(0)) * _fade(footprint, 0.05)
        return _mix(books, np.broadcast_to(c[0], (m, 3)), board * _fade(footprint, s)[:, 0])
    if mat.kind == "hazard":
        # Robot arm shell: diagonal warning stripes of period s.
        band = (((u + v) / s) % 1.0 < 0.5).astype(np.float32)
        pattern = _mix(np.broadcast_to(c[0], (m, 3)), np.broadcast_to(c[1], (m, 3)), band)
        mean = 0.5 * (c[0] + c[1])
        return mean + (pattern - mean) * _fade(footprint, s)
    raise ValueError(f"Unknown texture kind {mat.kind!r}; known: {list(KINDS)}.")
