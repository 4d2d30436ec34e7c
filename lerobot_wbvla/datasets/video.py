"""Video files -> uint8 frames, with PyAV.

The LAM reads many short clips (egocentric video, robot episodes) many times, so this module offers:
- `probe_video`: the header facts (fps, frame count, size) without decoding, to build pair indices cheaply;
- `decode_video`: every frame of a file as one uint8 (T, H, W, 3) tensor;
- `decode_video_range`: only frames [first, last] (seek to the keyframe before, decode forward), for random
  access into long videos;
- `DecodedClipCache`: a small LRU of decoded clips, so that the pairs of one clip cost one decode.
Every failure raises `VideoReadError` naming the file (missing, empty, not a video, truncated/corrupt).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

# A decoded clip larger than this is refused: decode a range instead, or cut the video into clips.
DEFAULT_MAX_DECODED_BYTES = 8 * 1024**3


class VideoReadError(RuntimeError):
    """A video file cannot be read; the message names the file and what to do."""


class VideoNotFoundError(VideoReadError, FileNotFoundError):
    """The video file does not exist."""


@dataclass(frozen=True)
class VideoInfo:
    """Header facts of a video file (no decoding)."""

    path: Path
    fps: float
    n_frames: int
    height: int
    width: int


@dataclass(frozen=True)
class DecodedVideo:
    """All frames of a clip: `frames` is uint8 (T, H, W, 3) RGB."""

    frames: torch.Tensor
    fps: float

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise VideoNotFoundError(f"Video file not found: {path}")
    if not path.is_file():
        raise VideoReadError(f"Video path is not a file: {path}")
    if path.stat().st_size == 0:
        raise VideoReadError(f"Video file is empty (0 bytes): {path}. Re-generate or re-download it.")


def _open(path: Path) -> av.container.InputContainer:
    _check_exists(path)
    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        raise VideoReadError(
            f"Cannot open video {path}: {e}. The file is not a readable video (corrupt, truncated or another "
            "format); re-generate or re-download it."
        ) from e
    if not container.streams.video:
        container.close()
        raise VideoReadError(f"File {path} has no video stream.")
    return container


def _stream_fps(stream: av.video.stream.VideoStream, path: Path) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or float(rate) <= 0:
        raise VideoReadError(f"Video {path} declares no frame rate; cannot index its frames in time.")
    return float(Fraction(rate))


def probe_video(path: str | Path) -> VideoInfo:
    """Read fps, frame count and size from the header of `path` (counts packets if the header has no count)."""
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = _stream_fps(stream, path)
        n_frames = int(stream.frames or 0)
        if n_frames <= 0:
            try:
                n_frames = sum(1 for packet in container.demux(stream) if packet.size > 0)
            except av.FFmpegError as e:
                raise VideoReadError(
                    f"Cannot read the packets of video {path}: {e}. The file is corrupt."
                ) from e
        height, width = int(stream.codec_context.height), int(stream.codec_context.width)
    if n_frames <= 0:
        raise VideoReadError(f"Video {path} holds no frames.")
    return VideoInfo(path=path, fps=fps, n_frames=n_frames, height=height, width=width)


def _frame_rgb(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24")


def decode_video(
    path: str | Path,
    expected_frames: int | None = None,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> DecodedVideo:
    """Decode every frame of `path` into a uint8 (T, H, W, 3) tensor.

    `expected_frames` (e.g. from the header or a labels file): fewer decoded frames means the file is truncated,
    which is an error here rather than silently shorter clips.
    """
    path = Path(path)
    frames: list[np.ndarray] = []
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = _stream_fps(stream, path)
        header_frames = int(stream.frames or 0)
        frame_bytes = int(stream.codec_context.height) * int(stream.codec_context.width) * 3
        if header_frames * frame_bytes > max_decoded_bytes:
            raise VideoReadError(
                f"Video {path} would take {header_frames * frame_bytes / 1024**3:.1f} GiB decoded "
                f"(> {max_decoded_bytes / 1024**3:.1f} GiB): cut it into shorter clips (e.g. `ffmpeg -f segment`) "
                "or use range decoding."
            )
        try:
            for frame in container.decode(stream):
                frames.append(_frame_rgb(frame))
        except av.FFmpegError as e:
            raise VideoReadError(
                f"Video {path} is corrupt: decoding failed after {len(frames)} frames ({e}). "
                "Re-generate or re-download it."
            ) from e
    expected = expected_frames if expected_frames is not None else header_frames
    if not frames:
        raise VideoReadError(f"Video {path} decoded to no frames: the file is truncated or corrupt.")
    if expected and len(frames) < expected:
        raise VideoReadError(
            f"Video {path} is truncated: expected {expected} frames, decoded only {len(frames)}. "
            "Re-generate or re-download it."
        )
    if expected and len(frames) > expected:
        frames = frames[:expected]
    return DecodedVideo(frames=torch.from_numpy(np.stack(frames)), fps=fps)


def decode_video_range(path: str | Path, first: int, last: int) -> torch.Tensor:
    """Decode frames `first..last` (inclusive) of a constant-frame-rate video as uint8 (last-first+1, H, W, 3).

    Seeks to the keyframe at or before `first` and decodes forward; frame numbers come from presentation
    timestamps and the stream's frame rate, so this is exact for constant-frame-rate files (all mp4 written by
    this project, LeRobot and the egovideo generator).
    """
    path = Path(path)
    if first < 0 or last < first:
        raise ValueError(f"Bad frame range [{first}, {last}] for video {path}.")
    wanted = last - first + 1
    out: list[np.ndarray | None] = [None] * wanted
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = _stream_fps(stream, path)
        time_base = stream.time_base
        start_pts = stream.start_time or 0

        def index_of(pts: int) -> int:
            return int(round(float((pts - start_pts) * time_base) * fps))

        target_pts = start_pts + int(round(first / fps / float(time_base)))
        try:
            container.seek(max(start_pts, target_pts - 1), stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                i = index_of(frame.pts)
                if i < first:
                    continue
                if i > last:
                    break
                out[i - first] = _frame_rgb(frame)
                if i == last:
                    break
        except av.FFmpegError as e:
            raise VideoReadError(
                f"Video {path} is corrupt: decoding frames [{first}, {last}] failed ({e})."
            ) from e
    missing = [first + j for j, f in enumerate(out) if f is None]
    if missing:
        raise VideoReadError(
            f"Video {path}: frames {missing[:5]}{'...' if len(missing) > 5 else ''} could not be decoded "
            f"(asked [{first}, {last}]); the file is truncated, corrupt or has a variable frame rate."
        )
    return torch.from_numpy(np.stack(out))


class DecodedClipCache:
    """LRU of decoded clips (uint8 tensors), keyed by any hashable clip key.

    Why: a clip yields many pairs, and decoding it once for all of them is far cheaper than seeking per pair.
    Each DataLoader worker holds its own copy (nothing is shared), so keep `max_clips` small.
    """

    def __init__(self, max_clips: int = 4):
        if max_clips < 0:
            raise ValueError(f"max_clips must be >= 0, got {max_clips}")
        self.max_clips = max_clips
        self._clips: OrderedDict[Hashable, torch.Tensor] = OrderedDict()
        self.decodes = 0  # number of decodes done (for tests and progress reporting)

    def get(self, key: Hashable, decode: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Return the cached clip for `key`, calling `decode()` (and caching its result) on a miss."""
        if key in self._clips:
            self._clips.move_to_end(key)
            return self._clips[key]
        clip = decode()
        self.decodes += 1
        if self.max_clips > 0:
            self._clips[key] = clip
            while len(self._clips) > self.max_clips:
                self._clips.popitem(last=False)
        return clip

    def clear(self) -> None:
        self._clips.clear()

    def __len__(self) -> int:
        return len(self._clips)
