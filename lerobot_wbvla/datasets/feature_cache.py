"""Frozen-encoder feature cache: encode every distinct frame once, train the LAM on feature pairs.

Layout of a cache folder:
    index.json                  format, encoder id + fingerprint, transform, dtype, feature shape, source,
                                clips (frame list per source: name, n_frames, fps, labels, split, offset),
                                shards (file, [start, stop) in the global frame numbering), complete flag
    shard-00000.safetensors     tensor "features": (stop - start, *feature_shape), dtype float16 by default

Global frame numbering: clip c's frame t is frame offset[c] + t; shard s holds frames [s * S, (s + 1) * S).

Building is resumable and atomic per shard: each shard is written to a temporary file and renamed, so a shard
file that exists is complete; a killed build re-run with the same arguments encodes only the missing shards.
A cache is tied to its encoder (id + fingerprint: the encoder's output on a fixed probe batch) and transform;
opening or extending it with another one is refused. Pairs come from the same `PairIndex` as the frame dataset,
and one cache serves any frame gap/stride/split. Shards are read through safetensors' memory map.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from lerobot_wbvla.datasets.clips import ClipInfo, FrameSource
from lerobot_wbvla.datasets.pair_dataset import PairDatasetBase
from lerobot_wbvla.datasets.pair_index import DEFAULT_FRAME_GAP, DEFAULT_TARGET_OFFSET_S
from lerobot_wbvla.datasets.transforms import FrameTransform

CACHE_FORMAT = "wbvla-feature-cache"
CACHE_VERSION = 1
INDEX_FILENAME = "index.json"
FEATURES_KEY = "features"
DEFAULT_SHARD_FRAMES = 2048
PROBE_VALUES = 256  # encoder outputs kept in the fingerprint
PROBE_REL_TOLERANCE = 0.05  # relative L2 difference under which two probe outputs count as the same encoder

Encoder = Callable[[torch.Tensor], torch.Tensor]
_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


class FeatureCacheMismatchError(ValueError):
    """The cache was built for another encoder, transform, dtype or set of frames."""


class FeatureCacheIncompleteError(RuntimeError):
    """The cache build was interrupted; re-run `build_feature_cache` with the same arguments to finish it."""


def _dtype_name(dtype: torch.dtype) -> str:
    for name, d in _DTYPES.items():
        if d == dtype:
            return name
    raise ValueError(f"Unsupported cache dtype {dtype}; use one of {list(_DTYPES)}.")


@dataclass(frozen=True)
class EncoderFingerprint:
    """Who made the features: a user-given id plus the encoder's output on a fixed probe batch."""

    encoder_id: str
    feature_shape: tuple[int, ...]  # per-frame output shape
    probe: tuple[float, ...]  # the first PROBE_VALUES outputs on the probe batch

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoder_id": self.encoder_id,
            "feature_shape": list(self.feature_shape),
            "probe": list(self.probe),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EncoderFingerprint:
        return cls(d["encoder_id"], tuple(d["feature_shape"]), tuple(d["probe"]))

    def mismatch(self, other: EncoderFingerprint) -> str | None:
        """Why `other` (asked) is another encoder than this one (the cache's), or None when they match."""
        if self.encoder_id != other.encoder_id:
            return f"cache has encoder {self.encoder_id!r}, asked {other.encoder_id!r}"
        if self.feature_shape != other.feature_shape:
            return f"cache has feature shape {list(self.feature_shape)}, asked {list(other.feature_shape)}"
        a, b = torch.tensor(self.probe), torch.tensor(other.probe)
        rel = float((a - b).norm() / (b.norm() + 1e-8))
        if rel > PROBE_REL_TOLERANCE:
            return (
                f"encoder {self.encoder_id!r} in the cache and the asked one share the id but not the weights "
                f"(outputs on the probe batch differ by {rel:.3g}, relative)"
            )
        return None


def _probe_frames(transform: FrameTransform) -> torch.Tensor:
    side = transform.crop or transform.resize or 224
    gen = torch.Generator().manual_seed(1234)
    return torch.randint(0, 256, (2, 3, side, side), generator=gen, dtype=torch.uint8)


@torch.inference_mode()
def _encode(encoder: Encoder, frames: torch.Tensor, device: str | torch.device) -> torch.Tensor:
    out = encoder(frames.to(device))
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"The encoder must return a Tensor [B, ...], got {type(out).__name__}.")
    if out.shape[0] != frames.shape[0]:
        raise ValueError(f"The encoder returned {out.shape[0]} rows for a batch of {frames.shape[0]} frames.")
    return out.detach().float().cpu()


def fingerprint_encoder(
    encoder: Encoder, encoder_id: str, transform: FrameTransform, device: str | torch.device = "cpu"
) -> EncoderFingerprint:
    """Run the encoder on a fixed probe batch (2 seeded random frames, transformed) and keep its first outputs."""
    out = _encode(encoder, transform(_probe_frames(transform), layout="CHW"), device)
    return EncoderFingerprint(encoder_id, tuple(out.shape[1:]), tuple(out.flatten()[:PROBE_VALUES].tolist()))


def _atomic_write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def _read_index(cache_dir: Path) -> dict[str, Any]:
    path = cache_dir / INDEX_FILENAME
    if not path.is_file():
        raise FileNotFoundError(
            f"No feature cache at {cache_dir}: {path} is missing. Build it with build_feature_cache."
        )
    try:
        index = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise FeatureCacheMismatchError(
            f"{path} is not valid JSON ({e}); delete the cache folder and rebuild."
        ) from e
    if index.get("format") != CACHE_FORMAT or index.get("version") != CACHE_VERSION:
        raise FeatureCacheMismatchError(
            f"{path} is not a {CACHE_FORMAT} v{CACHE_VERSION} index (format={index.get('format')!r}, "
            f"version={index.get('version')!r})."
        )
    return index


def _compare_identity(
    cache_dir: Path,
    index: dict[str, Any],
    fingerprint: EncoderFingerprint | None,
    transform: FrameTransform | None,
    dtype_name: str | None,
) -> None:
    """Raise FeatureCacheMismatchError when the cache's encoder/transform/dtype differ from the asked ones."""
    problems = []
    if fingerprint is not None:
        why = EncoderFingerprint.from_dict(index["encoder"]).mismatch(fingerprint)
        if why:
            problems.append(why)
    if transform is not None and index["transform"] != transform.to_dict():
        problems.append(f"transform: cache has {index['transform']}, asked {transform.to_dict()}")
    if dtype_name is not None and index["dtype"] != dtype_name:
        problems.append(f"dtype: cache has {index['dtype']}, asked {dtype_name}")
    if problems:
        raise FeatureCacheMismatchError(
            f"Feature cache {cache_dir} was built for another setup ({'; '.join(problems)}). "
            "Use another cache folder for this encoder/transform, or delete this one to rebuild it."
        )


def _plan(
    source: FrameSource,
    fingerprint: EncoderFingerprint,
    transform: FrameTransform,
    dtype_name: str,
    shard_frames: int,
) -> dict[str, Any]:
    clips, offset = [], 0
    for clip in source.clips:
        clips.append({**clip.to_dict(), "offset": offset})
        offset += clip.n_frames
    shards = [
        {"file": f"shard-{i:05d}.safetensors", "start": start, "stop": min(start + shard_frames, offset)}
        for i, start in enumerate(range(0, offset, shard_frames))
    ]
    return {
        "format": CACHE_FORMAT,
        "version": CACHE_VERSION,
        "encoder": fingerprint.to_dict(),
        "transform": transform.to_dict(),
        "dtype": dtype_name,
        "feature_shape": list(fingerprint.feature_shape),
        "source": source.describe(),
        "n_frames": offset,
        "shard_frames": shard_frames,
        "clips": clips,
        "shards": shards,
        "complete": False,
    }


def _shard_is_complete(path: Path, start: int, stop: int) -> bool:
    if not path.is_file():
        return False
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            n = f.get_slice(FEATURES_KEY).get_shape()[0]
    except Exception:  # an unreadable shard is rebuilt
        return False
    return meta.get("start") == str(start) and meta.get("stop") == str(stop) and n == stop - start


def _segments(clips: Sequence[dict[str, Any]], start: int, stop: int) -> Iterator[tuple[int, int, int]]:
    """(clip index, first frame, end frame) pieces of the global frame range [start, stop)."""
    for ci, clip in enumerate(clips):
        lo, hi = clip["offset"], clip["offset"] + clip["n_frames"]
        a, b = max(lo, start), min(hi, stop)
        if a < b:
            yield ci, a - lo, b - lo


def build_feature_cache(
    source: FrameSource,
    encoder: Encoder,
    cache_dir: str | Path,
    *,
    encoder_id: str,
    transform: FrameTransform | None = None,
    dtype: torch.dtype = torch.float16,
    batch_size: int = 32,
    shard_frames: int = DEFAULT_SHARD_FRAMES,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> FeatureCache:
    """Encode every frame of `source` once with a frozen `encoder` into `cache_dir` (resumable); return the cache.

    encoder: `encode(frames: FloatTensor[B, 3, H, W]) -> Tensor[B, ...]` on transformed frames (tokens or pooled);
        it must be deterministic (eval mode), as its output on a probe batch identifies the cache.
    encoder_id: a name for the encoder, e.g. "facebook/dinov2-with-registers-base@<revision>".
    transform: preprocessing before the encoder (default: the article's resize/crop 224 + ImageNet norm).
    dtype: storage dtype (float16 halves the size of float32).
    shard_frames: frames per shard file (the unit of resume and of atomic writes).
    """
    transform = transform if transform is not None else FrameTransform()
    cache_dir = Path(cache_dir)
    if shard_frames < 1 or batch_size < 1:
        raise ValueError("shard_frames and batch_size must be >= 1.")
    dtype_name = _dtype_name(dtype)
    fingerprint = fingerprint_encoder(encoder, encoder_id, transform, device)
    plan = _plan(source, fingerprint, transform, dtype_name, shard_frames)

    if (cache_dir / INDEX_FILENAME).is_file():
        existing = _read_index(cache_dir)
        _compare_identity(cache_dir, existing, fingerprint, transform, dtype_name)
        if existing["clips"] != plan["clips"] or existing["shard_frames"] != shard_frames:
            raise FeatureCacheMismatchError(
                f"Feature cache {cache_dir} holds another set of frames (other clips, lengths, labels or shard "
                "size) than this source. Use another cache folder, or delete this one to rebuild it."
            )
        if existing.get("complete"):
            return FeatureCache(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob("*.tmp-*"):  # leftovers of a killed build
        stale.unlink(missing_ok=True)
    _atomic_write_json(cache_dir / INDEX_FILENAME, plan)

    todo = [s for s in plan["shards"] if not _shard_is_complete(cache_dir / s["file"], s["start"], s["stop"])]
    done_frames = plan["n_frames"] - sum(s["stop"] - s["start"] for s in todo)
    bar = tqdm(
        total=plan["n_frames"],
        initial=done_frames,
        unit="frame",
        desc=f"encoding {cache_dir.name}",
        disable=not progress,
    )
    try:
        for shard in todo:
            feats = _encode_shard(source, encoder, transform, plan, shard, batch_size, device, dtype, bar)
            path = cache_dir / shard["file"]
            tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
            save_file(
                {FEATURES_KEY: feats.contiguous()},
                str(tmp),
                metadata={"start": str(shard["start"]), "stop": str(shard["stop"]), "encoder_id": encoder_id},
            )
            os.replace(tmp, path)
    finally:
        bar.close()
    plan["complete"] = True
    _atomic_write_json(cache_dir / INDEX_FILENAME, plan)
    return FeatureCache(cache_dir)


def _encode_shard(
    source: FrameSource,
    encoder: Encoder,
    transform: FrameTransform,
    plan: dict[str, Any],
    shard: dict[str, Any],
    batch_size: int,
    device: str | torch.device,
    dtype: torch.dtype,
    bar: tqdm,
) -> torch.Tensor:
    """Features of the shard's frames, read clip piece by clip piece and encoded in batches."""
    out: list[torch.Tensor] = []
    pending: list[torch.Tensor] = []

    def flush() -> None:
        frames = torch.cat(pending)
        pending.clear()
        feats = _encode(encoder, transform(frames.to(device), layout="CHW"), device)  # uint8 to the device
        if list(feats.shape[1:]) != plan["feature_shape"]:
            raise ValueError(
                f"The encoder returned features of shape {list(feats.shape[1:])}, its probe gave "
                f"{plan['feature_shape']}: the output shape must not depend on the input."
            )
        out.append(feats.to(dtype))
        bar.update(len(frames))

    for ci, a, b in _segments(plan["clips"], shard["start"], shard["stop"]):
        for j in range(a, b, batch_size):
            pending.append(source.read_frames(ci, range(j, min(j + batch_size, b))))
            if sum(len(p) for p in pending) >= batch_size:
                flush()
    if pending:
        flush()
    feats = torch.cat(out)
    assert len(feats) == shard["stop"] - shard["start"]
    return feats


class FeatureCache:
    """A finished feature cache, read through memory-mapped safetensors shards.

    expect_encoder_id / expect_transform / expect_dtype: refuse the cache (FeatureCacheMismatchError) when it was
        built otherwise; `check_encoder` compares a live encoder against the stored fingerprint.
    """

    def __init__(
        self,
        cache_dir: str | Path,
        expect_encoder_id: str | None = None,
        expect_transform: FrameTransform | None = None,
        expect_dtype: torch.dtype | None = None,
    ):
        self.cache_dir = Path(cache_dir)
        index = _read_index(self.cache_dir)
        if not index.get("complete"):
            raise FeatureCacheIncompleteError(
                f"Feature cache {self.cache_dir} is incomplete (its build was interrupted). Re-run "
                "build_feature_cache with the same source, encoder and arguments to finish it."
            )
        if expect_encoder_id is not None and index["encoder"]["encoder_id"] != expect_encoder_id:
            raise FeatureCacheMismatchError(
                f"Feature cache {self.cache_dir} was built for encoder {index['encoder']['encoder_id']!r}, "
                f"not {expect_encoder_id!r}. Use the cache of that encoder, or build one for it."
            )
        _compare_identity(
            self.cache_dir,
            index,
            None,
            expect_transform,
            _dtype_name(expect_dtype) if expect_dtype is not None else None,
        )
        self.index = index
        self.clips = [ClipInfo.from_dict(c) for c in index["clips"]]
        self.offsets = np.array([c["offset"] for c in index["clips"]], dtype=np.int64)
        self.shard_frames = int(index["shard_frames"])
        self.shards = index["shards"]
        self.fingerprint = EncoderFingerprint.from_dict(index["encoder"])
        self.transform = FrameTransform.from_dict(index["transform"])
        self.dtype = _DTYPES[index["dtype"]]
        self.feature_shape = tuple(index["feature_shape"])
        self.n_frames = int(index["n_frames"])
        missing = [s["file"] for s in self.shards if not (self.cache_dir / s["file"]).is_file()]
        if missing:
            raise FeatureCacheIncompleteError(
                f"Feature cache {self.cache_dir} misses shard files {missing[:5]}; rebuild them with "
                "build_feature_cache (same arguments)."
            )
        self._handles: dict[int, Any] = {}

    @property
    def encoder_id(self) -> str:
        return self.fingerprint.encoder_id

    def check_encoder(self, encoder: Encoder, encoder_id: str, device: str | torch.device = "cpu") -> None:
        """Raise FeatureCacheMismatchError unless `encoder` is the one that built this cache."""
        _compare_identity(
            self.cache_dir,
            self.index,
            fingerprint_encoder(encoder, encoder_id, self.transform, device),
            None,
            None,
        )

    def _slice(self, shard_id: int) -> Any:
        handle = self._handles.get(shard_id)
        if handle is None:
            handle = safe_open(str(self.cache_dir / self.shards[shard_id]["file"]), framework="pt")
            self._handles[shard_id] = handle
        return handle.get_slice(FEATURES_KEY)

    def frame(self, global_index: int) -> torch.Tensor:
        """Features of one frame in the global numbering (stored dtype)."""
        if not 0 <= global_index < self.n_frames:
            raise IndexError(f"Frame {global_index} outside the cache's {self.n_frames} frames.")
        shard_id = global_index // self.shard_frames
        return self._slice(shard_id)[global_index - shard_id * self.shard_frames]

    def features(self, clip_index: int, frame_indices: Sequence[int]) -> torch.Tensor:
        """Features of frames `frame_indices` of clip `clip_index`, stacked (N, *feature_shape), stored dtype."""
        clip = self.clips[clip_index]
        bad = [i for i in frame_indices if not 0 <= i < clip.n_frames]
        if bad:
            raise IndexError(f"Frames {bad[:5]} are outside clip {clip.source} ({clip.n_frames} frames).")
        base = int(self.offsets[clip_index])
        return torch.stack([self.frame(base + int(i)) for i in frame_indices])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = {}  # file handles are reopened in each DataLoader worker
        return state


class FeaturePairDataset(PairDatasetBase):
    """Pairs of cached features, indexed by the same `PairIndex` as `FramePairDataset` (same arguments).

    Item: {"feat_t", "feat_tk": Tensor(*feature_shape) in `out_dtype`, "label": int (-1 if none),
    "source": clip name, "t": int, "k": int}.
    """

    def __init__(
        self,
        cache: FeatureCache | str | Path,
        frame_gap: int | str = DEFAULT_FRAME_GAP,
        target_offset_s: float = DEFAULT_TARGET_OFFSET_S,
        stride: int = 1,
        split: str | None = None,
        on_short_clip: str = "error",
        class_names: Sequence[str] | None = None,
        out_dtype: torch.dtype | None = torch.float32,
    ):
        self.cache = cache if isinstance(cache, FeatureCache) else FeatureCache(cache)
        self.out_dtype = out_dtype
        super().__init__(
            self.cache.clips,
            frame_gap=frame_gap,
            target_offset_s=target_offset_s,
            stride=stride,
            split=split,
            on_short_clip=on_short_clip,
            class_names=class_names,
        )

    def __getitem__(self, i: int) -> dict[str, Any]:
        pair = self.pairs[i]
        base = int(self.cache.offsets[pair.clip_index])
        feat_t, feat_tk = self.cache.frame(base + pair.t), self.cache.frame(base + pair.t + pair.k)
        if self.out_dtype is not None:
            feat_t, feat_tk = feat_t.to(self.out_dtype), feat_tk.to(self.out_dtype)
        return {"feat_t": feat_t, "feat_tk": feat_tk, **self.pair_fields(pair)}
