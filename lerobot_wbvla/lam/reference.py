"""The untrained reference of a LAM: what its architecture and encoder carry before any training.

A probe figure alone does not say what training added: a random MLP over pixel patches already separates some
motions linearly. The fair reference is the *untrained twin* of the trained model: the same config, freshly
initialised with the seed training started from (so the very weights training began with), and the trained model's
normaliser statistics (which `wbvla-train-lam` measures once on training pairs before the first step and never
changes), so both models see identically scaled inputs. `wbvla-lam-eval` and `bench/lam_probe.py` both use this.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from lerobot_wbvla.lam.modeling_lam import LatentActionModel

logger = logging.getLogger(__name__)

DEFAULT_TRAIN_SEED = 0  # wbvla-train-lam's --seed default


def untrained_twin(model: LatentActionModel, seed: int = DEFAULT_TRAIN_SEED) -> LatentActionModel:
    """A fresh `LatentActionModel` of `model`'s config, initialised as `wbvla-train-lam --seed=<seed>` initialises
    it, with `model`'s normaliser statistics and encoder (a frozen function, shared, not copied); in eval mode.

    The global torch RNG is left as it was (the seeding happens in a forked RNG state)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # what train() does (accelerate's set_seed) before building its model
        twin = LatentActionModel(model.config, encoder=model.__dict__.get("_encoder"))
    twin.normalizer.load_state_dict(model.normalizer.state_dict())
    device = next(model.parameters()).device
    return twin.to(device).eval()


def training_seed(lam_dir: str | Path | None) -> int | None:
    """The --seed a LAM was trained with, read from `train_config.json` of its run folder (the parent of
    `pretrained_model/`, where `wbvla-train-lam` writes it), or None when the LAM folder is not inside a run
    (a Hub download, a copied folder)."""
    if lam_dir is None or not Path(lam_dir).is_dir():  # a Hub repo id: no run folder around it
        return None
    path = Path(lam_dir).parent / "train_config.json"
    try:
        seed = json.loads(path.read_text()).get("seed")
    except (OSError, ValueError, AttributeError):
        return None
    return int(seed) if isinstance(seed, int) else None
