"""Frame pairs from a video folder: indexing, labels from labels.jsonl, splits, auto frame gap, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ds_synthetic import CLIP_LABELS, square_x, write_labels, write_square_video

from lerobot_wbvla.datasets import (
    MOTION_CLASSES,
    FrameGapError,
    FramePairDataset,
    FrameTransform,
    PairIndex,
    pair_label,
    resolve_frame_gap,
)


def test_every_pair_and_its_label_from_labels_jsonl(ego_root: Path) -> None:
    ds = FramePairDataset.from_video_folder(ego_root, frame_gap=2)
    assert ds.class_names == list(MOTION_CLASSES)
    assert len(ds) == (24 - 2) + (24 - 2) + (20 - 2)
    seen = []
    for i in range(len(ds)):
        item = ds[i]
        labels, _ = CLIP_LABELS[item["source"]]
        expected = pair_label(labels, item["t"], 2)
        assert item["label"] == (MOTION_CLASSES.index(expected) if expected is not None else -1)
        assert (
            item["k"] == 2 and item["frame_t"].dtype == torch.uint8 and item["frame_t"].shape == (3, 64, 64)
        )
        # the square moves 30 px/s at 30 fps: 2 px over a gap of 2 frames
        assert square_x(item["frame_tk"]) - square_x(item["frame_t"]) == pytest.approx(2, abs=0.3)
        assert square_x(item["frame_t"]) == pytest.approx(4 + item["t"], abs=0.3)
        seen.append((item["source"], item["t"]))
    assert seen[:3] == [("clips/000000.mp4", 0), ("clips/000000.mp4", 1), ("clips/000000.mp4", 2)]
    assert len(set(seen)) == len(ds)
    # hand-checked: clip 0 is stand_still x6 then walk_forward: t=4 -> stand_still, t=5 spans the change
    by_key = {(ds[i]["source"], ds[i]["t"]): ds[i]["label"] for i in range(22)}
    stand, walk = MOTION_CLASSES.index("stand_still"), MOTION_CLASSES.index("walk_forward")
    assert by_key[("clips/000000.mp4", 4)] == stand and by_key[("clips/000000.mp4", 5)] == -1
    assert by_key[("clips/000000.mp4", 6)] == walk
    assert torch.equal(ds.labels, torch.tensor([ds[i]["label"] for i in range(len(ds))]))


def test_split_filter_and_stride(ego_root: Path) -> None:
    train = FramePairDataset.from_video_folder(ego_root, split="train")
    heldout = FramePairDataset.from_video_folder(ego_root, split="heldout")
    assert {train[i]["source"] for i in range(len(train))} == {"clips/000000.mp4", "clips/000001.mp4"}
    assert {heldout[i]["source"] for i in range(len(heldout))} == {"clips/000002.mp4"}
    assert len(train) == 44 and len(heldout) == 18
    strided = FramePairDataset.from_video_folder(ego_root, split="heldout", stride=5)
    assert [strided[i]["t"] for i in range(len(strided))] == [0, 5, 10, 15]
    with pytest.raises(ValueError, match="split must be one of"):
        FramePairDataset.from_video_folder(ego_root, split="test")


def test_nested_folder_without_labels(tmp_path: Path) -> None:
    root = tmp_path / "ego4d"
    write_square_video(root / "p01" / "day1" / "a.mp4", 10, fps=30)
    write_square_video(root / "p01" / "b.MP4", 12, fps=30)
    write_square_video(root / "p02" / "c.mp4", 8, fps=30)
    (root / "p02" / "notes.txt").write_text("not a video")
    ds = FramePairDataset.from_video_folder(root, stride=2)
    assert [c.source for c in ds.source.clips] == ["p01/b.MP4", "p01/day1/a.mp4", "p02/c.mp4"]
    assert len(ds) == len(range(0, 10, 2)) + len(range(0, 8, 2)) + len(range(0, 6, 2))
    assert all(ds[i]["label"] == -1 for i in range(len(ds)))
    with pytest.raises(ValueError, match="no clip has a split"):
        FramePairDataset.from_video_folder(root, split="train")


def test_auto_frame_gap_keeps_the_motion_per_pair_across_fps(tmp_path: Path) -> None:
    assert [resolve_frame_gap("auto", fps) for fps in (15, 30, 60)] == [1, 2, 4]
    assert [resolve_frame_gap("auto", fps, target_offset_s=0.1) for fps in (15, 30, 60)] == [2, 3, 6]
    assert resolve_frame_gap(3, 60) == 3
    root = tmp_path / "fps"
    for fps in (15, 30, 60):  # 60 px/s: 4, 2, 1 px per frame; 0.8 s each
        write_square_video(root / f"{fps}.mp4", int(0.8 * fps), fps=fps, px_per_s=60)
    auto = FramePairDataset.from_video_folder(root, frame_gap="auto")
    assert {c.source: k for c, k in zip(auto.source.clips, auto.pairs.gaps.values(), strict=True)} == {
        "15.mp4": 1,
        "30.mp4": 2,
        "60.mp4": 4,
    }
    motions = {}
    for i in range(0, len(auto), 3):
        item = auto[i]
        motions.setdefault(item["source"], []).append(square_x(item["frame_tk"]) - square_x(item["frame_t"]))
    for source, m in motions.items():
        assert np.mean(m) == pytest.approx(4.0, abs=0.3), source  # same 1/15 s of motion at every fps
    fixed = FramePairDataset.from_video_folder(root, frame_gap=2)
    item60 = next(fixed[i] for i in range(len(fixed)) if fixed[i]["source"] == "60.mp4")
    assert square_x(item60["frame_tk"]) - square_x(item60["frame_t"]) == pytest.approx(2.0, abs=0.3)  # half


def test_transformed_items_and_range_decoding_agree(ego_root: Path) -> None:
    tf = FrameTransform.of_size(32)
    by_clip = FramePairDataset.from_video_folder(ego_root, transform=tf, stride=4)
    by_range = FramePairDataset.from_video_folder(ego_root, transform=tf, stride=4, decode="range")
    for i in range(len(by_clip)):
        a, b = by_clip[i], by_range[i]
        assert a["frame_t"].shape == (3, 32, 32) and a["frame_t"].dtype == torch.float32
        torch.testing.assert_close(a["frame_t"], b["frame_t"])
        torch.testing.assert_close(a["frame_tk"], b["frame_tk"])
    assert by_clip.source._cache.decodes == 3  # one decode per clip
    assert by_range.source._cache.decodes == 0


def test_dataloader_with_workers(ego_root: Path) -> None:
    ds = FramePairDataset.from_video_folder(ego_root, stride=2)
    loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=2, shuffle=True)
    count, labels = 0, []
    for batch in loader:
        assert batch["frame_t"].shape[1:] == (3, 64, 64)
        count += len(batch["label"])
        labels += batch["label"].tolist()
    assert count == len(ds) and sorted(labels) == sorted(ds.labels.tolist())


def test_errors_name_the_problem(tmp_path: Path, ego_root: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"No videos \(\.mp4\) found under .*empty"):
        FramePairDataset.from_video_folder(empty)
    with pytest.raises(FileNotFoundError, match="not found"):
        FramePairDataset.from_video_folder(tmp_path / "missing")

    with pytest.raises(FrameGapError) as err:
        FramePairDataset.from_video_folder(ego_root, frame_gap=22)
    msg = str(err.value)
    assert "clips/000002.mp4" in msg and "20 frames" in msg and "k=22" in msg
    with pytest.warns(UserWarning, match="clips/000002.mp4"):
        skipping = FramePairDataset.from_video_folder(ego_root, frame_gap=22, on_short_clip="skip")
    assert len(skipping) == 2 * (24 - 22)
    for bad in ("fast", 0, -2, 1.5):
        with pytest.raises(ValueError, match="frame_gap must be"):
            resolve_frame_gap(bad, 30)

    # labels.jsonl: a listed clip missing on disk, a length mismatch, broken JSON
    labels = (ego_root / "labels.jsonl").read_text().splitlines()
    (ego_root / "clips" / "000001.mp4").rename(ego_root / "moved.mp4")
    with pytest.raises(FileNotFoundError, match="clips/000001.mp4"):
        FramePairDataset.from_video_folder(ego_root)
    (ego_root / "moved.mp4").rename(ego_root / "clips" / "000001.mp4")
    row = json.loads(labels[0])
    row["n_frames"], row["frame_labels"] = 25, row["frame_labels"] + ["stand_still"]
    (ego_root / "labels.jsonl").write_text("\n".join([json.dumps(row), *labels[1:]]))
    with pytest.raises(ValueError, match=r"n_frames=25.*holds 24 frames"):
        FramePairDataset.from_video_folder(ego_root)
    (ego_root / "labels.jsonl").write_text("\n".join([labels[0], "{not json", *labels[2:]]))
    with pytest.raises(ValueError, match=r"labels.jsonl:2: not valid JSON"):
        FramePairDataset.from_video_folder(ego_root)
    row = json.loads(labels[0])
    row["frame_labels"] = row["frame_labels"][:-1]  # 23 labels for 24 frames
    (ego_root / "labels.jsonl").write_text("\n".join([*labels[1:], json.dumps(row)]))
    with pytest.raises(
        ValueError, match=r"labels.jsonl:3: clip clips/000000.mp4 has 23 frame labels but n_frames=24"
    ):
        FramePairDataset.from_video_folder(ego_root)
    write_labels(ego_root, {"clips/000000.mp4": (["stand_still"] * 24, "validation")})
    with pytest.raises(ValueError, match="split='validation'; expected 'train' or 'heldout'"):
        FramePairDataset.from_video_folder(ego_root)


def test_pair_index_labels_match_the_reference_rule() -> None:
    from lerobot_wbvla.datasets.clips import ClipInfo

    rng = np.random.default_rng(0)
    names = list(MOTION_CLASSES)
    labels = tuple(np.repeat(rng.choice(names, 30), rng.integers(1, 6, 30)).tolist())
    clip = ClipInfo("c", len(labels), 30.0, frame_labels=labels)
    for k in (1, 2, 3, 5):
        index = PairIndex([clip], frame_gap=k)
        expected = [pair_label(labels, t, k) for t in range(len(labels) - k)]
        assert index.labels.tolist() == [names.index(e) if e is not None else -1 for e in expected]
    extra = ClipInfo("d", 4, 30.0, frame_labels=("jump", "jump", "stand_still", "stand_still"))
    index = PairIndex([extra], frame_gap=2)
    assert index.class_names[-1] == "jump" and index.labels.tolist() == [
        len(names),
        -1,
    ]  # (jump, jump), (jump, stand_still)
