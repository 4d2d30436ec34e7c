"""Motion labels of egocentric clips: the generator's `labels.jsonl` (format in docs/CONTRACTS.md) and pair labels.

A frame label says the motion from that frame to the next, so a pair (t, t+k) has a true label exactly when
frame_labels[t:t+k] are all equal; otherwise the pair mixes motions and has none (-1).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# The motion classes of docs/CONTRACTS.md, in a fixed order: class index = position in this tuple.
MOTION_CLASSES: tuple[str, ...] = (
    "walk_forward",
    "sidestep_left",
    "sidestep_right",
    "turn_left",
    "turn_right",
    "squat_down",
    "squat_up",
    "reach_left_out",
    "reach_left_back",
    "reach_right_out",
    "reach_right_back",
    "stand_still",
)

NO_LABEL = -1
LABELS_FILENAME = "labels.jsonl"
SPLITS = ("train", "heldout")
_REQUIRED_KEYS = ("clip", "fps", "n_frames", "frame_labels")


class LabelsFileError(ValueError):
    """labels.jsonl is malformed; the message names the file and line."""


@dataclass(frozen=True)
class ClipLabels:
    """One line of labels.jsonl."""

    clip: str  # path relative to the labels file's folder, posix, e.g. "clips/000123.mp4"
    fps: float
    n_frames: int
    frame_labels: tuple[str, ...]
    primitive: str | None = None
    seed: int | None = None
    split: str | None = None


def read_labels_jsonl(path: str | Path) -> dict[str, ClipLabels]:
    """Parse a labels.jsonl into {clip relative path: ClipLabels}; every problem names the file and line."""
    path = Path(path)
    out: dict[str, ClipLabels] = {}
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise LabelsFileError(f"{where}: not valid JSON ({e}).") from e
            if not isinstance(obj, dict):
                raise LabelsFileError(f"{where}: expected a JSON object per line, got {type(obj).__name__}.")
            missing = [k for k in _REQUIRED_KEYS if k not in obj]
            if missing:
                raise LabelsFileError(f"{where}: missing keys {missing} (contract: {list(_REQUIRED_KEYS)}).")
            frame_labels = obj["frame_labels"]
            if not isinstance(frame_labels, list) or not all(isinstance(x, str) for x in frame_labels):
                raise LabelsFileError(f"{where}: frame_labels must be a list of strings.")
            if len(frame_labels) != int(obj["n_frames"]):
                raise LabelsFileError(
                    f"{where}: clip {obj['clip']} has n_frames={obj['n_frames']} but {len(frame_labels)} frame labels."
                )
            split = obj.get("split")
            if split is not None and split not in SPLITS:
                raise LabelsFileError(f"{where}: split must be one of {SPLITS}, got {split!r}.")
            clip = Path(obj["clip"]).as_posix()
            if clip in out:
                raise LabelsFileError(f"{where}: clip {clip} is listed twice.")
            out[clip] = ClipLabels(
                clip=clip,
                fps=float(obj["fps"]),
                n_frames=int(obj["n_frames"]),
                frame_labels=tuple(frame_labels),
                primitive=obj.get("primitive"),
                seed=obj.get("seed"),
                split=split,
            )
    return out


def class_names_for(frame_label_lists: Iterable[Sequence[str] | None]) -> list[str]:
    """Class names: the contract's MOTION_CLASSES first (stable indices), then any other label seen, sorted."""
    seen: set[str] = set()
    for labels in frame_label_lists:
        if labels:
            seen.update(labels)
    extra = sorted(seen.difference(MOTION_CLASSES))
    return [*MOTION_CLASSES, *extra]


def pair_label(frame_labels: Sequence[str] | None, t: int, k: int) -> str | None:
    """The label of pair (t, t+k): frame_labels[t] when frame_labels[t:t+k] are all equal, else None."""
    if frame_labels is None:
        return None
    window = frame_labels[t : t + k]
    if not window:
        return None
    first = window[0]
    return first if all(x == first for x in window) else None
