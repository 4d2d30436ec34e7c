"""`wbvla-lam-label`: write a LAM's latent-action codes for every frame of a LeRobot dataset, beside it.

    wbvla-lam-label --lam=<repo id or folder> --lam_revision=v1 --dataset_repo_id=me/x2_pick --dataset_root=data/x2

These codes are the VLA's pseudo-labels. The file (docs/CONTRACTS.md "LAM codes") is
``<dataset root>/lam_codes/<lam repo id, / -> __>@<revision>.parquet`` with one row per frame:
``episode_index, frame_index, index, codes (list[int]), z (list[float])``, where ``z`` is the quantised latent
(the codes' vectors, concatenated over the LAM's num_codes tokens). Row t holds the transition from frame t to
frame t+k (k = the LAM's frame gap); the last k frames of an episode pair with the episode's last frame, so every
frame gets a code and the final frame reads "no motion". ``--push_to_hub=true`` commits the file into the dataset
repo at the same path.

The file's key-value metadata says which LAM wrote it: ``wbvla.lam`` (id or folder as given),
``wbvla.lam_revision`` and ``wbvla.lam_fingerprint`` (first 16 hex of the sha256 of its ``model.safetensors``).
The name alone cannot tell: a branch moves and a local folder can be retrained in place, and a VLA trained on
codes of other weights than its teacher's learns the wrong targets without any error.

"Frames -> codes, z_q" is implemented once, here (``load_labelling_lam``, ``encode_frames``, ``codes_of``,
``label_pairs``): the VLA's teacher (``lerobot_wbvla.policies.wbvla.lam_teacher``) calls the same functions when it
labels a batch on the fly, so a sidecar row and an on-the-fly label of the same frames are the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from lerobot_wbvla.datasets import FrameTransform, resolve_frame_gap
from lerobot_wbvla.lam.data import USER_ERRORS, camera_flag, encoder_transform, exit_with_user_error
from lerobot_wbvla.lam.encoders import EncoderUnavailableError
from lerobot_wbvla.lam.modeling_lam import WEIGHTS_NAME, LatentActionModel, resolve_lam_dir

logger = logging.getLogger(__name__)

LAM_CODES_DIR = "lam_codes"
# Keys of the codes file's parquet key-value metadata (bytes, as pyarrow stores them).
META_LAM = b"wbvla.lam"
META_LAM_REVISION = b"wbvla.lam_revision"
META_LAM_FINGERPRINT = b"wbvla.lam_fingerprint"


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


def _lam_id_and_revision(lam: str, revision: str | None) -> tuple[str, str]:
    """How a LAM is named in file names and messages: a local folder by its last two path parts @ "local"."""
    path = Path(lam).expanduser()
    if path.is_dir():
        return "__".join(path.resolve().parts[-2:]), revision or "local"
    return lam.replace("/", "__"), revision or "main"


def codes_file_name(lam: str, revision: str | None) -> str:
    """``<lam repo id, / -> __>@<revision>.parquet``; a local folder is named by its last two path parts."""
    lam_id, revision = _lam_id_and_revision(lam, revision)
    safe = re.sub(r"[^A-Za-z0-9._@-]+", "-", f"{lam_id}@{revision}")
    return f"{safe}.parquet"


def display_revision(lam: str, revision: str | None) -> str:
    """The revision as the codes file names it ("local" for a folder, "main" for a Hub id without one)."""
    return _lam_id_and_revision(lam, revision)[1]


def lam_fingerprint(folder: str | Path) -> str:
    """First 16 hex digits of the sha256 of a LAM folder's ``model.safetensors``: what identifies its weights
    (the same file pulled from the Hub or copied to another machine has the same fingerprint)."""
    digest = hashlib.sha256()
    with open(Path(folder) / WEIGHTS_NAME, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


@dataclass
class LabellingLAM:
    """A frozen LAM ready to label frames, with what identifies it (the labeller and the VLA's teacher share it)."""

    model: LatentActionModel
    transform: FrameTransform  # uint8 frames -> the encoder's normalised input (encoder_transform)
    lam: str  # repo id or folder, as given
    revision: str | None
    fingerprint: str  # lam_fingerprint of the weights loaded

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def metadata(self) -> dict[bytes, bytes]:
        """The codes file's key-value metadata naming this LAM."""
        return {
            META_LAM: self.lam.encode(),
            META_LAM_REVISION: display_revision(self.lam, self.revision).encode(),
            META_LAM_FINGERPRINT: self.fingerprint.encode(),
        }


def load_labelling_lam(
    lam: str, revision: str | None, device: str | torch.device = "cpu", flag: str = "--lam"
) -> LabellingLAM:
    """Load a LAM (local folder or Hub repo id at ``revision``) frozen, in eval mode, on ``device``.

    ``flag`` names the option that chose the LAM in the error raised when the encoder its config.json names
    cannot be loaded here.
    """
    folder = resolve_lam_dir(lam, revision)
    try:
        model = LatentActionModel.from_pretrained(folder)
        model.encoder  # noqa: B018 (built now: a missing encoder fails here, not at the first batch)
    except EncoderUnavailableError as err:  # the LAM's config.json names the encoder: no encoder flag here
        raise err.for_flag(
            f"{flag}={lam}", " or label with a LAM whose encoder is a local folder on this machine."
        ) from None
    model.requires_grad_(False).eval().to(device)
    model.encoder.requires_grad_(False).eval().to(device)  # outside the module tree: moved on its own
    return LabellingLAM(
        model=model,
        transform=encoder_transform(model.config.encoder),
        lam=str(lam),
        revision=revision,
        fingerprint=lam_fingerprint(folder),
    )


def frames_to_uint8(frames: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) uint8, or float in [0, 1] (LeRobot's decoded frames) -> uint8.

    The labeller reads the dataset's frames as bytes, and LeRobot's float frames are those bytes / 255, so
    rounding gives the bytes back exactly: both paths then go through the same transform, bit for bit.
    """
    if frames.dtype == torch.uint8:
        return frames
    if not frames.is_floating_point():
        raise TypeError(f"frames must be uint8 or float in [0, 1], got {frames.dtype}")
    lo, hi = float(frames.min()), float(frames.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(
            f"LAM frames must be raw camera images in [0, 1] (LeRobot's layout), got values in [{lo:.3g}, "
            f"{hi:.3g}]: pass the frames before any normalisation."
        )
    return (frames * 255.0).round().clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def encode_frames(lam: LabellingLAM, frames: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """Frames (N, 3, H, W) uint8 or float [0, 1] -> encoder tokens (N, num_tokens, token_dim) float32."""
    frames = frames_to_uint8(frames).to(lam.device)
    step = batch_size or max(len(frames), 1)
    return torch.cat(
        [
            lam.model.encode_frames(lam.transform(frames[i : i + step], layout="CHW"))
            for i in range(0, len(frames), step)
        ]
    )


@torch.no_grad()
def codes_of(
    lam: LabellingLAM, tok_t: torch.Tensor, tok_tk: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens of o_t and o_t+k (B, N, D) -> codes (B, num_codes) long, z_q (B, num_codes, latent_dim) float32.

    z_q is the codebook's vectors of the codes (not the straight-through sum z + (e - z), which equals them only
    to rounding), so a label depends on its codes alone.
    """
    codes = lam.model.encode_action(tok_t, tok_tk).indices.long()
    return codes, lam.model.quantizer.lookup(codes).float()


@torch.no_grad()
def label_pairs(
    lam: LabellingLAM, frames_t: torch.Tensor, frames_tk: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames o_t and o_t+k (B, 3, H, W), uint8 or float [0, 1] -> (codes, z_q) as ``codes_of``."""
    if frames_t.shape != frames_tk.shape:
        raise ValueError(
            f"frames_t {tuple(frames_t.shape)} and frames_tk {tuple(frames_tk.shape)} must have the same shape"
        )
    return codes_of(lam, encode_frames(lam, frames_t), encode_frames(lam, frames_tk))


@torch.no_grad()
def label_episode(
    lam: LabellingLAM, frames: torch.Tensor, k: int, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 frames (T, 3, H, W) of one episode -> codes (T, num_codes) and quantised z (T, num_codes*dim).

    Every frame is encoded once; row t pairs frame t with frame min(t + k, T - 1).
    """
    tokens = encode_frames(lam, frames, batch_size)
    nxt = torch.clamp(torch.arange(len(tokens), device=tokens.device) + k, max=len(tokens) - 1)
    codes, zs = [], []
    for i in range(0, len(tokens), batch_size):
        c, z_q = codes_of(lam, tokens[i : i + batch_size], tokens[nxt[i : i + batch_size]])
        codes.append(c.cpu())
        zs.append(z_q.flatten(1).cpu())
    return torch.cat(codes).numpy(), torch.cat(zs).numpy()


def write_codes_parquet(
    path: Path, columns: dict[str, list], metadata: dict[bytes, bytes] | None = None
) -> Path:
    """Write the codes table atomically (temp file + rename), with ``metadata`` (LabellingLAM.metadata)."""
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
    if metadata:
        table = table.replace_schema_metadata(metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def label_dataset(cfg: LabelConfig) -> Path:
    """Label every frame of the dataset; returns the parquet path (pushed too when asked)."""
    from lerobot_wbvla.datasets import LeRobotCameraSource

    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    if cfg.dataset_repo_id is None and cfg.dataset_root is None:
        raise ValueError("Pass --dataset_repo_id and/or --dataset_root of the LeRobot dataset to label.")
    lam = load_labelling_lam(cfg.lam, cfg.lam_revision)
    with camera_flag("--camera_key"):
        source = LeRobotCameraSource(
            repo_id=cfg.dataset_repo_id,
            root=cfg.dataset_root,
            camera_key=cfg.camera_key,
            revision=cfg.dataset_revision,
        )
    hf = source.dataset.hf_dataset
    ep_col = np.asarray(hf.data.column("episode_index").to_numpy())
    frame_col = np.asarray(hf.data.column("frame_index").to_numpy())
    index_col = np.asarray(hf.data.column("index").to_numpy())
    columns: dict[str, list] = {k: [] for k in ("episode_index", "frame_index", "index", "codes", "z")}
    for ci, clip in enumerate(tqdm(source.clips, desc="labelling episodes")):
        k = resolve_frame_gap(lam.model.config.frame_gap, clip.fps, lam.model.config.target_offset_s)
        codes, z = label_episode(lam, source.read_clip(ci), k, cfg.batch_size)
        rows = np.flatnonzero(ep_col == clip.episode_index)
        rows = rows[np.argsort(frame_col[rows], kind="stable")]
        columns["episode_index"] += [int(clip.episode_index)] * len(rows)
        columns["frame_index"] += frame_col[rows].astype(int).tolist()
        columns["index"] += index_col[rows].astype(int).tolist()
        columns["codes"] += codes.tolist()
        columns["z"] += z.tolist()
    name = codes_file_name(cfg.lam, cfg.lam_revision)
    out = Path(cfg.output) if cfg.output is not None else Path(source.root) / LAM_CODES_DIR / name
    write_codes_parquet(out, columns, lam.metadata())
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
    from lerobot.configs import parser

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def _run(cfg: LabelConfig) -> None:
        print(json.dumps({"codes_file": str(label_dataset(cfg))}))

    _run.__annotations__["cfg"] = LabelConfig
    try:
        parser.wrap()(_run)()
    except USER_ERRORS as err:  # bad input: one clear line, no traceback
        exit_with_user_error("wbvla-lam-label", err)


if __name__ == "__main__":
    main()
