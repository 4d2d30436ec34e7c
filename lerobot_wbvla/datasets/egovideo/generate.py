"""`wbvla-gen-egovideo`: generate a labelled egocentric video dataset (CONTRACTS.md "Egocentric video").

    wbvla-gen-egovideo --out_dir=outputs/egovideo --num_clips=270 --height=96 --width=96 --num_workers=2

Output: <out_dir>/clips/<clip_id>.mp4, <out_dir>/labels.jsonl (one record per clip, see labels.ClipRecord),
<out_dir>/generator.json (the config, class counts and timing) and <out_dir>/contact_sheet.png. The dataset is
built in a temporary folder next to out_dir and renamed into place only when complete.
"""

from __future__ import annotations

import json
import multiprocessing.context
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

from lerobot_wbvla.datasets.egovideo.config import EgoVideoConfig
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

GENERATOR_FILE = "generator.json"
CONTACT_SHEET_FILE = "contact_sheet.png"
GENERATOR_VERSION = 1


def _render_and_write(
    job: tuple[int, str, EgoVideoConfig, str],
) -> tuple[ClipRecord, list[int], list[np.ndarray], float]:
    """Worker: render clip `seed`, write its mp4 into the clips folder, return its record and preview frames."""
    from lerobot_wbvla.datasets.egovideo.render import make_clip  # imports MuJoCo/EGL in the worker

    seed, split, cfg, clips_dir = job
    start = time.perf_counter()
    record, frames = make_clip(seed, split, cfg)
    write_mp4(Path(clips_dir) / Path(record.clip).name, frames, cfg.fps, cfg.crf)
    indices = preview_frame_indices(record.frame_labels)
    return record, indices, [frames[i] for i in indices], time.perf_counter() - start


def _worker_init() -> None:
    """Worker processes share the cores: one llvmpipe raster thread each (set before OpenGL starts)."""
    os.environ.setdefault("LP_NUM_THREADS", "1")


def _mp_context() -> multiprocessing.context.BaseContext:
    """Fork on Linux: workers inherit the imported modules (importing lerobot_wbvla.datasets costs seconds) and
    nothing here has started OpenGL yet (the parent never renders when num_workers > 1). Spawn elsewhere."""
    return get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _staging_dir(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"


def generate(cfg: EgoVideoConfig) -> Path:
    """Generate the dataset described by `cfg`; returns the output root."""
    cfg.validate()
    out_dir = Path(cfg.out_dir)
    if out_dir.exists() and not cfg.overwrite:
        raise FileExistsError(
            f"Output folder {out_dir} already exists; pass --overwrite=true to replace it or choose another --out_dir."
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = _staging_dir(out_dir)
    if stage.exists():
        shutil.rmtree(stage)
    (stage / CLIPS_DIR).mkdir(parents=True)
    jobs = [
        (seed, split, cfg, str(stage / CLIPS_DIR))
        for seed, split in assign_seeds(
            cfg.seed,
            cfg.num_clips,
            cfg.heldout_fraction,
            len(primitive_cycle(cfg.primitives, cfg.balance_phases)),
        )
    ]
    results = []
    start = time.perf_counter()
    try:
        bar = tqdm(total=len(jobs), desc="egovideo clips", unit="clip", disable=not cfg.progress)
        if cfg.num_workers == 1:
            for job in jobs:
                results.append(_render_and_write(job))
                bar.update()
        else:
            with ProcessPoolExecutor(
                cfg.num_workers, mp_context=_mp_context(), initializer=_worker_init
            ) as pool:
                for result in pool.map(_render_and_write, jobs):
                    results.append(result)
                    bar.update()
        bar.close()
        elapsed = time.perf_counter() - start
        records = [r[0] for r in results]
        write_labels(stage / LABELS_FILE, records)
        n_frames = sum(r.n_frames for r in records)
        counts = Counter(label for r in records for label in r.frame_labels)
        summary = {
            "generator_version": GENERATOR_VERSION,
            "config": json.loads(json.dumps(asdict(cfg), default=str)),
            "motion_classes": list(MOTION_CLASSES),
            "clips": {split: sum(r.split == split for r in records) for split in ("train", "heldout")},
            "clip_primitives": dict(Counter(r.primitive for r in records)),
            "frame_label_counts": {c: counts.get(c, 0) for c in MOTION_CLASSES},
            "frames": n_frames,
            "seconds": round(elapsed, 2),
            "frames_per_second": round(n_frames / max(elapsed, 1e-9), 1),
        }
        (stage / GENERATOR_FILE).write_text(json.dumps(summary, indent=2))
        if cfg.contact_sheet:
            contact_sheet(_sheet_rows(results), stage / CONTACT_SHEET_FILE)
        _swap_in(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    print(
        f"Wrote {len(records)} clips ({n_frames} frames, {summary['frames_per_second']} frames/s) to {out_dir}; "
        f"labels: {out_dir / LABELS_FILE}"
    )
    return out_dir


def _sheet_rows(results: list) -> list:
    """The first clip of each clip-level primitive (single primitives first), then one sequence clip."""
    rows, seen = [], set()
    for record, indices, frames, _ in results:
        if record.primitive not in seen:
            seen.add(record.primitive)
            rows.append((record, indices, frames))
    return rows


def _swap_in(stage: Path, out_dir: Path) -> None:
    """Rename the finished staging folder to out_dir, replacing an old one only after the rename is possible."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        out_dir.rename(old)
    stage.rename(out_dir)
    if old is not None:
        shutil.rmtree(old)


def main(args: list[str] | None = None) -> None:
    """Console entry point `wbvla-gen-egovideo` (draccus CLI over EgoVideoConfig; `--help` lists the fields)."""
    generate(draccus.parse(config_class=EgoVideoConfig, args=args))


if __name__ == "__main__":
    main()
