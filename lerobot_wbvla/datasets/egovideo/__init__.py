"""Egocentric video generator: labelled clips of a kinematic body walking, turning, squatting and reaching in
procedural MuJoCo rooms (CONTRACTS.md "Egocentric video"). Entry points: `generate(cfg)`, `wbvla-gen-egovideo`."""

from lerobot_wbvla.datasets.egovideo.config import EgoVideoConfig, MotionConfig
from lerobot_wbvla.datasets.egovideo.generate import generate
from lerobot_wbvla.datasets.egovideo.labels import (
    CLASS_INDEX,
    MOTION_CLASSES,
    PRIMITIVE_PHASES,
    PRIMITIVES,
    ClipRecord,
    pair_label,
    read_labels,
)

__all__ = [
    "CLASS_INDEX",
    "MOTION_CLASSES",
    "PRIMITIVES",
    "PRIMITIVE_PHASES",
    "ClipRecord",
    "EgoVideoConfig",
    "MotionConfig",
    "generate",
    "pair_label",
    "read_labels",
]
