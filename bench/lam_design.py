"""Which LAM design carries the motion, in domain and on another renderer? Same budget per design, same probes.

Issue 10: a small conv LAM with a motion-weighted pixel loss generalised across renderers far better than the
CPU preset. This script compares designs on equal terms, to pick the CPU preset:
1. Video: an egocentric video folder with the generator's labels.jsonl (``--video_root``; by default generated with
   the project's generator, as bench/lam_probe.py does). Optionally a second folder from another renderer
   (``--cross_root``, same labels.jsonl format) that no design trains on.
2. Every config named in ``--configs`` (see ``CANDIDATES``) is trained with the project's trainer
   (``lerobot_wbvla.lam.train.train``) on the train clips of the first folder for ``train_minutes`` of wall-clock
   time on one thread each; ``jobs`` of them run at once (one process each; caches are built before).
3. Each is probed with bench/lam_probe.py's functions (imported, not copied): linear probes z -> motion class and
   one-hot codes -> motion class, fit on labelled pairs of train clips, scored on the held-out clips of the first
   folder (``in_domain``) and on every labelled pair of the second folder (``cross_domain``). The same for the
   untrained model of the same config (same seed, same normaliser) as a reference.

Writes bench/results/exploration/lam_design.json (a dated record of the sweep that chose the `cpu` preset, not re-run
whenever the compared code changes; tests/bench/test_result_files.py), one entry per config (plus "settings", "source"):
    {"<config>": {"in_domain": {"z": .., "code": ..}, "cross_domain": {"z": .., "code": ..} | null,
                  "steps": .., "train_minutes": .., "untrained": {"in_domain": {..}, "cross_domain": {..}},
                  "augment": .., "lam": {..}}, "settings": {..}}

Usage (2 cores, ~N/2 x train_minutes): nohup python bench/lam_design.py --jobs=2 \\
    --configs='[baseline,conv_groups4x16,conv_wide,cpu_mlp]' --cross_root=outputs/raycast_video > lam_design.log 2>&1 &
Smoke (the test suite; the figures mean nothing): python bench/lam_design.py --smoke=true --output=/tmp/x.json
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import draccus
import numpy as np
import torch
from _results import RESULTS, machine_description, write_result  # bench/_results.py
from lam_probe import (
    _generate,
    _generate_cross,
    _latents,
    _pair_idx,
    _probe_figures,
)  # bench/lam_probe.py: one probing implementation

from lerobot_wbvla.lam.configuration_lam import LAMConfig
from lerobot_wbvla.lam.presets import conv_baseline_config, cpu_lam_config


@dataclass(frozen=True)
class Candidate:
    """A design to compare: the LAM config and the trainer's augmentation flag."""

    lam: Callable[[], LAMConfig]
    augment: bool = False
    doc: str = ""


def _conv(**model) -> Callable[[], LAMConfig]:
    """The reviewer's baseline with some model fields changed."""

    def make() -> LAMConfig:
        cfg = conv_baseline_config()
        cfg.model = replace(cfg.model, **model)
        return cfg

    return make


CANDIDATES: dict[str, Candidate] = {
    "baseline": Candidate(conv_baseline_config, doc="the reviewer's conv LAM (lam/presets.py)"),
    "cpu_mlp": Candidate(cpu_lam_config, doc="today's CPU preset: 32 px MLP heads, warping decoder"),
    "conv_groups2x32": Candidate(_conv(num_codes=2, codebook_size=32), doc="2 code groups, 32 codes"),
    "conv_groups4x16": Candidate(
        _conv(num_codes=4, codebook_size=16), doc="4 code groups, 16 codes (UniVLA)"
    ),
    "conv_wide": Candidate(
        _conv(inverse_channels=[32, 64, 128, 128], forward_channels=[32, 64, 128], action_channels=64),
        doc="twice the channels",
    ),
    "conv_product": Candidate(_conv(multiplicative_input=True), doc="local factored product of both frames"),
    "conv_film_skip": Candidate(
        _conv(film=True, skip_connections=True), doc="FiLM by the action, U-Net skips"
    ),
    "conv_augment": Candidate(
        conv_baseline_config, augment=True, doc="mirror/recolour pairs (lam/augment.py)"
    ),
    "conv_groups4x16_augment": Candidate(
        _conv(num_codes=4, codebook_size=16), augment=True, doc="4 x 16 codes + augmentation"
    ),
    "conv_groups8x16_augment": Candidate(
        _conv(num_codes=8, codebook_size=16), augment=True, doc="8 x 16 codes + augmentation"
    ),
    "conv_groups16x16_augment": Candidate(
        _conv(num_codes=16, codebook_size=16), augment=True, doc="16 x 16 codes + augmentation"
    ),
    "conv_groups16x16d8_augment": Candidate(
        _conv(num_codes=16, codebook_size=16, latent_dim=8),
        augment=True,
        doc="16 x 16 codes of 8 dims each (z: 128 values, as 4 x 32) + augmentation",
    ),
    "conv_groups32x16d8_augment": Candidate(
        _conv(num_codes=32, codebook_size=16, latent_dim=8),
        augment=True,
        doc="32 x 16 codes of 8 dims each (z: 256 values) + augmentation",
    ),
}


@dataclass
class DesignBenchConfig:
    # Configs to train, by name (see CANDIDATES in this file).
    configs: list[str] = field(
        default_factory=lambda: ["baseline", "conv_groups4x16", "conv_wide", "conv_product", "conv_augment"]
    )
    # Wall-clock training budget of each config (minutes).
    train_minutes: float = 15.0
    # torch threads of each training (one per config: designs are compared at the same compute).
    threads: int = 1
    # Configs trained at the same time (processes); 2 on the project's 2-core machines.
    jobs: int = 2
    # Egocentric video folder with labels.jsonl (train/heldout splits); None = generate one (settings below).
    video_root: Path | None = None
    # A second folder (another renderer, same labels.jsonl format) probed as cross_domain; None = skip.
    cross_root: Path | None = None
    # Generated video (when video_root is None): clips, frame size, held-out share, seed, clip length (s), workers.
    num_clips: int = 1200
    video_size: int = 64
    heldout_fraction: float = 0.1
    video_seed: int = 1
    clip_seconds: float = 3.0
    video_workers: int = 2
    # Frames between o_t and o_t+k (10 = 0.33 s at 30 fps, the review's gap), or "auto" with target_offset_s.
    frame_gap: int | str = 10
    target_offset_s: float = 1 / 3
    batch_size: int = 64
    lr: float = 1e-3
    # Learning rate after warm-up: constant or cosine (annealed by the end of the time budget).
    scheduler: str = "cosine"
    seed: int = 0
    # At most this many labelled train pairs to fit each probe on.
    probe_train_pairs: int = 10000
    # At most this many labelled pairs of the cross folder to score (all when fewer).
    cross_pairs: int = 20000
    # Also probe the untrained model of each config (the reference the issue asks for).
    untrained: bool = True
    # Work folder (video, caches, runs); a temporary one by default, removed at the end unless keep.
    work_dir: Path | None = None
    keep: bool = False
    output: Path = RESULTS / "exploration" / "lam_design.json"
    # Tiny settings for the test suite (a few short clips, seconds of training): the figures mean nothing.
    smoke: bool = False

    def validate(self) -> None:
        unknown = [c for c in self.configs if c not in CANDIDATES]
        if unknown or not self.configs:
            raise ValueError(
                f"--configs: unknown {unknown or 'none given'}; choose from {sorted(CANDIDATES)}"
            )
        for flag, path in (("--video_root", self.video_root), ("--cross_root", self.cross_root)):
            if path is not None and not (Path(path) / "labels.jsonl").is_file():
                raise FileNotFoundError(f"{flag}={path}: no labels.jsonl there (generator format needed)")


def _smoke(cfg: DesignBenchConfig) -> DesignBenchConfig:
    return replace(
        cfg,
        configs=["baseline", "cpu_mlp"],
        num_clips=16,
        video_size=32,
        clip_seconds=1.0,
        video_workers=1,
        frame_gap=4,
        train_minutes=0.03,
        batch_size=8,
        probe_train_pairs=300,
        cross_pairs=300,
        jobs=1,
    )


def _lam_for(cfg: DesignBenchConfig, name: str) -> LAMConfig:
    lam = CANDIDATES[name].lam()
    if cfg.smoke and lam.encoder.image_size > cfg.video_size:  # the smoke video is smaller than 64 px
        lam.encoder = replace(lam.encoder, image_size=cfg.video_size)
    return lam


def _data(root: Path, cache: Path, cfg: DesignBenchConfig, split: str | None = None):
    from lerobot_wbvla.lam.data import LAMDataConfig

    return LAMDataConfig(
        video_root=Path(root),
        cache_dir=cache,
        frame_gap=cfg.frame_gap,
        target_offset_s=cfg.target_offset_s,
        split=split,
    )


def _build_caches(cfg: DesignBenchConfig, work: Path, video: Path) -> None:
    """Encode every frame once per distinct encoder, before any training (caches are shared by the workers)."""
    from lerobot_wbvla.lam.data import build_caches, make_sources
    from lerobot_wbvla.lam.encoders import make_encoder

    seen = set()
    for name in cfg.configs:
        enc = _lam_for(cfg, name).encoder
        if repr(enc) in seen:
            continue
        seen.add(repr(enc))
        for root, cache in ((video, work / "cache"), (cfg.cross_root, work / "cross_cache")):
            if root is not None:
                data = _data(root, cache, cfg)
                build_caches(data, make_encoder(enc), enc, cache, make_sources(data), progress=not cfg.smoke)


def _short(figures: dict) -> dict:
    return {
        "z": figures["z_probe_accuracy"],
        "code": figures["code_probe_accuracy"],
        "z_recall": figures["per_class_recall"]["z_probe"],
    }


def run_one(cfg: DesignBenchConfig, name: str, work: Path, video: Path) -> dict:
    """Train one config for the budget and probe it (and its untrained twin); runs in a worker process."""
    from accelerate.utils import set_seed

    from lerobot_wbvla.lam.data import build_caches, feature_pairs, make_sources
    from lerobot_wbvla.lam.encoders import make_encoder
    from lerobot_wbvla.lam.latents import class_names_of
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel
    from lerobot_wbvla.lam.train import TrainLAMConfig, _fit_normalizer, train

    torch.set_num_threads(cfg.threads)
    lam = _lam_for(cfg, name)
    data = _data(video, work / "cache", cfg, split="train")
    run_dir = work / "runs" / name
    shutil.rmtree(run_dir, ignore_errors=True)
    train_cfg = TrainLAMConfig(
        data=data,
        lam=lam,
        output_dir=run_dir,
        steps=10**7,
        max_minutes=cfg.train_minutes,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        betas=(0.9, 0.999),
        scheduler=cfg.scheduler,
        augment=CANDIDATES[name].augment,
        seed=cfg.seed,
        log_every=100,
        save_every=10**6,
        num_threads=cfg.threads,
        progress=False,
    )
    result = train(train_cfg)
    trained = result.model.eval()

    encoder = make_encoder(lam.encoder)
    caches = build_caches(data, encoder, lam.encoder, data.cache_dir, make_sources(data), progress=False)
    train_set = feature_pairs(data, caches, split="train")
    held_set = feature_pairs(data, caches, split="heldout")
    cross_set = None
    if cfg.cross_root is not None:
        cross = _data(cfg.cross_root, work / "cross_cache", cfg)
        cross_caches = build_caches(cross, encoder, lam.encoder, cross.cache_dir, make_sources(cross), False)
        # Scored on the cross folder's held-out clips; its train clips fit the "refit" probe.
        cross_set = feature_pairs(cross, cross_caches, split="heldout")
        cross_fit_set = feature_pairs(cross, cross_caches, split="train")

    rng = np.random.default_rng(cfg.seed)
    train_idx = _pair_idx(train_set, cfg.probe_train_pairs, rng)
    held_idx = _pair_idx(held_set, None, rng)
    cross_idx = _pair_idx(cross_set, cfg.cross_pairs, rng) if cross_set is not None else None
    cross_fit_idx = _pair_idx(cross_fit_set, cfg.probe_train_pairs, rng) if cross_set is not None else None

    names = class_names_of(train_set)

    def probe(model) -> dict:
        lat_train = _latents(model, train_set, train_idx, seed=cfg.seed)
        out = {
            "in_domain": _short(_probe_figures(model, lat_train, _latents(model, held_set, held_idx), names))
        }
        out["cross_domain"] = None
        if cross_set is not None:
            # refit (the headline): a probe fit on the cross folder's train clips, scored on its held-out clips;
            # transfer: the probe fit on the training domain, scored on the same held-out clips.
            lat_cross = _latents(model, cross_set, cross_idx, seed=cfg.seed)
            lat_cross_fit = _latents(model, cross_fit_set, cross_fit_idx, seed=cfg.seed)
            refit = _short(_probe_figures(model, lat_cross_fit, lat_cross, names))
            transfer = _short(_probe_figures(model, lat_train, lat_cross, names))
            out["cross_domain"] = {**refit, "z_transfer": transfer["z"], "code_transfer": transfer["code"]}
        return out

    entry = {
        **probe(trained),
        "steps": result.step,
        "train_minutes": result.train_seconds / 60,
        "steps_per_second": result.step / max(result.train_seconds, 1e-9),
        "augment": CANDIDATES[name].augment,
        "doc": CANDIDATES[name].doc,
        "lam": draccus.encode(lam),
        "pairs": {
            "probe_train": len(train_idx),
            "in_domain": len(held_idx),
            "cross_domain": None if cross_idx is None else len(cross_idx),
        },
    }
    if cfg.untrained:
        set_seed(
            cfg.seed
        )  # train() seeds the same way before building its model: the weights it started from
        untrained = LatentActionModel(lam).eval()
        _fit_normalizer(untrained, train_set, train_cfg.normalizer_pairs, cfg.seed, on_the_fly=False)
        entry["untrained"] = probe(untrained)
    return entry


def main(cfg: DesignBenchConfig) -> dict:
    if cfg.smoke:
        cfg = _smoke(cfg)
    cfg.validate()
    torch.set_num_threads(max(1, cfg.threads))
    work = Path(cfg.work_dir) if cfg.work_dir else Path(tempfile.mkdtemp(prefix="wbvla-lam-design-"))
    work.mkdir(parents=True, exist_ok=True)
    t_total = time.perf_counter()
    try:
        t0 = time.perf_counter()
        video = cfg.video_root or _generate(
            cfg, work / "video", cfg.num_clips, cfg.video_seed, cfg.heldout_fraction
        )
        video_seconds = time.perf_counter() - t0
        if (
            cfg.smoke and cfg.cross_root is None
        ):  # exercise the cross-domain path on a second tiny generated set
            cross = _generate_cross(work / "cross_video", 8, cfg.video_seed + 100, cfg.video_size, 1)
            cfg = replace(cfg, cross_root=cross)
        _build_caches(cfg, work, Path(video))
        results: dict = {}
        if cfg.jobs > 1 and len(cfg.configs) > 1:
            ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no torch thread pools inherited
            with ProcessPoolExecutor(max_workers=cfg.jobs, mp_context=ctx) as pool:
                futures = {n: pool.submit(run_one, cfg, n, work, Path(video)) for n in cfg.configs}
                results = {n: f.result() for n, f in futures.items()}
        else:
            results = {n: run_one(cfg, n, work, Path(video)) for n in cfg.configs}
        result = {
            **results,
            "settings": {
                "train_minutes_each": cfg.train_minutes,
                "threads_each": cfg.threads,
                "jobs": cfg.jobs,
                "frame_gap": cfg.frame_gap,
                "batch_size": cfg.batch_size,
                "lr": cfg.lr,
                "scheduler": cfg.scheduler,
                "video": {
                    "root": str(cfg.video_root) if cfg.video_root else None,
                    "num_clips": cfg.num_clips,
                    "size": cfg.video_size,
                    "clip_seconds": cfg.clip_seconds,
                    "seed": cfg.video_seed,
                    "generated_in_this_run": cfg.video_root is None,
                    "generation_seconds": video_seconds,
                },
                "cross_root": str(cfg.cross_root) if cfg.cross_root else None,
                "probe": "bench/lam_probe.py _probe_figures: logistic regression fit on train-clip pairs, scored "
                "on held-out clips (in_domain) and on the cross folder's pairs (cross_domain)",
                "total_minutes": (time.perf_counter() - t_total) / 60,
                "machine": machine_description(with_torch=True),
            },
        }
        write_result(
            cfg.output,
            result,
            measures=["lerobot_wbvla/lam", "lerobot_wbvla/datasets", "bench/lam_probe.py"],
            smoke=cfg.smoke,
        )
        return result
    finally:
        if not cfg.keep and not cfg.work_dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(draccus.parse(DesignBenchConfig))
