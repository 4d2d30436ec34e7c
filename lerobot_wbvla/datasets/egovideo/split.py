"""Clip seeds and the deterministic train/heldout split.

Clip seeds of a dataset with base seed B are B * SEED_STRIDE + j for j = 0, 1, 2, ... The clip's first primitive is
cycle[j % P], where `cycle` is the configured primitive list (two-phase primitives listed twice when phases are
balanced, see `primitive_cycle`) and P its length, so consecutive seeds cycle through the primitives. Seeds come in
blocks of P consecutive j; a whole block is held out when a hash of (B, block) falls below heldout_fraction. So:
- the split of a seed is a fixed function of the seed (given the cycle length and the fraction): it never
  changes when num_clips changes, and held-out clips use held-out seeds only;
- train and heldout are disjoint by construction and each holds every primitive about equally often.
"""

from __future__ import annotations

import hashlib

from lerobot_wbvla.datasets.egovideo.labels import PRIMITIVE_PHASES

SEED_STRIDE = 1_000_000


def _unit_hash(*parts: int) -> float:
    digest = hashlib.blake2b(":".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def split_of_seed(seed: int, heldout_fraction: float, n_primitives: int) -> str:
    """'heldout' or 'train' for a clip seed."""
    base, j = divmod(seed, SEED_STRIDE)
    return "heldout" if _unit_hash(base, j // n_primitives) < heldout_fraction else "train"


def primitive_cycle(primitives: list[str], balance_phases: bool) -> list[str]:
    """The primitive order that clip seeds cycle through. With balance_phases, primitives of two phases (squat,
    reach_*) appear twice, so each motion class gets about as many frames as a one-phase locomotion class."""
    if not balance_phases:
        return list(primitives)
    return list(primitives) + [p for p in primitives if len(PRIMITIVE_PHASES[p]) > 1]


def primitive_of_seed(seed: int, cycle: list[str]) -> str:
    """The clip's first primitive."""
    return cycle[(seed % SEED_STRIDE) % len(cycle)]


def assign_seeds(
    base_seed: int, num_clips: int, heldout_fraction: float, n_primitives: int
) -> list[tuple[int, str]]:
    """(seed, split) for num_clips clips: round(num_clips * heldout_fraction) held-out ones (at least one when the
    fraction is positive and there are 2+ clips), the rest train, in seed order."""
    if base_seed < 0:
        raise ValueError(f"seed={base_seed}: must be >= 0.")
    n_heldout = round(num_clips * heldout_fraction)
    if heldout_fraction > 0 and num_clips >= 2:
        n_heldout = max(1, n_heldout)
    n_heldout = min(n_heldout, num_clips - 1) if num_clips > 1 else 0
    n_train = num_clips - n_heldout
    out: list[tuple[int, str]] = []
    counts = {"train": 0, "heldout": 0}
    want = {"train": n_train, "heldout": n_heldout}
    for j in range(SEED_STRIDE):
        seed = base_seed * SEED_STRIDE + j
        split = split_of_seed(seed, heldout_fraction, n_primitives)
        if counts[split] < want[split]:
            out.append((seed, split))
            counts[split] += 1
            if len(out) == num_clips:
                return out
    raise ValueError(
        f"Could not find {n_heldout} held-out and {n_train} train seeds below {SEED_STRIDE} "
        f"(heldout_fraction={heldout_fraction}); use fewer clips or a fraction further from 0 and 1."
    )
