"""`wbvla-gen-raycast-egovideo`: the second egocentric domain, written in the same contract as wbvla-gen-egovideo.

    wbvla-gen-raycast-egovideo --out_dir=outputs/raycast_egovideo --num_clips=180 --num_workers=2

Output (docs/CONTRACTS.md "Egocentric video"): <out_dir>/clips/<seed:09d>_<primitive>.mp4, <out_dir>/labels.jsonl
(egovideo.labels.ClipRecord lines), <out_dir>/generator.json (config, counts, timing) and contact_sheet.png. The
dataset is built in a hidden folder next to out_dir and renamed into place only when complete. Every reader of the
project (VideoFolderSource, `--data.video_root=` of the LAM CLIs, bench/lam_probe.py) reads it unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path

import draccus
import numpy as np
from tqdm import tqdm

from lerobot_wbvla.datasets.egovideo.labels import (
    CLIPS_DIR,
    LABELS_FILE,
    MOTION_CLASSES,
    ClipRecord,
    write_labels,
)
from lerobot_wbvla.datasets.egovideo.mp4 import write_mp4
from lerobot_wbvla.datasets.egovideo.preview import contact_sheet, preview_frame_indices
from lerobot_wbvla.datasets.egovideo.split import assign_seeds, primitive_cycle
from lerobot_wbvla.datasets.raycast_egovideo.config import RaycastEgoVideoConfig

GENERATOR = "raycast_egovideo"
GENERATOR_FILE = "generator.json"
CONTACT_SHEET_FILE = "contact_sheet.png"
GENERATOR_VERSION = 1
_SHEET_TILE = 128  # contact sheet frames are upscaled (nearest) to at least this size so captions fit


def _render_and_write(
    job: tuple[int, str, RaycastEgoVideoConfig, str],
) -> tuple[ClipRecord, list[int], list[np.ndarray], float]:
    """Worker: render clip `seed`, write its mp4 into the clips folder, return its record and preview frames."""
    from lerobot_wbvla.datasets.raycast_egovideo.render import make_clip

    seed, split, cfg, clips_dir = job
    start = time.process_time()
    record, frames = make_clip(seed, split, cfg)
    write_mp4(Path(clips_dir) / Path(record.clip).name, frames, cfg.fps, cfg.crf)
    indices = preview_frame_indices(record.frame_labels)
    return record, indices, [frames[i] for i in indices], time.process_time() - start


def _swap_in(stage: Path, out_dir: Path) -> None:
    """Rename the finished staging folder to out_dir; an old out_dir is moved aside first and removed after."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        out_dir.rename(old)
    stage.rename(out_dir)
    if old is not None:
        shutil.rmtree(old)


def generate(cfg: RaycastEgoVideoConfig) -> Path:
    """Generate the dataset described by `cfg`; returns the output root."""
    cfg.validate()
    out_dir = Path(cfg.out_dir)
    if out_dir.exists() and not cfg.overwrite:
        raise FileExistsError(
            f"Output folder {out_dir} already exists; pass --overwrite=true to replace it or choose another --out_dir."
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if stage.exists():
        shutil.rmtree(stage)
    (stage / CLIPS_DIR).mkdir(parents=True)
    cycle = primitive_cycle(cfg.primitives, cfg.balance_phases)
    jobs = [
        (seed, split, cfg, str(stage / CLIPS_DIR))
        for seed, split in assign_seeds(cfg.seed, cfg.num_clips, cfg.heldout_fraction, len(cycle))
    ]
    results = []
    start = time.perf_counter()
    try:
        with tqdm(
            total=len(jobs), desc="raycast egovideo clips", unit="clip", disable=not cfg.progress
        ) as bar:
            if cfg.num_workers == 1:
                for job in jobs:
                    results.append(_render_and_write(job))
                    bar.update()
            else:
                context = get_context("fork" if sys.platform.startswith("linux") else "spawn")
                with ProcessPoolExecutor(cfg.num_workers, mp_context=context) as pool:
                    for result in pool.map(_render_and_write, jobs):
                        results.append(result)
                        bar.update()
        elapsed = time.perf_counter() - start
        records = [r[0] for r in results]
        write_labels(stage / LABELS_FILE, records)
        n_frames = sum(r.n_frames for r in records)
        cpu = sum(r[3] for r in results)
        counts = Counter(label for r in records for label in r.frame_labels)
        summary = {
            "generator": GENERATOR,
            "generator_version": GENERATOR_VERSION,
            "config": json.loads(json.dumps(asdict(cfg), default=str)),
            "motion_classes": list(MOTION_CLASSES),
            "clips": {split: sum(r.split == split for r in records) for split in ("train", "heldout")},
            "clip_primitives": dict(Counter(r.primitive for r in records)),
            "palettes": dict(Counter(r.palette for r in records)),
            "frame_label_counts": {c: counts.get(c, 0) for c in MOTION_CLASSES},
            "frames": n_frames,
            "seconds": round(elapsed, 2),
            "frames_per_second": round(n_frames / max(elapsed, 1e-9), 1),
            "frames_per_cpu_second": round(n_frames / max(cpu, 1e-9), 1),
        }
        (stage / GENERATOR_FILE).write_text(json.dumps(summary, indent=2))
        if cfg.contact_sheet:
            contact_sheet(_sheet_rows(results), stage / CONTACT_SHEET_FILE)
        _swap_in(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    print(
        f"Wrote {len(records)} clips ({n_frames} frames, {summary['frames_per_second']} frames/s, "
        f"{summary['frames_per_cpu_second']} per CPU-second incl. encoding) to {out_dir}; labels: {out_dir / LABELS_FILE}"
    )
    return out_dir


def _sheet_rows(results: list) -> list:
    """The first clip of each clip-level primitive, frames upscaled so the captions fit."""
    rows, seen = [], set()
    for record, indices, frames, _ in results:
        if record.primitive in seen:
            continue
        seen.add(record.primitive)
        scale = max(1, -(-_SHEET_TILE // frames[0].shape[0]))
        rows.append((record, indices, [np.repeat(np.repeat(f, scale, 0), scale, 1) for f in frames]))
    return rows


def main(args: list[str] | None = None) -> None:
    """Console entry point `wbvla-gen-raycast-egovideo` (draccus CLI; `--help` lists every field)."""
    cfg = draccus.parse(config_class=RaycastEgoVideoConfig, args=args)
    try:
        generate(cfg)
    except (ValueError, FileExistsError) as err:  # bad input: one line, like the LAM commands (exit 2)
        print(f"wbvla-gen-raycast-egovideo: error: {' '.join(str(err).split())}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
