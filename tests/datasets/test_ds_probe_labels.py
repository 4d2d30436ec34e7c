"""Held-out probe sets: only pairs with a true label, with their class ids and the class names."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from ds_synthetic import CLIP_LABELS

from lerobot_wbvla.datasets import MOTION_CLASSES, FramePairDataset, labelled_pairs, pair_label


def test_heldout_probe_set_keeps_only_labelled_pairs(ego_root: Path) -> None:
    ds = FramePairDataset.from_video_folder(ego_root, split="heldout", frame_gap=2)
    pairs, labels, class_names = labelled_pairs(ds)
    assert class_names == list(MOTION_CLASSES)
    frame_labels, _ = CLIP_LABELS["clips/000002.mp4"]  # walk x5, stand x3, turn_right x12
    expected = [pair_label(frame_labels, t, 2) for t in range(20 - 2)]
    expected_ids = [MOTION_CLASSES.index(e) for e in expected if e is not None]
    assert labels.tolist() == expected_ids and len(pairs) == len(expected_ids) == 18 - 2
    for item, label in zip(pairs, labels, strict=True):
        assert item["label"] == label and item["source"] == "clips/000002.mp4"
    counts = Counter(class_names[i] for i in labels.tolist())
    assert counts == {"walk_forward": 4, "stand_still": 2, "turn_right": 10}


def test_max_per_class_balances_and_is_seeded(ego_root: Path) -> None:
    ds = FramePairDataset.from_video_folder(ego_root, split="train", frame_gap=2)
    full = labelled_pairs(ds)
    capped = labelled_pairs(ds, max_per_class=3, seed=1)
    assert max(Counter(capped.labels.tolist()).values()) == 3
    assert set(capped.labels.tolist()) == set(full.labels.tolist())
    assert torch.equal(labelled_pairs(ds, max_per_class=3, seed=1).labels, capped.labels)
    assert capped.pairs.indices != labelled_pairs(ds, max_per_class=3, seed=2).pairs.indices


def test_no_labels_is_an_error(tmp_path: Path) -> None:
    from ds_synthetic import write_square_video

    write_square_video(tmp_path / "v" / "a.mp4", 10, fps=30)
    with pytest.raises(ValueError, match="No labelled pairs"):
        labelled_pairs(FramePairDataset.from_video_folder(tmp_path / "v"))
