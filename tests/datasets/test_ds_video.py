"""Video reading: header probe, full and range decoding, the clip LRU, and errors on bad files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
from ds_synthetic import SIZE, square_frame, square_x, write_labels, write_square_video, write_video

from lerobot_wbvla.datasets.video import (
    DecodedClipCache,
    VideoNotFoundError,
    VideoReadError,
    decode_video,
    decode_video_range,
    probe_video,
)
from lerobot_wbvla.datasets.video_folder import VideoFolderSource


@pytest.mark.parametrize("fps", [15, 30, 60])
def test_probe_and_decode_give_fps_count_and_known_motion(tmp_path: Path, fps: int) -> None:
    path = write_square_video(tmp_path / f"v{fps}.mp4", n_frames=20, fps=fps, px_per_s=30)
    info = probe_video(path)
    assert (info.fps, info.n_frames, info.height, info.width) == (fps, 20, SIZE, SIZE)
    video = decode_video(path)
    assert video.frames.dtype == torch.uint8 and video.frames.shape == (20, SIZE, SIZE, 3)
    assert video.fps == fps
    xs = np.array([square_x(f) for f in video.frames])
    np.testing.assert_allclose(xs, 4 + np.round(30 * np.arange(20) / fps), atol=0.3)


def test_range_decode_equals_full_decode(tmp_path: Path) -> None:
    path = write_square_video(tmp_path / "v.mp4", n_frames=30, fps=30)
    full = decode_video(path).frames
    for first, last in [(0, 0), (3, 5), (7, 9), (8, 8), (13, 29), (29, 29)]:
        part = decode_video_range(path, first, last)
        assert torch.equal(part, full[first : last + 1]), (first, last)


def test_clip_cache_decodes_once_and_evicts_least_recent() -> None:
    cache = DecodedClipCache(max_clips=2)
    made = []

    def maker(key: str):
        return lambda: made.append(key) or torch.tensor([len(made)])

    a = cache.get("a", maker("a"))
    assert torch.equal(cache.get("a", maker("a")), a)  # hit: no decode
    cache.get("b", maker("b"))
    cache.get("a", maker("a"))  # a is now the most recent
    cache.get("c", maker("c"))  # evicts b
    assert made == ["a", "b", "c"] and cache.decodes == 3
    cache.get("b", maker("b"))
    assert made == ["a", "b", "c", "b"] and len(cache) == 2


def _assert_names(err: pytest.ExceptionInfo, path: Path, *words: str) -> None:
    msg = str(err.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg.lower(), msg


def test_missing_empty_random_and_truncated_files_raise_errors_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(VideoNotFoundError) as err:
        probe_video(missing)
    _assert_names(err, missing, "not found")
    assert isinstance(err.value, FileNotFoundError)

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoReadError) as err:
        decode_video(empty)
    _assert_names(err, empty, "empty")

    garbage = tmp_path / "random.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    for fn in (probe_video, decode_video):
        with pytest.raises(VideoReadError) as err:
            fn(garbage)
        _assert_names(err, garbage, "not a readable video")

    # moov atom at the end (default mp4): a cut file cannot even be opened
    good = write_square_video(tmp_path / "good.mp4", n_frames=30, fps=30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(VideoReadError) as err:
        decode_video(cut)
    _assert_names(err, cut)

    # moov atom first (faststart): the header promises 40 frames, the data stops early
    rng = np.random.default_rng(1)
    noisy = [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(40)]
    fast = write_video(tmp_path / "fast.mp4", noisy, fps=30, faststart=True)
    cut_fast = tmp_path / "cut_fast.mp4"
    cut_fast.write_bytes(fast.read_bytes()[: int(fast.stat().st_size * 0.6)])
    assert probe_video(cut_fast).n_frames == 40  # the header alone looks fine
    with pytest.raises(VideoReadError) as err:
        decode_video(cut_fast)
    _assert_names(err, cut_fast)
    assert "corrupt" in str(err.value) or "truncated" in str(err.value)

    directory = tmp_path / "adir.mp4"
    directory.mkdir()
    with pytest.raises(VideoReadError) as err:
        probe_video(directory)
    _assert_names(err, directory, "not a file")


def _frame_packet_offsets(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [p.pos for p in container.demux(container.streams.video[0]) if p.size]


def test_video_cut_between_two_frames_decodes_cleanly_and_is_reported_truncated(tmp_path: Path) -> None:
    # A copy or download of a faststart mp4 (header first) interrupted between two frames: the header still
    # promises 40 frames and the decoder meets a clean end of file after 25, no FFmpeg error. Only comparing the
    # decoded count with the expected one catches it, in decode_video and in the LAM's video folder source.
    full = write_video(
        tmp_path / "full.mp4", [square_frame(4 + i) for i in range(40)], fps=30, faststart=True
    )
    cut = tmp_path / "ego" / "clips" / "000000.mp4"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(full.read_bytes()[: _frame_packet_offsets(full)[25]])
    assert probe_video(cut).n_frames == 40  # the header alone looks fine
    with av.open(str(cut)) as container:  # and FFmpeg decodes the rest without complaint
        assert sum(1 for _ in container.decode(container.streams.video[0])) == 25

    with pytest.raises(VideoReadError) as err:
        decode_video(cut)
    _assert_names(err, cut)
    assert "is truncated: expected 40 frames, decoded only 25. Re-generate or re-download it." in str(
        err.value
    )

    labels = ["walk_forward"] * 40  # the labels file agrees with the header: the cut shows only when decoding
    write_labels(tmp_path / "ego", {"clips/000000.mp4": (labels, "train")})
    source = VideoFolderSource(tmp_path / "ego")
    with pytest.raises(VideoReadError, match="truncated: expected 40 frames, decoded only 25") as err:
        source.read_frames(0, [0, 1])
    _assert_names(err, cut)

    # A labels file (or any caller) expecting more frames than an intact video holds: the same error.
    with pytest.raises(VideoReadError, match="truncated: expected 45 frames, decoded only 40"):
        decode_video(full, expected_frames=45)
    assert decode_video(full, expected_frames=40).n_frames == 40


def test_decoded_frames_are_the_written_pixels(tmp_path: Path) -> None:
    frames = [square_frame(4 + 3 * i) for i in range(10)]
    video = decode_video(write_video(tmp_path / "v.mp4", frames, fps=30)).frames
    err = (video.int() - torch.from_numpy(np.stack(frames)).int()).abs().float()
    assert err.mean() < 3.0  # near-lossless H.264 of flat colours
