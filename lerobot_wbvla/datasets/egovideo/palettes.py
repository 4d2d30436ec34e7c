"""Colour palette families of the generated rooms.

A clip draws every surface colour from one family, so rooms look coherent; the held-out split can use families
the train split never sees (`EgoVideoConfig.heldout_palettes`), to test that what a model learned about motion
does not hang on colours.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Palette:
    """Hue range (degrees, may wrap past 360) and saturation/value ranges of a family's main colours."""

    name: str
    hue: tuple[float, float]
    sat: tuple[float, float]
    val: tuple[float, float]

    def color(self, rng: np.random.Generator, sat_scale: float = 1.0, val_shift: float = 0.0) -> np.ndarray:
        """One RGB colour in [0, 1] from this family."""
        h = (rng.uniform(*self.hue) % 360.0) / 360.0
        s = float(np.clip(rng.uniform(*self.sat) * sat_scale, 0, 1))
        v = float(np.clip(rng.uniform(*self.val) + val_shift, 0.05, 1))
        return np.array(colorsys.hsv_to_rgb(h, s, v))

    def accent(self, rng: np.random.Generator) -> np.ndarray:
        """A saturated colour for objects: half from the family's hues, half any hue."""
        hue = rng.uniform(*self.hue) if rng.random() < 0.5 else rng.uniform(0, 360)
        return np.array(
            colorsys.hsv_to_rgb((hue % 360) / 360, rng.uniform(0.45, 0.95), rng.uniform(0.45, 0.95))
        )


TRAIN_PALETTES: tuple[Palette, ...] = (
    Palette("warm", (0, 55), (0.25, 0.6), (0.55, 0.9)),
    Palette("cool", (185, 250), (0.2, 0.55), (0.5, 0.9)),
    Palette("earth", (20, 45), (0.2, 0.5), (0.35, 0.8)),
    Palette("pastel", (0, 360), (0.1, 0.3), (0.75, 0.95)),
    Palette("grey", (0, 360), (0.0, 0.08), (0.3, 0.9)),
    Palette("vivid", (0, 360), (0.55, 0.9), (0.5, 0.9)),
)
HELDOUT_PALETTES: tuple[Palette, ...] = (
    Palette("forest", (75, 165), (0.25, 0.65), (0.35, 0.8)),
    Palette("dusk", (260, 340), (0.2, 0.6), (0.4, 0.85)),
)


def palettes_for(split: str, heldout_palettes: bool) -> tuple[Palette, ...]:
    """The families a clip of `split` may use."""
    if not heldout_palettes:
        return TRAIN_PALETTES + HELDOUT_PALETTES
    return HELDOUT_PALETTES if split == "heldout" else TRAIN_PALETTES
