"""A frame source: a list of clips (video files or dataset episodes) and a way to read their frames.

Pairs are built per clip, so a clip is the unit that pairs never cross (one video file, one LeRobot episode).
`FrameSource` does the decoding policy once for every kind of source:
- decode="clip": decode a whole clip on first use and keep the last few in an LRU (`DecodedClipCache`); best when
  pairs are read clip by clip (feature-cache building, short clips);
- decode="range": decode only the frames asked (seek + decode forward), best for random access to long clips.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from lerobot_wbvla.datasets.video import DecodedClipCache

DECODE_MODES = ("clip", "range")


@dataclass(frozen=True)
class ClipInfo:
    """What pair indexing needs to know about one clip."""

    source: str  # video path relative to the folder root, or "episode_000003" for a LeRobot episode
    n_frames: int
    fps: float
    frame_labels: tuple[str, ...] | None = None  # per-frame motion labels (labels.jsonl), if any
    split: str | None = None  # "train" / "heldout" from labels.jsonl, if any
    episode_index: int | None = None  # LeRobot episode index, for dataset sources

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_frames": self.n_frames,
            "fps": self.fps,
            "frame_labels": list(self.frame_labels) if self.frame_labels is not None else None,
            "split": self.split,
            "episode_index": self.episode_index,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClipInfo:
        labels = d.get("frame_labels")
        return cls(
            source=d["source"],
            n_frames=int(d["n_frames"]),
            fps=float(d["fps"]),
            frame_labels=tuple(labels) if labels is not None else None,
            split=d.get("split"),
            episode_index=d.get("episode_index"),
        )


class FrameSource(ABC):
    """Clips plus frame reading. Subclasses fill `self.clips` and implement the two decoders."""

    def __init__(self, decode: str = "clip", max_cached_clips: int = 4):
        if decode not in DECODE_MODES:
            raise ValueError(f"decode must be one of {DECODE_MODES}, got {decode!r}.")
        self.decode = decode
        self.max_cached_clips = max_cached_clips
        self.clips: list[ClipInfo] = []
        self._cache = DecodedClipCache(max_cached_clips)

    @abstractmethod
    def _decode_clip(self, clip_index: int) -> torch.Tensor:
        """All frames of a clip, uint8 (T, 3, H, W)."""

    @abstractmethod
    def _decode_frames(self, clip_index: int, frame_indices: Sequence[int]) -> torch.Tensor:
        """Only the given frames of a clip, uint8 (N, 3, H, W), in the given order."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON-able description (kind, root, keys) stored in feature-cache indices."""

    def read_frames(self, clip_index: int, frame_indices: Sequence[int]) -> torch.Tensor:
        """Frames `frame_indices` of clip `clip_index` as uint8 (N, 3, H, W)."""
        clip = self.clips[clip_index]
        idx = [int(i) for i in frame_indices]
        bad = [i for i in idx if not 0 <= i < clip.n_frames]
        if bad:
            raise IndexError(f"Frames {bad[:5]} are outside clip {clip.source} ({clip.n_frames} frames).")
        if self.decode == "clip" or clip_index in self._cache._clips:
            frames = self._cache.get(clip_index, lambda: self._decode_clip(clip_index))
            if frames.shape[0] != clip.n_frames:
                raise RuntimeError(
                    f"Clip {clip.source} decoded to {frames.shape[0]} frames, its index says {clip.n_frames}."
                )
            # index_select: advanced indexing of a channels-first view of uint8 frames is ~1000x slower
            return frames.index_select(0, torch.as_tensor(idx, dtype=torch.long))
        return self._decode_frames(clip_index, idx)

    def read_clip(self, clip_index: int) -> torch.Tensor:
        """Every frame of a clip, uint8 (T, 3, H, W) (through the clip LRU)."""
        return self.read_frames(clip_index, range(self.clips[clip_index].n_frames))

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers get an empty LRU, not a copy of decoded clips.
        state = self.__dict__.copy()
        state["_cache"] = DecodedClipCache(self.max_cached_clips)
        return state
