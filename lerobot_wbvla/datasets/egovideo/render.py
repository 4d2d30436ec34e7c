"""One clip, end to end: seed -> plan -> trajectory -> room -> offscreen frames (+ head poses from MuJoCo).

`make_clip` is pure in its inputs: the same (seed, split, config) gives the same labels and the same frames up to
rasteriser noise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402

from lerobot_wbvla.datasets.egovideo.body import add_body, body_handles, camera_pose  # noqa: E402
from lerobot_wbvla.datasets.egovideo.config import EgoVideoConfig  # noqa: E402
from lerobot_wbvla.datasets.egovideo.floorplan import keep_clear_points, place_path  # noqa: E402
from lerobot_wbvla.datasets.egovideo.labels import ClipRecord  # noqa: E402
from lerobot_wbvla.datasets.egovideo.motion import (  # noqa: E402
    BodyTrajectory,
    body_trajectory,
    plan_clip,
    sample_body_shape,
)
from lerobot_wbvla.datasets.egovideo.palettes import palettes_for  # noqa: E402
from lerobot_wbvla.datasets.egovideo.scene import build_room  # noqa: E402
from lerobot_wbvla.datasets.egovideo.split import primitive_cycle, primitive_of_seed  # noqa: E402
from lerobot_wbvla.datasets.egovideo_common.plan import PlannedClip  # noqa: E402
from lerobot_wbvla.datasets.egovideo_common.writer import clip_record  # noqa: E402


@dataclass
class ClipPlan(PlannedClip):
    """Everything about a clip except its pixels (seed, split, primitives, phases, then the MuJoCo side)."""

    trajectory: BodyTrajectory  # in the room frame
    model: mujoco.MjModel
    palette: str


def plan(seed: int, split: str, cfg: EgoVideoConfig) -> ClipPlan:
    """Build the motion plan and the MuJoCo model of clip `seed`."""
    plan_rng, motion_rng, scene_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    primary = primitive_of_seed(seed, primitive_cycle(cfg.primitives, cfg.balance_phases))
    shape = sample_body_shape(cfg.motion, motion_rng)
    primitives, phases = plan_clip(primary, cfg, plan_rng)
    local = body_trajectory(phases, shape, cfg, motion_rng)
    room, x, y, yaw = place_path(local.head_pos[:, :2], local.torso_yaw, scene_rng)
    traj = local.place(x, y, yaw)

    families = palettes_for(split, cfg.heldout_palettes)
    palette = families[int(scene_rng.integers(len(families)))]
    spec = mujoco.MjSpec()
    spec.modelname = f"egovideo_{seed}"
    spec.visual.global_.offwidth = max(cfg.width, 16)
    spec.visual.global_.offheight = max(cfg.height, 16)
    spec.visual.quality.offsamples = 4 if cfg.antialias else 0
    # Shadows are off; a tiny shadow map saves ~0.1 s of OpenGL setup per clip (the default is 4096^2).
    spec.visual.quality.shadowsize = 64
    spec.visual.map.znear = 0.002
    # Coarser tessellation of round primitives: on a CPU rasteriser the cost is per vertex.
    spec.visual.quality.numslices = 14
    spec.visual.quality.numstacks = 7
    spec.option.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT
    build_room(spec, scene_rng, palette, room, keep_clear_points(traj.head_pos[:, :2], traj.torso_yaw))
    add_body(spec, shape, scene_rng)
    model = spec.compile()
    return ClipPlan(seed, split, primitives, phases, traj, model, palette.name)


def render_frames(p: ClipPlan, cfg: EgoVideoConfig) -> tuple[np.ndarray, list[list[float]]]:
    """Render all frames (T, H, W, 3) uint8 from the head camera; also return the camera pose per frame."""
    model = p.model
    data = mujoco.MjData(model)
    handles = body_handles(model)
    renderer = mujoco.Renderer(model, cfg.height, cfg.width)
    try:
        flags = renderer.scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = False
        n = len(p.trajectory.head_pos)
        frames = np.empty((n, cfg.height, cfg.width, 3), np.uint8)
        poses = []
        for t in range(n):
            handles.apply(data, p.trajectory, t)
            mujoco.mj_kinematics(model, data)
            mujoco.mj_camlight(model, data)
            renderer.update_scene(data, camera=handles.camera_id)
            renderer.render(out=frames[t])
            poses.append(camera_pose(data, handles.camera_id))
    finally:
        renderer.close()
    return frames, poses


def make_clip(seed: int, split: str, cfg: EgoVideoConfig) -> tuple[ClipRecord, np.ndarray]:
    """Labels record and frames of one clip (the record's `clip` path is clips/<clip_id>.mp4)."""
    p = plan(seed, split, cfg)
    frames, poses = render_frames(p, cfg)
    return clip_record(p, cfg, palette=p.palette, head_pose=poses), frames
