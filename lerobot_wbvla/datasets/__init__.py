"""Data for the latent action models: video reading, frame transforms, frame pairs, feature cache, probe labels.

Layer rule: this package imports nothing from lerobot_wbvla.lam (or any layer above).
"""

from lerobot_wbvla.datasets.clips import ClipInfo, FrameSource
from lerobot_wbvla.datasets.feature_cache import (
    EncoderFingerprint,
    FeatureCache,
    FeatureCacheIncompleteError,
    FeatureCacheMismatchError,
    FeaturePairDataset,
    build_feature_cache,
    fingerprint_encoder,
)
from lerobot_wbvla.datasets.frame_pairs import FramePairDataset
from lerobot_wbvla.datasets.labels import MOTION_CLASSES, NO_LABEL, class_names_for, pair_label
from lerobot_wbvla.datasets.lerobot_source import CameraKeyError, LeRobotCameraSource
from lerobot_wbvla.datasets.pair_index import (
    DEFAULT_FRAME_GAP,
    DEFAULT_TARGET_OFFSET_S,
    FrameGapError,
    FramePair,
    PairIndex,
    resolve_frame_gap,
)
from lerobot_wbvla.datasets.probe_labels import ProbeSet, labelled_pairs
from lerobot_wbvla.datasets.transforms import IMAGENET_MEAN, IMAGENET_STD, FrameTransform, to_uint8_bchw
from lerobot_wbvla.datasets.video import (
    DecodedClipCache,
    DecodedVideo,
    VideoInfo,
    VideoNotFoundError,
    VideoReadError,
    decode_video,
    decode_video_range,
    probe_video,
)
from lerobot_wbvla.datasets.video_folder import VideoFolderSource, find_videos

__all__ = [
    "DEFAULT_FRAME_GAP",
    "DEFAULT_TARGET_OFFSET_S",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MOTION_CLASSES",
    "NO_LABEL",
    "CameraKeyError",
    "ClipInfo",
    "DecodedClipCache",
    "DecodedVideo",
    "EncoderFingerprint",
    "FeatureCache",
    "FeatureCacheIncompleteError",
    "FeatureCacheMismatchError",
    "FeaturePairDataset",
    "FrameGapError",
    "FramePair",
    "FramePairDataset",
    "FrameSource",
    "FrameTransform",
    "LeRobotCameraSource",
    "PairIndex",
    "ProbeSet",
    "VideoFolderSource",
    "VideoInfo",
    "VideoNotFoundError",
    "VideoReadError",
    "build_feature_cache",
    "decode_video",
    "decode_video_range",
    "find_videos",
    "fingerprint_encoder",
    "labelled_pairs",
    "pair_label",
    "probe_video",
    "class_names_for",
    "resolve_frame_gap",
    "to_uint8_bchw",
]
