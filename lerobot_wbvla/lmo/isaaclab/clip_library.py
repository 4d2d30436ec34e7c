"""Write the clip library of a `wbvla-train-lmo` run to a folder the Isaac Lab task plays (`LMOEnvCfg.clips`).

Run in the project's main venv, where the frozen LAM imports (the Isaac Lab venv pins another transformers):
    python -m lerobot_wbvla.lmo.isaaclab.clip_library --out=outputs/isaaclab_clips --lam=<LAM repo id or folder>
    python -m lerobot_wbvla.lmo.isaaclab.clip_library --out=outputs/isaaclab_clips    # no LAM: none|command only
It builds the library with the training command's own `build_clip_library` (the `--clips.*` flags of
`wbvla-train-lmo`: procedural reach / carry / push clips, recorded datasets, `--clips.loco=stand`) and, with
`--lam`, attaches the LAM's z_t (`latents.attach_latents`: 20 Hz hold, 50 Hz interpolation, cached), so the Isaac
Lab task replays exactly the arrays the CPU env trains on. The folder is `ClipLibrary.save`'s (`index.json` +
`clips.npz`), which `ClipLibrary.load` reads in either venv.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from lerobot_wbvla.lmo.config_train import ClipsConfig


@dataclass
class IsaacLabClipsConfig:
    # The folder written (ClipLibrary.save: index.json + clips.npz); pass it to the task as LMOEnvCfg.clips.
    out: Path = Path("outputs/isaaclab_clips")
    # The clips, as wbvla-train-lmo's --clips.* flags (procedural count and seed, datasets, loco schedule or stand).
    clips: ClipsConfig = field(default_factory=ClipsConfig)
    # The frozen LAM whose z_t the clips get (repo id or folder); None = no latents (conditioning none|command).
    lam: str | None = None
    # The LAM's revision on the Hub (None = the default branch).
    lam_revision: str | None = None
    # Show progress bars while building and labelling.
    progress: bool = True


def write_clip_library(cfg: IsaacLabClipsConfig) -> Path:
    """Build the library as wbvla-train-lmo does (with z_t when `cfg.lam` is set), save it to `cfg.out`."""
    from lerobot_wbvla.lmo.config_train import TrainLMOConfig
    from lerobot_wbvla.lmo.env.config_env import LMOEnvConfig
    from lerobot_wbvla.lmo.train import build_clip_library

    train_cfg = TrainLMOConfig(
        env=LMOEnvConfig(conditioning="latent" if cfg.lam else "none"),
        clips=cfg.clips,
        lam=cfg.lam,
        lam_revision=cfg.lam_revision,
        progress=cfg.progress,
    )
    library = build_clip_library(train_cfg)
    library.save(cfg.out)
    logging.getLogger(__name__).info("clip library in %s: %s", cfg.out, library.summary())
    return cfg.out


def main() -> None:
    from lerobot.configs import parser

    from lerobot_wbvla.lam.data import USER_ERRORS, exit_with_user_error

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def _run(cfg: IsaacLabClipsConfig) -> None:
        out = write_clip_library(cfg)
        print(json.dumps({"clips": str(out), "latent_dim": _latent_dim(out)}))

    _run.__annotations__["cfg"] = IsaacLabClipsConfig  # LeRobot's parser reads the class from the annotation
    try:
        parser.wrap()(_run)()
    except USER_ERRORS as err:
        exit_with_user_error("lerobot_wbvla.lmo.isaaclab.clip_library", err)


def _latent_dim(folder: Path) -> int | None:
    from lerobot_wbvla.lmo.clips import ClipLibrary

    return ClipLibrary.load(folder).latent_dim


if __name__ == "__main__":
    main()
