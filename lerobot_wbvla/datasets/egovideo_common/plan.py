"""The labelled phase plan of a clip, as both egocentric generators lay it out.

A clip is a list of `Phase`s, one frame label each, covering all its frames; frame t carries the label of the
motion from frame t to frame t+1 (docs/CONTRACTS.md). How long each phase is and how the body moves in it is the
domain's own business (egovideo/motion.py, raycast_egovideo/motion.py); the bookkeeping here is the same for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lerobot_wbvla.datasets.egovideo.labels import SEQUENCE_PRIMITIVE


@dataclass
class Phase:
    """One labelled run of frames and the motion parameters the domain chose for it (speeds, targets)."""

    label: str
    n_frames: int
    params: dict = field(default_factory=dict)


def frame_labels(phases: list[Phase]) -> list[str]:
    """One label per frame from the phase list."""
    return [p.label for p in phases for _ in range(p.n_frames)]


def merge_stand_stills(phases: list[Phase]) -> list[Phase]:
    """Drop empty phases and join neighbouring stand-stills (one run per label, as `segments` reports them)."""
    out: list[Phase] = []
    for p in phases:
        if p.n_frames <= 0:
            continue
        if out and p.label == "stand_still" and out[-1].label == "stand_still":
            out[-1].n_frames += p.n_frames
        else:
            out.append(p)
    return out


def uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    """A value of a configured (low, high) range; a range with low == high gives low without drawing."""
    lo, hi = lo_hi
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


@dataclass
class PlannedClip:
    """The fields every domain's clip plan starts with; each domain's `ClipPlan` adds its body, scene, camera."""

    seed: int
    split: str
    primitives: list[str]
    phases: list[Phase]

    @property
    def primitive(self) -> str:
        """The clip-level primitive: the only one, or `sequence` for a clip of several."""
        return self.primitives[0] if len(self.primitives) == 1 else SEQUENCE_PRIMITIVE

    @property
    def clip_id(self) -> str:
        """File stem of the clip: <seed:09d>_<primitive>."""
        return f"{self.seed:09d}_{self.primitive}"
