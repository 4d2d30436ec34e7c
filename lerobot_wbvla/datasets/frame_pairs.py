"""Frame-pair dataset (o_t, o_{t+k}) for latent action models, from a video folder or a LeRobot camera.

Item: {"frame_t", "frame_tk": uint8 (3, H, W), or float (3, S, S) when a `FrameTransform` is given;
"label": int class index (-1 if none); "source": clip path or "episode_XXXXXX"; "t": int; "k": int}.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lerobot_wbvla.datasets.clips import FrameSource
from lerobot_wbvla.datasets.pair_dataset import PairDatasetBase
from lerobot_wbvla.datasets.pair_index import DEFAULT_FRAME_GAP, DEFAULT_TARGET_OFFSET_S
from lerobot_wbvla.datasets.transforms import FrameTransform


class FramePairDataset(PairDatasetBase):
    """Pairs of decoded frames from any `FrameSource`, indexed by `PairIndex` (see there for the arguments).

    transform: None returns uint8 CHW frames (e.g. to transform on the GPU in a batch later); a FrameTransform
        returns its normalised float output.
    """

    def __init__(
        self,
        source: FrameSource,
        frame_gap: int | str = DEFAULT_FRAME_GAP,
        target_offset_s: float = DEFAULT_TARGET_OFFSET_S,
        stride: int = 1,
        split: str | None = None,
        transform: FrameTransform | None = None,
        on_short_clip: str = "error",
        class_names: Sequence[str] | None = None,
    ):
        super().__init__(
            source.clips,
            frame_gap=frame_gap,
            target_offset_s=target_offset_s,
            stride=stride,
            split=split,
            on_short_clip=on_short_clip,
            class_names=class_names,
        )
        self.source = source
        self.transform = transform

    @classmethod
    def from_video_folder(
        cls,
        root: str | Path,
        labels_file: str | Path | None = "auto",
        decode: str = "clip",
        max_cached_clips: int = 4,
        **pair_kwargs: Any,
    ) -> FramePairDataset:
        """Pairs from every video under `root` (recursive); labels/splits from `<root>/labels.jsonl` if present."""
        from lerobot_wbvla.datasets.video_folder import VideoFolderSource

        source = VideoFolderSource(
            root, labels_file=labels_file, decode=decode, max_cached_clips=max_cached_clips
        )
        return cls(source, **pair_kwargs)

    @classmethod
    def from_lerobot(
        cls,
        repo_id: str | None = None,
        root: str | Path | None = None,
        camera_key: str = "observation.images.head",
        episodes: Sequence[int] | None = None,
        revision: str | None = None,
        video_backend: str | None = None,
        decode: str = "clip",
        max_cached_clips: int = 4,
        **pair_kwargs: Any,
    ) -> FramePairDataset:
        """Pairs from one camera of a LeRobot dataset; never across episodes."""
        from lerobot_wbvla.datasets.lerobot_source import LeRobotCameraSource

        source = LeRobotCameraSource(
            repo_id=repo_id,
            root=root,
            camera_key=camera_key,
            episodes=episodes,
            revision=revision,
            video_backend=video_backend,
            decode=decode,
            max_cached_clips=max_cached_clips,
        )
        return cls(source, **pair_kwargs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        pair = self.pairs[i]
        frames = self.source.read_frames(pair.clip_index, [pair.t, pair.t + pair.k])
        if self.transform is not None:
            frames = self.transform(frames, layout="CHW")
        return {"frame_t": frames[0], "frame_tk": frames[1], **self.pair_fields(pair)}
