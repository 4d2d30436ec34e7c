"""The camera and the arms really move as labelled (poses read from MuJoCo, and in the pixels)."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from lerobot_wbvla.datasets.egovideo import EgoVideoConfig, read_labels
from lerobot_wbvla.datasets.egovideo.body import body_handles
from lerobot_wbvla.datasets.egovideo.render import plan
from lerobot_wbvla.datasets.video import decode_video

from ..ego_poses import transitions_by_label


def test_head_camera_moves_as_every_frame_label_says(ego_root: Path) -> None:
    """Checked per frame transition (a frame label is the motion from that frame to the next)."""
    seen = set()
    for rec in read_labels(ego_root):
        for name, fwd, left, up, dyaw in transitions_by_label(rec):
            seen.add(name)
            if name == "walk_forward":  # >= 0.3 m/s x 0.35 ramp floor at 24 fps ~ 4 mm per frame
                assert fwd.min() > 0.003 and np.abs(left).max() < fwd.mean(), rec.clip
            elif name in ("sidestep_left", "sidestep_right"):
                sign = 1 if name == "sidestep_left" else -1
                assert (sign * left).min() > 0.001 and np.abs(fwd).max() < 0.001, rec.clip
            elif name in ("turn_left", "turn_right"):
                sign = 1 if name == "turn_left" else -1
                assert (sign * dyaw).min() > 0.3 and np.abs(np.hypot(fwd, left)).max() < 0.003, rec.clip
            elif name in ("squat_down", "squat_up"):
                sign = -1 if name == "squat_down" else 1
                assert (sign * up).min() > 0.002 and np.abs(dyaw).max() < 0.1, rec.clip
            else:  # standing and reaching: the head only jitters (< 1 mm, < 0.1 deg per frame)
                assert np.abs(np.stack([fwd, left, up])).max() < 0.001, (rec.clip, name)
                assert np.abs(dyaw).max() < 0.1, (rec.clip, name)
        # whole-run checks: a walk covers distance, a turn covers angle, a squat goes 0.2-0.4 m down and back
        for name, a, b in rec.segments:
            seconds = (b - a) / rec.fps
            pose = np.array(rec.head_pose)
            end = min(b, rec.n_frames - 1)
            if name == "walk_forward" and seconds > 0.5:
                assert np.linalg.norm(pose[end, :2] - pose[a, :2]) > 0.3 * 0.6 * seconds
            if name == "squat_down" and b < rec.n_frames:
                assert 0.19 < pose[a, 2] - pose[b, 2] < 0.41
    assert seen >= {
        "walk_forward",
        "sidestep_left",
        "sidestep_right",
        "turn_left",
        "turn_right",
        "squat_down",
    }


def _shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Translation (dx, dy) in pixels that moves image a onto image b (phase correlation)."""
    win = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    fa, fb = np.fft.fft2((a - a.mean()) * win), np.fft.fft2((b - b.mean()) * win)
    r = fb * np.conj(fa)
    corr = np.fft.ifft2(r / (np.abs(r) + 1e-9)).real
    dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
    h, w = corr.shape
    return float(dx - w if dx > w // 2 else dx), float(dy - h if dy > h // 2 else dy)


def test_pixels_move_as_labelled(ego_root: Path) -> None:
    """Turning left moves the room to the right in the image (and vice versa); squatting down moves it up;
    reaching out changes the lower third of the image (where the arm comes in) far more than the upper third."""
    checked = set()
    for rec in read_labels(ego_root):
        frames = decode_video(ego_root / rec.clip).frames.numpy().astype(float)
        gray = frames.mean(-1)
        for name, a, b in rec.segments:
            if b - a < 8:
                continue
            mid = (a + b) // 2
            top = slice(0, 36)  # above the hands
            if name in ("turn_left", "turn_right"):
                dx, _ = _shift(gray[mid - 2, top], gray[mid + 2, top])
                assert dx > 1 if name == "turn_left" else dx < -1, (rec.clip, name, dx)
                checked.add(name)
            if name == "squat_down":
                _, dy = _shift(gray[mid - 3, top], gray[mid + 3, top])
                assert dy < -0.5, (rec.clip, dy)  # content moves up (towards row 0)
                checked.add(name)
            if name in ("reach_left_out", "reach_right_out"):
                changed = np.abs(frames[b] - frames[a]).mean(-1) > 10  # pixels the arm covers or uncovers
                lower, upper = changed[43:].mean(), changed[:21].mean()
                assert lower > 3 * upper and lower > 0.08, (rec.clip, lower, upper)
                checked.add(name)
    assert checked == {"turn_left", "turn_right", "squat_down", "reach_left_out", "reach_right_out"}


def test_arms_are_visible_at_rest_and_the_hand_rises_when_reaching(ego_cfg: EgoVideoConfig) -> None:
    """Segmentation render: both forearms/hands fill part of the lower half of the view at rest, none of the upper
    half; during reach_*_out the reaching hand rises towards the image centre (MuJoCo body positions)."""
    cfg = EgoVideoConfig(**{**ego_cfg.__dict__, "height": 48, "width": 48})
    for seed in range(6, 9):  # squat, reach_left, reach_right in the cycle
        p = plan(seed, "train", cfg)
        m, d = p.model, mujoco.MjData(p.model)
        handles = body_handles(m)
        renderer = mujoco.Renderer(m, 48, 48)
        renderer.enable_segmentation_rendering()
        side_of = {m.body(f"{s}_{b}").id: s for s in ("left", "right") for b in ("forearm", "hand")}
        handles.apply(d, p.trajectory, 0)
        mujoco.mj_kinematics(m, d)
        mujoco.mj_camlight(m, d)
        renderer.update_scene(d, camera=handles.camera_id)
        seg = renderer.render()
        renderer.close()
        is_geom = seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)
        body = np.where(is_geom, m.geom_bodyid[np.clip(seg[..., 0], 0, m.ngeom - 1)], -1)
        for side in ("left", "right"):
            mask = np.isin(body, [b for b, s in side_of.items() if s == side])
            assert mask[24:].mean() > 0.02, (seed, side, mask.mean())
            assert mask[:16].sum() == 0, (seed, side)
        for phase in p.phases:
            if phase.label.endswith("_out") and phase.label.startswith("reach"):
                side = "left" if "left" in phase.label else "right"
                start = sum(q.n_frames for q in p.phases[: p.phases.index(phase)])
                angles = []  # hand direction below the optical axis (deg)
                for t in (start, start + phase.n_frames):
                    handles.apply(d, p.trajectory, t)
                    mujoco.mj_kinematics(m, d)
                    mujoco.mj_camlight(m, d)
                    cam = d.cam_xmat[handles.camera_id].reshape(3, 3)
                    rel = d.xpos[m.body(f"{side}_hand").id] - d.cam_xpos[handles.camera_id]
                    angles.append(float(np.rad2deg(np.arctan2(-rel @ cam[:, 1], -rel @ cam[:, 2]))))
                assert angles[0] > 15 and angles[1] < angles[0] - 10, (seed, angles)
