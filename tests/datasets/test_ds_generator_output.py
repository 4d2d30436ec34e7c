"""The pipeline on real output of the egocentric video generator (lerobot_wbvla.datasets.egovideo)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lerobot_wbvla.datasets import (
    FeaturePairDataset,
    FramePairDataset,
    FrameTransform,
    VideoFolderSource,
    build_feature_cache,
    labelled_pairs,
    pair_label,
)
from lerobot_wbvla.datasets.egovideo import EgoVideoConfig, generate, read_labels


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("egovideo") / "ego"
    generate(
        EgoVideoConfig(
            out_dir=out,
            num_clips=4,
            height=48,
            width=48,
            clip_seconds=1.0,
            heldout_fraction=0.25,
            contact_sheet=False,
            antialias=False,
            seed=0,
        )
    )
    return out


def test_pairs_and_cache_on_generated_clips(generated: Path, tmp_path: Path) -> None:
    records = {r.clip: r for r in read_labels(generated)}
    assert {r.split for r in records.values()} == {"train", "heldout"}
    ds = FramePairDataset.from_video_folder(generated, frame_gap="auto")
    assert len(ds.source.clips) == len(records)
    assert len(ds) == sum(r.n_frames - 2 for r in records.values())  # 30 fps -> k = 2
    for i in range(0, len(ds), 7):
        item = ds[i]
        expected = pair_label(records[item["source"]].frame_labels, item["t"], item["k"])
        assert item["label"] == (ds.class_names.index(expected) if expected is not None else -1)
        assert item["frame_t"].shape == (3, 48, 48)

    # motion shows in the pixels: frames of walking pairs differ more than frames of standing-still pairs
    diffs: dict[str, list[float]] = {"walk_forward": [], "stand_still": []}
    for i in range(len(ds)):
        label = ds.pairs.labels[i]
        name = ds.class_names[label] if label >= 0 else None
        if name in diffs:
            item = ds[i]
            diffs[name].append(float((item["frame_tk"].float() - item["frame_t"].float()).abs().mean()))
    assert diffs["walk_forward"] and diffs["stand_still"]
    assert sum(diffs["walk_forward"]) / len(diffs["walk_forward"]) > 2 * sum(diffs["stand_still"]) / len(
        diffs["stand_still"]
    )

    tf = FrameTransform.of_size(32)
    pool = torch.nn.AdaptiveAvgPool2d(4)

    def encoder(x: torch.Tensor) -> torch.Tensor:
        return pool(x).flatten(1)  # (B, 48) pooled features

    cache = build_feature_cache(
        VideoFolderSource(generated),
        encoder,
        tmp_path / "cache",
        encoder_id="avgpool4",
        transform=tf,
        progress=False,
    )
    assert cache.n_frames == sum(r.n_frames for r in records.values())
    heldout_frames = FramePairDataset.from_video_folder(generated, split="heldout", transform=tf)
    heldout_feats = FeaturePairDataset(cache, split="heldout")
    probe_frames, probe_feats = labelled_pairs(heldout_frames), labelled_pairs(heldout_feats)
    assert torch.equal(probe_frames.labels, probe_feats.labels) and len(probe_feats.labels) > 0
    for a, b in zip(probe_frames.pairs, probe_feats.pairs, strict=True):
        ref = encoder(torch.stack([a["frame_t"], a["frame_tk"]]))
        torch.testing.assert_close(b["feat_t"], ref[0], rtol=2e-3, atol=2e-3)
        torch.testing.assert_close(b["feat_tk"], ref[1], rtol=2e-3, atol=2e-3)
