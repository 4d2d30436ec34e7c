"""StepState: what the reward and termination terms read after a control step, for N envs as arrays.

The env gathers it once per control step (the CPU env from its N MjData in one pass: float64 numpy arrays; the
MuJoCo Warp env from its batched data: float32 torch tensors on its device), so every term is one vectorized
function of arrays for both backends (lmo/mdp/xp.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from lerobot_wbvla.lmo.mdp.xp import INF, Array, namespace
from lerobot_wbvla.lmo.proprio import Proprio


@dataclass
class StepState:
    proprio: Proprio
    base_pos: Array  # (N, 3) pelvis position, world (m)
    base_quat: Array  # (N, 4) pelvis orientation, world, w x y z
    base_lin_vel: Array  # (N, 3) pelvis linear velocity, world (m/s)
    base_ang_vel: Array  # (N, 3) pelvis angular velocity, pelvis frame (rad/s)
    com: Array  # (N, 3) whole-robot centre of mass, world (m)
    pad_pos: Array  # (N, 4, 3) foot pad centres (joints.FOOT_CONTACT_KEYS order), world (m)
    contacts: Array  # (N, 4) foot pads in contact (0/1)
    action: Array  # (N, 12) the policy's action this step
    prev_action: Array  # (N, 12) the action of the step before
    loco: Array  # (N, 4) locomotion command: vx, vy (heading frame, m/s), yaw_rate (rad/s), height (m, 0 = nominal)
    latent: Array | None  # (N, D) z_t without the observation noise (None unless latent conditioning)
    body_floor_contact: Array  # (N,) a robot geom other than a foot pad touches the floor


def yaw_of(quat: Array) -> Array:
    xp = namespace(quat)
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    return xp.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def roll_pitch(quat: Array) -> tuple[Array, Array]:
    xp = namespace(quat)
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    roll = xp.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = xp.arcsin(xp.clip(2 * (w * y - z * x), -1.0, 1.0))
    return roll, pitch


def tilt(quat: Array) -> Array:
    """Angle between the pelvis z axis and the world vertical (rad)."""
    xp = namespace(quat)
    x, y = quat[:, 1], quat[:, 2]
    zz = 1 - 2 * (x * x + y * y)
    return xp.arccos(xp.clip(zz, -1.0, 1.0))


def heading_frame_xy(vec_world: Array, yaw: Array) -> Array:
    """(N, 2) the xy part of world vectors in the heading (yaw-only) frame."""
    xp = namespace(yaw)
    c, s = xp.cos(yaw), xp.sin(yaw)
    x, y = vec_world[:, 0], vec_world[:, 1]
    return xp.stack([c * x + s * y, -s * x + c * y], axis=1)


def stance_width(s: StepState) -> Array:
    """Lateral distance between the feet centres in the heading frame (m)."""
    xp = namespace(s.pad_pos)
    left = xp.mean(s.pad_pos[:, 0:2], axis=1)
    right = xp.mean(s.pad_pos[:, 2:4], axis=1)
    return xp.abs(heading_frame_xy(left - right, yaw_of(s.base_quat))[:, 1])


def _next_in_contact(on: Array, k: int) -> Array:
    """(M,) index of the next pad in contact after pad k in the cyclic order (k itself if it is the only one)."""
    xp = namespace(on)
    nxt = xp.full_index((on.shape[0],), k, like=on)
    for step in (3, 2, 1):  # the nearest one wins: written last
        j = (k + step) % 4
        nxt = xp.where(on[:, j], j, nxt)
    return nxt


# Pads in the cyclic order of the support polygon: left heel, left toe, right toe, right heel.
_POLYGON_ORDER = [0, 1, 3, 2]


def com_margin(s: StepState) -> Array:
    """Signed distance (m) of the centre of mass's floor projection inside the support polygon: the polygon of the
    pads in contact taken in the cyclic order left heel, left toe, right toe, right heel (positive inside). With
    1 or 2 pads in contact the support is a point or a segment: minus the distance to it. No pad in contact: -1.
    Both cases are computed for every robot and selected per robot (no data-dependent branch: on a GPU nothing
    waits for the host); the arithmetic per robot is the same as on the subsets."""
    xp = namespace(s.com)
    n = s.com.shape[0]
    pads = s.pad_pos[:, _POLYGON_ORDER, :2]  # (N, 4, 2)
    on = s.contacts[:, _POLYGON_ORDER] > 0.5  # (N, 4)
    p = s.com[:, :2]
    count = xp.sum(on, axis=1)
    rows = xp.arange(n, like=s.com)

    # 3 or 4 pads down: the polygon. Inside is on the same side of every edge as the centroid of the pads in
    # contact.
    centroid = xp.sum(pads * on[..., None], axis=1) / xp.clip(xp.sum(on, axis=1, keepdims=True), 1, None)
    margin = xp.full((n,), INF, like=s.com)
    for k in range(4):
        a = pads[:, k]
        e = pads[rows, _next_in_contact(on, k)] - a
        length = xp.norm(e, axis=1) + 1e-9
        side = xp.sign(e[:, 0] * (centroid - a)[:, 1] - e[:, 1] * (centroid - a)[:, 0])
        d = side * (e[:, 0] * (p - a)[:, 1] - e[:, 1] * (p - a)[:, 0]) / length
        margin = xp.minimum(margin, xp.where(on[:, k], d, INF))

    # 1 or 2 pads down: minus the distance to the point / segment between the first and the last pad in contact.
    a = pads[rows, xp.argmax(on, axis=1)]
    b = pads[rows, 3 - xp.argmax(xp.flip(on, axis=1), axis=1)]
    ab = b - a
    t = xp.clip(xp.sum((p - a) * ab, axis=1) / (xp.sum(ab * ab, axis=1) + 1e-12), 0.0, 1.0)
    segment = -xp.norm(p - (a + t[:, None] * ab), axis=1)
    return xp.where(count >= 3, margin, xp.where(count >= 1, segment, -1.0))
