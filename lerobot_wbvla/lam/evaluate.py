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
  from the one-hot codes to the label, fit on training-split pairs, scored on evaluation pairs only; with the
  recall of every motion class and confusion matrices (eval_confusion.png, row-normalised), and which codes each
  class uses and how much classes share codes (`code_use_by_class`, lam/report.py);
- the same for the untrained twin of the LAM (`reference_untrained`: same config and initial weights, same
  normaliser; lam/reference.py): what training added over the architecture alone;
- with `--probe_data.video_root=<other folder>`: the probes on a second domain (`probe_domain`, "transfer": fit on
  --data, scored there; "refit": fit and scored there; lam/probe_domain.py), plot eval_confusion_<probe>.png.
Every pair is used unless --max_pairs asks for a sample. The per-class recall table is logged.
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
from lerobot_wbvla.lam.cli import LazyModule, run_cli
from lerobot_wbvla.lam.data import LAMDataConfig, build_caches, feature_pairs, make_sources

if TYPE_CHECKING:
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel  # noqa: F401

# Imported on first use, so that `--help` answers without importing torch.
torch = LazyModule("torch")

# Names that moved to lam/latents.py and are still importable from here (loaded on first use, see __getattr__).
_FROM_LATENTS = ("PairLatents", "collect_latents", "latent_report", "probe_report")


def __getattr__(name: str):
    if name in _FROM_LATENTS:
        from lerobot_wbvla.lam import latents

        return getattr(latents, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


logger = logging.getLogger(__name__)


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
        ref = (report.get("reference_untrained") or {}).get("probes")
        if ref:
            ref_acc = [ref["z_probe"]["accuracy"], ref["code_probe"]["accuracy"]]
            axes[2].scatter(labels, ref_acc, color="k", marker="_", s=400, zorder=3, label="untrained")
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
    # At most this many pairs per side (evaluation, probe training), sampled with `seed` (None = every pair).
    max_pairs: int | None = None
    # Also report the untrained twin of the LAM (same config and initial weights, same normaliser statistics).
    reference_untrained: bool = True
    # Seed the untrained twin is initialised with: the LAM's training --seed (None = read from the
    # train_config.json of its run folder, 0 when there is none).
    reference_seed: int | None = None
    # A second domain to probe on (e.g. --probe_data.video_root=<folder with labels.jsonl>); unset = none. Its
    # frame gap is the one --data uses.
    probe_data: LAMDataConfig = field(default_factory=LAMDataConfig)
    # Share of --probe_data's clips held out when its labels.jsonl has no train/heldout splits.
    probe_heldout_fraction: float = 0.25
    # Pairs per LAM batch.
    batch_size: int = 256
    # Seed of the pair sampling and of the random codes of the controllability test.
    seed: int = 0
    # CPU threads for torch (None = torch's default).
    num_threads: int | None = None
    # Report folder: eval_report.json and eval_report.png.
    output_dir: Path = Path("outputs/lam_eval")
    # Show progress bars (false: none, e.g. in logs).
    progress: bool = True

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)  # Python callers may pass a str


def evaluate(cfg: EvalLAMConfig) -> dict:
    from lerobot_wbvla.lam.latents import (
        PairLatents,
        class_names_of,
        collect_latents,
        labels_of,
        sample_indices,
    )
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel
    from lerobot_wbvla.lam.probe_domain import has_frames, probe_domain_report
    from lerobot_wbvla.lam.reference import untrained_twin
    from lerobot_wbvla.lam.report import model_block

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
    class_names = class_names_of(eval_set)
    eval_idx = sample_indices(len(eval_set), cfg.max_pairs, cfg.seed).tolist()
    train_set, train_idx = None, []
    if cfg.probe_train_split is not None and (labels_of(eval_set)[eval_idx] != NO_LABEL).any():
        train_set = feature_pairs(cfg.data, caches, split=cfg.probe_train_split)
        labelled = np.flatnonzero(labels_of(train_set) != NO_LABEL)
        train_idx = labelled[sample_indices(len(labelled), cfg.max_pairs, cfg.seed + 1)].tolist()
    models = {"trained": model}
    seed = _reference_seed(cfg)
    if cfg.reference_untrained:
        models["untrained"] = untrained_twin(model, seed)
    blocks: dict[str, dict] = {}
    train_lats: dict[str, PairLatents | None] = {}
    for name, m in models.items():
        lat = collect_latents(m, eval_set, eval_idx, cfg.batch_size, cfg.seed)
        train_lats[name] = (
            collect_latents(m, train_set, train_idx, cfg.batch_size, cfg.seed) if train_idx else None
        )
        blocks[name] = model_block(m, lat, class_names, train_lats[name])
    trained = blocks["trained"]
    report: dict = {
        "lam": cfg.lam,
        "lam_revision": cfg.lam_revision,
        "frame_gap": cfg.data.frame_gap,
        "eval_split": cfg.eval_split,
        "eval": trained["eval"],
    }
    if train_set is not None:
        report["probes"] = trained.get("probes")
        report["class_names"] = class_names
    report["code_use_by_class"] = trained["code_use_by_class"]
    if "untrained" in blocks:
        report["reference_untrained"] = {
            "seed": seed,
            "method": "same config, freshly initialised with the training seed (the weights training started "
            "from), with the trained LAM's normaliser statistics; same pairs and probes",
            **blocks["untrained"],
        }
    if has_frames(cfg.probe_data):
        cfg.probe_data.frame_gap = cfg.data.frame_gap
        cfg.probe_data.target_offset_s = cfg.data.target_offset_s
        report["probe_domain"] = probe_domain_report(
            cfg.probe_data,
            models,
            train_lats,
            class_names,
            Path(cfg.probe_data.cache_dir or output_dir / "probe_feature_cache"),
            max_pairs=cfg.max_pairs,
            heldout_fraction=cfg.probe_heldout_fraction,
            seed=cfg.seed,
            batch_size=cfg.batch_size,
        )
    _write_json(output_dir / "eval_report.json", report)
    plot_report(report, output_dir / "eval_report.png")
    _confusion_plots_and_tables(report, blocks, output_dir)
    return report


def _reference_seed(cfg: EvalLAMConfig) -> int:
    if cfg.reference_seed is not None:
        return cfg.reference_seed
    from lerobot_wbvla.lam.reference import DEFAULT_TRAIN_SEED, training_seed

    seed = training_seed(cfg.lam)
    return DEFAULT_TRAIN_SEED if seed is None else seed


def _confusion_plots_and_tables(report: dict, blocks: dict[str, dict], output_dir: Path) -> None:
    """eval_confusion.png (+ eval_confusion_transfer/refit.png with --probe_data) and the recall tables in the
    log."""
    from lerobot_wbvla.lam.report import plot_confusions, recall_table

    probes = {name: b.get("probes") for name, b in blocks.items()}
    where = f"{report['eval_split'] or 'all'} pairs of --data"
    plot_confusions(probes, output_dir / "eval_confusion.png", f"linear probes, {where}")
    logger.info("%s", recall_table(probes, f"per-class recall, {where}"))
    domain = report.get("probe_domain")
    for kind in ("transfer", "refit") if domain else ():
        by_model = {name: domain[kind].get(name) for name in blocks}
        title = f"--probe_data, {kind} probe"
        plot_confusions(by_model, output_dir / f"eval_confusion_{kind}.png", title)
        logger.info("%s", recall_table(by_model, f"per-class recall, {title}"))


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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)

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
