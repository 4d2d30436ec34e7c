"""Feature cache: round trip vs on-the-fly encoding, one encode per frame, resume, refusal of other setups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from lerobot_wbvla.datasets import (
    FeatureCache,
    FeatureCacheIncompleteError,
    FeatureCacheMismatchError,
    FeaturePairDataset,
    FramePairDataset,
    FrameTransform,
    VideoFolderSource,
    build_feature_cache,
)

TF = FrameTransform.of_size(32)
N_FRAMES = 24 + 24 + 20  # the three ego_root clips


class TinyEncoder(torch.nn.Module):
    """A frozen patch encoder: 8x8 patches -> 6-d tokens, (B, 3, 32, 32) -> (B, 16, 6)."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.patch = torch.nn.Conv2d(3, 6, kernel_size=8, stride=8)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.patch(x).flatten(2).transpose(1, 2)


class CountingEncoder:
    """Counts the frames it encodes (the 2-frame fingerprint probe is counted apart); can fail after n batches."""

    def __init__(self, encoder: torch.nn.Module, fail_after_batches: int | None = None):
        self.encoder, self.fail_after = encoder, fail_after_batches
        self.frames = self.batches = self.probes = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 2 and self.batches == 0 and self.probes == 0:
            self.probes += 1
            return self.encoder(x)
        if self.fail_after is not None and self.batches >= self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        self.batches += 1
        self.frames += x.shape[0]
        return self.encoder(x)


def _build(ego_root: Path, cache_dir: Path, encoder, **kw) -> FeatureCache:
    kw = {
        "encoder_id": "tiny-a",
        "transform": TF,
        "batch_size": 4,
        "shard_frames": 10,
        "progress": False,
        **kw,
    }
    return build_feature_cache(VideoFolderSource(ego_root), encoder, cache_dir, **kw)


def test_round_trip_equals_on_the_fly_encoding(ego_root: Path, tmp_path: Path) -> None:
    encoder = TinyEncoder()
    counting = CountingEncoder(encoder)
    cache = _build(ego_root, tmp_path / "cache", counting)
    assert counting.frames == N_FRAMES  # each distinct frame encoded once, although pairs share frames
    assert cache.n_frames == N_FRAMES and cache.feature_shape == (16, 6) and len(cache.shards) == 7
    with safe_open(str(tmp_path / "cache" / "shard-00000.safetensors"), framework="pt") as f:
        assert f.get_slice("features").get_dtype() == "F16" and f.get_slice("features").get_shape() == [
            10,
            16,
            6,
        ]

    for kwargs in (
        {"frame_gap": 2},
        {"frame_gap": "auto", "split": "heldout"},
        {"frame_gap": 3, "stride": 2},
    ):
        frames = FramePairDataset.from_video_folder(ego_root, transform=TF, **kwargs)
        feats = FeaturePairDataset(tmp_path / "cache", **kwargs)
        assert len(frames) == len(feats) and feats.class_names == frames.class_names
        assert torch.equal(feats.labels, frames.labels)
        for i in range(len(frames)):
            a, b = frames[i], feats[i]
            assert (a["source"], a["t"], a["k"], a["label"]) == (b["source"], b["t"], b["k"], b["label"])
            with torch.inference_mode():
                ref = encoder(torch.stack([a["frame_t"], a["frame_tk"]]))
            assert b["feat_t"].dtype == torch.float32 and b["feat_t"].shape == (16, 6)
            torch.testing.assert_close(b["feat_t"], ref[0], rtol=2e-3, atol=2e-3)  # float16 storage
            torch.testing.assert_close(b["feat_tk"], ref[1], rtol=2e-3, atol=2e-3)
            assert not torch.equal(b["feat_t"], b["feat_tk"])  # the square moved


def test_resume_after_a_killed_build(ego_root: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        _build(
            ego_root, cache_dir, CountingEncoder(TinyEncoder(), fail_after_batches=9)
        )  # 3 batches per 10-frame shard
    index = json.loads((cache_dir / "index.json").read_text())
    assert index["complete"] is False
    done = sorted(p.name for p in cache_dir.glob("shard-*.safetensors"))
    assert done == ["shard-00000.safetensors", "shard-00001.safetensors", "shard-00002.safetensors"]
    mtimes = {name: (cache_dir / name).stat().st_mtime_ns for name in done}
    (cache_dir / "shard-00003.safetensors.tmp-999").write_bytes(b"half a shard")
    with pytest.raises(FeatureCacheIncompleteError, match="interrupted"):
        FeatureCache(cache_dir)
    with pytest.raises(FeatureCacheIncompleteError, match="interrupted"):
        FeaturePairDataset(cache_dir)

    counting = CountingEncoder(TinyEncoder())
    cache = _build(ego_root, cache_dir, counting)
    assert counting.frames == N_FRAMES - 30  # only the 4 missing shards were encoded
    assert {name: (cache_dir / name).stat().st_mtime_ns for name in done} == mtimes  # finished shards kept
    assert not list(cache_dir.glob("*.tmp-*"))
    fresh = _build(ego_root, tmp_path / "fresh", TinyEncoder())
    for g in range(N_FRAMES):
        assert torch.equal(cache.frame(g), fresh.frame(g))

    again = CountingEncoder(TinyEncoder())
    _build(ego_root, cache_dir, again)  # complete: nothing to encode
    assert again.frames == 0


def test_refuses_a_cache_of_another_encoder_transform_or_source(ego_root: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    _build(ego_root, cache_dir, TinyEncoder(seed=0))
    with pytest.raises(FeatureCacheMismatchError, match=r"cache has encoder 'tiny-a', asked 'tiny-b'"):
        _build(ego_root, cache_dir, TinyEncoder(seed=0), encoder_id="tiny-b")
    with pytest.raises(FeatureCacheMismatchError, match="share the id but not the weights"):
        _build(ego_root, cache_dir, TinyEncoder(seed=1))
    with pytest.raises(
        FeatureCacheMismatchError, match=r"transform: cache has .*'crop': 32.*asked .*'crop': 16"
    ):
        _build(
            ego_root,
            cache_dir,
            torch.nn.Sequential(torch.nn.Upsample(size=32), TinyEncoder()),
            transform=FrameTransform.of_size(16),
        )
    with pytest.raises(FeatureCacheMismatchError, match="dtype: cache has float16, asked float32"):
        _build(ego_root, cache_dir, TinyEncoder(seed=0), dtype=torch.float32)
    with pytest.raises(FeatureCacheMismatchError, match=str(cache_dir)):
        FeatureCache(cache_dir, expect_encoder_id="facebook/dinov2-base")
    with pytest.raises(FeatureCacheMismatchError, match="transform"):
        FeatureCache(cache_dir, expect_transform=FrameTransform())
    cache = FeatureCache(
        cache_dir, expect_encoder_id="tiny-a", expect_transform=TF, expect_dtype=torch.float16
    )
    cache.check_encoder(TinyEncoder(seed=0), "tiny-a")
    with pytest.raises(FeatureCacheMismatchError, match="share the id but not the weights"):
        cache.check_encoder(TinyEncoder(seed=3), "tiny-a")

    (ego_root / "clips" / "000002.mp4").unlink()
    (ego_root / "labels.jsonl").write_text(
        "\n".join((ego_root / "labels.jsonl").read_text().splitlines()[:2])
    )
    with pytest.raises(FeatureCacheMismatchError, match="another set of frames"):
        _build(ego_root, cache_dir, TinyEncoder(seed=0))

    with pytest.raises(FileNotFoundError, match="No feature cache at"):
        FeatureCache(tmp_path / "nothing")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "index.json").write_text("{")
    with pytest.raises(FeatureCacheMismatchError, match="not valid JSON"):
        FeatureCache(tmp_path / "broken")
    (cache_dir / "shard-00001.safetensors").unlink()
    with pytest.raises(FeatureCacheIncompleteError, match="shard-00001"):
        FeatureCache(cache_dir)


def test_feature_pairs_in_dataloader_workers(ego_root: Path, tmp_path: Path) -> None:
    cache = _build(ego_root, tmp_path / "cache", TinyEncoder(), dtype=torch.bfloat16)
    ds = FeaturePairDataset(cache, frame_gap=2, out_dtype=None)
    loader = torch.utils.data.DataLoader(ds, batch_size=16, num_workers=2)
    batches = list(loader)
    assert sum(len(b["label"]) for b in batches) == len(ds)
    assert batches[0]["feat_t"].dtype == torch.bfloat16 and batches[0]["feat_t"].shape == (16, 16, 6)
    torch.testing.assert_close(batches[0]["feat_tk"][3], ds[3]["feat_tk"])
