"""Contact sheet of generated clips: one row per clip, a few frames each, captioned with the frame labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from lerobot_wbvla.datasets.egovideo.labels import ClipRecord


def preview_frame_indices(labels: list[str], count: int = 6) -> list[int]:
    """Frames that show a clip's motion: its first frame, then the middle and end of each moving run."""
    idx = [0]
    runs = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((labels[start], start, i))
            start = i
    for name, a, b in runs:
        if name != "stand_still":
            idx += [(a + b) // 2, b - 1 if b < len(labels) else b - 1]
    idx.append(len(labels) - 1)
    idx = sorted(set(idx))
    if len(idx) > count:
        idx = [idx[round(k)] for k in np.linspace(0, len(idx) - 1, count)]
    return idx


def contact_sheet(rows: list[tuple[ClipRecord, list[int], list[np.ndarray]]], path: str | Path) -> Path:
    """Write a PNG with one row per (record, frame indices, frames) entry; captions show clip and labels."""
    path = Path(path)
    h, w = rows[0][2][0].shape[:2]
    cols = max(len(frames) for _, _, frames in rows)
    cap = 14
    sheet = Image.new("RGB", (cols * (w + 2), len(rows) * (h + cap + 2)), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    for r, (rec, indices, frames) in enumerate(rows):
        y = r * (h + cap + 2)
        for c, (t, frame) in enumerate(zip(indices, frames, strict=True)):
            x = c * (w + 2)
            sheet.paste(Image.fromarray(frame), (x, y + cap))
            draw.text(
                (x + 2, y + 1), f"{rec.primitive[:12]} t{t} {rec.frame_labels[t]}", fill=(230, 230, 230)
            )
    tmp = path.with_name(f".{path.name}.tmp.png")
    sheet.save(tmp)
    tmp.replace(path)
    return path
