"""Which (o_t, o_{t+k}) pairs a set of clips yields: frame gap per clip, stride, split filter and pair labels.

One implementation for every consumer: pairs of decoded frames (`FramePairDataset`) and pairs of cached features
(`FeaturePairDataset`) both index through `PairIndex`, so a cache trains on exactly the pairs video would give.

Frame gap: an int k (the article uses 2), or "auto", which picks k = round(fps * target_offset_s) per clip. With
"auto", 60 fps video gets k = 4 where 30 fps gets 2: the same motion per pair whatever the frame rate (a fixed k
silently halves the motion on 60 fps video; UniVLA issue #62 is about this mismatch).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lerobot_wbvla.datasets.clips import ClipInfo
from lerobot_wbvla.datasets.labels import NO_LABEL, SPLITS, class_names_for

DEFAULT_FRAME_GAP = 2  # the article's frame_gap
DEFAULT_TARGET_OFFSET_S = 2 / 30  # "auto" default: 2 frames at 30 fps (~0.067 s)
SHORT_CLIP_POLICIES = ("error", "skip")


class FrameGapError(ValueError):
    """A clip is too short for the frame gap; the message names the clip, its length and the gap."""


def resolve_frame_gap(
    frame_gap: int | str, fps: float, target_offset_s: float = DEFAULT_TARGET_OFFSET_S
) -> int:
    """The k of a clip: `frame_gap` itself when an int, else (for "auto") round(fps * target_offset_s), >= 1."""
    if isinstance(frame_gap, str):
        if frame_gap != "auto":
            raise ValueError(f"frame_gap must be a positive int or 'auto', got {frame_gap!r}.")
        if target_offset_s <= 0:
            raise ValueError(f"target_offset_s must be > 0, got {target_offset_s}.")
        if fps <= 0:
            raise ValueError(f"'auto' frame gap needs a positive fps, got {fps}.")
        return max(1, int(round(fps * target_offset_s)))
    if isinstance(frame_gap, bool) or int(frame_gap) != frame_gap or frame_gap < 1:
        raise ValueError(f"frame_gap must be a positive int or 'auto', got {frame_gap!r}.")
    return int(frame_gap)


@dataclass(frozen=True)
class FramePair:
    """One pair: frames t and t+k of clip `clip_index`; label = class index or -1."""

    clip_index: int
    t: int
    k: int
    label: int


class PairIndex:
    """All pairs of a list of clips, as flat arrays (cheap to pickle into DataLoader workers).

    clips: the clips (from a frame source or a feature cache).
    frame_gap: int k or "auto" (see `resolve_frame_gap`).
    target_offset_s: time between the two frames of a pair, for "auto".
    stride: keep every stride-th start frame t of a clip (subsample pairs).
    split: keep only clips of this split ("train" / "heldout"); needs splits from labels.jsonl.
    on_short_clip: "error" (default) refuses a clip with no room for the gap; "skip" leaves it out with a warning.
    class_names: label vocabulary; None derives it from the clips (contract classes first).
    """

    def __init__(
        self,
        clips: Sequence[ClipInfo],
        frame_gap: int | str = DEFAULT_FRAME_GAP,
        target_offset_s: float = DEFAULT_TARGET_OFFSET_S,
        stride: int = 1,
        split: str | None = None,
        on_short_clip: str = "error",
        class_names: Sequence[str] | None = None,
    ):
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}.")
        if on_short_clip not in SHORT_CLIP_POLICIES:
            raise ValueError(f"on_short_clip must be one of {SHORT_CLIP_POLICIES}, got {on_short_clip!r}.")
        if split is not None:
            if split not in SPLITS:
                raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}.")
            if all(c.split is None for c in clips):
                raise ValueError(
                    f"split={split!r} asked, but no clip has a split: splits come from the generator's labels.jsonl "
                    "(none found or it has no 'split' field). Pass split=None to use every clip."
                )
        self.clips = list(clips)
        self.frame_gap = frame_gap
        self.target_offset_s = target_offset_s
        self.stride = stride
        self.split = split
        self.class_names = (
            list(class_names)
            if class_names is not None
            else class_names_for(c.frame_labels for c in self.clips)
        )
        class_to_id = {name: i for i, name in enumerate(self.class_names)}

        self.gaps: dict[int, int] = {}  # clip index -> k, for the clips that yield pairs
        clip_ids, ts, ks, labels, skipped = [], [], [], [], []
        for ci, clip in enumerate(self.clips):
            if split is not None and clip.split != split:
                continue
            k = resolve_frame_gap(frame_gap, clip.fps, target_offset_s)
            if clip.n_frames <= k:
                msg = (
                    f"Clip {clip.source} has {clip.n_frames} frames, too short for frame gap k={k} "
                    f"(needs at least {k + 1}; fps {clip.fps:g}, frame_gap={frame_gap!r})."
                )
                if on_short_clip == "error":
                    raise FrameGapError(
                        msg + " Use a smaller gap, or on_short_clip='skip' to leave such clips out."
                    )
                skipped.append(clip.source)
                continue
            self.gaps[ci] = k
            t = np.arange(0, clip.n_frames - k, stride, dtype=np.int64)
            clip_ids.append(np.full(len(t), ci, dtype=np.int64))
            ts.append(t)
            ks.append(np.full(len(t), k, dtype=np.int64))
            labels.append(self._labels(clip, t, k, class_to_id))
        if skipped:
            warnings.warn(
                f"Skipped {len(skipped)} clip(s) shorter than the frame gap: {skipped[:5]}", stacklevel=2
            )
        self.skipped_clips = skipped
        cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)  # noqa: E731
        self.clip_index, self.t, self.k, self.labels = cat(clip_ids), cat(ts), cat(ks), cat(labels)
        if len(self.t) == 0:
            raise ValueError(
                f"No frame pairs: {len(self.clips)} clip(s), split={split!r}, frame_gap={frame_gap!r}, "
                f"skipped {len(skipped)} short clip(s)."
            )

    def _labels(self, clip: ClipInfo, t: np.ndarray, k: int, class_to_id: dict[str, int]) -> np.ndarray:
        """Vectorised `pair_label`: pair (t, t+k) is labelled iff frame_labels[t..t+k-1] has no label change."""
        if clip.frame_labels is None:
            return np.full(len(t), NO_LABEL, dtype=np.int64)
        unknown = sorted(set(clip.frame_labels).difference(class_to_id))
        if unknown:
            raise ValueError(
                f"Clip {clip.source}: labels {unknown} are not in class_names {self.class_names}."
            )
        ids = np.array([class_to_id[name] for name in clip.frame_labels], dtype=np.int64)
        changes = np.concatenate([[0], np.cumsum(ids[1:] != ids[:-1])])  # label changes up to frame i
        uniform = changes[t + k - 1] == changes[t]
        return np.where(uniform, ids[t], NO_LABEL)

    def __len__(self) -> int:
        return len(self.t)

    def __getitem__(self, i: int) -> FramePair:
        return FramePair(int(self.clip_index[i]), int(self.t[i]), int(self.k[i]), int(self.labels[i]))

    def gap_of(self, source: str) -> int:
        """The frame gap used for the clip named `source`."""
        for ci, k in self.gaps.items():
            if self.clips[ci].source == source:
                return k
        raise KeyError(f"No pairs from clip {source!r}.")
