"""The generated dataset: files, decoding, label format, determinism, contact sheet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lerobot_wbvla.datasets.egovideo import MOTION_CLASSES, PRIMITIVES, EgoVideoConfig, read_labels
from lerobot_wbvla.datasets.egovideo.labels import label_runs, pair_label
from lerobot_wbvla.datasets.egovideo.render import make_clip
from lerobot_wbvla.datasets.video import decode_video, probe_video


def test_clips_decode_with_declared_frames_size_and_fps(ego_root: Path, ego_cfg: EgoVideoConfig) -> None:
    records = read_labels(ego_root)
    assert len(records) == ego_cfg.num_clips
    assert sorted(p.name for p in (ego_root / "clips").iterdir()) == sorted(
        Path(r.clip).name for r in records
    )
    for rec in records:
        info = probe_video(ego_root / rec.clip)
        assert (info.n_frames, info.height, info.width) == (rec.n_frames, 64, 64)
        assert info.fps == pytest.approx(24.0)
        assert rec.fps == 24 and rec.n_frames == 48
        frames = decode_video(ego_root / rec.clip, expected_frames=rec.n_frames).frames
        assert tuple(frames.shape) == (48, 64, 64, 3)
        assert frames.float().std() > 10, f"{rec.clip} looks blank"


def test_labels_follow_the_contract(ego_root: Path) -> None:
    lines = (ego_root / "labels.jsonl").read_text().splitlines()
    for line in lines:
        obj = json.loads(line)
        assert {"clip", "fps", "n_frames", "primitive", "frame_labels", "seed", "split"} <= set(obj)
        assert obj["clip"].startswith("clips/") and obj["clip"].endswith(".mp4")
        assert len(obj["frame_labels"]) == obj["n_frames"]
        assert set(obj["frame_labels"]) <= set(MOTION_CLASSES)
        assert obj["split"] in ("train", "heldout")
        assert len(obj["head_pose"]) == obj["n_frames"] and all(len(p) == 6 for p in obj["head_pose"])
        assert label_runs(obj["frame_labels"]) == obj["segments"]
    records = read_labels(ego_root)
    # every clip-level primitive and every motion class occurs; single clips start and end standing still
    assert set(PRIMITIVES) <= {r.primitive for r in records} | {p for r in records for p in r.primitives}
    assert set(MOTION_CLASSES) == {label for r in records for label in r.frame_labels}
    for rec in records:
        if rec.primitive != "sequence":
            expected = [c for c in _phases(rec.primitive)]
            moving = [run[0] for run in rec.segments if run[0] != "stand_still"]
            assert moving == expected, rec.clip
            assert rec.frame_labels[0] == rec.frame_labels[-1] == "stand_still"
        else:
            assert len(rec.primitives) >= 2
    summary = json.loads((ego_root / "generator.json").read_text())
    assert sum(summary["frame_label_counts"].values()) == sum(r.n_frames for r in records)


def _phases(primitive: str) -> list[str]:
    from lerobot_wbvla.datasets.egovideo.labels import PRIMITIVE_PHASES

    return [p for p in PRIMITIVE_PHASES[primitive] if p != "stand_still"]


def test_pair_label_rule() -> None:
    labels = ["stand_still"] * 3 + ["walk_forward"] * 4
    assert pair_label(labels, 0, 3) == "stand_still"
    assert pair_label(labels, 1, 3) is None  # frames 1..3 span a change
    assert pair_label(labels, 3, 3) == "walk_forward"
    with pytest.raises(ValueError, match="outside"):
        pair_label(labels, 5, 3)


def test_same_seed_same_clip_and_mp4_roundtrip(ego_root: Path, ego_cfg: EgoVideoConfig) -> None:
    rec = next(r for r in read_labels(ego_root) if r.primitive == "squat")
    again, frames = make_clip(rec.seed, rec.split, ego_cfg)
    assert again.frame_labels == rec.frame_labels and again.clip == rec.clip
    assert np.allclose(again.head_pose, rec.head_pose, atol=1e-5)
    third, frames3 = make_clip(rec.seed, rec.split, ego_cfg)
    assert np.abs(frames.astype(int) - frames3.astype(int)).mean() < 0.5
    # the mp4 decodes back close to the rendered frames (H.264 at CRF 18)
    decoded = decode_video(ego_root / rec.clip).frames.numpy().astype(int)
    err = np.abs(decoded - frames.astype(int))
    assert err.mean() < 4.0, err.mean()
    # a different seed is a different room
    other, frames_other = make_clip(rec.seed + 1, rec.split, ego_cfg)
    assert np.abs(frames_other.astype(int) - frames.astype(int)).mean() > 10


def test_contact_sheet_written(ego_root: Path) -> None:
    from PIL import Image

    sheet = Image.open(ego_root / "contact_sheet.png")
    assert sheet.width >= 4 * 64 and sheet.height >= 9 * 64  # a row per clip-level primitive
