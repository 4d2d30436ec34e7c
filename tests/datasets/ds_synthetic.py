"""Synthetic test data for the datasets tests: tiny mp4 clips of a moving square, written with PyAV.

The square moves right at a known speed, so the motion between two frames is known: tests read it back from
the decoded frames (centroid of the bright pixels), which survives lossy compression.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

SIZE = 64  # frame side in pixels
SQUARE = 8  # square side
BACKGROUND, FOREGROUND = 30, 230


def square_frame(x: float, y: int = 20, size: int = SIZE, value: int = FOREGROUND) -> np.ndarray:
    img = np.full((size, size, 3), BACKGROUND, np.uint8)
    xi = int(round(x))
    img[y : y + SQUARE, xi : xi + SQUARE] = value
    return img


def write_video(path: Path, frames: list[np.ndarray], fps: float, faststart: bool = False) -> Path:
    """Write RGB uint8 frames as an H.264 mp4 (near-lossless, keyframe every 8 frames)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10", "g": "8"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_square_video(
    path: Path, n_frames: int, fps: float, px_per_s: float = 30.0, x0: float = 4.0
) -> Path:
    """A square moving right at `px_per_s` pixels per second (so px_per_s / fps pixels per frame)."""
    return write_video(path, [square_frame(x0 + px_per_s * i / fps) for i in range(n_frames)], fps)


def square_x(frame: torch.Tensor) -> float:
    """x of the square's left edge, from a decoded uint8 frame (HWC or CHW)."""
    img = frame if frame.shape[-1] == 3 else frame.permute(1, 2, 0)
    mask = img.float().mean(-1) > (BACKGROUND + FOREGROUND) / 2
    xs = torch.nonzero(mask)[:, 1].float()
    return float(xs.mean()) - (SQUARE - 1) / 2


# Per-frame labels of the synthetic generator-format clips (each label says the motion from that frame on).
CLIP_LABELS = {
    "clips/000000.mp4": (["stand_still"] * 6 + ["walk_forward"] * 10 + ["turn_left"] * 8, "train"),
    "clips/000001.mp4": (["squat_down"] * 12 + ["squat_up"] * 12, "train"),
    "clips/000002.mp4": (["walk_forward"] * 5 + ["stand_still"] * 3 + ["turn_right"] * 12, "heldout"),
}


def write_labels(root: Path, clips: dict[str, tuple[list[str], str]], fps: float = 30) -> Path:
    path = root / "labels.jsonl"
    with path.open("w") as f:
        for i, (clip, (labels, split)) in enumerate(clips.items()):
            f.write(
                json.dumps(
                    {
                        "clip": clip,
                        "fps": fps,
                        "n_frames": len(labels),
                        "primitive": labels[-1],
                        "frame_labels": labels,
                        "seed": i,
                        "split": split,
                    }
                )
                + "\n"
            )
    return path
