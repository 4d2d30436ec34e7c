"""Procedural, seamlessly tiling RGB textures (numpy) for floors, walls, furniture and wall pictures.

Rich texture is what makes egocentric motion visible (optical flow on floor and walls), so the rooms use several
kinds: wood planks, tiles, carpet noise, bricks, striped wallpaper, painted plaster, wood grain, cardboard.
All images tile (periodic noise, patterns with whole periods), so texture repeats show no seams.
"""

from __future__ import annotations

import numpy as np

Color = np.ndarray  # RGB in [0, 1]


def value_noise(size: int, cells: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Periodic smooth value noise in [0, 1] of shape (size, size); `cells` = (rows, cols) of the lattice."""
    cy, cx = cells
    grid = rng.random((cy, cx))
    ys = np.arange(size) * cy / size
    xs = np.arange(size) * cx / size
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = ys - y0, xs - x0
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    y1, x1 = (y0 + 1) % cy, (x0 + 1) % cx
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x1] * fx
    bottom = grid[y1][:, x0] * (1 - fx) + grid[y1][:, x1] * fx
    return top * (1 - fy)[:, None] + bottom * fy[:, None]


def fractal_noise(
    size: int, base_cells: int, octaves: int, rng: np.random.Generator, stretch: int = 1
) -> np.ndarray:
    """Sum of `octaves` value-noise layers (each twice as fine, half as strong), normalised to [0, 1].
    `stretch` > 1 makes the features long along x (wood grain, brushed metal)."""
    out = np.zeros((size, size))
    total = 0.0
    for o in range(octaves):
        cells = min(base_cells * 2**o, size)
        out += 0.5**o * value_noise(size, (cells, max(1, cells // stretch)), rng)
        total += 0.5**o
    out /= total
    return (out - out.min()) / max(out.max() - out.min(), 1e-6)


def _mix(a: Color, b: Color, t: np.ndarray) -> np.ndarray:
    return a[None, None] * (1 - t[..., None]) + b[None, None] * t[..., None]


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _shade(color: Color, factor: float) -> Color:
    return np.clip(color * factor, 0, 1)


def planks(size: int, base: Color, rng: np.random.Generator) -> np.ndarray:
    """Wood floor: rows of planks with staggered joints, per-plank tint, grain and dark gaps."""
    rows = int(rng.choice([4, 6, 8]))
    h = size // rows
    grain = fractal_noise(size, 4, 4, rng, stretch=8)
    img = np.zeros((size, size, 3))
    for r in range(rows):
        n_joints = int(rng.integers(1, 3))
        joints = np.sort(rng.choice(np.arange(size // 8, size), size=n_joints, replace=False))
        edges = np.concatenate([[0], joints, [size]])
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            tint = _shade(base, rng.uniform(0.8, 1.15))
            dark = _shade(tint, 0.7)
            img[r * h : (r + 1) * h, a:b] = _mix(tint, dark, grain[r * h : (r + 1) * h, a:b])
        img[r * h : r * h + max(1, size // 128)] *= 0.45
        for j in joints:
            img[r * h : (r + 1) * h, j : j + max(1, size // 128)] *= 0.5
    return _to_uint8(img)


def tiles(size: int, base: Color, grout: Color, rng: np.random.Generator) -> np.ndarray:
    """Square tiles with grout lines, per-tile tint and fine speckle."""
    n = int(rng.choice([2, 4]))
    t = size // n
    speck = fractal_noise(size, 16, 3, rng)
    img = _mix(base, _shade(base, 0.85), speck)
    for i in range(n):
        for j in range(n):
            img[i * t : (i + 1) * t, j * t : (j + 1) * t] *= rng.uniform(0.9, 1.08)
    g = max(2, size // 48)
    for k in range(n):
        img[k * t : k * t + g] = grout
        img[:, k * t : k * t + g] = grout
    return _to_uint8(img)


def carpet(size: int, a: Color, b: Color, rng: np.random.Generator) -> np.ndarray:
    """Carpet or rug: two colours mixed by coarse noise, plus fibre speckle."""
    coarse = fractal_noise(size, 4, 3, rng)
    fibre = rng.random((size, size)) * 0.25
    img = _mix(a, b, np.clip(coarse * 1.4 - 0.2, 0, 1))
    return _to_uint8(img * (0.85 + fibre[..., None]))


def bricks(size: int, brick: Color, mortar: Color, rng: np.random.Generator) -> np.ndarray:
    """Running-bond brick wall."""
    rows = 8
    h = size // rows
    w = size // 4
    noise = fractal_noise(size, 16, 3, rng)
    img = np.zeros((size, size, 3))
    for r in range(rows):
        offset = (w // 2) * (r % 2)
        for c in range(-1, 4):
            a, b = c * w + offset, (c + 1) * w + offset
            tint = _shade(brick, rng.uniform(0.8, 1.15))
            a0, b0 = max(a, 0), min(b, size)
            if b0 > a0:
                img[r * h : (r + 1) * h, a0:b0] = tint
    img = img * (0.85 + 0.3 * noise[..., None])
    m = max(1, size // 64)
    for r in range(rows):
        img[r * h : r * h + m] = mortar
        offset = (w // 2) * (r % 2)
        for c in range(5):
            x = (c * w + offset) % size
            img[r * h : (r + 1) * h, x : x + m] = mortar
    return _to_uint8(img)


def stripes(size: int, colors: list[Color], rng: np.random.Generator) -> np.ndarray:
    """Vertical wallpaper stripes in 2-3 colours with a faint paper texture."""
    widths = rng.integers(2, 6, size=len(colors) * 2)
    unit = size // int(rng.choice([2, 4]))
    pattern = np.concatenate([np.full(w, i % len(colors)) for i, w in enumerate(widths)])
    idx = np.floor(np.arange(unit) / unit * len(pattern)).astype(int)
    col = np.stack(colors)[pattern[idx]]
    row = np.tile(col, (size // unit, 1))
    img = np.repeat(row[None], size, axis=0)
    paper = fractal_noise(size, 8, 3, rng)
    return _to_uint8(img * (0.92 + 0.12 * paper[..., None]))


def plaster(size: int, base: Color, rng: np.random.Generator) -> np.ndarray:
    """Painted plaster: a plain colour with soft blotches."""
    n = fractal_noise(size, 4, 5, rng)
    return _to_uint8(base[None, None] * (0.86 + 0.22 * n[..., None]))


def panels(size: int, base: Color, rng: np.random.Generator) -> np.ndarray:
    """Wall panelling: vertical boards with dark seams."""
    n = int(rng.choice([4, 8]))
    w = size // n
    grain = fractal_noise(size, 4, 3, rng, stretch=1)
    img = base[None, None] * (0.9 + 0.15 * grain[..., None])
    for k in range(n):
        img[:, k * w : k * w + max(1, size // 96)] *= 0.55
        img[:, k * w : (k + 1) * w] *= rng.uniform(0.93, 1.07)
    return _to_uint8(img)


def wood(size: int, base: Color, rng: np.random.Generator) -> np.ndarray:
    """Wood grain for furniture."""
    grain = fractal_noise(size, 2, 5, rng, stretch=8)
    rings = 0.5 + 0.5 * np.sin(grain * 30)
    return _to_uint8(_mix(base, _shade(base, 0.7), 0.6 * rings + 0.4 * grain))


def cardboard(size: int, rng: np.random.Generator) -> np.ndarray:
    """Cardboard box surface, with a tape strip."""
    base = np.array([0.72, 0.55, 0.35]) * rng.uniform(0.85, 1.1)
    img = _mix(base, _shade(base, 0.85), fractal_noise(size, 8, 3, rng))
    tape = slice(size // 2 - size // 16, size // 2 + size // 16)
    img[:, tape] = _shade(base, 1.15) * 0.95
    return _to_uint8(img)


def picture(size: int, colors: list[Color], rng: np.random.Generator) -> np.ndarray:
    """A wall picture: colour blobs (abstract art), a landscape-like gradient with bands, or a grid poster."""
    kind = int(rng.integers(0, 3))
    if kind == 0:
        n = fractal_noise(size, 3, 4, rng)
        levels = np.clip((n * len(colors)).astype(int), 0, len(colors) - 1)
        img = np.stack(colors)[levels]
    elif kind == 1:
        yy = np.linspace(0, 1, size)[:, None] + 0.15 * (fractal_noise(size, 2, 3, rng) - 0.5)
        img = _mix(colors[0], colors[1], np.clip(yy * 1.2, 0, 1))
        horizon = yy > rng.uniform(0.5, 0.7)
        img[horizon] = _shade(colors[-1], 0.8)
    else:
        n = int(rng.integers(2, 5))
        cell = size // n
        img = np.zeros((size, size, 3))
        for i in range(n):
            for j in range(n):
                img[i * cell : (i + 1) * cell, j * cell : (j + 1) * cell] = colors[
                    int(rng.integers(len(colors)))
                ]
    border = max(2, size // 24)
    img[:border], img[-border:], img[:, :border], img[:, -border:] = 0.95, 0.95, 0.95, 0.95
    return _to_uint8(img)


def book_row(height: int, width: int, colors: list[Color], rng: np.random.Generator) -> np.ndarray:
    """Spines of a row of books (front face of a shelf's book block): varying widths, heights and colours on a
    dark background, with title bands."""
    img = np.full((height, width, 3), 0.06)
    x = 0
    while x < width:
        w = int(rng.integers(max(2, width // 40), max(3, width // 12)))
        top = int(height * rng.uniform(0.0, 0.35))
        color = colors[int(rng.integers(len(colors)))] * rng.uniform(0.6, 1.1)
        img[top:, x : x + w - 1] = color
        band = top + int((height - top) * rng.uniform(0.15, 0.3))
        img[band : band + max(1, height // 24), x : x + w - 1] = np.clip(color * 1.6 + 0.2, 0, 1)
        x += w
    return _to_uint8(img)
