"""`wbvla-egovideo-to-lerobot`: generated egocentric clips -> a LeRobot v3 dataset for latent pretraining.

The dataset is checked through LeRobot's own reader (what `lerobot-train` will read): one episode per clip
with the clip's frame count, fps and instruction, no `action`, image stats; and against the source clips and
their labels. Bad input stops before anything is written, with one line naming the problem.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lerobot_wbvla.datasets.egovideo.labels import MOTION_CLASSES, PRIMITIVES, ClipRecord, read_labels
from lerobot_wbvla.policies.wbvla.video_dataset import (
    IMAGE_KEY,
    MOTION_TASKS,
    PRIMITIVE_TASKS,
    PROG,
    SOURCE_META_FILE,
    EgoVideoConvertError,
    EgoVideoToLeRobotConfig,
    clip_task,
    convert_egovideo,
    main,
)

REPO_ID = "local/ego"


@pytest.fixture(scope="module")
def converted(lam_ego_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ego_lerobot") / "ds"
    return convert_egovideo(
        EgoVideoToLeRobotConfig(video_root=lam_ego_root, repo_id=REPO_ID, root=root, split="all")
    )


def _load(root: Path):
    from lerobot.datasets import LeRobotDataset

    return LeRobotDataset(REPO_ID, root=root, video_backend="pyav")


def _record(primitive: str, primitives: list[str], frame_labels: list[str]) -> ClipRecord:
    return ClipRecord(
        clip="clips/x.mp4",
        fps=24,
        n_frames=len(frame_labels),
        primitive=primitive,
        frame_labels=frame_labels,
        seed=0,
        split="train",
        primitives=primitives,
    )


def _leftovers(root: Path) -> list[Path]:
    """Temporary folders of a conversion next to `root` (there must be none once it has ended)."""
    return sorted(root.parent.glob(f".{root.name}.*"))


def test_task_strings_cover_every_class_and_primitive() -> None:
    assert set(PRIMITIVE_TASKS) == set(PRIMITIVES) and set(MOTION_TASKS) == set(MOTION_CLASSES)
    assert PRIMITIVE_TASKS["walk_forward"] == "walk forward"
    assert PRIMITIVE_TASKS["turn_left"] == "turn left"
    assert MOTION_TASKS["reach_right_out"] == "reach out with the right arm"
    still = ["stand_still"] * 3
    squat = still + ["squat_down"] * 4 + ["squat_up"] * 4 + still
    assert clip_task(_record("squat", ["squat"], squat)) == "squat down and stand back up"
    # A contract-only record (no `primitives`): its `primitive`.
    assert clip_task(_record("reach_right", [], still + ["reach_right_out"] * 3)) == (
        "reach out with the right arm and bring it back"
    )
    seq = still + ["turn_left"] * 5 + ["walk_forward"] * 5 + still
    assert (
        clip_task(_record("sequence", ["turn_left", "walk_forward"], seq)) == "turn left, then walk forward"
    )
    # Primitives unknown: from the frame-label runs, without the stand-still padding.
    assert clip_task(_record("sequence", [], squat)) == "squat down, then stand back up"
    assert clip_task(_record("sequence", ["jump"], seq)) == "turn left, then walk forward"
    assert clip_task(_record("sequence", [], still)) == "stand still"


def test_converts_generated_clips(lam_ego_root: Path, converted: Path) -> None:
    records = read_labels(lam_ego_root)
    ds = _load(converted)
    meta = ds.meta
    assert "action" not in meta.features
    assert meta.features[IMAGE_KEY]["dtype"] == "video"
    assert tuple(meta.features[IMAGE_KEY]["shape"]) == (48, 48, 3)
    assert meta.total_episodes == len(records) == 12
    assert meta.fps == records[0].fps == 24
    assert meta.total_frames == sum(r.n_frames for r in records)
    episodes = meta.episodes
    assert list(episodes["length"]) == [r.n_frames for r in records]
    assert [t for t in episodes["tasks"]] == [[clip_task(r)] for r in records]
    assert {r.primitive for r in records} <= set(PRIMITIVE_TASKS)
    assert [t[0] for t in episodes["tasks"]] == [PRIMITIVE_TASKS[r.primitive] for r in records]
    stats = meta.stats[IMAGE_KEY]
    assert tuple(stats["mean"].shape) == (3, 1, 1) and float(stats["std"].min()) > 0
    assert 0.0 <= float(stats["min"].min()) <= float(stats["max"].max()) <= 1.0

    # The frames are the clip's frames, in order (AV1 at CRF 30 on 48 px frames: a few levels of 255 apart).
    from lerobot_wbvla.datasets.video import decode_video

    ep = 5
    source = decode_video(lam_ego_root / records[ep].clip).frames
    start = int(episodes["dataset_from_index"][ep])
    for t in (0, records[ep].n_frames // 2, records[ep].n_frames - 1):
        item = ds[start + t]
        assert int(item["frame_index"]) == t and item["task"] == clip_task(records[ep])
        want = source[t].permute(2, 0, 1).float() / 255
        assert (item[IMAGE_KEY] - want).abs().mean() < 8 / 255

    src = json.loads((converted / "meta" / SOURCE_META_FILE).read_text())
    assert src["video_root"] == str(lam_ego_root.resolve()) and src["primitive_tasks"] == PRIMITIVE_TASKS
    assert [e["clip"] for e in src["episodes"]] == [r.clip for r in records]
    assert [e["split"] for e in src["episodes"]] == [r.split for r in records]
    assert not _leftovers(converted) and not (converted / "images").exists()
    # SVT-AV1 (run as root) leaves the encoding thread on SCHED_FIFO unless the converter moves it back.
    if hasattr(os, "sched_getscheduler"):
        policies = {os.sched_getscheduler(int(tid)) for tid in os.listdir("/proc/self/task")}
        assert not policies & {os.SCHED_FIFO, os.SCHED_RR}


def test_cli_split_resize_max_clips_and_overwrite(
    lam_ego_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    heldout = [r for r in read_labels(lam_ego_root) if r.split == "heldout"]
    assert len(heldout) >= 2
    root = tmp_path / "out" / "ds"
    args = [f"--video_root={lam_ego_root}", f"--repo_id={REPO_ID}", f"--root={root}", "--split=heldout"]
    main([*args, "--image_size=32", "--max_clips=2"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"root": str(root)}
    meta = _load(root).meta
    assert tuple(meta.features[IMAGE_KEY]["shape"]) == (32, 32, 3) and meta.total_episodes == 2
    assert list(meta.episodes["tasks"]) == [[clip_task(r)] for r in heldout[:2]]
    assert tuple(_load(root)[0][IMAGE_KEY].shape) == (3, 32, 32)

    with pytest.raises(SystemExit) as exit_info:  # an existing dataset is kept without --overwrite
        main([*args, "--max_clips=1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"{PROG}: error: {root} already exists") and "--overwrite=true" in err[-1]
    assert _load(root).meta.total_episodes == 2

    main([*args, "--max_clips=1", "--overwrite=true"])
    assert _load(root).meta.total_episodes == 1 and not _leftovers(root)

    other = tmp_path / "not_a_dataset"
    (other / "keep.txt").parent.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(EgoVideoConvertError, match="not a LeRobot dataset"):
        convert_egovideo(
            EgoVideoToLeRobotConfig(video_root=lam_ego_root, root=other, overwrite=True, max_clips=1)
        )
    assert (other / "keep.txt").read_text() == "mine"


def test_bad_video_root_leaves_nothing(
    lam_ego_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = tmp_path / "out" / "ds"

    def fails(video_root: Path, match: str) -> None:
        with pytest.raises(SystemExit) as exit_info:
            main([f"--video_root={video_root}", f"--root={root}", "--split=all"])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"{PROG}: error: ") and match in err[0], err
        assert not root.exists() and not (root.parent.exists() and _leftovers(root))

    fails(tmp_path / "missing", "is not a folder")
    (tmp_path / "empty").mkdir()
    fails(tmp_path / "empty", "holds no labels.jsonl")

    broken = tmp_path / "broken"
    shutil.copytree(lam_ego_root, broken)
    clip = broken / read_labels(broken)[3].clip
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])  # truncated
    fails(broken, clip.name)

    shutil.copytree(lam_ego_root, broken, dirs_exist_ok=True)
    clip.unlink()
    fails(broken, "not found")

    with pytest.raises(EgoVideoConvertError, match="--split='val'"):
        EgoVideoToLeRobotConfig(video_root=lam_ego_root, split="val")


def test_failure_mid_conversion_leaves_nothing(
    lam_ego_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A clip that fails to decode after some episodes were written: no dataset, no temporary folder."""
    from lerobot_wbvla.datasets.video import VideoReadError
    from lerobot_wbvla.datasets.video_folder import VideoFolderSource

    read_clip = VideoFolderSource.read_clip
    calls = []

    def failing_read_clip(self: VideoFolderSource, clip_index: int):
        calls.append(clip_index)
        if len(calls) == 3:
            raise VideoReadError(
                f"Video {self.paths[clip_index]} is corrupt: decoding failed after 7 frames."
            )
        return read_clip(self, clip_index)

    monkeypatch.setattr(VideoFolderSource, "read_clip", failing_read_clip)
    root = tmp_path / "new" / "deeper" / "ds"
    with pytest.raises(SystemExit):
        main([f"--video_root={lam_ego_root}", f"--root={root}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"{PROG}: error: --video_root=") and "is corrupt" in err[-1]
    assert len(calls) == 3 and not (tmp_path / "new").exists()
