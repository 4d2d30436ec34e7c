"""Frame source over one camera of a LeRobot dataset (by repo id and/or local root).

Each episode is one clip, so pairs never cross episode boundaries. Frames are those the dataset itself serves:
video keys go through LeRobot's `decode_video_frames` at the dataset's own frame timestamps (same backend and
tolerance as `LeRobotDataset.__getitem__`); image keys come from the dataset rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lerobot_wbvla.datasets.clips import ClipInfo, FrameSource

DEFAULT_CAMERA_KEY = "observation.images.head"


class CameraKeyError(KeyError):
    """The dataset has no such camera; the message lists the cameras it has."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0])


def _resolve_camera_key(meta: Any, camera_key: str, where: str) -> str:
    cameras = list(meta.camera_keys)
    if camera_key in cameras:
        return camera_key
    prefixed = f"observation.images.{camera_key}"
    if prefixed in cameras:
        return prefixed
    if cameras:
        raise CameraKeyError(
            f"Dataset {where} has no camera key {camera_key!r}; its camera keys are {cameras}."
        )
    raise CameraKeyError(
        f"Dataset {where} has no camera at all (asked {camera_key!r}); its features are {list(meta.features)}."
    )


class LeRobotCameraSource(FrameSource):
    """One camera of a LeRobot dataset as clips (one per episode).

    repo_id: Hub id of the dataset; with only `root`, "local/<root folder name>" is used.
    root: local dataset folder (read offline when it holds the dataset).
    camera_key: feature key of the camera, e.g. "observation.images.head" (a bare "head" is accepted too).
    episodes: episode indices to use (None: all); clips follow episode order.
    video_backend: LeRobot decoding backend ("pyav", "torchcodec"; None: LeRobot's default).
    """

    def __init__(
        self,
        repo_id: str | None = None,
        root: str | Path | None = None,
        camera_key: str = DEFAULT_CAMERA_KEY,
        episodes: Sequence[int] | None = None,
        revision: str | None = None,
        video_backend: str | None = None,
        tolerance_s: float = 1e-4,
        decode: str = "clip",
        max_cached_clips: int = 4,
    ):
        super().__init__(decode=decode, max_cached_clips=max_cached_clips)
        from lerobot.datasets.dataset_metadata import LeRobotDatasetMetadata
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        if repo_id is None and root is None:
            raise ValueError("Give a LeRobot dataset repo_id, a local root, or both.")
        if repo_id is None:
            repo_id = f"local/{Path(root).name}"
        where = f"{repo_id}" + (f" (root {root})" if root is not None else "")
        if root is not None and not (Path(root) / "meta" / "info.json").is_file():
            raise FileNotFoundError(
                f"No LeRobot dataset at {root}: {Path(root) / 'meta' / 'info.json'} is missing."
            )
        # Metadata first: a wrong camera key fails before any data or video is downloaded.
        meta = LeRobotDatasetMetadata(repo_id, root=root, revision=revision)
        self.camera_key = _resolve_camera_key(meta, camera_key, where)
        self.repo_id = repo_id
        self.tolerance_s = tolerance_s
        self.video_backend = video_backend
        episodes = (
            list(range(meta.total_episodes)) if episodes is None else sorted({int(e) for e in episodes})
        )
        unknown = [e for e in episodes if not 0 <= e < meta.total_episodes]
        if unknown:
            raise ValueError(
                f"Dataset {where} has episodes 0..{meta.total_episodes - 1}; asked for {unknown}."
            )
        self.episodes = episodes
        self.dataset = LeRobotDataset(
            repo_id,
            root=root,
            episodes=episodes,
            revision=revision,
            video_backend=video_backend,
            tolerance_s=tolerance_s,
            return_uint8=True,
        )
        self.meta = self.dataset.meta
        self.root = Path(self.dataset.root)
        self.is_video = self.camera_key in self.meta.video_keys

        # Per episode: dataset rows and frame timestamps, in frame order.
        hf = self.dataset.hf_dataset
        ep_col = np.asarray(hf.data.column("episode_index").to_numpy())
        frame_col = np.asarray(hf.data.column("frame_index").to_numpy())
        ts_col = np.asarray(hf.data.column("timestamp").to_numpy(), dtype=np.float64)
        self._rows: list[np.ndarray] = []
        self._timestamps: list[np.ndarray] = []
        for ep in episodes:
            rows = np.flatnonzero(ep_col == ep)
            rows = rows[np.argsort(frame_col[rows], kind="stable")]
            self._rows.append(rows)
            self._timestamps.append(ts_col[rows])
            self.clips.append(
                ClipInfo(
                    source=f"episode_{ep:06d}", n_frames=len(rows), fps=float(self.meta.fps), episode_index=ep
                )
            )

    def _decode_frames(self, clip_index: int, frame_indices: Sequence[int]) -> torch.Tensor:
        ep = self.episodes[clip_index]
        idx = list(frame_indices)
        if self.is_video:
            from lerobot.datasets.video_utils import decode_video_frames

            from_ts = float(self.meta.episodes[ep][f"videos/{self.camera_key}/from_timestamp"])
            video_path = self.root / self.meta.get_video_file_path(ep, self.camera_key)
            timestamps = [from_ts + float(t) for t in self._timestamps[clip_index][idx]]
            # decode_video_frames seeks once and decodes forward to the last timestamp; sort for that, then
            # put the frames back in the asked order.
            order = np.argsort(timestamps, kind="stable")
            frames = decode_video_frames(
                video_path,
                [timestamps[i] for i in order],
                self.tolerance_s,
                self.video_backend,
                return_uint8=True,
            )
            return frames.index_select(0, torch.as_tensor(np.argsort(order, kind="stable"), dtype=torch.long))
        rows = self._rows[clip_index][idx].tolist()
        images = self.dataset.hf_dataset[rows][
            self.camera_key
        ]  # float32 CHW in [0, 1] after LeRobot's transform
        return torch.stack([(img * 255.0).round().clamp(0, 255).to(torch.uint8) for img in images])

    def _decode_clip(self, clip_index: int) -> torch.Tensor:
        return self._decode_frames(clip_index, range(self.clips[clip_index].n_frames))

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "lerobot",
            "repo_id": self.repo_id,
            "root": str(self.root.resolve()),
            "camera_key": self.camera_key,
            "episodes": self.episodes,
        }
