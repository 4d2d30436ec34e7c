"""`wbvla-gen-raycast-egovideo`: the second egocentric domain, written in the same contract as wbvla-gen-egovideo.

    wbvla-gen-raycast-egovideo --out_dir=outputs/raycast_egovideo --num_clips=180 --num_workers=2

Output (docs/CONTRACTS.md "Egocentric video"): <out_dir>/clips/<seed:09d>_<primitive>.mp4, <out_dir>/labels.jsonl
(egovideo.labels.ClipRecord lines), <out_dir>/generator.json (config, counts, timing) and contact_sheet.png. The
dataset is built in a hidden folder next to out_dir and renamed into place only when complete. Every reader of the
project (VideoFolderSource, `--data.video_root=` of the LAM CLIs, bench/lam_probe.py) reads it unchanged. The
writing is one implementation with wbvla-gen-egovideo's (`lerobot_wbvla.datasets.egovideo_common.writer`); this
module plugs in the ray caster.
"""

from __future__ import annotations

from pathlib import Path

from lerobot_wbvla.datasets.egovideo_common.writer import (
    ClipResult,
    GeneratorSpec,
    Job,
    render_and_write,
    run_cli,
    write_dataset,
)
from lerobot_wbvla.datasets.raycast_egovideo.config import RaycastEgoVideoConfig

GENERATOR = "raycast_egovideo"
GENERATOR_VERSION = 1
_SHEET_TILE = 128  # contact sheet frames are upscaled (nearest) to at least this size so captions fit


def _render_and_write(job: Job) -> ClipResult:
    """Worker: cast clip `seed`, write its mp4 into the clips folder, return its record and preview frames."""
    from lerobot_wbvla.datasets.raycast_egovideo.render import make_clip

    return render_and_write(make_clip, job)


SPEC = GeneratorSpec(
    desc="raycast egovideo clips",
    version=GENERATOR_VERSION,
    worker=_render_and_write,
    name=GENERATOR,
    count_palettes=True,
    cpu_rate=True,
    sheet_tile=_SHEET_TILE,
)


def generate(cfg: RaycastEgoVideoConfig) -> Path:
    """Generate the dataset described by `cfg`; returns the output root."""
    return write_dataset(cfg, SPEC)


def main(args: list[str] | None = None) -> None:
    """Console entry point `wbvla-gen-raycast-egovideo` (draccus CLI; `--help` lists every field)."""
    run_cli("wbvla-gen-raycast-egovideo", RaycastEgoVideoConfig, generate, args)


if __name__ == "__main__":
    main()
