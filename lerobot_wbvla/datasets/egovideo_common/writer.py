"""Writing an egocentric video dataset around a domain's `make_clip` (docs/CONTRACTS.md "Egocentric video").

    write_dataset(cfg, spec) -> out_dir

Output: <out_dir>/clips/<seed:09d>_<primitive>.mp4, <out_dir>/labels.jsonl (one labels.ClipRecord per clip),
<out_dir>/generator.json (config, counts, timing) and <out_dir>/contact_sheet.png, built in a staging folder and
swapped into place only when complete (staging.py). The same config and seed give the same files: clips are
rendered in seed order and each clip is a pure function of (seed, split, config).

A domain plugs in through a `GeneratorSpec`: its module-level worker (usually `render_and_write` with its
`make_clip`) and the few generator.json fields it has always written beyond the common ones.
"""

from __future__ import annotations

import json
import multiprocessing.context
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lerobot_wbvla.datasets.egovideo.labels import (
    CLIPS_DIR,
    LABELS_FILE,
    MOTION_CLASSES,
    ClipRecord,
    label_runs,
    write_labels,
)
from lerobot_wbvla.datasets.egovideo.mp4 import write_mp4
from lerobot_wbvla.datasets.egovideo.preview import contact_sheet, preview_frame_indices
from lerobot_wbvla.datasets.egovideo.split import assign_seeds, primitive_cycle
from lerobot_wbvla.datasets.egovideo_common.config import EgoGeneratorConfig
from lerobot_wbvla.datasets.egovideo_common.plan import PlannedClip, frame_labels
from lerobot_wbvla.datasets.egovideo_common.staging import staged_output

GENERATOR_FILE = "generator.json"
CONTACT_SHEET_FILE = "contact_sheet.png"

# (seed, split, config, clips folder): one clip to render.
Job = tuple[int, str, Any, str]
# (record, preview frame indices, preview frames, CPU seconds of the worker for the clip incl. encoding).
ClipResult = tuple[ClipRecord, list[int], list[np.ndarray], float]
MakeClip = Callable[[int, str, Any], tuple[ClipRecord, np.ndarray]]


@dataclass(frozen=True)
class GeneratorSpec:
    """What one generator adds to the shared writing (the rest of the output is the same for every domain)."""

    # Caption of the progress bar.
    desc: str
    # "generator_version" in generator.json.
    version: int
    # Module-level function (it is sent to worker processes by name): Job -> ClipResult.
    worker: Callable[[Job], ClipResult]
    # Run once in every worker process before its first clip (None: nothing).
    worker_init: Callable[[], None] | None = None
    # "generator" name at the top of generator.json (None: no such key).
    name: str | None = None
    # generator.json also counts the clips per palette family ("palettes").
    count_palettes: bool = False
    # generator.json also reports frames per CPU-second of the workers ("frames_per_cpu_second").
    cpu_rate: bool = False
    # Contact sheet frames are upscaled (nearest) to at least this many pixels so the captions fit (0: as is).
    sheet_tile: int = 0


def clip_jobs(cfg: EgoGeneratorConfig, clips_dir: Path) -> list[Job]:
    """The clips of a dataset in seed order, with their split (egovideo/split.py)."""
    n_cycle = len(primitive_cycle(cfg.primitives, cfg.balance_phases))
    return [
        (seed, split, cfg, str(clips_dir))
        for seed, split in assign_seeds(cfg.seed, cfg.num_clips, cfg.heldout_fraction, n_cycle)
    ]


def render_and_write(make_clip: MakeClip, job: Job) -> ClipResult:
    """Worker body: render clip `seed` with the domain's make_clip, write its mp4, return record and previews."""
    seed, split, cfg, clips_dir = job
    start = time.process_time()
    record, frames = make_clip(seed, split, cfg)
    write_mp4(Path(clips_dir) / Path(record.clip).name, frames, cfg.fps, cfg.crf)
    indices = preview_frame_indices(record.frame_labels)
    return record, indices, [frames[i] for i in indices], time.process_time() - start


def clip_record(
    plan: PlannedClip, cfg: EgoGeneratorConfig, palette: str, head_pose: Sequence[Sequence[float]]
) -> ClipRecord:
    """The labels.jsonl record of a planned clip (record.clip is clips/<clip_id>.mp4; poses rounded to 1e-5)."""
    labels = frame_labels(plan.phases)
    return ClipRecord(
        clip=f"{CLIPS_DIR}/{plan.clip_id}.mp4",
        fps=cfg.fps,
        n_frames=len(labels),
        primitive=plan.primitive,
        frame_labels=labels,
        seed=plan.seed,
        split=plan.split,
        primitives=plan.primitives,
        segments=label_runs(labels),
        height=cfg.height,
        width=cfg.width,
        palette=palette,
        head_pose=[[round(float(v), 5) for v in pose] for pose in head_pose],
    )


def _mp_context() -> multiprocessing.context.BaseContext:
    """Fork on Linux: workers inherit the imported modules (importing lerobot_wbvla.datasets costs seconds), and
    the parent has started no renderer (no OpenGL in egovideo) when num_workers > 1. Spawn elsewhere."""
    return get_context("fork" if sys.platform.startswith("linux") else "spawn")


def render_all(spec: GeneratorSpec, jobs: list[Job], num_workers: int, progress: bool) -> list[ClipResult]:
    """Run spec.worker on every job, in this process (num_workers == 1) or a pool; results in job order."""
    results = []
    with tqdm(total=len(jobs), desc=spec.desc, unit="clip", disable=not progress) as bar:
        if num_workers == 1:
            for job in jobs:
                results.append(spec.worker(job))
                bar.update()
        else:
            with ProcessPoolExecutor(
                num_workers, mp_context=_mp_context(), initializer=spec.worker_init
            ) as pool:
                for result in pool.map(spec.worker, jobs):
                    results.append(result)
                    bar.update()
    return results


def summary(
    cfg: EgoGeneratorConfig,
    spec: GeneratorSpec,
    records: list[ClipRecord],
    seconds: float,
    cpu_seconds: float,
) -> dict:
    """generator.json: config, class and clip counts, and speed (wall `seconds` of rendering and writing)."""
    n_frames = sum(r.n_frames for r in records)
    counts = Counter(label for r in records for label in r.frame_labels)
    out: dict[str, Any] = {} if spec.name is None else {"generator": spec.name}
    out["generator_version"] = spec.version
    out["config"] = json.loads(json.dumps(asdict(cfg), default=str))
    out["motion_classes"] = list(MOTION_CLASSES)
    out["clips"] = {split: sum(r.split == split for r in records) for split in ("train", "heldout")}
    out["clip_primitives"] = dict(Counter(r.primitive for r in records))
    if spec.count_palettes:
        out["palettes"] = dict(Counter(r.palette for r in records))
    out["frame_label_counts"] = {c: counts.get(c, 0) for c in MOTION_CLASSES}
    out["frames"] = n_frames
    out["seconds"] = round(seconds, 2)
    out["frames_per_second"] = round(n_frames / max(seconds, 1e-9), 1)
    if spec.cpu_rate:
        out["frames_per_cpu_second"] = round(n_frames / max(cpu_seconds, 1e-9), 1)
    return out


def sheet_rows(results: list[ClipResult], tile: int = 0) -> list:
    """Contact sheet rows: the first clip of each clip-level primitive, frames upscaled to at least `tile` px."""
    rows, seen = [], set()
    for record, indices, frames, _ in results:
        if record.primitive in seen:
            continue
        seen.add(record.primitive)
        scale = max(1, -(-tile // frames[0].shape[0]))
        if scale > 1:
            frames = [np.repeat(np.repeat(f, scale, 0), scale, 1) for f in frames]
        rows.append((record, indices, frames))
    return rows


def write_dataset(cfg: EgoGeneratorConfig, spec: GeneratorSpec) -> Path:
    """Validate `cfg` (its own `validate()`), render every clip with spec.worker and write the dataset."""
    cfg.validate()
    out_dir = Path(cfg.out_dir)
    with staged_output(out_dir, cfg.overwrite) as stage:
        (stage / CLIPS_DIR).mkdir()
        jobs = clip_jobs(cfg, stage / CLIPS_DIR)
        start = time.perf_counter()
        results = render_all(spec, jobs, cfg.num_workers, cfg.progress)
        seconds = time.perf_counter() - start
        records = [r[0] for r in results]
        write_labels(stage / LABELS_FILE, records)
        info = summary(cfg, spec, records, seconds, sum(r[3] for r in results))
        (stage / GENERATOR_FILE).write_text(json.dumps(info, indent=2))
        if cfg.contact_sheet:
            contact_sheet(sheet_rows(results, spec.sheet_tile), stage / CONTACT_SHEET_FILE)
    rate = f"{info['frames_per_second']} frames/s"
    if spec.cpu_rate:
        rate += f", {info['frames_per_cpu_second']} per CPU-second incl. encoding"
    print(
        f"Wrote {len(records)} clips ({info['frames']} frames, {rate}) to {out_dir}; labels: {out_dir / LABELS_FILE}"
    )
    return out_dir


def run_cli(prog: str, config_class: type, generate: Callable[[Any], Path], args: list[str] | None) -> None:
    """A generator's console entry point: parse the draccus config (`--help` lists every field), generate, and turn
    bad input (a wrong value, an existing output without --overwrite) into one `<prog>: error: ...` line, exit 2."""
    import draccus

    cfg = draccus.parse(config_class=config_class, args=args)
    try:
        generate(cfg)
    except (ValueError, FileExistsError) as err:
        print(f"{prog}: error: {' '.join(str(err).split())}", file=sys.stderr)
        sys.exit(2)
