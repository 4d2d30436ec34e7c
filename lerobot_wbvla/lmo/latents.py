"""The frozen LAM's latent z_t for every arm clip, computed once per clip and cached on disk.

In deployment the LMO reads the z_t the VLA emits, and the VLA is trained to emit the LAM's latent of what the
head camera sees next. During LMO training no VLA runs, so each clip gets the LAM's own latent of its head-camera
frames, put through the runtime's rate handling:
1. frames: a procedural clip is replayed in the kinematic twin (X2Sim, base_mode="kinematic": arms simulated,
   base moved by the loco command) and its head camera rendered at CAMERA_FPS (the X2 camera rate); a dataset
   clip's own `observation.images.head` frames are decoded;
2. z per frame with the LAM's labeller (`lam.label.label_episode`: frames t and t+k, k = the LAM's frame gap); the
   last k frames, whose t+k lies past the clip, hold the last z that saw a full frame pair;
3. `vla_rate_to_control_rate`: the VLA reads the newest frame at 20 Hz and holds its output; the 50 Hz controller
   ramps from the previous VLA output to the newest over one VLA period.

Renders and LAM passes are the slow part (seconds per clip), so per-frame latents are cached in one file per
(LAM content, clip content, render settings) under `cache_dir`; a library of a few hundred clips is labelled once
and re-read in a second.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from lerobot_wbvla.lmo.clips import CONTROL_HZ, ArmClip, ClipLibrary

logger = logging.getLogger(__name__)

VLA_HZ = 20  # the VLA's output rate the runtime runs at (the article: ~20 Hz)
CAMERA_FPS = (
    30  # the X2 head camera rate (AgibotX2Config.control_fps), at which procedural clips are rendered
)
DEFAULT_CACHE_DIR = Path("~/.cache/lerobot_wbvla/lmo_latents")
CACHE_VERSION = 1  # bump when what a cache file holds changes meaning


def vla_rate_to_control_rate(
    z: np.ndarray,
    fps_in: float,
    vla_hz: float = VLA_HZ,
    control_hz: float = CONTROL_HZ,
    n_out: int | None = None,
    causal: bool = True,
) -> np.ndarray:
    """Per-frame latents (T_in, D) at fps_in -> what the 50 Hz controller reads, (n_out, D).

    The VLA ticks at j / vla_hz and reads the newest camera frame, floor(j * fps_in / vla_hz) (zero-order hold).
    Control step i at t = i / control_hz lies between ticks j = floor(t * vla_hz) and j + 1, alpha = t * vla_hz - j.
    causal=True (the runtime: tick j+1's output does not exist yet at t) ramps from output j-1 to output j over the
    period, so z reaches a tick's value one VLA period after the tick; causal=False interpolates j -> j+1 (a
    look-ahead only an offline replay has). n_out defaults to the control steps spanning the input."""
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 2 or len(z) == 0:
        raise ValueError(f"z must be (T_in >= 1, D), got {z.shape}")
    if min(fps_in, vla_hz, control_hz) <= 0:
        raise ValueError(f"rates must be > 0, got fps_in={fps_in}, vla_hz={vla_hz}, control_hz={control_hz}")
    if n_out is None:
        n_out = int(np.floor((len(z) - 1) * control_hz / fps_in + 1e-9)) + 1
    eps = 1e-9
    tick_pos = np.arange(n_out) * vla_hz / control_hz  # control step i in VLA periods
    j = np.floor(tick_pos + eps).astype(np.int64)
    alpha = np.clip(tick_pos - j, 0.0, 1.0).astype(np.float32)[:, None]
    alpha[alpha < 1e-6] = 0.0

    def frame_of_tick(tick: np.ndarray) -> np.ndarray:
        return np.clip(np.floor(np.maximum(tick, 0) * fps_in / vla_hz + eps).astype(np.int64), 0, len(z) - 1)

    a, b = (j - 1, j) if causal else (j, j + 1)
    za, zb = z[frame_of_tick(a)], z[frame_of_tick(b)]
    return za + alpha * (zb - za)


# ----------------------------------------------------------------------------------------------------- LAM
@dataclass
class LatentTeacher:
    """A loaded frozen LAM with what labelling needs: its transform, frame gap rule, identity and z size."""

    model: Any  # lerobot_wbvla.lam.modeling_lam.LatentActionModel
    transform: Any  # lerobot_wbvla.datasets.FrameTransform
    lam: str
    revision: str | None
    content_hash: str
    latent_dim: int
    image_size: tuple[int, int]

    def frame_gap(self, fps: float) -> int:
        from lerobot_wbvla.datasets import resolve_frame_gap  # noqa: PLC0415

        cfg = self.model.config
        return resolve_frame_gap(cfg.frame_gap, fps, cfg.target_offset_s)

    def info(self, camera: tuple[int, int], scene: str | None) -> dict[str, Any]:
        return {
            "lam": self.lam,
            "lam_revision": self.revision,
            "lam_content_hash": self.content_hash,
            "latent_dim": self.latent_dim,
            "camera": list(camera),
            "camera_fps": CAMERA_FPS,
            "scene": scene,
            "vla_hz": VLA_HZ,
            "control_hz": CONTROL_HZ,
        }


def lam_latent_dim(config: Any) -> int:
    """Size of the LAM's z (what `label_episode` returns): num_codes tokens of latent_dim each, concatenated."""
    return int(config.model.num_codes) * int(config.model.latent_dim)


def _folder_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        path = folder / name
        h.update(name.encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _looks_like_path(lam: str) -> bool:
    """A Hub id is `name` or `owner/name`; anything else (absolute, ./, ~, more parts) is a folder."""
    return lam.startswith(("/", ".", "~")) or lam.count("/") > 1


def load_teacher(lam: str | Path, revision: str | None = None) -> LatentTeacher:
    """Load the frozen LAM (local folder or Hub repo id at `revision`); clear errors for a missing one."""
    from lerobot_wbvla.lam.data import encoder_transform  # noqa: PLC0415
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel, resolve_lam_dir  # noqa: PLC0415

    lam = str(lam)
    path = Path(lam).expanduser()
    if _looks_like_path(lam) and not path.is_dir():
        raise FileNotFoundError(
            f"LAM folder '{lam}' does not exist: pass a folder holding config.json + model.safetensors "
            "(what wbvla-train-lam writes under outputs/.../pretrained_model) or a Hub repo id"
        )
    if path.is_dir() and not (path / "config.json").is_file():
        raise FileNotFoundError(f"'{lam}' is a folder but not a LAM: it has no config.json")
    folder = resolve_lam_dir(lam, revision)
    model = LatentActionModel.from_pretrained(folder)
    model.eval()
    transform = encoder_transform(model.config.encoder)
    side = int(transform.crop or transform.resize or 224)
    return LatentTeacher(
        model=model,
        transform=transform,
        lam=lam,
        revision=revision,
        content_hash=_folder_hash(Path(folder)),
        latent_dim=lam_latent_dim(model.config),
        image_size=(side, side),
    )


def frame_latents(
    teacher: LatentTeacher, frames: torch.Tensor, fps: float, batch_size: int = 64
) -> np.ndarray:
    """uint8 frames (T, 3, H, W) at fps -> z (T, latent_dim) from the LAM's labeller; the last k frames (t+k past
    the clip, which the labeller pairs with the last frame, a shorter motion) hold the last full-pair z."""
    from lerobot_wbvla.lam.label import label_episode  # noqa: PLC0415

    k = teacher.frame_gap(fps)
    _, z = label_episode(teacher.model, frames, k, teacher.transform, batch_size)
    n = len(z)
    if n > k:
        z[n - k :] = z[n - k - 1]
    return np.ascontiguousarray(z, dtype=np.float32)


# -------------------------------------------------------------------------------------------------- frames
def camera_frame_count(clip: ArmClip, fps: float = CAMERA_FPS) -> int:
    """Camera frames at fps spanning the clip (frame j at j / fps, the last at or before the clip's end)."""
    return int(np.floor(clip.duration_s * fps + 1e-9)) + 1


def make_render_sim(camera: tuple[int, int], scene: str | None = None):
    """The kinematic twin procedural clips are replayed in (floor only by default)."""
    from lerobot_wbvla.robots.agibot_x2.sim import X2Sim, X2SimConfig  # noqa: PLC0415

    return X2Sim(X2SimConfig(scene=scene, base_mode="kinematic", head_camera=tuple(camera)))


def render_clip_frames(sim: Any, clip: ArmClip, fps: float = CAMERA_FPS, seed: int = 0) -> torch.Tensor:
    """Replay `clip` in the kinematic twin `sim` (each 50 Hz row sent with set_command, as the env sends it) and
    render the head camera at `fps`; uint8 (T_cam, 3, H, W). Frame j shows the state at j / fps (to the physics
    step), frame 0 the settled state after reset."""
    sim.reset(seed)
    n_cam = camera_frame_count(clip, fps)
    frames = []
    t_sim, next_frame = 0.0, 0
    for i in range(clip.num_steps):
        sim.set_command(clip.action(i))
        t_next = (i + 1) / CONTROL_HZ
        # Camera frames due before the next command: advance to each, render it.
        while next_frame < n_cam and next_frame / fps < t_next - 1e-9:
            t_frame = next_frame / fps
            sim.advance(t_frame - t_sim)
            t_sim = t_frame
            frames.append(sim.render("head"))
            next_frame += 1
        sim.advance(t_next - t_sim)
        t_sim = t_next
    while next_frame < n_cam:  # the last frame can fall exactly on the clip's end
        sim.advance(next_frame / fps - t_sim)
        t_sim = next_frame / fps
        frames.append(sim.render("head"))
        next_frame += 1
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()


def _dataset_key(clip: ArmClip) -> tuple[str, str | None, str | None]:
    m = clip.meta
    return (m["repo_id"], m.get("root"), m.get("revision"))


def dataset_clip_frames(clips: Sequence[ArmClip]) -> Iterator[tuple[torch.Tensor, float]]:
    """The head-camera frames of dataset clips (all from one dataset), one episode at a time: (frames, fps) per
    clip, in order (uint8 (T, 3, H, W) at the dataset's fps)."""
    from lerobot_wbvla.datasets import LeRobotCameraSource  # noqa: PLC0415

    repo_id, root, revision = _dataset_key(clips[0])
    episodes = [int(c.meta["episode_index"]) for c in clips]
    source = LeRobotCameraSource(repo_id=repo_id, root=root, episodes=episodes, revision=revision)
    where = {ep: i for i, ep in enumerate(source.episodes)}
    for c in clips:
        ci = where[int(c.meta["episode_index"])]
        yield source.read_clip(ci), float(source.clips[ci].fps)


# --------------------------------------------------------------------------------------------------- cache
def settings_hash(teacher: LatentTeacher, render: dict[str, Any] | None) -> str:
    """What besides the LAM and the clip decides a clip's per-frame z: the LAM's transform and, for rendered
    clips, the render settings (camera size and fps, scene, the twin's model)."""
    settings = {"version": CACHE_VERSION, "transform": teacher.transform.to_dict(), "render": render}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _twin_fingerprint(sim: Any) -> str:
    """Hash of the compiled twin (its MJB bytes): a changed robot model re-renders instead of reusing frames."""
    import mujoco  # noqa: PLC0415

    buf = np.zeros(mujoco.mj_sizeModel(sim.model), dtype=np.uint8)
    mujoco.mj_saveModel(sim.model, None, buf)
    return hashlib.sha256(buf.tobytes()).hexdigest()


def cache_path(cache_dir: Path, teacher: LatentTeacher, clip: ArmClip, settings: str) -> Path:
    """One file per (LAM, clip content, render settings): <cache>/<lam slug>-<lam hash>/<clip hash>-<settings>.npz"""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", teacher.lam.strip("/"))[-60:]
    return (
        cache_dir / f"{slug}-{teacher.content_hash[:12]}" / f"{clip.content_hash()[:32]}-{settings[:12]}.npz"
    )


def _read_cache(path: Path, latent_dim: int) -> tuple[np.ndarray, float] | None:
    try:
        with np.load(path) as f:
            z, fps = f["z"], float(f["fps"])
    except (OSError, KeyError, ValueError) as err:
        if path.exists():
            logger.warning("ignoring unreadable latent cache file %s (%s)", path, err)
        return None
    if z.ndim != 2 or z.shape[1] != latent_dim:
        return None
    return z, fps


def _write_cache(path: Path, z: np.ndarray, fps: float) -> None:
    """Atomic: a temp file in the same folder renamed over the target (concurrent writers leave one whole file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, z=z, fps=np.float64(fps))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------------------- attach
def attach_latents(
    library: ClipLibrary,
    lam: str | Path,
    lam_revision: str | None = None,
    cache_dir: str | Path | None = None,
    camera: tuple[int, int] | None = None,
    scene: str | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> ClipLibrary:
    """A copy of `library` with every clip's latent (T, latent_dim) from the frozen LAM `lam` (folder or Hub id).

    camera: (H, W) the procedural clips are rendered at; None = the LAM's input size (its transform's crop), so
    nothing is rendered that the LAM would throw away. scene: the twin scene they are replayed in (None = floor
    only). latent_dim comes from the LAM's config. The result's `latent_info` names the LAM (id, revision,
    content hash) so a trained policy can refuse another LAM's z."""
    if len(library) == 0:
        library.require_clips("attach latents to")
    teacher = load_teacher(lam, lam_revision)
    camera = tuple(int(v) for v in (camera or teacher.image_size))
    cache_root = Path(cache_dir or os.environ.get("WBVLA_LMO_LATENT_CACHE") or DEFAULT_CACHE_DIR).expanduser()
    is_dataset = [c.kind.startswith("dataset:") for c in library]
    sim = make_render_sim(camera, scene) if not all(is_dataset) else None
    render = None
    if sim is not None:
        render = {"camera": list(camera), "fps": CAMERA_FPS, "scene": scene, "twin": _twin_fingerprint(sim)}
    settings = {False: settings_hash(teacher, render), True: settings_hash(teacher, None)}
    paths = [
        cache_path(cache_root, teacher, c, settings[d]) for c, d in zip(library, is_dataset, strict=True)
    ]

    per_frame: dict[int, tuple[np.ndarray, float]] = {}
    for i, path in enumerate(paths):
        hit = _read_cache(path, teacher.latent_dim)
        if hit is not None:
            per_frame[i] = hit
    todo = [i for i in range(len(library)) if i not in per_frame]
    logger.info("latents: %d of %d clips cached, %d to label", len(per_frame), len(library), len(todo))

    def label(i: int, frames: torch.Tensor, fps: float) -> None:
        z = frame_latents(teacher, frames, fps, batch_size)
        _write_cache(paths[i], z, fps)
        per_frame[i] = (z, fps)
        bar.update(1)

    bar = tqdm(total=len(todo), desc="LAM latents", disable=not progress or not todo)
    try:
        for i in todo:
            if not is_dataset[i]:
                label(i, render_clip_frames(sim, library[i], CAMERA_FPS), CAMERA_FPS)
        groups: dict[tuple, list[int]] = {}
        for i in todo:
            if is_dataset[i]:
                groups.setdefault(_dataset_key(library[i]), []).append(i)
        for idx in groups.values():
            for i, (frames, fps) in zip(idx, dataset_clip_frames([library[i] for i in idx]), strict=True):
                label(i, frames, fps)
    finally:
        bar.close()
        if sim is not None:
            sim.close()

    clips = []
    for i, c in enumerate(library):
        z, fps = per_frame[i]
        clips.append(dataclasses.replace(c, latent=vla_rate_to_control_rate(z, fps, n_out=c.num_steps)))
    return ClipLibrary(clips, teacher.info(camera, scene))
