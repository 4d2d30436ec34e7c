"""Linear probes: how much of a known label (the motion of a frame pair) a LAM's latents carry, linearly.

A probe is a multinomial logistic regression fit on latents of training clips and scored on latents of held-out
clips only, so a LAM that memorised its training clips gets no credit. Two inputs are probed:
- the continuous latent z (B, num_codes, latent_dim) flattened, standardised with training statistics;
- the discrete codes as one-hot vectors (num_codes * codebook_size), the labels the VLA is trained on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch


def one_hot_codes(indices: torch.Tensor | np.ndarray, codebook_size: int) -> np.ndarray:
    """Codes (N, num_codes) -> concatenated one-hot vectors (N, num_codes * codebook_size), float32."""
    idx = np.asarray(indices, dtype=np.int64)
    if idx.ndim == 1:
        idx = idx[:, None]
    n, t = idx.shape
    out = np.zeros((n, t * codebook_size), dtype=np.float32)
    cols = idx + np.arange(t)[None, :] * codebook_size
    out[np.arange(n)[:, None], cols] = 1.0
    return out


@dataclass
class ProbeResult:
    accuracy: float  # share of held-out samples classified right
    balanced_accuracy: float  # mean per-class recall (not fooled by a dominant class)
    chance_accuracy: float  # accuracy of always answering the most frequent training class
    n_train: int
    n_test: int
    n_classes: int

    def to_dict(self) -> dict:
        return asdict(self)


def linear_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    standardize: bool = True,
    max_iter: int = 2000,
    c: float = 1.0,
) -> ProbeResult:
    """Fit a logistic regression on (train_x, train_y), score it on (test_x, test_y)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_x = np.asarray(train_x, dtype=np.float64).reshape(len(train_x), -1)
    test_x = np.asarray(test_x, dtype=np.float64).reshape(len(test_x), -1)
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    if len(train_x) == 0 or len(test_x) == 0:
        raise ValueError(
            f"linear probe needs samples on both sides, got {len(train_x)} train, {len(test_x)} test"
        )
    classes, counts = np.unique(train_y, return_counts=True)
    majority = classes[counts.argmax()]
    chance = float((test_y == majority).mean())
    if len(classes) < 2:
        acc = float((test_y == majority).mean())
        return ProbeResult(acc, acc, chance, len(train_x), len(test_x), int(len(classes)))
    clf = LogisticRegression(max_iter=max_iter, C=c)
    model = make_pipeline(StandardScaler(), clf) if standardize else clf
    model.fit(train_x, train_y)
    pred = model.predict(test_x)
    return ProbeResult(
        accuracy=float((pred == test_y).mean()),
        balanced_accuracy=float(balanced_accuracy_score(test_y, pred)),
        chance_accuracy=chance,
        n_train=len(train_x),
        n_test=len(test_x),
        n_classes=int(len(classes)),
    )
