r"""`wbvla-egovideo-to-lerobot`: the egocentric video generator's folder -> a LeRobot v3 dataset, no actions.

Why: latent pretraining of the wbvla policy on egocentric video goes through `lerobot-train` itself, which
reads LeRobot datasets only. Each clip of `wbvla-gen-egovideo` (docs/CONTRACTS.md "Egocentric video") becomes
one episode with a single camera, `observation.images.head`, and no `action` feature (the targets are the
LAM's latent actions, looked up or computed later); its `task` is a language instruction built from the
clip's primitive(s), so the VLM is conditioned on text during latent pretraining as it is on the robot later.

```
wbvla-egovideo-to-lerobot --video_root=outputs/egovideo --repo_id=local/ego --root=outputs/ego_lerobot \
    [--split=train|heldout|all] [--image_size=96] [--max_clips=N] [--overwrite=true]
```
Frames are read with the project's own reader (video_folder.py / video.py, which also checks the labels file
against the videos) and written with LeRobot's dataset API (create / add_frame / save_episode / finalize),
so the folder is what `lerobot-record` would write. The dataset appears only complete: it is built in a
hidden temporary folder next to `--root` and renamed at the end; a failure removes that folder.
Video: LeRobot's default codec (AV1, SVT-AV1 preset 12; `--rgb_encoder.vcodec=h264` changes it). On CPU it
costs no more than h264 here (~9 s for 6 clips of 90 224x224 frames either way, on a loaded 2-core
machine), so the default stays. SVT-AV1 run as root leaves the encoding thread on SCHED_FIFO, which
processes started later inherit: the converter calls `demote_realtime_threads()` after every episode, as
wbvla-record-sim does.
`meta/egovideo_source.json` records where it came from: the source folder, the split, the instruction maps
and, per episode, the clip, seed, split, primitive(s) and frame-label segments (the per-frame motion
classes, as runs).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import draccus
from lerobot.configs.video import RGBEncoderConfig, rgb_encoder_defaults

from lerobot_wbvla.datasets.egovideo.labels import (
    LABELS_FILE,
    MOTION_CLASSES,
    PRIMITIVES,
    SEQUENCE_PRIMITIVE,
    ClipRecord,
    label_runs,
    read_labels,
)

# SVT-AV1 (LeRobot's default codec) run as root puts the encoding thread on SCHED_FIFO; see realtime.py.
from lerobot_wbvla.teleoperators.x2_scripted.realtime import demote_realtime_threads

PROG = "wbvla-egovideo-to-lerobot"
IMAGE_KEY = "observation.images.head"
SOURCE_META_FILE = "egovideo_source.json"  # in <root>/meta/
SPLIT_CHOICES = ("train", "heldout", "all")

# Instruction of a clip-level primitive (labels.jsonl `primitive` / `primitives`).
PRIMITIVE_TASKS: dict[str, str] = {
    "walk_forward": "walk forward",
    "sidestep_left": "step sideways to the left",
    "sidestep_right": "step sideways to the right",
    "turn_left": "turn left",
    "turn_right": "turn right",
    "squat": "squat down and stand back up",
    "reach_left": "reach out with the left arm and bring it back",
    "reach_right": "reach out with the right arm and bring it back",
    "stand_still": "stand still",
}
# Instruction of a per-frame motion class: used when a clip's primitives are unknown (a labels file with
# only the contract's fields, or a primitive this converter does not know), from the runs of its frame labels.
MOTION_TASKS: dict[str, str] = {
    "walk_forward": "walk forward",
    "sidestep_left": "step sideways to the left",
    "sidestep_right": "step sideways to the right",
    "turn_left": "turn left",
    "turn_right": "turn right",
    "squat_down": "squat down",
    "squat_up": "stand back up",
    "reach_left_out": "reach out with the left arm",
    "reach_left_back": "bring the left arm back",
    "reach_right_out": "reach out with the right arm",
    "reach_right_back": "bring the right arm back",
    "stand_still": "stand still",
}
TASK_JOINER = ", then "  # between the steps of a multi-primitive clip: "turn left, then walk forward"

# The maps must cover the contract's names (a new class or primitive must get an instruction here).
assert set(PRIMITIVE_TASKS) == set(PRIMITIVES), "PRIMITIVE_TASKS must cover egovideo.labels.PRIMITIVES"
assert set(MOTION_TASKS) == set(MOTION_CLASSES), "MOTION_TASKS must cover egovideo.labels.MOTION_CLASSES"

if TYPE_CHECKING:
    from lerobot_wbvla.datasets.video_folder import VideoFolderSource

logger = logging.getLogger(__name__)


class EgoVideoConvertError(ValueError):
    """Bad input to the converter (video root, labels, output folder, options); the message says what to
    do."""


def clip_task(record: ClipRecord) -> str:
    """The language instruction of one clip.

    From its primitives when they are all known (`primitives`, else `primitive` unless it is "sequence"):
    one phrase per primitive, joined by ", then ". Otherwise from its frame labels: the runs of equal labels
    without the stand-still at both ends (the generator pads every clip with it), one phrase per run.
    """
    primitives = list(record.primitives) or (
        [record.primitive] if record.primitive != SEQUENCE_PRIMITIVE else []
    )
    if primitives and all(p in PRIMITIVE_TASKS for p in primitives):
        return TASK_JOINER.join(PRIMITIVE_TASKS[p] for p in primitives)
    return motion_task(record.frame_labels)


def motion_task(frame_labels: Sequence[str]) -> str:
    """Instruction from per-frame motion labels alone (see `clip_task`); "stand still" when nothing else
    moves."""
    runs = [run[0] for run in label_runs(frame_labels)]
    while runs and runs[0] == "stand_still":
        runs.pop(0)
    while runs and runs[-1] == "stand_still":
        runs.pop()
    if not runs:
        return MOTION_TASKS["stand_still"]
    unknown = sorted(set(runs) - set(MOTION_TASKS))
    if unknown:
        raise EgoVideoConvertError(
            f"No instruction for motion classes {unknown}; known: {list(MOTION_TASKS)}."
        )
    return TASK_JOINER.join(MOTION_TASKS[name] for name in runs)


@dataclass
class EgoVideoToLeRobotConfig:
    """Options of `wbvla-egovideo-to-lerobot` (`--help` lists them)."""

    # Output folder of `wbvla-gen-egovideo` (holds labels.jsonl and clips/).
    video_root: Path | None = None
    # Dataset id written in the dataset's metadata, and folder (None: $HF_LEROBOT_HOME/<repo_id>).
    repo_id: str = "local/egovideo"
    root: Path | None = None
    # Clips to convert: "train" (latent pretraining), "heldout" (checks), or "all".
    split: str = "train"
    # Resize frames to image_size x image_size (bilinear, antialiased); None keeps the clips' size.
    image_size: int | None = None
    # Convert only the first N clips of the split (labels.jsonl order); None: all.
    max_clips: int | None = None
    # Replace an existing dataset at `root` (only a LeRobot dataset folder or an empty one is replaced).
    overwrite: bool = False
    # Video encoder (LeRobot's settings, as lerobot-record's --dataset.rgb_encoder.*); LeRobot's default AV1.
    rgb_encoder: RGBEncoderConfig = field(default_factory=rgb_encoder_defaults)
    # Threads of the video encoder (None: the codec's default).
    encoder_threads: int | None = None

    def __post_init__(self) -> None:
        if self.split not in SPLIT_CHOICES:
            raise EgoVideoConvertError(f"--split={self.split!r} is not one of {list(SPLIT_CHOICES)}.")
        if self.image_size is not None and self.image_size < 8:
            raise EgoVideoConvertError(
                f"--image_size={self.image_size}: give a size >= 8 pixels, or omit it."
            )
        if self.max_clips is not None and self.max_clips < 1:
            raise EgoVideoConvertError(f"--max_clips={self.max_clips}: give a count >= 1, or omit it.")

    @property
    def dataset_root(self) -> Path:
        if self.root is not None:
            return Path(self.root)
        from lerobot.utils.constants import HF_LEROBOT_HOME

        return HF_LEROBOT_HOME / self.repo_id


@dataclass(frozen=True)
class _Plan:
    """What will be converted: checked before anything is written."""

    records: list[ClipRecord]
    clip_indices: list[int]  # index of each record's clip in the VideoFolderSource
    fps: int
    height: int
    width: int


def _plan(cfg: EgoVideoToLeRobotConfig, source: VideoFolderSource) -> _Plan:
    video_root = Path(cfg.video_root)
    records = read_labels(video_root)
    index_of = {(video_root / c.source).resolve(): i for i, c in enumerate(source.clips)}
    chosen = [r for r in records if cfg.split == "all" or r.split == cfg.split]
    if not chosen:
        splits = sorted({r.split for r in records})
        raise EgoVideoConvertError(
            f"No clip of split {cfg.split!r} in {video_root / LABELS_FILE} (it has {splits}): pass "
            "--split=all or one of those."
        )
    if cfg.max_clips is not None:
        chosen = chosen[: cfg.max_clips]
    fps_seen = sorted({r.fps for r in chosen})
    if len(fps_seen) != 1:
        raise EgoVideoConvertError(
            f"The clips of {video_root} have several frame rates {fps_seen}; a LeRobot dataset has one: "
            "generate them with one --fps."
        )
    indices = [index_of[(video_root / r.clip).resolve()] for r in chosen]
    if cfg.image_size is not None:
        height = width = cfg.image_size
    else:
        sizes = sorted({_frame_size(source.paths[i]) for i in indices})
        if len(sizes) != 1:
            raise EgoVideoConvertError(
                f"The clips of {video_root} have several frame sizes {sizes}: pass --image_size=N to "
                "resize them."
            )
        height, width = sizes[0]
    return _Plan(records=chosen, clip_indices=indices, fps=fps_seen[0], height=height, width=width)


def _open_source(video_root: Path) -> VideoFolderSource:
    """The generator's folder as a VideoFolderSource (it checks labels.jsonl against the videos)."""
    from lerobot_wbvla.datasets.video_folder import VideoFolderSource

    if not (video_root / LABELS_FILE).is_file():
        raise EgoVideoConvertError(
            f"--video_root={video_root} holds no {LABELS_FILE}: pass the --out_dir of wbvla-gen-egovideo."
        )
    return VideoFolderSource(video_root, labels_file="auto", decode="clip", max_cached_clips=0)


def _frame_size(path: Path) -> tuple[int, int]:
    from lerobot_wbvla.datasets.video import probe_video

    info = probe_video(path)
    return info.height, info.width


def _check_output(cfg: EgoVideoToLeRobotConfig, root: Path) -> None:
    video_root = Path(cfg.video_root).resolve()
    out = root.resolve()
    if out == video_root or video_root in out.parents or out in video_root.parents:
        raise EgoVideoConvertError(
            f"--root={root} overlaps --video_root={cfg.video_root}: write the dataset to a separate folder."
        )
    if not root.exists():
        return
    if not cfg.overwrite:
        raise EgoVideoConvertError(
            f"{root} already exists: pass --overwrite=true to replace it, or another --root."
        )
    if not root.is_dir():
        raise EgoVideoConvertError(f"--root={root} is a file: pass a folder path.")
    if any(root.iterdir()) and not (root / "meta" / "info.json").is_file():
        raise EgoVideoConvertError(
            f"{root} is not a LeRobot dataset (no meta/info.json) and not empty: --overwrite only replaces a "
            "dataset; pass another --root."
        )


def _frames_hwc(frames: Any, size: int | None) -> Any:
    """uint8 (T, 3, H, W) -> uint8 numpy (T, H, W, 3), resized to size x size when given."""
    import torch
    import torch.nn.functional as F

    if size is not None and tuple(frames.shape[-2:]) != (size, size):
        resized = F.interpolate(frames.float(), size=(size, size), mode="bilinear", antialias=True)
        frames = resized.round().clamp(0, 255).to(torch.uint8)
    return frames.permute(0, 2, 3, 1).contiguous().numpy()


def _episode_source(index: int, record: ClipRecord, task: str) -> dict[str, Any]:
    segments = record.segments or label_runs(record.frame_labels)
    return {
        "episode_index": index,
        "clip": record.clip,
        "seed": record.seed,
        "split": record.split,
        "primitive": record.primitive,
        "primitives": list(record.primitives),
        "n_frames": record.n_frames,
        "segments": [list(s) for s in segments],
        "task": task,
    }


def _write_episodes(
    cfg: EgoVideoToLeRobotConfig, source: VideoFolderSource, plan: _Plan, tmp: Path
) -> list[dict[str, Any]]:
    from lerobot.datasets import LeRobotDataset
    from tqdm.auto import tqdm

    features = {
        IMAGE_KEY: {
            "dtype": "video",
            "shape": (plan.height, plan.width, 3),
            "names": ["height", "width", "channels"],
        }
    }
    dataset = LeRobotDataset.create(
        cfg.repo_id,
        plan.fps,
        features=features,
        root=tmp,
        use_videos=True,
        rgb_encoder=cfg.rgb_encoder,
        encoder_threads=cfg.encoder_threads,
    )
    episodes: list[dict[str, Any]] = []
    try:
        for record, clip_index in tqdm(
            list(zip(plan.records, plan.clip_indices, strict=True)), desc=PROG, unit="clip"
        ):
            task = clip_task(record)
            frames = _frames_hwc(source.read_clip(clip_index), cfg.image_size)
            for frame in frames:
                dataset.add_frame({IMAGE_KEY: frame, "task": task})
            dataset.save_episode()
            demote_realtime_threads()  # the episode's encoder ran in this thread
            episodes.append(_episode_source(len(episodes), record, task))
        dataset.finalize()
    except BaseException:
        # Flush and close LeRobot's writers now: left to garbage collection, they would write their buffered
        # metadata into the temporary folder after the caller has removed it.
        with contextlib.suppress(Exception):
            dataset.clear_episode_buffer()
        with contextlib.suppress(Exception):
            dataset.finalize()
        raise
    finally:
        demote_realtime_threads()
    return episodes


def _source_record(
    cfg: EgoVideoToLeRobotConfig, plan: _Plan, episodes: list[dict[str, Any]]
) -> dict[str, Any]:
    generator = Path(cfg.video_root) / "generator.json"
    generator_config = None
    if generator.is_file():
        try:
            generator_config = json.loads(generator.read_text()).get("config")
        except (json.JSONDecodeError, AttributeError):
            generator_config = None
    return {
        "converter": PROG,
        "video_root": str(Path(cfg.video_root).resolve()),
        "split": cfg.split,
        "max_clips": cfg.max_clips,
        "image_size": cfg.image_size,
        "fps": plan.fps,
        "generator_config": generator_config,
        "task_joiner": TASK_JOINER,
        "primitive_tasks": PRIMITIVE_TASKS,
        "motion_tasks": MOTION_TASKS,
        "episodes": episodes,
    }


def _remove_empty_dirs(folder: Path) -> None:
    """Remove `folder` when it holds no file (only empty folders)."""
    if folder.is_dir() and not any(p.is_file() for p in folder.rglob("*")):
        shutil.rmtree(folder)


def convert_egovideo(cfg: EgoVideoToLeRobotConfig) -> Path:
    """Convert `cfg.video_root` into a LeRobot dataset at `cfg.dataset_root`; returns that folder.

    Everything is checked before a file is written; EgoVideoConvertError (a ValueError) names bad input.
    """
    from lerobot_wbvla.datasets.video import VideoReadError

    if cfg.video_root is None:
        raise EgoVideoConvertError("--video_root is required: pass the --out_dir of wbvla-gen-egovideo.")
    video_root = Path(cfg.video_root)
    if not video_root.is_dir():
        raise EgoVideoConvertError(
            f"--video_root={video_root} is not a folder: pass the --out_dir of wbvla-gen-egovideo."
        )
    root = Path(os.path.abspath(cfg.dataset_root))  # "." or "out/" get a name for the temporary sibling
    _check_output(cfg, root)
    try:
        source = _open_source(video_root)
        plan = _plan(cfg, source)
    except (FileNotFoundError, VideoReadError) as err:
        raise EgoVideoConvertError(f"--video_root={video_root}: {err}") from err
    except EgoVideoConvertError:
        raise
    except ValueError as err:  # labels.jsonl that breaks the contract, or frame counts that disagree
        raise EgoVideoConvertError(f"--video_root={video_root}: {err}") from err

    created = root.parent  # the topmost folder this run creates (removed again on failure)
    while not created.parent.exists():
        created = created.parent
    created_new = not created.exists()
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}"
    old = root.parent / f".{root.name}.old-{os.getpid()}"
    for stale in (tmp, old):
        if stale.exists():
            shutil.rmtree(stale)
    try:
        episodes = _write_episodes(cfg, source, plan, tmp)
        record = _source_record(cfg, plan, episodes)
        _remove_empty_dirs(tmp / "images")  # LeRobot's staging folder of the frames, empty once encoded
        (tmp / "meta" / SOURCE_META_FILE).write_text(json.dumps(record, indent=1) + "\n")
        if root.exists():  # --overwrite (checked above)
            os.replace(root, old)
        os.replace(tmp, root)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not root.exists():
            os.replace(old, root)  # the rename of tmp failed: put the previous dataset back
        if created_new:
            _remove_empty_dirs(created)
        if isinstance(err, VideoReadError):  # a clip that probed fine but does not decode
            raise EgoVideoConvertError(f"--video_root={video_root}: {err}") from err
        raise
    shutil.rmtree(old, ignore_errors=True)
    logger.info(
        "%s: %d episodes (%d frames at %d fps) -> %s",
        PROG,
        len(episodes),
        sum(e["n_frames"] for e in episodes),
        plan.fps,
        root,
    )
    return root


def _cli_message(err: BaseException) -> str:
    """One line for a bad flag. draccus wraps the real problem: a class that refused its arguments (our
    EgoVideoConvertError, LeRobot's encoder checks) is reported with its own message; a value of the wrong
    type as `--<flag>: <draccus' message>`."""
    while isinstance(err, draccus.utils.ParsingError):
        args = err.args
        if len(args) == 2 and isinstance(args[0], tuple):  # DecodingError(field_path, message)
            inner = err.__cause__
            detail = (
                inner.args[1]
                if isinstance(inner, draccus.utils.ParsingError) and len(inner.args) == 2
                else args[1]
            )
            return f"--{'.'.join(map(str, args[0]))}: {detail}"
        if err.__cause__ is None:
            break
        err = err.__cause__
    return str(err)


def main(args: list[str] | None = None) -> None:
    """Console entry point `wbvla-egovideo-to-lerobot` (draccus CLI; `--help` lists the options)."""
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1: errors only (no banner, no small-frame warnings)
    import av
    import datasets

    av.logging.set_libav_level(av.logging.WARNING)
    datasets.disable_progress_bars()
    try:
        logging.disable(logging.INFO)  # a bad flag gives one line, not LeRobot's set-up lines before it
        try:
            cfg = draccus.parse(config_class=EgoVideoToLeRobotConfig, args=args)
        finally:
            logging.disable(logging.NOTSET)
        logging.basicConfig(
            level=logging.INFO, format="%(levelname)s %(asctime)s %(message)s", datefmt="%H:%M:%S", force=True
        )
        root = convert_egovideo(cfg)  # checks everything before LeRobot logs or writes anything
    except (EgoVideoConvertError, draccus.utils.ParsingError) as err:
        print(f"{PROG}: error: {' '.join(_cli_message(err).split())}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps({"root": str(root)}))


if __name__ == "__main__":
    main()
