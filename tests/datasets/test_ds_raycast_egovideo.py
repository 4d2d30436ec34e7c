"""The second egocentric domain (lerobot_wbvla.datasets.raycast_egovideo): labels true frame by frame, speeds
outside the MuJoCo generator's ranges, a look of its own, and output that the project's readers take unchanged."""

from __future__ import annotations

import colorsys
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lerobot_wbvla.datasets import FramePairDataset, VideoFolderSource
from lerobot_wbvla.datasets.egovideo.config import MotionConfig
from lerobot_wbvla.datasets.egovideo.labels import MOTION_CLASSES, read_labels
from lerobot_wbvla.datasets.egovideo.palettes import HELDOUT_PALETTES, TRAIN_PALETTES
from lerobot_wbvla.datasets.raycast_egovideo import RaycastEgoVideoConfig, generate, make_clip, plan
from lerobot_wbvla.datasets.raycast_egovideo.camera import sample_lens
from lerobot_wbvla.datasets.raycast_egovideo.generate import main
from lerobot_wbvla.datasets.raycast_egovideo.motion import plan_clip, sample_body, trajectory
from lerobot_wbvla.datasets.raycast_egovideo.textures import ACCENTS, FAMILIES
from lerobot_wbvla.datasets.video import decode_video

from ..ego_poses import head_steps, transitions_by_label

SMALL = dict(height=32, width=32, contact_sheet=False, progress=False)


@pytest.fixture(scope="module")
def raycast_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("raycast") / "ray"
    # 14 clips: a full primitive cycle (12 with phase balancing) plus two; 30% sequences.
    return generate(
        RaycastEgoVideoConfig(out_dir=out, num_clips=14, heldout_fraction=0.3, sequence_fraction=0.3, **SMALL)
    )


def test_every_frame_label_is_the_head_motion(raycast_root: Path) -> None:
    seen = set()
    for rec in read_labels(raycast_root):
        for name, fwd, left, up, dyaw in transitions_by_label(rec):
            seen.add(name)
            if name == "walk_forward":  # >= 0.9 m/s x 0.6 ramp floor at 30 fps = 18 mm per frame
                assert fwd.min() > 0.012 and np.abs(left).max() < 0.003, rec.clip
            elif name in ("sidestep_left", "sidestep_right"):
                sign = 1 if name == "sidestep_left" else -1
                assert (sign * left).min() > 0.006 and np.abs(fwd).max() < 0.003, rec.clip
            elif name in ("turn_left", "turn_right"):
                sign = 1 if name == "turn_left" else -1
                assert (sign * dyaw).min() > 1.0 and np.hypot(fwd, left).max() < 0.003, rec.clip
            elif name in ("squat_down", "squat_up"):
                sign = -1 if name == "squat_down" else 1
                assert (sign * up).min() > 0.002 and np.abs(dyaw).max() < 0.1, rec.clip
            else:  # standing and reaching: the head only jitters
                assert np.abs(np.stack([fwd, left, up])).max() < 0.001, (rec.clip, name)
                assert np.abs(dyaw).max() < 0.1, (rec.clip, name)
    assert seen == set(MOTION_CLASSES)


@pytest.mark.parametrize("seed", [6, 7])  # reach_left, reach_right (first cycle)
def test_reach_phases_move_the_gripper_out_and_back(seed: int) -> None:
    p = plan(seed, "train", RaycastEgoVideoConfig(**SMALL, sequence_fraction=0.0))
    side = "left" if p.primitive == "reach_left" else "right"
    tr = p.trajectory
    wrist, other = (tr.wrist_left, tr.wrist_right) if side == "left" else (tr.wrist_right, tr.wrist_left)
    dist = np.linalg.norm(wrist - wrist[0], axis=1)
    labels = [ph.label for ph in p.phases for _ in range(ph.n_frames)]
    step = np.diff(dist)
    for t, name in enumerate(labels[:-1]):
        if name == f"reach_{side}_out":
            assert step[t] > 0.005, (t, name)
        elif name == f"reach_{side}_back":
            assert step[t] < -0.005, (t, name)
        else:
            assert abs(step[t]) < 1e-9, (t, name)
    assert dist.max() > 0.25
    assert np.allclose(other, other[0])  # the other arm stays put
    # and the arm shows: the reaching side of the image changes more than the other side
    rec, frames = make_clip(seed, "train", RaycastEgoVideoConfig(height=48, width=48, sequence_fraction=0.0))
    out = [t for t, name in enumerate(rec.frame_labels) if name.endswith("_out")]
    diff = np.abs(frames[out[-1] + 1].astype(float) - frames[out[0]].astype(float)).mean(axis=(0, 2))
    half = len(diff) // 2
    reach_half, other_half = (diff[:half], diff[half:]) if side == "left" else (diff[half:], diff[:half])
    assert reach_half.mean() > 2 * other_half.mean()


def test_speeds_heights_and_lens_lie_outside_the_mujoco_generators_ranges() -> None:
    ego = MotionConfig()
    cfg = RaycastEgoVideoConfig(**SMALL, sequence_fraction=0.0)
    speeds: dict[str, list[float]] = {k: [] for k in ("walk", "sidestep", "turn", "squat", "reach")}
    for j in range(40):
        rng = np.random.default_rng(j)
        body = sample_body(cfg.motion, rng)
        assert body.eye_height < ego.eye_height[0] and np.rad2deg(body.pitch) < ego.camera_pitch_deg[0]
        assert sample_lens(cfg.lens, 32, 32, rng).fovy_deg > ego.fovy_deg[1]
        primary = cfg.primitives[j % len(cfg.primitives)]
        _, phases = plan_clip(primary, body, cfg, rng)
        pose = trajectory(phases, body, cfg, rng).head
        s = head_steps(pose)
        start = 0
        for ph in phases:
            sl = slice(start, min(start + ph.n_frames, len(pose) - 1))
            start += ph.n_frames
            if ph.label == "walk_forward":
                speeds["walk"].append(float(np.median(s["fwd"][sl])) * cfg.fps)
            elif ph.label.startswith("sidestep"):
                speeds["sidestep"].append(float(np.median(np.abs(s["left"][sl]))) * cfg.fps)
            elif ph.label.startswith("turn"):
                speeds["turn"].append(float(np.median(np.abs(s["dyaw"][sl]))) * cfg.fps)
            elif ph.label == "squat_down":
                speeds["squat"].append(ph.params["depth"] * cfg.fps / ph.n_frames)
            elif ph.label.startswith("reach"):
                speeds["reach"].append(ph.n_frames / cfg.fps)
    assert all(speeds.values()), speeds
    assert min(speeds["walk"]) > ego.walk_speed[1]
    assert min(speeds["sidestep"]) > ego.sidestep_speed[1]
    assert min(speeds["turn"]) > ego.turn_rate_deg[1]
    assert min(speeds["squat"]) > ego.squat_speed[1]
    assert max(speeds["reach"]) < ego.reach_seconds[0]


def _in_box(rgb: np.ndarray, hue: tuple, sat: tuple, val: tuple) -> bool:
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    h = h * 360
    lo, hi = hue
    in_hue = lo <= h <= hi or lo <= h + 360 <= hi
    return in_hue and sat[0] <= s <= sat[1] and val[0] <= v <= val[1]


def test_colours_and_pixels_differ_from_the_mujoco_generator() -> None:
    rng = np.random.default_rng(0)
    for fam in FAMILIES + ACCENTS:
        for _ in range(200):
            c = fam.color(rng)
            assert not any(_in_box(c, p.hue, p.sat, p.val) for p in TRAIN_PALETTES + HELDOUT_PALETTES), (
                fam.name
            )

    from lerobot_wbvla.datasets.egovideo import EgoVideoConfig
    from lerobot_wbvla.datasets.egovideo.render import make_clip as ego_clip

    def saturated(frames: np.ndarray) -> float:  # share of pixels with HSV saturation > 0.9
        x = frames.reshape(-1, 3).astype(float)
        return float((((x.max(1) - x.min(1)) / np.maximum(x.max(1), 1)) > 0.9).mean())

    ego_cfg = EgoVideoConfig(height=32, width=32, clip_seconds=0.5)
    ray_cfg = RaycastEgoVideoConfig(height=32, width=32, clip_seconds=0.5)
    ego = np.mean([saturated(ego_clip(s, "train", ego_cfg)[1]) for s in range(4)])
    ray = np.mean([saturated(make_clip(s, "train", ray_cfg)[1]) for s in range(4)])
    assert ray > 3 * ego + 0.005, (ray, ego)


def test_same_seed_same_clip(raycast_root: Path) -> None:
    cfg = RaycastEgoVideoConfig(**SMALL)
    a_rec, a = make_clip(3, "train", cfg)
    b_rec, b = make_clip(3, "train", cfg)
    assert a_rec == b_rec and np.array_equal(a, b)
    c_rec, c = make_clip(3 + 12, "train", cfg)  # same primitive, next cycle: another room and motion
    assert c_rec.primitive == a_rec.primitive and not np.array_equal(a, c)


def test_the_projects_readers_take_the_output_unchanged(raycast_root: Path) -> None:
    records = {r.clip: r for r in read_labels(raycast_root)}
    assert {r.split for r in records.values()} == {"train", "heldout"}
    src = VideoFolderSource(raycast_root)
    assert len(src.clips) == len(records) == 14
    for info in src.clips:
        rec = records[info.source]
        assert info.n_frames == rec.n_frames == 45 and info.split == rec.split
        assert list(info.frame_labels) == rec.frame_labels
    video = decode_video(raycast_root / next(iter(records)))
    assert tuple(video.frames.shape) == (45, 32, 32, 3)
    ds = FramePairDataset.from_video_folder(raycast_root, frame_gap=10)
    labelled = {ds.class_names[i] for i in ds.pairs.labels if i >= 0}
    assert {"walk_forward", "turn_left", "turn_right", "stand_still", "squat_down"} <= labelled


def test_lam_eval_cli_reads_it_with_data_video_root(
    raycast_root: Path, tiny_lam_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lerobot_wbvla.lam import evaluate

    out = tmp_path / "eval"
    argv = [
        "wbvla-lam-eval",
        f"--lam={tiny_lam_dir}",
        f"--data.video_root={raycast_root}",
        f"--data.cache_dir={tmp_path / 'cache'}",
        f"--output_dir={out}",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    evaluate.main()
    report = json.loads((out / "eval_report.json").read_text())
    assert report["probes"]["z_probe"]["accuracy"] >= 0.0
    assert set(report["class_names"]) >= set(MOTION_CLASSES)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"height": 33}, "even"),
        ({"heldout_fraction": 1.0}, "heldout_fraction"),
        ({"primitives": ["jump"]}, "unknown ['jump']"),
        ({"supersample": 0}, "supersample"),
    ],
)
def test_bad_config_is_one_clear_error(change: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        generate(RaycastEgoVideoConfig(out_dir=tmp_path / "x", **{**SMALL, **change}))
    cfg = RaycastEgoVideoConfig(out_dir=tmp_path / "y", **SMALL)
    cfg.motion.walk_speed = (1.3, 0.9)
    with pytest.raises(ValueError, match=r"motion.walk_speed"):
        generate(cfg)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_cli_writes_the_dataset_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "cli"
    args = [
        f"--out_dir={out}",
        "--num_clips=3",
        "--height=32",
        "--width=32",
        "--num_workers=2",
        "--progress=false",
    ]
    cmd = [sys.executable, "-m", "lerobot_wbvla.datasets.raycast_egovideo.generate", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(list((out / "clips").glob("*.mp4"))) == 3 and (out / "contact_sheet.png").is_file()
    summary = json.loads((out / "generator.json").read_text())
    assert summary["generator"] == "raycast_egovideo" and summary["frames"] == 3 * 45
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0] and "--overwrite=true" in err[0]
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "Vertical field of view of the pinhole" in capsys.readouterr().out
