"""Ray-cast egocentric video: a second, independent domain for held-out measurement of the LAM.

A numpy ray caster (no MuJoCo) with its own lens model (distorted, off-centre, non-square-pixel pinhole), rooms,
procedural textures, point lights, boxy robot arms and motion profiles whose speeds, heights and lenses lie
outside the MuJoCo generator's (`lerobot_wbvla.datasets.egovideo`) ranges. It shows the same nine primitives and
twelve per-frame motion classes and writes the same contract (CONTRACTS.md "Egocentric video"), so every reader
of egovideo output reads it. Entry points: `generate(cfg)`, `make_clip(seed, split, cfg)`,
`wbvla-gen-raycast-egovideo`.

Names are imported lazily (PEP 562), so `python -m lerobot_wbvla.datasets.raycast_egovideo.generate` runs its
module once.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "LensConfig": "lerobot_wbvla.datasets.raycast_egovideo.config",
    "RaycastEgoVideoConfig": "lerobot_wbvla.datasets.raycast_egovideo.config",
    "RaycastMotionConfig": "lerobot_wbvla.datasets.raycast_egovideo.config",
    "generate": "lerobot_wbvla.datasets.raycast_egovideo.generate",
    "make_clip": "lerobot_wbvla.datasets.raycast_egovideo.render",
    "plan": "lerobot_wbvla.datasets.raycast_egovideo.render",
    "render_frames": "lerobot_wbvla.datasets.raycast_egovideo.render",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
