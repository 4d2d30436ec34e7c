"""Does a LAM trained on CPU for at most 30 minutes carry the motion? Linear probes on held-out generated video.

1. Generate egocentric video with the project's generator (`wbvla-gen-egovideo`): clips of 9 primitives (walk,
   sidestep, turn, squat, reach, stand still, and sequences of them), each frame labelled with one of 12 motion
   classes; the generator holds out whole clips (other seeds) as the "heldout" split.
2. Train a LAM with the project's trainer (`lerobot_wbvla.lam.train.train`, the code behind `wbvla-train-lam`) on
   the train clips only, for at most `train_minutes` of wall-clock training time (feature cache built before;
   its time is reported apart).
3. Probe. For every frame pair (t, t+k) of a clip whose frames share one motion label, take the LAM's
   continuous latent z and its code(s) (one-hot). A logistic regression (sklearn) is fit on pairs of train clips
   and scored on pairs of held-out clips only. The same is done for the untrained LAM
   (`lerobot_wbvla.lam.reference.untrained_twin`, as `wbvla-lam-eval` does): the same architecture, freshly
   initialised with the same seed (so the very weights training started from), with the trained LAM's data
   statistics (normaliser, measured on the train clips before the first step). Each block also has the recall of
   every motion class ("per_class_recall": {"z_probe": {class: recall}, "code_probe": {..}}).
4. Controllability (after Genie): on held-out pairs, the forward error with random codes minus the error with the
   inferred codes (normalised-change units, so copying the current frame scores ~1). Perplexity of code use on
   the held-out pairs.
5. Final test. The frame gap, the decoder and the clip count were chosen by looking at the held-out figures, so
   those are optimistic. A second video set from a base seed no run of this project had generated
   (`final_test_seed`) is probed the same way (the probe still fit on train pairs) and reported apart as
   `final_test`; nothing may be tuned on it.

6. Cross-domain (issue 10). A second, independent domain, `lerobot_wbvla.datasets.raycast_egovideo` (a numpy ray
   caster with another lens, rooms, textures, lights, arms, and motion speeds outside the training ranges), that no
   LAM here trains on. Headline: a probe fit on its train clips, scored on its held-out clips (does the latent
   carry the motion there); `transfer`: the probe fit on the training domain, scored on the same clips.
7. Baseline (issue 10). The reviewer's motion-weighted conv LAM (`conv_baseline_config`) trained in the same run for
   the same wall-clock budget (side by side, the threads split evenly) and probed the same ways.

Writes bench/results/lam_probe.json:
    {"trained": {"z_probe_accuracy": .., "code_probe_accuracy": .., "per_class_recall": {..}, "heldout": {..}},
     "untrained": {"z_probe_accuracy": .., "code_probe_accuracy": .., "heldout": {..}},
     "controllability_gap": .., "perplexity": .., "train_minutes": ..,
     "final_test": {"trained": {"z_probe_accuracy": .., "code_probe_accuracy": .., "controllability_gap": ..,
                                "perplexity": .., ..},
                    "untrained": {..}, "pairs": .., "class_counts": [..], "video": {..}},
     "cross_domain": {"trained": {"z_probe_accuracy": .., "code_probe_accuracy": .., "per_class_recall": {..},
                                  "transfer": {..}}, "untrained": {..}, "pairs": .., "video": {..}},
     "baseline": {"in_domain": {..}, "cross_domain": {..}, "final_test": {..}, "untrained": {..}, "train_steps": ..},
     + details}

Usage (background, 2 cores, ~50 min: video ~7 min, caches, 30 min of training side by side, probes): nohup python bench/lam_probe.py --threads=2 > lam_probe.log 2>&1 &
Smoke (the test suite; the figures mean nothing): python bench/lam_probe.py --smoke=true --output=/tmp/x.json
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import draccus
import numpy as np
import torch
from _results import RESULTS, machine_description, write_result  # bench/_results.py

from lerobot_wbvla.lam.configuration_lam import LAMConfig
from lerobot_wbvla.lam.presets import lam_preset


def _default_lam() -> LAMConfig:
    """The configuration this benchmark trains (the demo's too): the `cpu` preset; see the module docstring of
    modeling_lam for the why."""
    return lam_preset("cpu")


@dataclass
class ProbeBenchConfig:
    # torch CPU threads for everything (the acceptance machine: 2 cores).
    threads: int = 2
    # Wall-clock budget of the training loop (minutes).
    train_minutes: float = 30.0
    # Generated video: number of clips, frame size, held-out share (whole clips, by seed).
    # (With ~300 clips even a supervised classifier overfits the rooms: ~0.95 train vs ~0.6 held-out accuracy;
    # with ~1100 train clips it generalises, 0.85 held-out. Generating 1200 clips takes ~4.5 min with 2 workers and is
    # not training time.)
    num_clips: int = 1200
    video_size: int = 64
    heldout_fraction: float = 0.1
    video_seed: int = 1
    # Length of every generated clip (s; the generator's default).
    clip_seconds: float = 3.0
    # Final test set: clips of a base seed never generated before this split existed (the tuning runs used
    # video_seed 1, the demo and the tests 0), as many as the held-out clips. Nothing may be tuned on it.
    final_test_clips: int = 120
    final_test_seed: int = 7919
    # Generator worker processes (the acceptance machine has 2 cores; generation is not training time).
    video_workers: int = 2
    # Frames between o_t and o_t+k. 10 frames = 0.33 s at 30 fps. At the LAM's 32 px a sidestep or a step forward
    # moves the image by well under a pixel in 0.2 s; measured on the same 1200 clips (1 thread, 9 min, same
    # model): gap 6 -> held-out z-probe 0.73 after 8k steps, gap 10 -> 0.80 after 11.8k steps, gap 14 -> 0.60
    # after 3.7k steps (gap 10 had 0.74 at that point: large turns leave the view).
    frame_gap: int = 10
    # The LAM trained: the `cpu` preset (lam/presets.py). --lam.preset=NAME starts from another preset, and
    # --lam.<field> flags override single values, as with wbvla-train-lam.
    lam: LAMConfig = field(default_factory=_default_lam)
    batch_size: int = 64
    lr: float = 1e-3
    # Learning rate after warm-up: "constant" or "cosine" (annealed to a tenth by the end of the time budget, so
    # the last minutes refine instead of jitter).
    scheduler: str = "cosine"
    # Mirror/recolour both frames of a pair alike while training the LAM (lam/augment.py); the `cpu` preset is
    # meant to be trained with it (lam/presets.py). The baseline trains without, as the review specified it.
    augment: bool = True
    seed: int = 0
    # Probe: at most this many labelled train pairs to fit on (all held-out labelled pairs are scored). The probe
    # is a 12-way logistic regression on 128 numbers; ~20k pairs cover the ~1000 training rooms several times.
    probe_train_pairs: int = 20000
    # Reuse this video folder instead of generating one (must hold labels.jsonl with train/heldout splits).
    video_root: Path | None = None
    # The second, independent domain (lerobot_wbvla/datasets/raycast_egovideo: another renderer, lens, rooms,
    # arms, and motion speeds outside the training ranges), never trained on: clips generated (half held out), or
    # an existing folder of that generator (cross_root). The LAM is probed on its held-out clips.
    cross_clips: int = 600
    cross_seed: int = 3
    cross_root: Path | None = None
    # Train the reviewer's motion-weighted conv LAM (lam/presets.py conv_baseline_config) in the same run with the
    # same budget, and probe it the same way ("baseline" in the result).
    baseline: bool = True
    # Train the LAM and the baseline at the same time, each on threads // 2 torch threads (same compute for both);
    # false: one after the other, each on `threads`.
    parallel: bool = True
    # Work folder (video, cache, run); a temporary one by default, removed at the end unless keep.
    work_dir: Path | None = None
    keep: bool = False
    output: Path = RESULTS / "lam_probe.json"
    # Tiny settings for the test suite (a few short clips, seconds of training): the figures mean nothing.
    smoke: bool = False


def _smoke(cfg: ProbeBenchConfig) -> ProbeBenchConfig:
    return replace(
        cfg,
        num_clips=16,
        video_size=32,
        clip_seconds=1.0,
        video_workers=1,
        final_test_clips=4,
        train_minutes=0.05,
        batch_size=16,
        probe_train_pairs=400,
        cross_clips=8,
    )


def _latents(model, dataset, indices, batch_size: int = 512, seed: int = 0):
    from lerobot_wbvla.lam.latents import collect_latents

    return collect_latents(model, dataset, [int(i) for i in indices], batch_size=batch_size, seed=seed)


def _generate(
    cfg: ProbeBenchConfig, out_dir: Path, num_clips: int, seed: int, heldout_fraction: float
) -> Path:
    from lerobot_wbvla.datasets.egovideo import EgoVideoConfig, generate

    return generate(
        EgoVideoConfig(
            out_dir=out_dir,
            num_clips=num_clips,
            height=cfg.video_size,
            width=cfg.video_size,
            clip_seconds=cfg.clip_seconds,
            heldout_fraction=heldout_fraction,
            seed=seed,
            overwrite=True,
            num_workers=cfg.video_workers,
            contact_sheet=False,
        )
    )


def _generate_cross(out_dir: Path, num_clips: int, seed: int, size: int, workers: int) -> Path:
    """The second, independent domain (lerobot_wbvla.datasets.raycast_egovideo: another renderer, lens, rooms,
    arms and motion speeds outside the training ranges), half of its clips held out for the probe's scoring."""
    from lerobot_wbvla.datasets.raycast_egovideo import RaycastEgoVideoConfig, generate

    return generate(
        RaycastEgoVideoConfig(
            out_dir=out_dir,
            num_clips=num_clips,
            height=size,
            width=size,
            seed=seed,
            heldout_fraction=0.5,
            overwrite=True,
            num_workers=workers,
            contact_sheet=True,
            progress=False,
        )
    )


def _probe_figures(model, lat_train, lat_test, class_names: list[str]) -> dict:
    """Accuracies and per-class recall on `lat_test` of linear probes fit on `lat_train` (module docstring,
    step 3)."""
    from lerobot_wbvla.lam.latents import probe_report

    probes = probe_report(model, lat_train, lat_test, class_names)
    if probes is None:
        raise RuntimeError(
            "too few labelled pairs (or classes) to fit and score a probe: generate more clips"
        )
    return {
        "z_probe_accuracy": probes["z_probe"]["accuracy"],
        "code_probe_accuracy": probes["code_probe"]["accuracy"],
        "z_probe_balanced_accuracy": probes["z_probe"]["balanced_accuracy"],
        "code_probe_balanced_accuracy": probes["code_probe"]["balanced_accuracy"],
        "majority_class_accuracy": probes["z_probe"]["chance_accuracy"],
        "per_class_recall": {k: probes[k]["per_class_recall"] for k in ("z_probe", "code_probe")},
    }


def _train_job(train_cfg) -> dict:
    """Train one LAM (in a worker process when the LAM and the baseline train side by side)."""
    from lerobot_wbvla.lam.train import train

    torch.set_num_threads(train_cfg.num_threads)
    result = train(train_cfg)
    return {
        "pretrained_dir": result.pretrained_dir,
        "step": result.step,
        "train_seconds": result.train_seconds,
    }


def _train_all(cfg: ProbeBenchConfig, jobs: dict) -> dict:
    """Train every named config for the same wall-clock budget: side by side (spawned processes, threads split)
    or one after the other."""
    if cfg.parallel and len(jobs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no torch thread pools inherited
        with ProcessPoolExecutor(max_workers=len(jobs), mp_context=ctx) as pool:
            futures = {name: pool.submit(_train_job, tc) for name, tc in jobs.items()}
            return {name: f.result() for name, f in futures.items()}
    return {name: _train_job(tc) for name, tc in jobs.items()}


def _pair_idx(dataset, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    """Indices of labelled pairs, at most `limit` (sampled with rng)."""
    from lerobot_wbvla.datasets import NO_LABEL

    idx = np.flatnonzero(np.asarray(dataset.labels) != NO_LABEL)
    if limit is not None and len(idx) > limit:
        idx = np.sort(rng.choice(idx, limit, replace=False))
    return idx


def _fit_lam_encoder(lam: LAMConfig, video_size: int) -> LAMConfig:
    """Smoke runs use smaller video than a 64 px LAM reads: shrink the LAM's input instead of upsampling."""
    if getattr(lam.encoder, "image_size", 0) > video_size:
        lam = replace(lam, encoder=replace(lam.encoder, image_size=video_size))
    return lam


def main(cfg: ProbeBenchConfig) -> dict:
    from lerobot_wbvla.lam.data import LAMDataConfig, build_caches, feature_pairs, make_sources
    from lerobot_wbvla.lam.encoders import make_encoder
    from lerobot_wbvla.lam.latents import class_names_of, latent_report
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel
    from lerobot_wbvla.lam.presets import conv_baseline_config
    from lerobot_wbvla.lam.reference import untrained_twin
    from lerobot_wbvla.lam.train import TrainLAMConfig

    if cfg.smoke:
        cfg = _smoke(cfg)
    torch.set_num_threads(cfg.threads)
    work = Path(cfg.work_dir) if cfg.work_dir else Path(tempfile.mkdtemp(prefix="wbvla-lam-probe-"))
    work.mkdir(parents=True, exist_ok=True)
    t_total = time.perf_counter()
    try:
        t0 = time.perf_counter()
        video = cfg.video_root or _generate(
            cfg, work / "video", cfg.num_clips, cfg.video_seed, cfg.heldout_fraction
        )
        video_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        final_video = _generate(
            cfg, work / "final_test_video", cfg.final_test_clips, cfg.final_test_seed, 0.0
        )
        final_video_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        cross_video = cfg.cross_root or _generate_cross(
            work / "cross_video", cfg.cross_clips, cfg.cross_seed, cfg.video_size, cfg.video_workers
        )
        cross_video_seconds = time.perf_counter() - t0

        def data_cfg(root: Path, cache: str, split: str | None = None) -> LAMDataConfig:
            return LAMDataConfig(
                video_root=Path(root), cache_dir=work / cache, frame_gap=cfg.frame_gap, split=split
            )

        data = data_cfg(video, "cache", "train")
        final_data = data_cfg(final_video, "final_test_cache")
        cross_data = data_cfg(cross_video, "cross_cache")
        lams = {"trained": cfg.lam}
        if cfg.baseline:
            lams["baseline"] = _fit_lam_encoder(conv_baseline_config(), cfg.video_size)
        parallel = cfg.parallel and len(lams) > 1
        threads_each = max(1, cfg.threads // len(lams)) if parallel else cfg.threads

        # Caches are built before training (timed apart), so the budget is spent on training only.
        t0 = time.perf_counter()
        caches: dict[str, dict] = {}
        for name, lam in lams.items():
            encoder = make_encoder(lam.encoder)
            caches[name] = {
                key: build_caches(d, encoder, lam.encoder, d.cache_dir, make_sources(d))
                for key, d in (("data", data), ("final", final_data), ("cross", cross_data))
            }
        cache_seconds = time.perf_counter() - t0

        jobs = {}
        for name, lam in lams.items():
            run_dir = work / f"run_{name}"
            shutil.rmtree(run_dir, ignore_errors=True)
            jobs[name] = TrainLAMConfig(
                data=data,
                lam=lam,
                output_dir=run_dir,
                steps=10**7,
                max_minutes=cfg.train_minutes,
                batch_size=cfg.batch_size,
                lr=cfg.lr,
                betas=(0.9, 0.999),
                scheduler=cfg.scheduler,
                augment=cfg.augment and name == "trained",
                seed=cfg.seed,
                log_every=100,
                save_every=2000,
                num_threads=threads_each,
                progress=not parallel,
            )
        runs = _train_all(cfg, jobs)
        torch.set_num_threads(cfg.threads)
        models = {
            name: LatentActionModel.from_pretrained(r["pretrained_dir"]).eval() for name, r in runs.items()
        }

        rng = np.random.default_rng(cfg.seed)

        def sets_of(name: str) -> dict:
            c = caches[name]
            return {
                "train": feature_pairs(data, c["data"], split="train"),
                "heldout": feature_pairs(data, c["data"], split="heldout"),
                "final": feature_pairs(final_data, c["final"]),  # every clip of the final-test video
                "cross_train": feature_pairs(cross_data, c["cross"], split="train"),
                "cross_heldout": feature_pairs(cross_data, c["cross"], split="heldout"),
            }

        sets = {name: sets_of(name) for name in lams}
        ref = sets["trained"]
        class_names = class_names_of(ref["train"])
        # The same pairs for every model (the pair index does not depend on the encoder).
        idx = {
            "train": _pair_idx(ref["train"], cfg.probe_train_pairs, rng),
            "heldout": _pair_idx(ref["heldout"], None, rng),
            "final": _pair_idx(ref["final"], None, rng),
            "cross_train": _pair_idx(ref["cross_train"], cfg.probe_train_pairs, rng),
            "cross_heldout": _pair_idx(ref["cross_heldout"], None, rng),
        }

        def pairs_report(model, lat) -> dict:
            return {k: v for k, v in latent_report(model, lat).items() if k != "code_counts"}

        def probe_all(model, s: dict) -> dict:
            lat = {key: _latents(model, s[key], idx[key], seed=cfg.seed) for key in idx}
            transfer = _probe_figures(model, lat["train"], lat["cross_heldout"], class_names)
            return {
                "in_domain": {
                    **_probe_figures(model, lat["train"], lat["heldout"], class_names),
                    "heldout": pairs_report(model, lat["heldout"]),
                },
                "final_test": {
                    **_probe_figures(model, lat["train"], lat["final"], class_names),
                    **pairs_report(model, lat["final"]),
                },
                "cross_domain": {
                    **_probe_figures(model, lat["cross_train"], lat["cross_heldout"], class_names),
                    "transfer": transfer,
                    "heldout": pairs_report(model, lat["cross_heldout"]),
                },
            }

        figures = {
            "trained": probe_all(models["trained"], sets["trained"]),
            # train() was seeded with cfg.seed too: the weights training started from
            "untrained": probe_all(untrained_twin(models["trained"], cfg.seed), sets["trained"]),
        }
        if "baseline" in models:
            figures["baseline"] = probe_all(models["baseline"], sets["baseline"])
            figures["baseline_untrained"] = probe_all(
                untrained_twin(models["baseline"], cfg.seed), sets["baseline"]
            )

        def labels_count(key: str) -> list[int]:
            labels = np.asarray(ref[key].labels)[idx[key]]
            return np.bincount(labels, minlength=len(class_names)).tolist()

        held = figures["trained"]["in_domain"]["heldout"]
        result = {
            "trained": figures["trained"]["in_domain"],
            "untrained": figures["untrained"]["in_domain"],
            "controllability_gap": held["controllability_gap"],
            "perplexity": held["perplexity"],
            "final_test": {
                "trained": figures["trained"]["final_test"],
                "untrained": figures["untrained"]["final_test"],
                "pairs": len(idx["final"]),
                "class_counts": labels_count("final"),
                "video": {
                    "num_clips": cfg.final_test_clips,
                    "seed": cfg.final_test_seed,
                    "generation_seconds": final_video_seconds,
                },
                "method": "as the held-out probe (same probe fit on train-clip pairs), scored on every labelled "
                "pair of clips from a base seed never used to tune the frame gap, decoder or clip count",
            },
            "cross_domain": {
                "trained": figures["trained"]["cross_domain"],
                "untrained": figures["untrained"]["cross_domain"],
                "probe_train_pairs": len(idx["cross_train"]),
                "pairs": len(idx["cross_heldout"]),
                "class_counts": labels_count("cross_heldout"),
                "video": {
                    "generator": "lerobot_wbvla.datasets.raycast_egovideo",
                    "num_clips": cfg.cross_clips if cfg.cross_root is None else None,
                    "seed": cfg.cross_seed if cfg.cross_root is None else None,
                    "root": None if cfg.cross_root is None else str(cfg.cross_root),
                    "generation_seconds": cross_video_seconds,
                },
                "method": "the LAM never sees this domain. Headline figures: probe fit on labelled pairs of the "
                "domain's train clips, scored on its held-out clips. transfer: the probe fit on the training "
                "domain's pairs, scored on the same held-out clips",
            },
            "train_minutes": runs["trained"]["train_seconds"] / 60,
            "train_steps": runs["trained"]["step"],
            "probe": {
                "train_pairs": len(idx["train"]),
                "heldout_pairs": len(idx["heldout"]),
                "classes": class_names,
                "heldout_class_counts": labels_count("heldout"),
                "method": "sklearn LogisticRegression(C=1, lbfgs) on standardised z / raw one-hot codes; "
                "fit on train-clip pairs, scored on held-out-clip pairs",
            },
            "frame_gap": cfg.frame_gap,
            "lam": draccus.encode(cfg.lam),
            "video": {
                "num_clips": cfg.num_clips,
                "size": cfg.video_size,
                "clip_seconds": cfg.clip_seconds,
                "seed": cfg.video_seed,
                "generated_in_this_run": cfg.video_root is None,
                "generation_seconds": video_seconds,
            },
            "cache_build_seconds": cache_seconds,
            "total_minutes": (time.perf_counter() - t_total) / 60,
            "threads": cfg.threads,
            "training": {
                "parallel": parallel,
                "threads_each": threads_each,
                "augment_trained": cfg.augment,
                "augment_baseline": False,
                "note": "the LAM and the baseline trained at the same time for the same wall-clock budget, "
                "each on threads_each torch threads"
                if parallel
                else "one after the other",
            },
            "machine": machine_description(with_torch=True),
        }
        if "baseline" in figures:
            result["baseline"] = {
                "in_domain": figures["baseline"]["in_domain"],
                "cross_domain": figures["baseline"]["cross_domain"],
                "final_test": figures["baseline"]["final_test"],
                "untrained": {
                    k: figures["baseline_untrained"][k] for k in ("in_domain", "cross_domain", "final_test")
                },
                "train_minutes": runs["baseline"]["train_seconds"] / 60,
                "train_steps": runs["baseline"]["step"],
                "lam": draccus.encode(lams["baseline"]),
            }
        write_result(
            cfg.output, result, measures=["lerobot_wbvla/lam", "lerobot_wbvla/datasets"], smoke=cfg.smoke
        )
        return result
    finally:
        if not cfg.keep and not cfg.work_dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    from lerobot_wbvla.lam.cli import parse_with_preset  # --lam.preset=NAME as wbvla-train-lam reads it

    main(parse_with_preset("lam_probe", ProbeBenchConfig))
