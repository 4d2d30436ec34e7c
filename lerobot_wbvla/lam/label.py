"""`wbvla-lam-label`: write a LAM's latent-action codes for every frame of a LeRobot dataset, beside it.

    wbvla-lam-label --lam=<repo id or folder> --lam_revision=v1 --dataset_repo_id=me/x2_pick --dataset_root=data/x2

These codes are the VLA's pseudo-labels. The file (docs/CONTRACTS.md "LAM codes") is
``<dataset root>/lam_codes/<lam repo id, / -> __>@<revision>.parquet`` with one row per frame:
``episode_index, frame_index, index, codes (list[int]), z (list[float])``, where ``z`` is the quantised latent
(the codes' vectors, concatenated over the LAM's num_codes tokens). Row t holds the transition from frame t to
frame t+k (k = the LAM's frame gap); the last k frames of an episode pair with the episode's last frame, so every
frame gets a code and the final frame reads "no motion". ``--push_to_hub=true`` commits the file into the dataset
repo at the same path.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lerobot_wbvla.lam.cli import LazyModule, lazy_no_grad, run_cli
from lerobot_wbvla.lam.data import camera_flag, encoder_transform

if TYPE_CHECKING:
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel

# Imported on first use, so that `--help` answers without importing torch.
torch = LazyModule("torch")

logger = logging.getLogger(__name__)

LAM_CODES_DIR = "lam_codes"


@dataclass
class LabelConfig:
    """Label every frame of a LeRobot dataset with a LAM's latent action codes."""

    # LAM: Hub repo id or local folder.
    lam: str = "outputs/train_lam/pretrained_model"
    # Revision of the LAM repo (branch, tag or commit); part of the output file name.
    lam_revision: str | None = None
    # LeRobot dataset repo id; with dataset_root the local copy is read.
    dataset_repo_id: str | None = None
    # Local folder of the dataset (the codes are written into it).
    dataset_root: Path | None = None
    # Dataset revision when read from the Hub.
    dataset_revision: str | None = None
    # Camera the LAM reads.
    camera_key: str = "observation.images.head"
    # Frames per encoder/LAM batch.
    batch_size: int = 64
    # Write here instead of <dataset root>/lam_codes/<name>.parquet.
    output: Path | None = None
    # Commit the file into the dataset repo (at lam_codes/<name>.parquet).
    push_to_hub: bool = False
    # Branch of the dataset repo to commit to (None = main).
    push_branch: str | None = None
    # CPU threads for torch (None = torch's default).
    num_threads: int | None = None
    # Show progress bars (episodes, downloads, dataset loading); false = none at all.
    progress: bool = True

    def __post_init__(self) -> None:
        # Python callers may pass str paths (the CLI gives Path).
        for name in ("dataset_root", "output"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                setattr(self, name, Path(value))


def codes_file_name(lam: str, revision: str | None) -> str:
    """``<lam repo id, / -> __>@<revision>.parquet``; a local folder is named by its last two path parts."""
    path = Path(lam).expanduser()
    if path.is_dir():
        lam_id = "__".join(path.resolve().parts[-2:])
        revision = revision or "local"
    else:
        lam_id = lam.replace("/", "__")
        revision = revision or "main"
    safe = re.sub(r"[^A-Za-z0-9._@-]+", "-", f"{lam_id}@{revision}")
    return f"{safe}.parquet"


@lazy_no_grad
def label_episode(model: LatentActionModel, frames: torch.Tensor, k: int, transform, batch_size: int):
    """uint8 frames (T, 3, H, W) of one episode -> codes (T, num_codes) and quantised z (T, num_codes*dim)."""
    tokens = torch.cat(
        [
            model.encode_frames(transform(frames[i : i + batch_size], layout="CHW"))
            for i in range(0, len(frames), batch_size)
        ]
    )
    n = len(tokens)
    nxt = torch.clamp(torch.arange(n) + k, max=n - 1)
    codes, zs = [], []
    for i in range(0, n, batch_size):
        act = model.encode_action(tokens[i : i + batch_size], tokens[nxt[i : i + batch_size]])
        codes.append(act.indices.cpu())
        zs.append(act.z_q.flatten(1).cpu())
    return torch.cat(codes).numpy(), torch.cat(zs).float().numpy()


def write_codes_parquet(path: Path, columns: dict[str, list]) -> Path:
    """Write the codes table atomically (temp file + rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "episode_index": pa.array(columns["episode_index"], pa.int64()),
            "frame_index": pa.array(columns["frame_index"], pa.int64()),
            "index": pa.array(columns["index"], pa.int64()),
            "codes": pa.array(columns["codes"], pa.list_(pa.int64())),
            "z": pa.array(columns["z"], pa.list_(pa.float32())),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def label_dataset(cfg: LabelConfig) -> Path:
    """Label every frame of the dataset; returns the parquet path (pushed too when asked)."""
    from tqdm.auto import tqdm

    from lerobot_wbvla.datasets import LeRobotCameraSource, resolve_frame_gap
    from lerobot_wbvla.lam.encoders import EncoderUnavailableError
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel

    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    if cfg.dataset_repo_id is None and cfg.dataset_root is None:
        raise ValueError("Pass --dataset_repo_id and/or --dataset_root of the LeRobot dataset to label.")
    try:
        model = LatentActionModel.from_pretrained(cfg.lam, revision=cfg.lam_revision)
    except EncoderUnavailableError as err:  # the LAM's config.json names the encoder: no encoder flag here
        raise err.for_flag(
            f"--lam={cfg.lam}", " or label with a LAM whose encoder is a local folder on this machine."
        ) from None
    with camera_flag("--camera_key"):
        source = LeRobotCameraSource(
            repo_id=cfg.dataset_repo_id,
            root=cfg.dataset_root,
            camera_key=cfg.camera_key,
            revision=cfg.dataset_revision,
        )
    transform = encoder_transform(model.config.encoder)
    hf = source.dataset.hf_dataset
    ep_col = np.asarray(hf.data.column("episode_index").to_numpy())
    frame_col = np.asarray(hf.data.column("frame_index").to_numpy())
    index_col = np.asarray(hf.data.column("index").to_numpy())
    columns: dict[str, list] = {k: [] for k in ("episode_index", "frame_index", "index", "codes", "z")}
    for ci, clip in enumerate(tqdm(source.clips, desc="labelling episodes", disable=not cfg.progress)):
        k = resolve_frame_gap(model.config.frame_gap, clip.fps, model.config.target_offset_s)
        codes, z = label_episode(model, source.read_clip(ci), k, transform, cfg.batch_size)
        rows = np.flatnonzero(ep_col == clip.episode_index)
        rows = rows[np.argsort(frame_col[rows], kind="stable")]
        columns["episode_index"] += [int(clip.episode_index)] * len(rows)
        columns["frame_index"] += frame_col[rows].astype(int).tolist()
        columns["index"] += index_col[rows].astype(int).tolist()
        columns["codes"] += codes.tolist()
        columns["z"] += z.tolist()
    name = codes_file_name(cfg.lam, cfg.lam_revision)
    out = Path(cfg.output) if cfg.output is not None else Path(source.root) / LAM_CODES_DIR / name
    write_codes_parquet(out, columns)
    logger.info("wrote %d frames of LAM codes to %s", len(columns["index"]), out)
    if cfg.push_to_hub:
        push_codes(out, source.repo_id, name, cfg.push_branch)
    return out


def push_codes(path: Path, dataset_repo_id: str, name: str, branch: str | None = None):
    """Commit the codes file into the dataset repo at lam_codes/<name> (nothing else in the repo changes)."""
    import shutil

    from lerobot_wbvla.hub import push_folder_to_hub

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / LAM_CODES_DIR).mkdir()
        shutil.copy(path, Path(tmp) / LAM_CODES_DIR / name)
        return push_folder_to_hub(
            tmp,
            dataset_repo_id,
            repo_type="dataset",
            branch=branch,
            commit_message=f"Add LAM codes {name}",
        )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def _run(cfg: LabelConfig) -> None:
        print(json.dumps({"codes_file": str(label_dataset(cfg))}))

    run_cli("wbvla-lam-label", LabelConfig, _run)


if __name__ == "__main__":
    main()
