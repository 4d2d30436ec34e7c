"""Frame source over a folder tree of video files (Ego4D-style nested folders, or the egovideo generator output).

Videos are found recursively. When the folder holds the generator's `labels.jsonl` (docs/CONTRACTS.md), each
listed clip gets its per-frame motion labels and split; videos not listed there have neither.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from lerobot_wbvla.datasets.clips import ClipInfo, FrameSource
from lerobot_wbvla.datasets.labels import LABELS_FILE, ClipRecord, read_labels
from lerobot_wbvla.datasets.video import decode_video, decode_video_range, probe_video

VIDEO_EXTENSIONS = (".mp4",)


def find_videos(root: str | Path, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[Path]:
    """All video files under `root` (recursive, sorted, case-insensitive extension match)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Video folder not found (or not a folder): {root}")
    exts = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    videos = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in exts)
    if not videos:
        raise FileNotFoundError(
            f"No videos ({', '.join(sorted(exts))}) found under {root} (searched recursively). "
            "Point to the folder that holds the clips, e.g. the generator's output root."
        )
    return videos


class VideoFolderSource(FrameSource):
    """Every video under `root` is one clip; `labels.jsonl` (if found) adds frame labels and splits.

    root: folder searched recursively for videos.
    labels_file: "auto" uses `<root>/labels.jsonl` when it exists; None ignores labels; a path forces that file
        (clip paths inside it are relative to its folder).
    extensions: video file suffixes to pick up.
    decode / max_cached_clips: see `FrameSource`.
    progress: show a bar while probing a large folder (200 videos or more).
    """

    def __init__(
        self,
        root: str | Path,
        labels_file: str | Path | None = "auto",
        extensions: Sequence[str] = VIDEO_EXTENSIONS,
        decode: str = "clip",
        max_cached_clips: int = 4,
        progress: bool = True,
    ):
        super().__init__(decode=decode, max_cached_clips=max_cached_clips)
        self.root = Path(root)
        videos = find_videos(self.root, extensions)
        labels_path = self._labels_path(labels_file)
        self.labels_path = labels_path
        by_path: dict[Path, ClipRecord] = {}
        if labels_path is not None:
            for clip in read_labels(labels_path):
                by_path[(labels_path.parent / clip.clip).resolve()] = clip
            on_disk = {v.resolve() for v in videos}
            missing = [c.clip for p, c in by_path.items() if p not in on_disk]
            if missing:
                raise FileNotFoundError(
                    f"{labels_path} lists {len(missing)} clip(s) not found under {self.root}: {missing[:5]}. "
                    "Re-run the generator or fix the labels file."
                )
        self.paths: list[Path] = videos
        for path in tqdm(
            videos, desc=f"probing videos in {self.root.name}", disable=not progress or len(videos) < 200
        ):
            info = probe_video(path)
            labels = by_path.get(path.resolve())
            if labels is not None:
                if labels.n_frames != info.n_frames:
                    raise ValueError(
                        f"{labels_path}: clip {labels.clip} has n_frames={labels.n_frames}, but the video {path} "
                        f"holds {info.n_frames} frames. Re-generate the clip or its labels."
                    )
                if abs(labels.fps - info.fps) > 1e-3 * info.fps:
                    warnings.warn(
                        f"{labels_path}: clip {labels.clip} says fps={labels.fps}, the video says {info.fps:g}; "
                        "using the video's.",
                        stacklevel=2,
                    )
            self.clips.append(
                ClipInfo(
                    source=path.relative_to(self.root).as_posix(),
                    n_frames=info.n_frames,
                    fps=info.fps,
                    frame_labels=tuple(labels.frame_labels) if labels is not None else None,
                    split=labels.split if labels is not None else None,
                )
            )

    def _labels_path(self, labels_file: str | Path | None) -> Path | None:
        if labels_file is None:
            return None
        if labels_file == "auto":
            candidate = self.root / LABELS_FILE
            return candidate if candidate.is_file() else None
        path = Path(labels_file)
        if not path.is_file():
            raise FileNotFoundError(f"Labels file not found: {path}")
        return path

    def _decode_clip(self, clip_index: int) -> torch.Tensor:
        decoded = decode_video(self.paths[clip_index], expected_frames=self.clips[clip_index].n_frames)
        return decoded.frames.permute(0, 3, 1, 2)

    def _decode_frames(self, clip_index: int, frame_indices: Sequence[int]) -> torch.Tensor:
        first, last = min(frame_indices), max(frame_indices)
        frames = decode_video_range(self.paths[clip_index], first, last)
        rel = torch.as_tensor([i - first for i in frame_indices], dtype=torch.long)
        return frames.index_select(0, rel).permute(0, 3, 1, 2)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "video_folder",
            "root": str(self.root.resolve()),
            "labels_file": str(self.labels_path) if self.labels_path is not None else None,
        }
