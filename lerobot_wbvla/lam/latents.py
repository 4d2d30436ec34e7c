"""What a LAM makes of a set of frame pairs, and the figures computed from it (shared by `wbvla-lam-eval` and
`bench/lam_probe.py`).

`collect_latents` runs a LAM once over pairs of cached features and keeps, per pair, its continuous latent z, its
codes, the motion label and the forward errors (inferred codes, random codes, copying the current frame);
`latent_report` summarises errors, controllability and code use; `probe_report` fits the linear probes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lerobot_wbvla.datasets import NO_LABEL
from lerobot_wbvla.lam.modeling_lam import LatentActionModel
from lerobot_wbvla.lam.probes import linear_probe, one_hot_codes
from lerobot_wbvla.lam.quantizer import perplexity_from_counts


@dataclass
class PairLatents:
    """What a LAM makes of a set of pairs (one row per pair)."""

    z: np.ndarray  # (P, num_codes * latent_dim) continuous latent
    codes: np.ndarray  # (P, num_codes)
    labels: np.ndarray  # (P,) class id or -1
    err: np.ndarray  # (P,) forward error with inferred codes, target space
    err_random: np.ndarray  # (P,) forward error with uniformly random codes, target space
    err_copy: np.ndarray  # (P,) error of predicting "no change", target space
    feat_err: np.ndarray  # (P,) MSE of predicted next features, encoder units
    feat_err_copy: np.ndarray  # (P,) MSE of copying the current features, encoder units


@torch.no_grad()
def collect_latents(
    model: LatentActionModel,
    dataset: torch.utils.data.Dataset,
    indices: list[int] | None = None,
    batch_size: int = 256,
    seed: int = 0,
) -> PairLatents:
    """Run the LAM over pairs of cached features (items with feat_t, feat_tk, label)."""
    model.eval()
    subset = dataset if indices is None else torch.utils.data.Subset(dataset, indices)
    loader = torch.utils.data.DataLoader(subset, batch_size=batch_size, shuffle=False)
    gen = torch.Generator().manual_seed(seed)
    parts: dict[str, list] = {k: [] for k in PairLatents.__dataclass_fields__}
    device = next(model.parameters()).device
    for batch in loader:
        a = batch["feat_t"].to(device, torch.float32)
        b = batch["feat_tk"].to(device, torch.float32)
        act = model.encode_action(a, b)
        rand = torch.randint(0, model.quantizer.codebook_size, act.indices.shape, generator=gen).to(device)
        target = model.target(a, b)
        pred_next = model.predict_next(a, act.z_q)
        parts["z"].append(act.z.flatten(1).cpu().numpy())
        parts["codes"].append(act.indices.cpu().numpy())
        parts["labels"].append(np.asarray(batch["label"]))
        parts["err"].append(model.forward_error(a, b, act.indices).cpu().numpy())
        parts["err_random"].append(model.forward_error(a, b, rand).cpu().numpy())
        if model.config.model.predict_residual:
            copy = target.pow(2).flatten(1).mean(1)
        else:
            copy = (model.target(a, a) - target).pow(2).flatten(1).mean(1)
        parts["err_copy"].append(copy.cpu().numpy())
        ta, tb = model.target_tokens(a), model.target_tokens(b)
        parts["feat_err"].append((pred_next - tb).pow(2).flatten(1).mean(1).cpu().numpy())
        parts["feat_err_copy"].append((ta - tb).pow(2).flatten(1).mean(1).cpu().numpy())
    return PairLatents(**{k: np.concatenate(v) for k, v in parts.items()})


def latent_report(model: LatentActionModel, lat: PairLatents) -> dict:
    """Forward error vs copy baseline, controllability and code use of one set of pairs."""
    counts = np.bincount(lat.codes.reshape(-1), minlength=model.quantizer.codebook_size)
    err, rand, copy = float(lat.err.mean()), float(lat.err_random.mean()), float(lat.err_copy.mean())
    return {
        "n_pairs": len(lat.err),
        "forward_error": err,
        "copy_baseline_error": copy,
        "relative_forward_error": err / max(copy, 1e-12),
        "forward_error_feature_units": float(lat.feat_err.mean()),
        "copy_baseline_error_feature_units": float(lat.feat_err_copy.mean()),
        "random_code_error": rand,
        "controllability_gap": rand - err,
        "relative_controllability_gap": (rand - err) / max(copy, 1e-12),
        "codebook_usage": float((counts > 0).mean()),
        "perplexity": perplexity_from_counts(torch.from_numpy(counts)),
        "code_counts": counts.tolist(),
    }


def probe_report(
    model: LatentActionModel,
    train: PairLatents,
    test: PairLatents,
    class_names: Sequence[str] | None = None,
) -> dict | None:
    """Linear probes z -> label and one-hot codes -> label (fit on `train`, scored on `test`), or None when there
    are too few labelled pairs. `class_names` names the classes of the per-class recall and confusion matrix."""
    tr, te = train.labels != NO_LABEL, test.labels != NO_LABEL
    if tr.sum() < 2 or te.sum() < 1 or len(np.unique(train.labels[tr])) < 2:
        return None
    k = model.quantizer.codebook_size
    z = linear_probe(train.z[tr], train.labels[tr], test.z[te], test.labels[te], class_names=class_names)
    codes = linear_probe(
        one_hot_codes(train.codes[tr], k),
        train.labels[tr],
        one_hot_codes(test.codes[te], k),
        test.labels[te],
        standardize=False,
        class_names=class_names,
    )
    return {"z_probe": z.to_dict(), "code_probe": codes.to_dict()}


def sample_indices(n: int, max_n: int | None, seed: int) -> np.ndarray:
    """All of range(n), or `max_n` of them drawn without replacement with `seed` (sorted)."""
    if max_n is None or n <= max_n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_n, replace=False))


def labels_of(dataset) -> np.ndarray:
    """Pair labels of a pair dataset or a ConcatDataset of them, without loading features."""
    if isinstance(dataset, torch.utils.data.ConcatDataset):
        return np.concatenate([labels_of(d) for d in dataset.datasets])
    return np.asarray(dataset.labels)


def class_names_of(dataset) -> list[str]:
    """Class names of a pair dataset (or of the first of a ConcatDataset: all share the contract's classes)."""
    if isinstance(dataset, torch.utils.data.ConcatDataset):
        return class_names_of(dataset.datasets[0])
    return list(dataset.class_names)
