"""Motion classes, clip primitives and the `labels.jsonl` file of an egocentric video dataset.

The names here are pinned in docs/CONTRACTS.md ("Egocentric video"): the LAM trainer, its evaluation and the
demo read them, so they change only together with that file.

A frame label says the motion from that frame to the next one; the last frame of a clip carries the label of the
motion that would continue (the clip is cut mid-motion or during the final stand-still).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Per-frame motion classes (CONTRACTS.md). Order is stable: use it for class indices.
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
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(MOTION_CLASSES)}

# Clip-level primitives and the phases (frame labels) each one plays, in order.
PRIMITIVE_PHASES: dict[str, tuple[str, ...]] = {
    "walk_forward": ("walk_forward",),
    "sidestep_left": ("sidestep_left",),
    "sidestep_right": ("sidestep_right",),
    "turn_left": ("turn_left",),
    "turn_right": ("turn_right",),
    "squat": ("squat_down", "squat_up"),
    "reach_left": ("reach_left_out", "reach_left_back"),
    "reach_right": ("reach_right_out", "reach_right_back"),
    "stand_still": ("stand_still",),
}
PRIMITIVES: tuple[str, ...] = tuple(PRIMITIVE_PHASES)

# `primitive` field of a clip made of several primitives (the list is in `primitives`).
SEQUENCE_PRIMITIVE = "sequence"

LABELS_FILE = "labels.jsonl"
CLIPS_DIR = "clips"


@dataclass
class ClipRecord:
    """One line of labels.jsonl.

    Contract fields: clip, fps, n_frames, primitive, frame_labels, seed, split.
    Extra fields (readers may ignore them):
      primitives: the clip's primitives in play order (one entry for a single-primitive clip);
      segments: [label, first_frame, end_frame) runs of equal frame labels;
      height, width: frame size in pixels;
      palette: colour palette family of the scene;
      head_pose: per frame [x, y, z, yaw, pitch, roll] of the head camera in the room frame (m, rad), read
        from MuJoCo after kinematics (yaw about +z, pitch positive = looking down, roll about the view axis).
    """

    clip: str
    fps: int
    n_frames: int
    primitive: str
    frame_labels: list[str]
    seed: int
    split: str
    primitives: list[str] = field(default_factory=list)
    segments: list[list] = field(default_factory=list)
    height: int = 0
    width: int = 0
    palette: str = ""
    head_pose: list[list[float]] = field(default_factory=list)

    def validate(self, where: str = "labels") -> None:
        """Raise ValueError naming the clip and the broken field if this record breaks the contract."""
        if len(self.frame_labels) != self.n_frames:
            raise ValueError(
                f"{where}: clip {self.clip} has {len(self.frame_labels)} frame labels but n_frames={self.n_frames}."
            )
        unknown = sorted(set(self.frame_labels) - set(MOTION_CLASSES))
        if unknown:
            raise ValueError(
                f"{where}: clip {self.clip} uses unknown motion classes {unknown}; allowed: {list(MOTION_CLASSES)}."
            )
        if self.split not in ("train", "heldout"):
            raise ValueError(
                f"{where}: clip {self.clip} has split={self.split!r}; expected 'train' or 'heldout'."
            )
        if self.fps <= 0:
            raise ValueError(f"{where}: clip {self.clip} has fps={self.fps}; expected a positive integer.")


def label_runs(frame_labels: Sequence[str]) -> list[list]:
    """Runs of equal labels as [label, first_frame, end_frame) triples."""
    runs: list[list] = []
    for i, name in enumerate(frame_labels):
        if runs and runs[-1][0] == name:
            runs[-1][2] = i + 1
        else:
            runs.append([name, i, i + 1])
    return runs


def pair_label(frame_labels: Sequence[str], t: int, k: int) -> str | None:
    """True label of the frame pair (t, t+k): frame_labels[t:t+k] all equal, else None (CONTRACTS.md)."""
    if k < 1 or t < 0 or t + k >= len(frame_labels):
        raise ValueError(f"Frame pair ({t}, {t + k}) is outside a clip of {len(frame_labels)} frames.")
    window = set(frame_labels[t : t + k])
    return next(iter(window)) if len(window) == 1 else None


def write_labels(path: Path, records: Iterable[ClipRecord]) -> None:
    """Write records as JSON lines to `path` atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(asdict(rec), separators=(",", ":")) + "\n")
    os.replace(tmp, path)


def read_labels(root: str | Path) -> list[ClipRecord]:
    """Read and validate `<root>/labels.jsonl`; errors name the file and line."""
    root = Path(root)
    path = root / LABELS_FILE if root.is_dir() else root
    if not path.is_file():
        raise FileNotFoundError(
            f"No labels file at {path}: generate a dataset with `wbvla-gen-egovideo --out_dir=<dir>` first."
        )
    known = set(ClipRecord.__dataclass_fields__)
    records = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({e}).") from e
            missing = {"clip", "fps", "n_frames", "primitive", "frame_labels", "seed", "split"} - set(obj)
            if missing:
                raise ValueError(f"{path}:{line_no}: missing keys {sorted(missing)}.")
            rec = ClipRecord(**{k: v for k, v in obj.items() if k in known})
            rec.validate(where=f"{path}:{line_no}")
            records.append(rec)
    return records
