"""The config fields both egocentric generators have, and their checks.

Each generator keeps its own config dataclass (EgoVideoConfig, RaycastEgoVideoConfig): the defaults and the ranges
differ on purpose per domain, and the field order is what generator.json records. What is the same is the meaning
of the shared fields, so they are checked here once.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Protocol

from lerobot_wbvla.datasets.egovideo.labels import PRIMITIVES


class EgoGeneratorConfig(Protocol):
    """The fields of a generator config that the shared writer reads (see EgoVideoConfig for their meaning)."""

    out_dir: Path
    overwrite: bool
    num_clips: int
    fps: int
    height: int
    width: int
    clip_seconds: float
    seed: int
    heldout_fraction: float
    primitives: list[str]
    balance_phases: bool
    sequence_fraction: float
    max_sequence_length: int
    still_seconds: tuple[float, float]
    crf: int
    num_workers: int
    contact_sheet: bool
    progress: bool

    @property
    def n_frames(self) -> int: ...

    def validate(self) -> None: ...


def check_range(name: str, value: tuple) -> None:
    """Raise ValueError unless `value` is a (low, high) pair with 0 <= low <= high."""
    if len(value) != 2 or value[0] > value[1] or value[0] < 0:
        raise ValueError(f"{name}={value}: need a (low, high) pair with 0 <= low <= high.")


def check_ranges(prefix: str, section: Any) -> None:
    """`check_range` on every tuple field of the dataclass `section`, named `<prefix>.<field>` in the error."""
    for f in fields(section):
        value = getattr(section, f.name)
        if isinstance(value, tuple):
            check_range(f"{prefix}.{f.name}", value)


def validate_common(cfg: EgoGeneratorConfig) -> None:
    """Raise ValueError naming the bad shared field and what to do (the domain checks its own fields after)."""
    if cfg.num_clips < 1:
        raise ValueError(f"num_clips={cfg.num_clips}: need at least 1 clip.")
    if cfg.fps < 1:
        raise ValueError(f"fps={cfg.fps}: need a positive frame rate.")
    if cfg.height < 16 or cfg.width < 16 or cfg.height % 2 or cfg.width % 2:
        raise ValueError(
            f"height={cfg.height}, width={cfg.width}: both must be even and >= 16 (H.264 yuv420p needs even sizes)."
        )
    if cfg.n_frames < 8:
        raise ValueError(
            f"clip_seconds={cfg.clip_seconds} at fps={cfg.fps} gives {cfg.n_frames} frames; need at least 8."
        )
    if not 0.0 <= cfg.heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction={cfg.heldout_fraction}: must be in [0, 1).")
    if not 0.0 <= cfg.sequence_fraction <= 1.0:
        raise ValueError(f"sequence_fraction={cfg.sequence_fraction}: must be in [0, 1].")
    if cfg.max_sequence_length < 2 and cfg.sequence_fraction > 0:
        raise ValueError(f"max_sequence_length={cfg.max_sequence_length}: a sequence needs at least 2.")
    if not cfg.primitives:
        raise ValueError(f"primitives is empty: choose from {list(PRIMITIVES)}.")
    unknown = [p for p in cfg.primitives if p not in PRIMITIVES]
    if unknown:
        raise ValueError(f"primitives: unknown {unknown}; choose from {list(PRIMITIVES)}.")
    if len(set(cfg.primitives)) != len(cfg.primitives):
        raise ValueError(f"primitives has duplicates: {cfg.primitives}.")
    if not 0 <= cfg.crf <= 51:
        raise ValueError(f"crf={cfg.crf}: H.264 CRF must be in [0, 51].")
    if cfg.num_workers < 1:
        raise ValueError(f"num_workers={cfg.num_workers}: need at least 1.")
    check_range("still_seconds", cfg.still_seconds)
