"""`wbvla-gen-egovideo`: generate a labelled egocentric video dataset (CONTRACTS.md "Egocentric video").

    wbvla-gen-egovideo --out_dir=outputs/egovideo --num_clips=270 --height=96 --width=96 --num_workers=2

Output: <out_dir>/clips/<clip_id>.mp4, <out_dir>/labels.jsonl (one record per clip, see labels.ClipRecord),
<out_dir>/generator.json (the config, class counts and timing) and <out_dir>/contact_sheet.png. The dataset is
built in a temporary folder next to out_dir and renamed into place only when complete. The writing is shared with
wbvla-gen-raycast-egovideo (`lerobot_wbvla.datasets.egovideo_common.writer`); this module plugs in the MuJoCo
renderer.
"""

from __future__ import annotations

import os
from pathlib import Path

from lerobot_wbvla.datasets.egovideo.config import EgoVideoConfig
from lerobot_wbvla.datasets.egovideo_common.writer import (
    ClipResult,
    GeneratorSpec,
    Job,
    render_and_write,
    run_cli,
    write_dataset,
)

GENERATOR_VERSION = 1


def _render_and_write(job: Job) -> ClipResult:
    """Worker: render clip `seed` with MuJoCo, write its mp4 into the clips folder, return its record and previews."""
    from lerobot_wbvla.datasets.egovideo.render import make_clip  # imports MuJoCo/EGL in the worker

    return render_and_write(make_clip, job)


def _worker_init() -> None:
    """Worker processes share the cores: one llvmpipe raster thread each (set before OpenGL starts)."""
    os.environ.setdefault("LP_NUM_THREADS", "1")


SPEC = GeneratorSpec(
    desc="egovideo clips",
    version=GENERATOR_VERSION,
    worker=_render_and_write,
    worker_init=_worker_init,
)


def generate(cfg: EgoVideoConfig) -> Path:
    """Generate the dataset described by `cfg`; returns the output root."""
    return write_dataset(cfg, SPEC)


def main(args: list[str] | None = None) -> None:
    """Console entry point `wbvla-gen-egovideo` (draccus CLI over EgoVideoConfig; `--help` lists the fields)."""
    run_cli("wbvla-gen-egovideo", EgoVideoConfig, generate, args)


if __name__ == "__main__":
    main()
