"""Arm motion clips the LMO's arms replay during training (issue 9), and the library that holds them.

The LMO learns to keep the legs under a body whose arms move the way a VLA moves them. The training env therefore
replays arm motion clips: each env picks a clip at reset (and the next one when a clip ends), starts it at its first
row (the standing pose every clip starts from) and reads, every 50 Hz policy step,
the clip's arm targets, its locomotion command and (once attached, `latents.py`) the frozen LAM's z_t for that
moment. Two sources feed the library:
- `procedural_clips`: reach / carry / push motions over each arm joint's full published range, minimum-jerk
  segments with joint speeds and accelerations bounded like a real arm, holds, return to the stance, each with a
  locomotion command schedule (stand, squat, step, walk forward / lateral, turn). Deterministic from the seed.
- `clips_from_dataset`: the actions of `lerobot-record --robot.type=agibot_x2` datasets of the four tasks,
  resampled from the dataset's fps to 50 Hz.

A clip's arrays (all float32, at CONTROL_HZ):
- arm (T, 16): the 14 joints.ARM_JOINTS targets (rad, inside mjcf.joint_range) then the 2 joints.GRIPPERS
  closures (0 open .. 1 closed): the first 16 entries of the whole-body action (joints.ACTION_KEYS);
- loco (T, 4): vx, vy (m/s, base frame), yaw_rate (rad/s), height (m, pelvis height target; 0 = nominal): the
  whole-body action's loco.* (docs/CONTRACTS.md);
- latent (T, latent_dim) or None: the LAM's z_t as the runtime would feed it (see latents.py).

`ClipLibrary.stack()` pads them into (num_clips, T_max, ...) arrays for vectorised per-env lookup.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from lerobot_wbvla.robots.agibot_x2 import mjcf
from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS, ARM_JOINTS, GRIPPERS, LOCO_KEYS

logger = logging.getLogger(__name__)

CONTROL_HZ = 50  # the LMO's policy rate: every clip array is sampled at this rate
ARM_KEYS: tuple[str, ...] = ACTION_KEYS[: len(ARM_JOINTS) + len(GRIPPERS)]
ARM_DIM = len(ARM_KEYS)  # 14 joints + 2 grippers
LOCO_DIM = len(LOCO_KEYS)
INDEX_FILE = "index.json"
ARRAYS_FILE = "clips.npz"
FORMAT = "wbvla-lmo-clips"
_RANGE_TOL = 1e-5  # rad: float32 rounding of values at a joint limit


def arm_limits() -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of the 16 arm entries: the published joint ranges (mjcf.joint_range), grippers 0..1."""
    lo = [mjcf.joint_range(j)[0] for j in ARM_JOINTS] + [0.0] * len(GRIPPERS)
    hi = [mjcf.joint_range(j)[1] for j in ARM_JOINTS] + [1.0] * len(GRIPPERS)
    return np.array(lo), np.array(hi)


# ----------------------------------------------------------------------------------------------------- clips
@dataclass
class ArmClip:
    """One arm motion clip at CONTROL_HZ (see the module docstring for the arrays' meaning).

    kind: "reach" | "carry" | "push" | "dataset:<task>" | ...; source: where it came from (generator and seed, or
    dataset repo id); payload_kg_hint: mass held in the hands, when the motion is one of holding something (carry);
    meta: JSON-able details (dataset root, episode, fps, ...) that latents.py needs to find the clip's frames."""

    name: str
    kind: str
    source: str
    arm: np.ndarray
    loco: np.ndarray
    latent: np.ndarray | None = None
    payload_kg_hint: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.arm = np.ascontiguousarray(self.arm, dtype=np.float32)
        self.loco = np.ascontiguousarray(self.loco, dtype=np.float32)
        where = f"clip {self.name!r}"
        if self.arm.ndim != 2 or self.arm.shape[1] != ARM_DIM or len(self.arm) < 1:
            raise ValueError(f"{where}: arm must be (T>=1, {ARM_DIM}), got {self.arm.shape}")
        if self.loco.shape != (len(self.arm), LOCO_DIM):
            raise ValueError(f"{where}: loco must be ({len(self.arm)}, {LOCO_DIM}), got {self.loco.shape}")
        if not (np.isfinite(self.arm).all() and np.isfinite(self.loco).all()):
            raise ValueError(f"{where}: arm/loco hold NaN or inf")
        lo, hi = arm_limits()
        bad = (self.arm < lo - _RANGE_TOL) | (self.arm > hi + _RANGE_TOL)
        if bad.any():
            names = sorted({ARM_KEYS[i] for i in np.flatnonzero(bad.any(axis=0))})
            raise ValueError(f"{where}: values outside the joint ranges / gripper 0..1 for {names}")
        if self.latent is not None:
            self.latent = np.ascontiguousarray(self.latent, dtype=np.float32)
            if self.latent.ndim != 2 or len(self.latent) != len(self.arm):
                raise ValueError(
                    f"{where}: latent must be ({len(self.arm)}, latent_dim), got {self.latent.shape}"
                )

    @property
    def num_steps(self) -> int:
        return len(self.arm)

    @property
    def duration_s(self) -> float:
        return (self.num_steps - 1) / CONTROL_HZ

    def content_hash(self) -> str:
        """sha256 of what determines the clip's motion and frames (kind, source, meta, arm, loco): the latent
        cache key. Name, latent and payload hint are left out (renaming a clip does not change its frames)."""
        h = hashlib.sha256()
        h.update(json.dumps([self.kind, self.source, self.meta], sort_keys=True, default=str).encode())
        h.update(self.arm.tobytes())
        h.update(self.loco.tobytes())
        return h.hexdigest()

    def action(self, t: int) -> dict[str, float]:
        """Row t as a whole-body action dict (joints.ACTION_KEYS), as `X2Sim.set_command` takes it."""
        values = np.concatenate([self.arm[t], self.loco[t]]).tolist()
        return dict(zip(ACTION_KEYS, values, strict=True))


class ClipLibrary:
    """An ordered list of ArmClip; `stack()` for the env, `save`/`load` for a folder, `summary()` for people.

    latent_info: where the clips' latents came from (LAM id, revision, content hash, latent_dim, camera), set by
    latents.attach_latents; a checkpoint records it so a policy is never fed another LAM's z_t."""

    def __init__(self, clips: Iterable[ArmClip] = (), latent_info: Mapping[str, Any] | None = None) -> None:
        self.clips: list[ArmClip] = list(clips)
        self.latent_info: dict[str, Any] | None = dict(latent_info) if latent_info is not None else None

    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self) -> Iterator[ArmClip]:
        return iter(self.clips)

    def __getitem__(self, i: int) -> ArmClip:
        return self.clips[i]

    def __add__(self, other: ClipLibrary) -> ClipLibrary:
        if self.latent_info and other.latent_info and self.latent_info != other.latent_info:
            raise ValueError("cannot merge clip libraries whose latents come from different LAMs")
        return ClipLibrary(self.clips + other.clips, self.latent_info or other.latent_info)

    def standing(self) -> ClipLibrary:
        """The same arm motions with a zero locomotion command throughout: the legs' job is then to stand while the
        arms move (a stander's training and the perturbation test's `loco=stand`)."""
        import dataclasses

        return ClipLibrary(
            (dataclasses.replace(c, loco=np.zeros_like(c.loco)) for c in self.clips), self.latent_info
        )

    def require_clips(self, what: str) -> None:
        if not self.clips:
            raise ValueError(
                f"no clips: cannot {what} an empty clip library. Build one with "
                "lerobot_wbvla.lmo.clips.procedural_clips(num_clips, seed) and/or clips_from_dataset(repo_id, root) "
                "(datasets recorded with lerobot-record --robot.type=agibot_x2), or load a saved library folder."
            )

    @property
    def latent_dim(self) -> int | None:
        """latent_dim of the attached latents; None when no clip has one. Raises if only some clips have one."""
        dims = {c.latent.shape[1] if c.latent is not None else None for c in self.clips}
        if len(dims) > 1:
            missing = sum(c.latent is None for c in self.clips)
            raise ValueError(
                f"{missing} of {len(self.clips)} clips have no latent (or latent sizes differ: {dims}); "
                "attach latents to the whole library with lerobot_wbvla.lmo.latents.attach_latents"
            )
        return dims.pop() if dims else None

    def stack(self) -> dict[str, np.ndarray | None]:
        """Padded arrays for vectorised lookup: arm (C, Tmax, 16), loco (C, Tmax, 4), latent (C, Tmax, D) or None,
        lengths (C,) int64, payload_kg_hint (C,) float32 (NaN = none). Rows past a clip's length repeat its last
        row, so an env reading beyond the end sees the motion held, never zeros (an arm slammed to 0 rad)."""
        self.require_clips("stack")
        latent_dim = self.latent_dim
        lengths = np.array([c.num_steps for c in self.clips], dtype=np.int64)
        t_max = int(lengths.max())

        def pad(arrays: list[np.ndarray]) -> np.ndarray:
            out = np.empty((len(arrays), t_max, arrays[0].shape[1]), dtype=np.float32)
            for i, a in enumerate(arrays):
                out[i, : len(a)] = a
                out[i, len(a) :] = a[-1]
            return out

        return {
            "arm": pad([c.arm for c in self.clips]),
            "loco": pad([c.loco for c in self.clips]),
            "latent": pad([c.latent for c in self.clips]) if latent_dim is not None else None,
            "lengths": lengths,
            "payload_kg_hint": np.array(
                [np.nan if c.payload_kg_hint is None else c.payload_kg_hint for c in self.clips],
                dtype=np.float32,
            ),
        }

    def summary(self) -> str:
        """A few lines: clip count per kind, durations, latents."""
        if not self.clips:
            return "0 clips (empty library)"
        kinds = Counter(c.kind for c in self.clips)
        dur = np.array([c.duration_s for c in self.clips])
        lines = [
            f"{len(self.clips)} clips, {dur.sum() / 60:.1f} min at {CONTROL_HZ} Hz "
            f"(clip length {dur.min():.1f}..{dur.max():.1f} s)",
            "kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
        ]
        try:
            dim = self.latent_dim
        except ValueError as err:
            lines.append(f"latents: incomplete ({err})")
        else:
            if dim is None:
                lines.append("latents: none attached")
            else:
                lam = (self.latent_info or {}).get("lam", "?")
                lines.append(f"latents: dim {dim} from LAM {lam}")
        return "\n".join(lines)

    # ------------------------------------------------------------------------------------------------ files
    def save(self, folder: str | Path) -> Path:
        """Write `clips.npz` + `index.json` into `folder`, atomically: both are written into a temp folder beside
        it first; a token in both files lets `load` detect a folder caught between the two renames."""
        self.require_clips("save")
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        arrays: dict[str, np.ndarray] = {"__token__": np.array(token)}
        entries = []
        for i, c in enumerate(self.clips):
            arrays[f"arm_{i}"] = c.arm
            arrays[f"loco_{i}"] = c.loco
            if c.latent is not None:
                arrays[f"latent_{i}"] = c.latent
            entries.append(
                {
                    "name": c.name,
                    "kind": c.kind,
                    "source": c.source,
                    "payload_kg_hint": c.payload_kg_hint,
                    "meta": c.meta,
                    "num_steps": c.num_steps,
                    "has_latent": c.latent is not None,
                }
            )
        index = {
            "format": FORMAT,
            "version": 1,
            "control_hz": CONTROL_HZ,
            "arm_keys": list(ARM_KEYS),
            "loco_keys": list(LOCO_KEYS),
            "token": token,
            "latent_info": self.latent_info,
            "clips": entries,
        }
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            np.savez(tmp / ARRAYS_FILE, **arrays)
            (tmp / INDEX_FILE).write_text(json.dumps(index, indent=1, default=str))
            if not folder.exists():
                os.replace(tmp, folder)
            else:
                for name in (ARRAYS_FILE, INDEX_FILE):
                    os.replace(tmp / name, folder / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ClipLibrary:
        """Read a folder written by `save`."""
        folder = Path(folder)
        index_path = folder / INDEX_FILE
        if not index_path.is_file():
            raise FileNotFoundError(f"no clip library in '{folder}': {index_path} is missing")
        index = json.loads(index_path.read_text())
        if index.get("format") != FORMAT or index.get("control_hz") != CONTROL_HZ:
            raise ValueError(f"'{folder}' is not a {FORMAT} library at {CONTROL_HZ} Hz")
        if tuple(index.get("arm_keys", ())) != ARM_KEYS:
            raise ValueError(
                f"clip library '{folder}' was written for other arm keys: {index.get('arm_keys')}"
            )
        with np.load(folder / ARRAYS_FILE) as arrays:
            if str(arrays["__token__"]) != index["token"]:
                raise ValueError(
                    f"clip library '{folder}' is half written (index and arrays differ); load again"
                )
            clips = [
                ArmClip(
                    name=e["name"],
                    kind=e["kind"],
                    source=e["source"],
                    arm=arrays[f"arm_{i}"],
                    loco=arrays[f"loco_{i}"],
                    latent=arrays[f"latent_{i}"] if e["has_latent"] else None,
                    payload_kg_hint=e["payload_kg_hint"],
                    meta=e["meta"],
                )
                for i, e in enumerate(index["clips"])
            ]
        library = cls(clips, index.get("latent_info"))
        library.require_clips("load")
        return library


# --------------------------------------------------------------------------------------------- dataset clips
@lru_cache(maxsize=1)
def _scene_of_task() -> dict[str, str]:
    """Task string -> scene name of the twin's scene registry (the four task families)."""
    from lerobot_wbvla.robots.agibot_x2.scenes import get_scene, list_scenes  # noqa: PLC0415

    out = {}
    for name in list_scenes():
        try:
            out[get_scene(name)(mjcf.build_spec()).task] = name
        except Exception as err:  # noqa: BLE001 (a broken scene only loses its short name)
            logger.debug("scene %s: no task string (%s)", name, err)
    return out


def task_name(task: str) -> str:
    """Short name of a dataset task: the scene whose task string it is (pick_place, ...), else a slug of it."""
    return _scene_of_task().get(task) or re.sub(r"[^a-z0-9]+", "_", task.lower()).strip("_")[:48] or "task"


def resample(values: np.ndarray, fps_in: float, rate: float = CONTROL_HZ) -> np.ndarray:
    """Linear interpolation of (N, D) samples at fps_in (sample i at i / fps_in) onto i / rate over the same span;
    where both grids share a time the value is the input's own."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        raise ValueError("cannot resample an empty episode")
    n_out = int(np.floor((len(values) - 1) * rate / fps_in + 1e-9)) + 1
    # Output sample i sits at input position i * fps_in / rate; multiplying first keeps shared times exact
    # (i = 5 at 50 Hz -> 3.0 at 30 fps), and positions within 1e-9 of an input sample snap to it.
    pos = np.arange(n_out) * fps_in / rate
    i0 = np.clip(np.floor(pos + 1e-9).astype(int), 0, len(values) - 1)
    i1 = np.minimum(i0 + 1, len(values) - 1)
    w = np.clip(pos - i0, 0.0, 1.0)
    w[w < 1e-9] = 0.0
    return values[i0] + w[:, None] * (values[i1] - values[i0])


def clips_from_dataset(
    repo_id: str | None = None,
    root: str | Path | None = None,
    episodes: Sequence[int] | None = None,
    revision: str | None = None,
    progress: bool = True,
) -> ClipLibrary:
    """Clips of kind "dataset:<task>" from a LeRobot dataset recorded with `lerobot-record --robot.type=agibot_x2`
    (action names joints.ACTION_KEYS), one per episode, resampled from the dataset's fps to CONTROL_HZ by linear
    interpolation. Arms-only datasets (no loco.* actions, e.g. from lerobot-rollout) get a standing command."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: PLC0415 (heavy import)

    if repo_id is None and root is None:
        raise ValueError("clips_from_dataset needs a dataset repo_id, a local root, or both")
    if root is not None and not (Path(root) / "meta" / "info.json").is_file():
        raise FileNotFoundError(
            f"no LeRobot dataset at '{root}': {Path(root) / 'meta' / 'info.json'} is missing"
        )
    repo_id = repo_id or f"local/{Path(root).name}"
    ds = LeRobotDataset(
        repo_id,
        root=root,
        episodes=None if episodes is None else sorted({int(e) for e in episodes}),
        revision=revision,
        download_videos=False,
    )
    names = list((ds.meta.features.get("action") or {}).get("names") or [])
    missing = [k for k in ARM_KEYS if k not in names]
    if missing:
        raise ValueError(
            f"dataset {repo_id}: its actions lack {missing}; expected an agibot_x2 recording whose action names "
            f"are {list(ACTION_KEYS)} (lerobot-record --robot.type=agibot_x2), got {names}"
        )
    has_loco = all(k in names for k in LOCO_KEYS)
    cols = [names.index(k) for k in ARM_KEYS] + ([names.index(k) for k in LOCO_KEYS] if has_loco else [])
    hf = ds.hf_dataset
    n_rows = len(hf)
    actions = hf.data.column("action").combine_chunks().flatten().to_numpy().reshape(n_rows, len(names))
    ep_col = np.asarray(hf.data.column("episode_index").to_numpy())
    frame_col = np.asarray(hf.data.column("frame_index").to_numpy())
    fps = float(ds.meta.fps)
    lo, hi = arm_limits()
    meta_eps = ds.meta.episodes
    episode_tasks = dict(zip(meta_eps["episode_index"], meta_eps["tasks"], strict=True))
    clips = []
    wanted = sorted(set(ep_col.tolist()))
    for ep in tqdm(wanted, desc=f"episodes of {repo_id}", disable=not progress):
        rows = np.flatnonzero(ep_col == ep)
        rows = rows[np.argsort(frame_col[rows], kind="stable")]
        # Time base: frame_index / fps (LeRobot's timestamps are that, stored as float32).
        values = resample(actions[rows][:, cols], fps)
        arm = values[:, :ARM_DIM]
        outside = int(((arm < lo - _RANGE_TOL) | (arm > hi + _RANGE_TOL)).sum())
        if outside:
            logger.warning(
                "%s episode %d: %d action values outside the joint ranges clipped", repo_id, ep, outside
            )
        loco = values[:, ARM_DIM:] if has_loco else np.zeros((len(values), LOCO_DIM))
        task_list = episode_tasks.get(int(ep)) or []
        task = str(task_list[0]) if len(task_list) else ""
        clips.append(
            ArmClip(
                name=f"{repo_id}/episode_{int(ep):06d}",
                kind=f"dataset:{task_name(task)}",
                source=repo_id,
                arm=np.clip(arm, lo, hi),
                loco=loco,
                meta={
                    "repo_id": repo_id,
                    "root": str(Path(root).resolve()) if root is not None else None,
                    "revision": revision,
                    "episode_index": int(ep),
                    "fps": fps,
                    "num_frames": len(rows),
                    "task": task,
                },
            )
        )
    if not has_loco:
        logger.warning("dataset %s has no loco.* actions: its clips get a standing command", repo_id)
    return ClipLibrary(clips)


# The procedural generator lives in its own module (procedural.py, which imports ArmClip and ClipLibrary from here);
# its entry points are re-exported lazily (PEP 562), so `from lerobot_wbvla.lmo.clips import procedural_clips` works
# whichever of the two modules is imported first.
_PROCEDURAL = ("LocoLimits", "loco_schedule", "procedural_clip", "procedural_clips")


def __getattr__(name: str) -> Any:
    if name in _PROCEDURAL:
        from lerobot_wbvla.lmo import procedural  # noqa: PLC0415

        return getattr(procedural, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
