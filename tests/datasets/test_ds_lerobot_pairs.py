"""Frame pairs from the camera of a real (tiny) LeRobotDataset: episode boundaries, decoded content, errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from ds_synthetic import BACKGROUND, FOREGROUND, square_frame, square_x

from lerobot_wbvla.datasets import CameraKeyError, FramePairDataset, LeRobotCameraSource

EPISODE_LENGTHS = [12, 7, 15]
CAMERA = "observation.images.head"


def _square_y(frame: torch.Tensor) -> float:
    mask = frame.float().mean(0) > (BACKGROUND + FOREGROUND) / 2
    return float(torch.nonzero(mask)[:, 0].float().mean()) - 3.5


def _create(root: Path, repo_id: str, use_videos: bool, with_camera: bool = True) -> Path:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    features = {"observation.state": {"dtype": "float32", "shape": (2,), "names": ["episode", "frame"]}}
    if with_camera:
        features[CAMERA] = {
            "dtype": "video" if use_videos else "image",
            "shape": (64, 64, 3),
            "names": ["height", "width", "channels"],
        }
    ds = LeRobotDataset.create(repo_id, fps=30, features=features, root=root, use_videos=use_videos)
    for ep, n in enumerate(EPISODE_LENGTHS):
        for i in range(n):  # episode -> square row (y), frame -> square column (x)
            frame = {"observation.state": np.array([ep, i], np.float32), "task": "walk"}
            if with_camera:
                frame[CAMERA] = square_frame(4 + 2 * i, y=8 + 16 * ep)
            ds.add_frame(frame)
        ds.save_episode()
    ds.finalize()
    return root


@pytest.fixture(scope="module")
def video_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _create(
        tmp_path_factory.mktemp("lerobot") / "tiny_video", "wbvla-tests/tiny-video", use_videos=True
    )


def _check_pairs(ds: FramePairDataset, episodes: list[int]) -> None:
    k = 2
    assert len(ds) == sum(EPISODE_LENGTHS[e] - k for e in episodes)  # no pair crosses an episode end
    seen = set()
    for i in range(len(ds)):
        item = ds[i]
        ep = int(item["source"].removeprefix("episode_"))
        assert ep in episodes and item["k"] == k and item["label"] == -1
        assert item["t"] + k < EPISODE_LENGTHS[ep]
        assert item["frame_t"].dtype == torch.uint8 and item["frame_t"].shape == (3, 64, 64)
        # both frames come from the same episode (square row) and the right frame (square column)
        assert _square_y(item["frame_t"]) == pytest.approx(8 + 16 * ep, abs=0.5)
        assert _square_y(item["frame_tk"]) == pytest.approx(8 + 16 * ep, abs=0.5)
        assert square_x(item["frame_t"]) == pytest.approx(4 + 2 * item["t"], abs=0.5)
        assert square_x(item["frame_tk"]) == pytest.approx(4 + 2 * (item["t"] + k), abs=0.5)
        seen.add((ep, item["t"]))
    assert len(seen) == len(ds)


def test_video_camera_pairs_respect_episode_boundaries(video_dataset: Path) -> None:
    ds = FramePairDataset.from_lerobot(root=video_dataset, camera_key=CAMERA, video_backend="pyav")
    assert [c.source for c in ds.source.clips] == ["episode_000000", "episode_000001", "episode_000002"]
    assert [c.episode_index for c in ds.source.clips] == [0, 1, 2]
    _check_pairs(ds, [0, 1, 2])
    assert ds.source._cache.decodes == 3  # one decode per episode


def test_episode_subset_range_decoding_and_auto_gap(video_dataset: Path) -> None:
    ds = FramePairDataset.from_lerobot(
        repo_id="wbvla-tests/tiny-video",
        root=video_dataset,
        camera_key="head",
        episodes=[2, 1],
        video_backend="pyav",
        decode="range",
        frame_gap="auto",  # 30 fps -> k = 2
    )
    assert ds.source.camera_key == CAMERA
    _check_pairs(ds, [1, 2])
    assert ds.source._cache.decodes == 0
    unordered = ds.source.read_frames(1, [9, 2, 5])  # clip 1 = episode 2; frames come back in the asked order
    assert [square_x(f) for f in unordered] == pytest.approx([4 + 2 * 9, 4 + 2 * 2, 4 + 2 * 5], abs=0.5)


def test_repo_id_from_the_local_lerobot_home() -> None:
    home = Path(os.environ["HF_LEROBOT_HOME"])
    _create(home / "wbvla-tests" / "tiny-home", "wbvla-tests/tiny-home", use_videos=True)
    ds = FramePairDataset.from_lerobot(repo_id="wbvla-tests/tiny-home", video_backend="pyav", stride=3)
    assert len(ds) == sum(len(range(0, n - 2, 3)) for n in EPISODE_LENGTHS)
    assert square_x(ds[1]["frame_t"]) == pytest.approx(4 + 2 * 3, abs=0.5)


def test_image_camera(tmp_path: Path) -> None:
    root = _create(tmp_path / "tiny_images", "wbvla-tests/tiny-images", use_videos=False)
    source = LeRobotCameraSource(root=root, camera_key=CAMERA)
    assert not source.is_video
    _check_pairs(FramePairDataset(source), [0, 1, 2])


def test_bad_camera_key_lists_the_keys(video_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(CameraKeyError) as err:
        FramePairDataset.from_lerobot(root=video_dataset, camera_key="observation.images.left_wrist")
    msg = str(err.value)
    assert "'observation.images.left_wrist'" in msg and "['observation.images.head']" in msg
    assert str(video_dataset) in msg

    no_camera = _create(tmp_path / "no_camera", "wbvla-tests/no-camera", use_videos=True, with_camera=False)
    with pytest.raises(CameraKeyError, match=r"no camera at all .*observation\.state"):
        LeRobotCameraSource(root=no_camera)
    with pytest.raises(FileNotFoundError, match="No LeRobot dataset at"):
        LeRobotCameraSource(root=tmp_path / "nothing_here")
    with pytest.raises(ValueError, match=r"episodes 0\.\.2; asked for \[5\]"):
        LeRobotCameraSource(root=video_dataset, episodes=[0, 5])


def test_gap_longer_than_an_episode(video_dataset: Path) -> None:
    with pytest.raises(ValueError, match=r"episode_000001 has 7 frames, too short for frame gap k=8"):
        FramePairDataset.from_lerobot(root=video_dataset, frame_gap=8, video_backend="pyav")


def test_feature_cache_of_a_lerobot_camera(video_dataset: Path, tmp_path: Path) -> None:
    from lerobot_wbvla.datasets import FeaturePairDataset, FrameTransform, build_feature_cache

    tf = FrameTransform.of_size(16)
    pool = torch.nn.AdaptiveAvgPool2d(2)

    def encoder(x: torch.Tensor) -> torch.Tensor:
        return pool(x).flatten(1)

    source = LeRobotCameraSource(root=video_dataset, video_backend="pyav")
    cache = build_feature_cache(
        source, encoder, tmp_path / "cache", encoder_id="pool2", transform=tf, shard_frames=8, progress=False
    )
    assert cache.n_frames == sum(EPISODE_LENGTHS) and cache.index["source"]["camera_key"] == CAMERA
    frames = FramePairDataset(source, transform=tf)
    feats = FeaturePairDataset(tmp_path / "cache")
    assert len(feats) == len(frames) == sum(n - 2 for n in EPISODE_LENGTHS)
    for i in range(len(feats)):
        a, b = frames[i], feats[i]
        assert (a["source"], a["t"]) == (b["source"], b["t"])
        ref = encoder(torch.stack([a["frame_t"], a["frame_tk"]]))
        torch.testing.assert_close(torch.stack([b["feat_t"], b["feat_tk"]]), ref, rtol=2e-3, atol=2e-3)
