"""Motion labels for frame pairs, on top of the generator's labels.jsonl definitions (one implementation).

The contract (docs/CONTRACTS.md "Egocentric video"): the class list, the file format and the pair rule live in
`lerobot_wbvla.datasets.egovideo.labels` and are re-exported here: a frame label says the motion from that frame
to the next, so pair (t, t+k) has a true label exactly when frame_labels[t:t+k] are all equal, otherwise none
(-1 as a class index).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lerobot_wbvla.datasets.egovideo.labels import (
    LABELS_FILE,
    MOTION_CLASSES,
    ClipRecord,
    pair_label,
    read_labels,
)

NO_LABEL = -1  # class index of a pair without a true label
SPLITS = ("train", "heldout")

__all__ = [
    "LABELS_FILE",
    "MOTION_CLASSES",
    "NO_LABEL",
    "SPLITS",
    "ClipRecord",
    "class_names_for",
    "pair_label",
    "read_labels",
]


def class_names_for(frame_label_lists: Iterable[Sequence[str] | None]) -> list[str]:
    """Class names: the contract's MOTION_CLASSES first (stable indices), then any other label seen, sorted.

    labels.jsonl only holds contract classes (its reader checks that); extra names can only come from clips made
    by hand (`ClipInfo(frame_labels=...)`), and they get indices after the contract's.
    """
    seen: set[str] = set()
    for labels in frame_label_lists:
        if labels:
            seen.update(labels)
    return [*MOTION_CLASSES, *sorted(seen.difference(MOTION_CLASSES))]
