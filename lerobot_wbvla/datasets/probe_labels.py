"""Labelled pairs for probing a LAM on held-out clips (e.g. a linear probe from latent action to motion class).

Works on any pair dataset with `.pairs` (a PairIndex), so the same helper serves `FramePairDataset` and
`FeaturePairDataset`: only pairs whose frames share one motion label are kept.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np
import torch

from lerobot_wbvla.datasets.labels import NO_LABEL
from lerobot_wbvla.datasets.pair_index import PairIndex


class _PairDataset(Protocol):
    pairs: PairIndex

    def __len__(self) -> int: ...


class ProbeSet(NamedTuple):
    """`pairs`: the labelled pairs (a Subset of the given dataset); `labels`: their class ids (int64);
    `class_names`: names of all class ids."""

    pairs: torch.utils.data.Subset
    labels: torch.Tensor
    class_names: list[str]


def labelled_pairs(dataset: _PairDataset, max_per_class: int | None = None, seed: int = 0) -> ProbeSet:
    """The pairs of `dataset` that have a label, with their labels and the class names.

    Build `dataset` with split="heldout" for held-out evaluation. max_per_class: keep at most this many pairs per
    class (random, seeded) so that a dominant class (e.g. stand_still) does not swamp the probe.
    """
    labels = dataset.pairs.labels
    keep = np.flatnonzero(labels != NO_LABEL)
    if len(keep) == 0:
        raise ValueError(
            "No labelled pairs: the clips have no frame labels (labels.jsonl), or every pair spans a label change "
            "(use a smaller frame gap)."
        )
    if max_per_class is not None:
        rng = np.random.default_rng(seed)
        chosen = []
        for c in np.unique(labels[keep]):
            members = keep[labels[keep] == c]
            chosen.append(
                members
                if len(members) <= max_per_class
                else rng.choice(members, max_per_class, replace=False)
            )
        keep = np.sort(np.concatenate(chosen))
    return ProbeSet(
        pairs=torch.utils.data.Subset(dataset, keep.tolist()),
        labels=torch.from_numpy(labels[keep].copy()),
        class_names=list(dataset.pairs.class_names),
    )
