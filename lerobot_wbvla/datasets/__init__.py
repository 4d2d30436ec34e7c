"""Data for the latent action models: video reading, frame transforms, frame pairs, feature cache, probe labels.

Layer rule: this package imports nothing from lerobot_wbvla.lam (or any layer above).
Names are imported lazily (PEP 562): the egovideo generator and the CLIs import this package without paying for
torch/lerobot until a name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "CameraKeyError": "lerobot_wbvla.datasets.lerobot_source",
    "ClipInfo": "lerobot_wbvla.datasets.clips",
    "DEFAULT_FRAME_GAP": "lerobot_wbvla.datasets.pair_index",
    "DEFAULT_TARGET_OFFSET_S": "lerobot_wbvla.datasets.pair_index",
    "DecodedClipCache": "lerobot_wbvla.datasets.video",
    "DecodedVideo": "lerobot_wbvla.datasets.video",
    "EncoderFingerprint": "lerobot_wbvla.datasets.feature_cache",
    "FeatureCache": "lerobot_wbvla.datasets.feature_cache",
    "FeatureCacheIncompleteError": "lerobot_wbvla.datasets.feature_cache",
    "FeatureCacheMismatchError": "lerobot_wbvla.datasets.feature_cache",
    "FeaturePairDataset": "lerobot_wbvla.datasets.feature_cache",
    "FrameGapError": "lerobot_wbvla.datasets.pair_index",
    "FramePair": "lerobot_wbvla.datasets.pair_index",
    "FramePairDataset": "lerobot_wbvla.datasets.frame_pairs",
    "FrameSource": "lerobot_wbvla.datasets.clips",
    "FrameTransform": "lerobot_wbvla.datasets.transforms",
    "IMAGENET_MEAN": "lerobot_wbvla.datasets.transforms",
    "IMAGENET_STD": "lerobot_wbvla.datasets.transforms",
    "LeRobotCameraSource": "lerobot_wbvla.datasets.lerobot_source",
    "MOTION_CLASSES": "lerobot_wbvla.datasets.labels",
    "NO_LABEL": "lerobot_wbvla.datasets.labels",
    "PairIndex": "lerobot_wbvla.datasets.pair_index",
    "ProbeSet": "lerobot_wbvla.datasets.probe_labels",
    "VideoFolderSource": "lerobot_wbvla.datasets.video_folder",
    "VideoInfo": "lerobot_wbvla.datasets.video",
    "VideoNotFoundError": "lerobot_wbvla.datasets.video",
    "VideoReadError": "lerobot_wbvla.datasets.video",
    "build_feature_cache": "lerobot_wbvla.datasets.feature_cache",
    "class_names_for": "lerobot_wbvla.datasets.labels",
    "decode_video": "lerobot_wbvla.datasets.video",
    "decode_video_range": "lerobot_wbvla.datasets.video",
    "find_videos": "lerobot_wbvla.datasets.video_folder",
    "fingerprint_encoder": "lerobot_wbvla.datasets.feature_cache",
    "labelled_pairs": "lerobot_wbvla.datasets.probe_labels",
    "pair_label": "lerobot_wbvla.datasets.labels",
    "probe_video": "lerobot_wbvla.datasets.video",
    "resolve_frame_gap": "lerobot_wbvla.datasets.pair_index",
    "to_uint8_bchw": "lerobot_wbvla.datasets.transforms",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = sorted(_LAZY)
