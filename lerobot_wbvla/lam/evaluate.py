"""`wbvla-lam-eval`: how well a LAM explains frame changes, whether its codes matter, what they mean.

    wbvla-lam-eval --lam=outputs/lam/pretrained_model --data.video_root=outputs/egovideo --output_dir=outputs/lam_eval

Reported (JSON + PNG in output_dir), all on the evaluation pairs (the held-out clips when the data has splits):
- forward error of the LAM with its inferred codes, against the copy-the-current-frame baseline; in the model's
  target space (normalised change) and in the encoder's own feature units;
- controllability after Genie (Delta_t PSNR compares inferred vs random latents): the forward error with random
  codes minus the error with inferred codes. > 0 means the decoder follows the code, i.e. the code controls the
  prediction; ~0 means the code is ignored;
- codebook usage (share of codes used) and perplexity of code use;
- where pairs have ground-truth motion labels: linear probes (logistic regression) from the continuous latent z and
  from the one-hot codes to the label, fit on training-split pairs, scored on evaluation pairs only.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lerobot_wbvla.datasets import NO_LABEL
from lerobot_wbvla.lam.cli import LazyModule, lazy_no_grad, run_cli
from lerobot_wbvla.lam.data import LAMDataConfig, build_caches, feature_pairs, make_sources

if TYPE_CHECKING:
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel

# Imported on first use, so that `--help` answers without importing torch.
torch = LazyModule("torch")

logger = logging.getLogger(__name__)


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


@lazy_no_grad
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
    from lerobot_wbvla.lam.quantizer import perplexity_from_counts

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


def probe_report(model: LatentActionModel, train: PairLatents, test: PairLatents) -> dict | None:
    """Linear probes z -> label and one-hot codes -> label (fit on `train`, scored on `test`), or None."""
    from lerobot_wbvla.lam.probes import linear_probe, one_hot_codes

    tr, te = train.labels != NO_LABEL, test.labels != NO_LABEL
    if tr.sum() < 2 or te.sum() < 1 or len(np.unique(train.labels[tr])) < 2:
        return None
    k = model.quantizer.codebook_size
    z = linear_probe(train.z[tr], train.labels[tr], test.z[te], test.labels[te])
    codes = linear_probe(
        one_hot_codes(train.codes[tr], k),
        train.labels[tr],
        one_hot_codes(test.codes[te], k),
        test.labels[te],
        standardize=False,
    )
    return {"z_probe": z.to_dict(), "code_probe": codes.to_dict()}


def _sample(n: int, max_n: int | None, seed: int) -> list[int]:
    if max_n is None or n <= max_n:
        return list(range(n))
    return sorted(np.random.default_rng(seed).choice(n, max_n, replace=False).tolist())


def plot_report(report: dict, path: Path) -> Path:
    """Error bars (copy / inferred / random code), code use histogram and probe accuracies, in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ev = report["eval"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    names = ["copy current frame", "LAM, inferred code", "LAM, random code"]
    vals = [ev["copy_baseline_error"], ev["forward_error"], ev["random_code_error"]]
    axes[0].bar(names, vals, color=["grey", "tab:blue", "tab:orange"])
    axes[0].set_title("forward error (normalised change)", fontsize=9)
    axes[0].tick_params(axis="x", labelsize=7)
    axes[1].bar(range(len(ev["code_counts"])), ev["code_counts"])
    axes[1].set_title(
        f"code use (usage {ev['codebook_usage']:.2f}, perplexity {ev['perplexity']:.1f})", fontsize=9
    )
    probes = report.get("probes")
    if probes:
        labels = ["z", "codes"]
        acc = [probes["z_probe"]["accuracy"], probes["code_probe"]["accuracy"]]
        axes[2].bar(labels, acc, color=["tab:green", "tab:purple"])
        axes[2].axhline(
            probes["z_probe"]["chance_accuracy"], color="k", ls="--", lw=1, label="majority class"
        )
        axes[2].set_ylim(0, 1)
        axes[2].legend(fontsize=7)
        axes[2].set_title("linear probe accuracy (held-out pairs)", fontsize=9)
    else:
        axes[2].text(0.5, 0.5, "no labels: no probe", ha="center", va="center")
        axes[2].set_axis_off()
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)
    return path


@dataclass
class EvalLAMConfig:
    """Evaluate a LAM on frame pairs: forward error, controllability, code use, linear probes."""

    # LAM to evaluate: Hub repo id or local folder (config.json + model.safetensors).
    lam: str = "outputs/train_lam/pretrained_model"
    # Revision of the LAM repo (branch, tag or commit).
    lam_revision: str | None = None
    # Frames and pairs. frame_gap/target_offset_s are taken from the LAM unless use_lam_frame_gap is false.
    data: LAMDataConfig = field(default_factory=LAMDataConfig)
    # Pair frames with the LAM's own frame gap (false: use --data.frame_gap).
    use_lam_frame_gap: bool = True
    # Split evaluated ("heldout" for the generator's held-out clips; None = every pair).
    eval_split: str | None = "heldout"
    # Split the probes are fit on (None = no probe).
    probe_train_split: str | None = "train"
    # At most this many pairs per side (evaluation, probe training), sampled with `seed`.
    max_pairs: int | None = 5000
    # Pairs per LAM batch.
    batch_size: int = 256
    # Seed of the pair sampling and of the random codes of the controllability test.
    seed: int = 0
    # CPU threads for torch (None = torch's default).
    num_threads: int | None = None
    # Report folder: eval_report.json and eval_report.png.
    output_dir: Path = Path("outputs/lam_eval")
    # Show progress bars (feature cache building, video probing, downloads); false = none at all.
    progress: bool = True

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)  # Python callers may pass a str


def evaluate(cfg: EvalLAMConfig) -> dict:
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel

    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    model = LatentActionModel.from_pretrained(cfg.lam, revision=cfg.lam_revision)
    if cfg.use_lam_frame_gap:
        cfg.data.frame_gap = model.config.frame_gap
        cfg.data.target_offset_s = model.config.target_offset_s
    output_dir = Path(cfg.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    sources = make_sources(cfg.data, progress=cfg.progress)
    caches = build_caches(
        cfg.data,
        model.encoder,
        model.config.encoder,
        Path(cfg.data.cache_dir or output_dir / "feature_cache"),
        sources,
        progress=cfg.progress,
    )
    eval_set = feature_pairs(cfg.data, caches, split=cfg.eval_split)
    lat = collect_latents(
        model, eval_set, _sample(len(eval_set), cfg.max_pairs, cfg.seed), cfg.batch_size, cfg.seed
    )
    report: dict = {
        "lam": cfg.lam,
        "lam_revision": cfg.lam_revision,
        "frame_gap": cfg.data.frame_gap,
        "eval_split": cfg.eval_split,
        "eval": latent_report(model, lat),
    }
    if cfg.probe_train_split is not None and (lat.labels != NO_LABEL).any():
        train_set = feature_pairs(cfg.data, caches, split=cfg.probe_train_split)
        labelled = np.flatnonzero(_labels_of(train_set) != NO_LABEL)
        pick = labelled[_sample(len(labelled), cfg.max_pairs, cfg.seed + 1)]
        train_lat = collect_latents(model, train_set, pick.tolist(), cfg.batch_size, cfg.seed)
        report["probes"] = probe_report(model, train_lat, lat)
        report["class_names"] = _class_names_of(eval_set)
    _write_json(output_dir / "eval_report.json", report)
    plot_report(report, output_dir / "eval_report.png")
    return report


def _labels_of(dataset) -> np.ndarray:
    if isinstance(dataset, torch.utils.data.ConcatDataset):
        return np.concatenate([_labels_of(d) for d in dataset.datasets])
    return np.asarray(dataset.labels)


def _class_names_of(dataset) -> list[str]:
    if isinstance(dataset, torch.utils.data.ConcatDataset):
        return _class_names_of(dataset.datasets[0])
    return list(dataset.class_names)


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default))
    os.replace(tmp, path)


def _json_default(o):
    if isinstance(o, (np.integer, np.floating)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "__dataclass_fields__"):
        return asdict(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def _run(cfg: EvalLAMConfig) -> None:
        report = evaluate(cfg)
        ev = report["eval"]
        summary = {
            k: ev[k]
            for k in ("relative_forward_error", "controllability_gap", "codebook_usage", "perplexity")
        }
        if report.get("probes"):
            summary["z_probe_accuracy"] = report["probes"]["z_probe"]["accuracy"]
            summary["code_probe_accuracy"] = report["probes"]["code_probe"]["accuracy"]
        print(json.dumps(summary))

    run_cli("wbvla-lam-eval", EvalLAMConfig, _run)


if __name__ == "__main__":
    main()
