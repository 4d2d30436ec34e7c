"""StepState: what the reward and termination terms read after a control step, for N envs as arrays.

The env gathers it once per control step from its N MjData (one pass), so every term is a vectorized function of
arrays: the same terms can later be evaluated on torch tensors of a GPU backend (issue 11) without a rewrite of
the MDP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lerobot_wbvla.lmo.proprio import Proprio


@dataclass
class StepState:
    proprio: Proprio
    base_pos: np.ndarray  # (N, 3) pelvis position, world (m)
    base_quat: np.ndarray  # (N, 4) pelvis orientation, world, w x y z
    base_lin_vel: np.ndarray  # (N, 3) pelvis linear velocity, world (m/s)
    base_ang_vel: np.ndarray  # (N, 3) pelvis angular velocity, pelvis frame (rad/s)
    com: np.ndarray  # (N, 3) whole-robot centre of mass, world (m)
    pad_pos: np.ndarray  # (N, 4, 3) foot pad centres (joints.FOOT_CONTACT_KEYS order), world (m)
    contacts: np.ndarray  # (N, 4) foot pads in contact (0/1)
    action: np.ndarray  # (N, 12) the policy's action this step
    prev_action: np.ndarray  # (N, 12) the action of the step before
    loco: (
        np.ndarray
    )  # (N, 4) locomotion command: vx, vy (heading frame, m/s), yaw_rate (rad/s), height (m, 0 = nominal)
    latent: np.ndarray | None  # (N, D) z_t without the observation noise (None unless latent conditioning)
    body_floor_contact: np.ndarray  # (N,) a robot geom other than a foot pad touches the floor


def yaw_of(quat: np.ndarray) -> np.ndarray:
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    return np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def roll_pitch(quat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    return roll, pitch


def tilt(quat: np.ndarray) -> np.ndarray:
    """Angle between the pelvis z axis and the world vertical (rad)."""
    x, y = quat[:, 1], quat[:, 2]
    zz = 1 - 2 * (x * x + y * y)
    return np.arccos(np.clip(zz, -1.0, 1.0))


def heading_frame_xy(vec_world: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """(N, 2) the xy part of world vectors in the heading (yaw-only) frame."""
    c, s = np.cos(yaw), np.sin(yaw)
    x, y = vec_world[:, 0], vec_world[:, 1]
    return np.stack([c * x + s * y, -s * x + c * y], axis=1)


def stance_width(s: StepState) -> np.ndarray:
    """Lateral distance between the feet centres in the heading frame (m)."""
    left = s.pad_pos[:, 0:2].mean(axis=1)
    right = s.pad_pos[:, 2:4].mean(axis=1)
    return np.abs(heading_frame_xy(left - right, yaw_of(s.base_quat))[:, 1])


def _next_in_contact(on: np.ndarray, k: int) -> np.ndarray:
    """(M,) index of the next pad in contact after pad k in the cyclic order (k itself if it is the only one)."""
    nxt = np.full(on.shape[0], k)
    for step in (3, 2, 1):  # the nearest one wins: written last
        j = (k + step) % 4
        nxt = np.where(on[:, j], j, nxt)
    return nxt


def com_margin(s: StepState) -> np.ndarray:
    """Signed distance (m) of the centre of mass's floor projection inside the support polygon: the polygon of the
    pads in contact taken in the cyclic order left heel, left toe, right toe, right heel (positive inside). With
    1 or 2 pads in contact the support is a point or a segment: minus the distance to it. No pad in contact: -1."""
    n = s.com.shape[0]
    order = np.array([0, 1, 3, 2])
    pads = s.pad_pos[:, order, :2]  # (N, 4, 2)
    on = s.contacts[:, order] > 0.5  # (N, 4)
    p = s.com[:, :2]
    count = on.sum(axis=1)
    out = np.full(n, -1.0)

    poly = np.flatnonzero(count >= 3)
    if poly.size:
        pp, oo, cc = pads[poly], on[poly], p[poly]
        rows = np.arange(poly.size)
        edges = []
        for k in range(4):
            a, b = pp[:, k], pp[rows, _next_in_contact(oo, k)]
            edges.append((a, b - a))
        # Inside is on the same side of every edge as the centroid of the pads in contact.
        centroid = (pp * oo[..., None]).sum(axis=1) / oo.sum(axis=1, keepdims=True)
        margin = np.full(poly.size, np.inf)
        for k, (a, e) in enumerate(edges):
            length = np.linalg.norm(e, axis=1) + 1e-9
            side = np.sign(e[:, 0] * (centroid - a)[:, 1] - e[:, 1] * (centroid - a)[:, 0])
            d = side * (e[:, 0] * (cc - a)[:, 1] - e[:, 1] * (cc - a)[:, 0]) / length
            margin = np.minimum(margin, np.where(oo[:, k], d, np.inf))
        out[poly] = margin

    few = np.flatnonzero((count >= 1) & (count <= 2))
    if few.size:
        oo, pp, cc = on[few], pads[few], p[few]
        rows = np.arange(few.size)
        a = pp[rows, np.argmax(oo, axis=1)]
        b = pp[rows, 3 - np.argmax(oo[:, ::-1], axis=1)]
        ab = b - a
        t = np.clip(((cc - a) * ab).sum(axis=1) / ((ab * ab).sum(axis=1) + 1e-12), 0.0, 1.0)
        out[few] = -np.linalg.norm(cc - (a + t[:, None] * ab), axis=1)
    return out
