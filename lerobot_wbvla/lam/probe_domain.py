"""Probing a LAM on a second video domain (another renderer, camera or room set than it was trained on).

Two questions, two probes, both scored on the same held-out pairs of the second domain (`--probe_data`):
- "transfer": the probe is fit on the training pairs of the LAM's own data (`--data`, its probe_train_split) and
  scored on the second domain. Strict: the same linear read-out must work there, i.e. a code means the same
  motion in both domains (what a VLA trained on codes of one domain and run in another relies on).
- "refit": the probe is fit on the second domain's own training clips. Does the representation carry the
  motion there at all, whatever the read-out?
The held-out pairs are the second folder's "heldout" clips when its labels.jsonl has train and heldout clips;
otherwise a seeded share of its clips (whole clips, never pairs of one clip on both sides).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from lerobot_wbvla.datasets import NO_LABEL
from lerobot_wbvla.lam.data import LAMDataConfig, build_caches, feature_pairs, make_sources
from lerobot_wbvla.lam.latents import (
    PairLatents,
    class_names_of,
    collect_latents,
    labels_of,
    latent_report,
    probe_report,
    sample_indices,
)
from lerobot_wbvla.lam.modeling_lam import LatentActionModel
from lerobot_wbvla.lam.report import code_use_by_class

logger = logging.getLogger(__name__)

TRANSFER_METHOD = (
    "probe fit on the training pairs of --data (the LAM's own domain), scored on the held-out pairs of "
    "--probe_data: does the same read-out work in the other domain"
)
REFIT_METHOD = (
    "probe fit on the training clips of --probe_data, scored on its held-out clips: does the representation "
    "carry the motion in the other domain at all"
)


def has_frames(cfg: LAMDataConfig) -> bool:
    """Whether a data config names any frames (an unset `--probe_data` names none)."""
    return any(x is not None for x in (cfg.video_root, cfg.dataset_repo_id, cfg.dataset_root))


def clip_keys_of(dataset) -> np.ndarray:
    """One int per pair naming its clip, unique across the datasets of a ConcatDataset."""
    if isinstance(dataset, torch.utils.data.ConcatDataset):
        keys, offset = [], 0
        for d in dataset.datasets:
            keys.append(clip_keys_of(d) + offset)
            offset += len(d.pairs.clips)
        return np.concatenate(keys)
    return np.asarray(dataset.pairs.clip_index)


def split_pairs(
    cfg: LAMDataConfig, caches: Mapping, heldout_fraction: float, seed: int
) -> tuple[torch.utils.data.Dataset, np.ndarray, torch.utils.data.Dataset, np.ndarray, str]:
    """(train dataset, its labelled pair indices, held-out dataset, all its pair indices, how it was split)."""
    splits = {clip.split for cache in caches.values() for clip in cache.clips}
    if {"train", "heldout"} <= splits:
        train = feature_pairs(cfg, caches, split="train")
        test = feature_pairs(cfg, caches, split="heldout")
        return (
            train,
            np.flatnonzero(labels_of(train) != NO_LABEL),
            test,
            np.arange(len(test)),
            "the train and heldout clips of its labels.jsonl",
        )
    if not 0 < heldout_fraction < 1:
        raise ValueError(
            f"--probe_heldout_fraction={heldout_fraction}: use a share between 0 and 1 (exclusive); "
            "--probe_data has no train/heldout splits, so its clips are split by this share."
        )
    pairs = feature_pairs(cfg, caches, split=None)
    keys = clip_keys_of(pairs)
    clips = np.unique(keys)
    if len(clips) < 2:
        raise ValueError(
            "--probe_data: one clip only, and no train/heldout splits: the probe needs clips on both sides. "
            "Pass a folder with more clips (or a labels.jsonl with splits)."
        )
    n_held = int(np.clip(round(heldout_fraction * len(clips)), 1, len(clips) - 1))
    held = np.random.default_rng(seed).choice(clips, n_held, replace=False)
    is_held = np.isin(keys, held)
    train_idx = np.flatnonzero(~is_held & (labels_of(pairs) != NO_LABEL))
    how = f"{n_held} of {len(clips)} clips held out (seed {seed}; the folder has no train/heldout splits)"
    return pairs, train_idx, pairs, np.flatnonzero(is_held), how


def _check_class_names(ours: Sequence[str], theirs: Sequence[str]) -> list[str]:
    """The class list both domains agree on (one must extend the other: the contract's classes come first)."""
    n = min(len(ours), len(theirs))
    if list(ours[:n]) != list(theirs[:n]):
        raise ValueError(
            f"--probe_data: its motion classes {list(theirs)} do not match those of --data {list(ours)}; "
            "label both folders with the same classes (labels.jsonl of the generator)."
        )
    return list(ours if len(ours) >= len(theirs) else theirs)


def probe_domain_report(
    cfg: LAMDataConfig,
    models: Mapping[str, LatentActionModel],
    data_train: Mapping[str, PairLatents | None],
    class_names: Sequence[str],
    cache_root: Path,
    *,
    max_pairs: int | None = None,
    heldout_fraction: float = 0.25,
    seed: int = 0,
    batch_size: int = 256,
) -> dict:
    """Transfer and refit probes (module docstring) of every model on the second domain `cfg`.

    models: name -> LAM (the first one's encoder builds the feature cache; all share the config);
    data_train: name -> latents of that model on the training pairs of the LAM's own data (None: no transfer probe).
    """
    first = next(iter(models.values()))
    caches = build_caches(cfg, first.encoder, first.config.encoder, cache_root, make_sources(cfg))
    train_set, train_idx, test_set, test_idx, how = split_pairs(cfg, caches, heldout_fraction, seed)
    names = _check_class_names(class_names, class_names_of(test_set))
    train_idx = train_idx[sample_indices(len(train_idx), max_pairs, seed + 1)]
    if len(train_idx) == 0:
        raise ValueError(
            f"--probe_data: no labelled pair among its training clips ({how}); nothing to fit on."
        )
    test_idx = test_idx[sample_indices(len(test_idx), max_pairs, seed)]
    out: dict = {
        "video_root": None if cfg.video_root is None else str(cfg.video_root),
        "dataset_repo_id": cfg.dataset_repo_id,
        "split": how,
        "n_train_pairs": len(train_idx),
        "n_test_pairs": len(test_idx),
        "n_test_labelled_pairs": int((labels_of(test_set)[test_idx] != NO_LABEL).sum()),
        "class_names": names,
        "transfer": {"method": TRANSFER_METHOD},
        "refit": {"method": REFIT_METHOD},
        "eval": {},
        "code_use_by_class": {},
    }
    for name, model in models.items():
        test = collect_latents(model, test_set, test_idx.tolist(), batch_size, seed)
        own = data_train.get(name)
        out["transfer"][name] = probe_report(model, own, test, names) if own is not None else None
        train = collect_latents(model, train_set, train_idx.tolist(), batch_size, seed)
        out["refit"][name] = probe_report(model, train, test, names)
        out["eval"][name] = latent_report(model, test)
        out["code_use_by_class"][name] = code_use_by_class(
            test.codes, test.labels, model.quantizer.codebook_size, names
        )
    return out
