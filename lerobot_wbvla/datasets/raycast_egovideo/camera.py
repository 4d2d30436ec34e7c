"""The head camera's lens model: per-pixel ray directions of a distorted, off-centre, non-square-pixel pinhole.

A pixel (u, v) (u right, v down, pixel centres at +0.5) has normalised coordinates x = (u - cx) / fx,
y = (v - cy) / fy; the lens sends its ray through (x, y) * (1 + k1 r^2 + k2 r^4), r^2 = x^2 + y^2. With k1 > 0 the
border pixels look further out than a pinhole's would, so straight lines bow outward (a wide-angle, barrel look).
This is the mapping the ray caster needs (pixel -> ray), so no inversion is ever solved.

Camera frame: x forward (the optical axis), y left, z up; the head pose rotates it into the room with
R = Rz(yaw) Ry(pitch) Rx(roll), pitch > 0 looking down, roll > 0 lifting the image's left side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lerobot_wbvla.datasets.egovideo_common.plan import uniform
from lerobot_wbvla.datasets.raycast_egovideo.config import LensConfig


@dataclass(frozen=True)
class Lens:
    """Intrinsics of one clip's camera (pixels of the output image)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    k1: float
    k2: float
    vignette: float
    fovy_deg: float  # the pinhole's vertical field of view before the lens term

    def rays(self, supersample: int = 1) -> np.ndarray:
        """Unit ray directions (H*s, W*s, 3) float32 in the camera frame, s = supersample rays per pixel side."""
        s = supersample
        u = (np.arange(self.width * s, dtype=np.float64) + 0.5) / s
        v = (np.arange(self.height * s, dtype=np.float64) + 0.5) / s
        x = (u[None, :] - self.cx) / self.fx
        y = (v[:, None] - self.cy) / self.fy
        x, y = np.broadcast_arrays(x, y)
        r2 = x * x + y * y
        k = 1 + self.k1 * r2 + self.k2 * r2 * r2
        d = np.stack([np.ones_like(x), -x * k, -y * k], axis=-1)
        return (d / np.linalg.norm(d, axis=-1, keepdims=True)).astype(np.float32)

    def pixel_angle(self) -> float:
        """Angle one pixel spans at the image centre (rad): the footprint of a pixel is about distance * this."""
        return float(1.0 / max(self.fx, self.fy))

    def vignette_map(self) -> np.ndarray:
        """(H, W) float32 gain: 1 at the principal point, 1 - vignette at the farthest corner."""
        u = np.arange(self.width) + 0.5
        v = np.arange(self.height) + 0.5
        du = (u[None, :] - self.cx) / self.width
        dv = (v[:, None] - self.cy) / self.height
        r2 = du * du + dv * dv
        return (1 - self.vignette * r2 / r2.max()).astype(np.float32)


def sample_lens(cfg: LensConfig, width: int, height: int, rng: np.random.Generator) -> Lens:
    """One clip's lens from the configured ranges."""
    fovy = uniform(rng, cfg.fovy_deg)
    fy = (height / 2) / np.tan(np.deg2rad(fovy) / 2)
    fx = fy / uniform(rng, cfg.pixel_aspect)
    sign = rng.choice([-1.0, 1.0], size=2)
    cx = width / 2 + sign[0] * uniform(rng, cfg.principal_offset) * width
    cy = height / 2 + sign[1] * uniform(rng, cfg.principal_offset) * height
    return Lens(
        width=width,
        height=height,
        fx=float(fx),
        fy=float(fy),
        cx=float(cx),
        cy=float(cy),
        k1=uniform(rng, cfg.k1),
        k2=uniform(rng, cfg.k2),
        vignette=uniform(rng, cfg.vignette),
        fovy_deg=fovy,
    )


def rotation(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """R = Rz(yaw) Ry(pitch) Rx(roll) (3, 3): camera frame -> room frame."""
    cr, sr = np.cos(roll), np.sin(roll)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    return rz @ ry @ rx
