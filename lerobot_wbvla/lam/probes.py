"""Linear probes: how much of a known label (the motion of a frame pair) a LAM's latents carry, linearly.

A probe is a multinomial logistic regression fit on latents of training clips and scored on latents of held-out
clips only, so a LAM that memorised its training clips gets no credit. Two inputs are probed:
- the continuous latent z (B, num_codes, latent_dim) flattened, standardised with training statistics;
- the discrete codes as one-hot vectors (num_codes * codebook_size), the labels the VLA is trained on.
Besides the accuracies a probe reports its confusion matrix (rows: true class, columns: predicted class, counts)
and the recall of each class, so a class the latents do not carry is visible behind a good mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

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
    # Recall of every class present among the test samples, by class name (a class never trained on scores 0).
    per_class_recall: dict[str, float] = field(default_factory=dict)
    # Names of the rows/columns of `confusion`: every class of the train or test samples, in class-id order.
    confusion_classes: list[str] = field(default_factory=list)
    # Test-sample counts, confusion[i][j] = samples of class i predicted as class j.
    confusion: list[list[int]] = field(default_factory=list)

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
    class_names: Sequence[str] | None = None,
) -> ProbeResult:
    """Fit a logistic regression on (train_x, train_y), score it on (test_x, test_y).

    `class_names[i]` names class id i in the per-class recall and the confusion matrix (None: the ids as text).
    """
    from sklearn.linear_model import LogisticRegression
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
        pred = np.full(len(test_y), majority)
    else:
        clf = LogisticRegression(max_iter=max_iter, C=c)
        model = make_pipeline(StandardScaler(), clf) if standardize else clf
        model.fit(train_x, train_y)
        pred = model.predict(test_x)
    ids = np.union1d(classes, test_y)
    confusion = confusion_counts(test_y, pred, ids)
    names = [_class_name(i, class_names) for i in ids]
    recall = recall_from_confusion(confusion, names)
    return ProbeResult(
        accuracy=float((pred == test_y).mean()),
        balanced_accuracy=float(np.mean(list(recall.values()))),  # sklearn's balanced_accuracy_score
        chance_accuracy=chance,
        n_train=len(train_x),
        n_test=len(test_x),
        n_classes=int(len(classes)),
        per_class_recall=recall,
        confusion_classes=names,
        confusion=confusion.tolist(),
    )


def confusion_counts(true: np.ndarray, pred: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(len(ids), len(ids)) int64 counts: [i, j] = samples of class ids[i] predicted as class ids[j]."""
    pos = {int(c): i for i, c in enumerate(ids)}
    out = np.zeros((len(ids), len(ids)), dtype=np.int64)
    np.add.at(out, ([pos[int(t)] for t in true], [pos[int(p)] for p in pred]), 1)
    return out


def recall_from_confusion(confusion: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Recall of every class with at least one sample (a row of `confusion` with a non-zero sum), by name."""
    confusion = np.asarray(confusion)
    support = confusion.sum(1)
    return {names[i]: float(confusion[i, i] / support[i]) for i in range(len(names)) if support[i] > 0}


def _class_name(class_id: int, class_names: Sequence[str] | None) -> str:
    if class_names is not None and 0 <= int(class_id) < len(class_names):
        return str(class_names[int(class_id)])
    return str(int(class_id))
