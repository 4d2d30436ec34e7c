"""Writing clips as H.264 mp4 with PyAV (yuv420p, constant frame rate).

Reading lives in `lerobot_wbvla.datasets.video` (one reader for every video of the project).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], fps: int, crf: int = 18) -> int:
    """Encode uint8 (H, W, 3) RGB frames into `path` atomically; returns the number of frames written.

    Sizes must be even (yuv420p). The file appears under its name only when complete (written to a temporary
    name in the same folder, then renamed), so an interrupted run never leaves a truncated clip.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    count = 0
    try:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = None
            for frame in frames:
                if stream is None:
                    height, width = frame.shape[:2]
                    if height % 2 or width % 2:
                        raise ValueError(
                            f"Frame size {width}x{height} for {path} is odd; yuv420p needs even sizes."
                        )
                    stream = container.add_stream("libx264", rate=Fraction(fps, 1))
                    stream.width, stream.height = width, height
                    stream.pix_fmt = "yuv420p"
                    stream.time_base = Fraction(1, fps)
                    # Short keyframe interval: consumers seek into clips for frame pairs.
                    stream.options = {"crf": str(crf), "preset": "veryfast", "g": str(max(1, fps)), "bf": "0"}
                    stream.codec_context.thread_count = 1
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                vf.pts = count
                for packet in stream.encode(vf):
                    container.mux(packet)
                count += 1
            if stream is None:
                raise ValueError(f"No frames to write to {path}.")
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return count
