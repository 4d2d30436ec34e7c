"""Where the LAM's frame pairs come from, and the feature cache it trains on.

One config (`LAMDataConfig`) names the frames (a folder of egocentric videos and/or cameras of a LeRobot
dataset) and the pairing (frame gap, stride, split). Everything else is `lerobot_wbvla.datasets`: its frame
sources, pair index, transforms and feature cache are used as they are. Each source (the video folder, each camera
of the dataset) gets its own cache folder, because clips of different sources never pair.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from lerobot_wbvla.lam.cli import LazyModule
from lerobot_wbvla.lam.configuration_lam import EncoderConfig, PixelEncoderConfig

if TYPE_CHECKING:
    from lerobot_wbvla.datasets import FeatureCache, FrameSource, FrameTransform
    from lerobot_wbvla.lam.encoders import FrameEncoder

# Imported on first use: the CLIs import this module (for LAMDataConfig) when they only answer --help.
torch = LazyModule("torch")

# = lerobot_wbvla.datasets.pair_index.DEFAULT_TARGET_OFFSET_S, written out so that this config imports without
# torch (tests/lam/test_lam_cli.py checks that the two agree).
DEFAULT_TARGET_OFFSET_S = 2 / 30
# Storage dtypes of the feature cache, by name (torch dtypes of the same name).
CACHE_DTYPES = ("float16", "bfloat16", "float32")


def _cache_dtype(name: str):
    return getattr(torch, name)


@dataclass
class LAMDataConfig:
    """Frames and pairs for LAM training, labelling and evaluation."""

    # Folder of egocentric videos (searched recursively); its labels.jsonl (generator format) adds motion labels
    # and train/heldout splits.
    video_root: Path | None = None
    # LeRobot dataset repo id (read from `dataset_root` or the Hub cache / Hub).
    dataset_repo_id: str | None = None
    # Local folder of the LeRobot dataset.
    dataset_root: Path | None = None
    # Dataset revision (branch, tag or commit) when read from the Hub.
    dataset_revision: str | None = None
    # Camera keys of the LeRobot dataset to take frames from (each one is a separate stream of clips).
    camera_keys: list[str] = field(default_factory=lambda: ["observation.images.head"])
    # Episodes of the LeRobot dataset (None = all).
    episodes: list[int] | None = None
    # Frames between o_t and o_t+k: a positive int (the article uses 2) or "auto" (k = round(fps *
    # target_offset_s) per clip, the same motion per pair whatever the frame rate).
    frame_gap: int | str = 2
    # Time between the two frames of a pair for frame_gap="auto" (s).
    target_offset_s: float = DEFAULT_TARGET_OFFSET_S
    # Keep every stride-th start frame of a clip.
    stride: int = 1
    # Train on clips of this split only ("train" leaves the generator's held-out clips out); None = all clips.
    split: str | None = None
    # Feature cache folder (one subfolder per source); None = <output_dir>/feature_cache.
    cache_dir: Path | None = None
    # Storage dtype of cached features (float16, bfloat16 or float32).
    cache_dtype: str = "float16"
    # Frames per encoder batch when building the cache.
    encode_batch_size: int = 32
    # DataLoader worker processes.
    num_workers: int = 0
    # Encode frames on the fly instead of from the cache (much slower; for comparison and for encoders too big to
    # cache).
    on_the_fly: bool = False

    def __post_init__(self) -> None:
        # Python callers may pass str paths (the CLI gives Path): the code below relies on Path methods.
        for name in ("video_root", "dataset_root", "cache_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                setattr(self, name, Path(value))

    def validate(self) -> None:
        if self.video_root is None and self.dataset_repo_id is None and self.dataset_root is None:
            raise ValueError(
                "No frames: pass --data.video_root=<folder of videos> and/or --data.dataset_repo_id "
                "(or --data.dataset_root) of a LeRobot dataset."
            )
        if self.video_root is not None and not Path(self.video_root).is_dir():
            raise FileNotFoundError(f"--data.video_root: the folder '{self.video_root}' does not exist.")
        if self.cache_dtype not in CACHE_DTYPES:
            raise ValueError(f"--data.cache_dtype={self.cache_dtype!r}: use one of {list(CACHE_DTYPES)}.")


def encoder_transform(config: EncoderConfig) -> FrameTransform:
    """Preprocessing for an encoder: the article's resize/crop 224 + ImageNet normalisation for pretrained
    backbones; for the pixel encoder the same recipe straight at its low resolution (no 224 px detour)."""
    from lerobot_wbvla.datasets import FrameTransform

    if isinstance(config, PixelEncoderConfig):
        return FrameTransform.of_size(config.image_size)
    return FrameTransform()


def encoder_id(encoder: FrameEncoder) -> str:
    """Name of an encoder's output in a feature cache: its signature, readable and exact."""
    sig = encoder.cache_signature()
    text = ",".join(f"{k}={sig[k]}" for k in sorted(sig))
    return text if len(text) < 200 else hashlib.sha1(text.encode()).hexdigest()


def make_sources(cfg: LAMDataConfig, progress: bool = True) -> dict[str, FrameSource]:
    """Frame sources by name: "video" for the folder, "<camera key>" for each dataset camera (`progress`: a bar
    while a large video folder is probed)."""
    from lerobot_wbvla.datasets import LeRobotCameraSource, VideoFolderSource

    cfg.validate()
    sources: dict[str, FrameSource] = {}
    if cfg.video_root is not None:
        sources["video"] = VideoFolderSource(cfg.video_root, progress=progress)
    if cfg.dataset_repo_id is not None or cfg.dataset_root is not None:
        for key in cfg.camera_keys:
            with camera_flag("--data.camera_keys"):
                sources[key] = LeRobotCameraSource(
                    repo_id=cfg.dataset_repo_id,
                    root=cfg.dataset_root,
                    camera_key=key,
                    episodes=cfg.episodes,
                    revision=cfg.dataset_revision,
                )
    return sources


@contextlib.contextmanager
def camera_flag(flag: str) -> Iterator[None]:
    """Name the command-line flag that chose the camera in a `CameraKeyError` (the message lists the cameras)."""
    from lerobot_wbvla.datasets.lerobot_source import CameraKeyError

    try:
        yield
    except CameraKeyError as err:
        raise CameraKeyError(f"{flag}: {err} Set {flag} to camera keys the dataset has.") from None


def _cache_folder(cache_root: Path, name: str, encoder: FrameEncoder) -> Path:
    tag = hashlib.sha1(json.dumps(encoder.cache_signature(), sort_keys=True).encode()).hexdigest()[:10]
    return cache_root / f"{name.replace('/', '_')}-{tag}"


def build_caches(
    cfg: LAMDataConfig,
    encoder: FrameEncoder,
    encoder_cfg: EncoderConfig,
    cache_root: Path,
    sources: dict[str, FrameSource] | None = None,
    progress: bool = True,
) -> dict[str, FeatureCache]:
    """Encode every frame of every source once (resumable, skipped when the cache is complete)."""
    from lerobot_wbvla.datasets import build_feature_cache

    sources = sources if sources is not None else make_sources(cfg, progress=progress)
    transform = encoder_transform(encoder_cfg)
    return {
        name: build_feature_cache(
            source,
            encoder,
            _cache_folder(cache_root, name, encoder),
            encoder_id=encoder_id(encoder),
            transform=transform,
            dtype=_cache_dtype(cfg.cache_dtype),
            batch_size=cfg.encode_batch_size,
            progress=progress,
        )
        for name, source in sources.items()
    }


def _concat(datasets: list) -> torch.utils.data.Dataset:
    return datasets[0] if len(datasets) == 1 else torch.utils.data.ConcatDataset(datasets)


def feature_pairs(
    cfg: LAMDataConfig, caches: dict[str, FeatureCache], split: str | None = None
) -> torch.utils.data.Dataset:
    """Pairs of cached features from every source (items: feat_t, feat_tk, label, ...)."""
    from lerobot_wbvla.datasets import FeaturePairDataset

    return _concat(
        [
            FeaturePairDataset(
                cache,
                frame_gap=cfg.frame_gap,
                target_offset_s=cfg.target_offset_s,
                stride=cfg.stride,
                split=split,
            )
            for cache in caches.values()
        ]
    )


def frame_pairs(
    cfg: LAMDataConfig, sources: dict[str, FrameSource], transform: FrameTransform, split: str | None = None
) -> torch.utils.data.Dataset:
    """Pairs of decoded, transformed frames from every source (items: frame_t, frame_tk, label, ...)."""
    from lerobot_wbvla.datasets import FramePairDataset

    return _concat(
        [
            FramePairDataset(
                source,
                frame_gap=cfg.frame_gap,
                target_offset_s=cfg.target_offset_s,
                stride=cfg.stride,
                split=split,
                transform=transform,
            )
            for source in sources.values()
        ]
    )


def _user_errors() -> tuple[type[BaseException], ...]:
    from lerobot_wbvla.datasets import FeatureCacheMismatchError, FrameGapError, VideoReadError
    from lerobot_wbvla.datasets.lerobot_source import CameraKeyError
    from lerobot_wbvla.hub import HubPushError
    from lerobot_wbvla.lam.encoders import EncoderUnavailableError

    return (
        FileNotFoundError,
        FileExistsError,
        NotADirectoryError,
        ValueError,
        CameraKeyError,
        EncoderUnavailableError,
        HubPushError,
        FeatureCacheMismatchError,
        FrameGapError,
        VideoReadError,
    )


def __getattr__(name: str):
    # USER_ERRORS, built on first use (its classes live in modules that import torch and LeRobot): the errors
    # that mean "the input is wrong" (a path, a key, a size); the CLIs print their message, without traceback.
    if name == "USER_ERRORS":
        globals()[name] = _user_errors()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def exit_with_user_error(prog: str, err: BaseException) -> NoReturn:
    """What the LAM commands do with a `USER_ERRORS` error: one `<prog>: error: ...` line on stderr, exit 2."""
    print(f"{prog}: error: {' '.join(str(err).split())}", file=sys.stderr)
    sys.exit(2)
