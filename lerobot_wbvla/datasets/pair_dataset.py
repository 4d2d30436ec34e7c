"""The part every pair dataset shares: a `PairIndex` over a list of clips, its labels, and the item's pair fields.

`FramePairDataset` (decoded frames) and `FeaturePairDataset` (cached features) differ only in what they load for
the two ends of a pair; the indexing, label and bookkeeping code lives here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lerobot_wbvla.datasets.clips import ClipInfo
from lerobot_wbvla.datasets.pair_index import DEFAULT_FRAME_GAP, DEFAULT_TARGET_OFFSET_S, FramePair, PairIndex


class PairDatasetBase(torch.utils.data.Dataset):
    """A torch Dataset of (t, t+k) pairs over `clips`; subclasses load the data of both ends in `__getitem__`."""

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
        self._clips = clips
        self.pairs = PairIndex(
            clips,
            frame_gap=frame_gap,
            target_offset_s=target_offset_s,
            stride=stride,
            split=split,
            on_short_clip=on_short_clip,
            class_names=class_names,
        )

    @property
    def class_names(self) -> list[str]:
        return self.pairs.class_names

    @property
    def labels(self) -> torch.Tensor:
        """Label of every pair (int64, -1 = none), without loading any frame or feature."""
        return torch.from_numpy(self.pairs.labels)

    def __len__(self) -> int:
        return len(self.pairs)

    def pair_fields(self, pair: FramePair) -> dict[str, Any]:
        """The item fields that describe the pair itself: label, source clip, t and k."""
        return {
            "label": pair.label,
            "source": self._clips[pair.clip_index].source,
            "t": pair.t,
            "k": pair.k,
        }
