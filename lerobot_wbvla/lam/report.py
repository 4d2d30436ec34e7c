"""What the motion classes look like to a LAM: per-model report blocks, code use by class, recall tables and
confusion-matrix plots (used by `wbvla-lam-eval`; `bench/lam_probe.py` takes the probe figures).

A report block of one model on one set of pairs holds `latent_report` (errors, controllability, code use),
`probe_report` (z and code probes with per-class recall and confusion counts) and `code_use_by_class`. The last
answers "which codes does each class use, and which classes share codes": for every class, the share of its pairs
that take code k in code slot s; two classes' overlap is the intersection of those histograms (sum over slots and
codes of the smaller share, divided by the number of slots): 1 = both classes use the codes in the same
proportions, 0 = no code in common, so their codes alone tell them apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from lerobot_wbvla.datasets import NO_LABEL
from lerobot_wbvla.lam.latents import PairLatents, latent_report, probe_report
from lerobot_wbvla.lam.modeling_lam import LatentActionModel

PROBES = ("z_probe", "code_probe")
PROBE_TITLES = {"z_probe": "z", "code_probe": "codes"}
TOP_CODES = 3  # most used codes listed per class
MOST_SHARED = 10  # class pairs listed by overlap


def code_use_by_class(
    codes: np.ndarray, labels: np.ndarray, codebook_size: int, class_names: Sequence[str]
) -> dict | None:
    """Which codes each labelled class uses and how much classes share them (module docstring), or None when no
    pair is labelled. codes: (P, num_codes) ints; labels: (P,) class ids or NO_LABEL."""
    codes = np.asarray(codes).reshape(len(codes), -1)
    labels = np.asarray(labels)
    keep = labels != NO_LABEL
    codes, labels = codes[keep], labels[keep]
    if len(labels) == 0:
        return None
    slots = codes.shape[1]
    ids = np.unique(labels)
    names = [str(class_names[i]) if i < len(class_names) else str(i) for i in ids]
    # shares[c, s, k]: share of class c's pairs whose slot s holds code k (each slot's shares sum to 1).
    shares = np.zeros((len(ids), slots, codebook_size))
    for ci, cid in enumerate(ids):
        rows = codes[labels == cid]
        for s in range(slots):
            shares[ci, s] = np.bincount(rows[:, s], minlength=codebook_size) / len(rows)
    overlap = np.minimum(shares[:, None], shares[None, :]).sum(axis=(2, 3)) / slots
    top = {}
    for ci, name in enumerate(names):
        flat = shares[ci].reshape(-1)
        best = np.argsort(-flat, kind="stable")[:TOP_CODES]
        top[name] = [
            {"slot": int(j // codebook_size), "code": int(j % codebook_size), "share": float(flat[j])}
            for j in best
            if flat[j] > 0
        ]
    pairs = [(overlap[i, j], i, j) for i in range(len(ids)) for j in range(i + 1, len(ids))]
    pairs.sort(key=lambda p: -p[0])
    return {
        "classes": names,
        "n_pairs": {name: int((labels == cid).sum()) for name, cid in zip(names, ids, strict=True)},
        "top_codes": top,
        "overlap": overlap.round(4).tolist(),
        "most_shared": [
            {"classes": [names[i], names[j]], "overlap": round(float(o), 4)}
            for o, i, j in pairs[:MOST_SHARED]
        ],
        "method": "share of each class's pairs using code k in slot s; overlap of two classes = sum of the "
        "smaller share over slots and codes / number of slots (1 = same code use, 0 = no code in common)",
    }


def model_block(
    model: LatentActionModel,
    test: PairLatents,
    class_names: Sequence[str],
    train: PairLatents | None = None,
) -> dict:
    """Everything reported about one model on one set of pairs: "eval" (latent_report), "code_use_by_class",
    and "probes" (fit on `train`, scored on `test`) when `train` is given and there are labels enough."""
    block: dict = {"eval": latent_report(model, test)}
    if train is not None:
        block["probes"] = probe_report(model, train, test, class_names)
    block["code_use_by_class"] = code_use_by_class(
        test.codes, test.labels, model.quantizer.codebook_size, class_names
    )
    return block


def recall_table(probes_by_model: Mapping[str, dict | None], title: str) -> str:
    """Per-class recall of the z and code probes of several models (e.g. trained, untrained) as a text table,
    one row per class of the test pairs plus the accuracy; '-' where a model has no probe."""
    models = [m for m, p in probes_by_model.items() if p]
    if not models:
        return f"{title}: no probe (no labelled pairs)"
    first = probes_by_model[models[0]]
    support = _support(first["z_probe"])
    columns = [(m, probe) for probe in PROBES for m in models]
    heads = [f"{PROBE_TITLES[probe]}:{m}" for m, probe in columns]
    width = max(12, *(len(c) for c in support))
    lines = [title, f"{'class':<{width}} {'pairs':>6} " + " ".join(f"{h:>16}" for h in heads)]
    for name, n in support.items():
        cells = [probes_by_model[m][probe]["per_class_recall"].get(name) for m, probe in columns]
        lines.append(f"{name:<{width}} {n:>6} " + " ".join(_cell(c) for c in cells))
    acc = [probes_by_model[m][probe]["accuracy"] for m, probe in columns]
    lines.append(f"{'accuracy':<{width}} {sum(support.values()):>6} " + " ".join(_cell(c) for c in acc))
    return "\n".join(lines)


def _support(probe: dict) -> dict[str, int]:
    """Test pairs per class (the row sums of the confusion counts), classes with none left out."""
    return {
        name: int(sum(row))
        for name, row in zip(probe["confusion_classes"], probe["confusion"], strict=True)
        if sum(row) > 0
    }


def _cell(x: float | None) -> str:
    return f"{'-':>16}" if x is None else f"{x:>16.3f}"


def row_normalised(confusion: Sequence[Sequence[int]]) -> np.ndarray:
    """Each row divided by its sum (the share of a true class predicted as each class); rows with no sample NaN."""
    c = np.asarray(confusion, dtype=np.float64)
    sums = c.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sums > 0, c / np.where(sums > 0, sums, 1), np.nan)


def plot_confusions(probes_by_model: Mapping[str, dict | None], path: Path, title: str) -> Path | None:
    """One PNG: a row-normalised confusion matrix (true class down with its test-pair count, predicted across, share
    in each cell) for the z probe and the code probe (columns) of every model that has probes (rows). None when no
    model has any."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [m for m, p in probes_by_model.items() if p]
    if not models:
        return None
    n = len(probes_by_model[models[0]]["z_probe"]["confusion_classes"])
    side = max(3.5, 0.42 * n + 1.5)
    fig, axes = plt.subplots(
        len(models), len(PROBES), figsize=(side * len(PROBES), side * len(models)), squeeze=False
    )
    for r, m in enumerate(models):
        for c, probe in enumerate(PROBES):
            res = probes_by_model[m][probe]
            _confusion_panel(axes[r][c], res, f"{m}, {PROBE_TITLES[probe]} probe")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _confusion_panel(ax, res: dict, title: str) -> None:
    names = res["confusion_classes"]
    share = row_normalised(res["confusion"])
    ax.imshow(np.nan_to_num(share), vmin=0, vmax=1, cmap="Blues")
    for i in range(len(names)):
        for j in range(len(names)):
            if np.isfinite(share[i, j]) and (share[i, j] > 0 or i == j):
                ax.text(
                    j,
                    i,
                    f"{share[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if share[i, j] > 0.5 else "black",
                )
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    support = np.asarray(res["confusion"]).sum(1)
    ax.set_yticks(range(len(names)), [f"{n} ({s})" for n, s in zip(names, support, strict=True)], fontsize=7)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("true", fontsize=8)
    ax.set_title(f"{title}: acc {res['accuracy']:.2f}, balanced {res['balanced_accuracy']:.2f}", fontsize=8)
