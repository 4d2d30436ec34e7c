"""`wbvla-record-sim`: scripted X2 twin demos into a LeRobot v3 dataset, paced by sim time, as fast as the machine
renders.

Scripted sim demos are data generation, not teleoperation: nobody watches them in real time, so nothing here waits
for the wall clock (lerobot-record stays the path for people and hardware). Per episode it resets the scene of the
robot `agibot_x2` (sim backend: the same action clamps, the same observation and action features as
`lerobot-record --robot.type=agibot_x2` records) with the next seed, drives it with the scripted operator
(`ScriptedEpisode`, episode.py) and writes each frame with LeRobot's dataset API (`LeRobotDataset.create` /
`add_frame` / `save_episode` / `finalize`, `push_to_hub`). On top of lerobot-record's features each frame has
`next.success` (the env's is_success after the frame's action) and `next.done`, and each episode's row in
`meta/episodes` has `success` and `scene_seed` (the episode replays from `X2Sim.reset(scene_seed)` with its
recorded actions, which are exactly the executed ones).

An episode ends a short settle after the task is solved, or when its sim-time budget is spent; an unsolved one is
re-recorded with the next seed (`--rerecord_failed`, up to `--max_attempts`), else kept with `success` false. One
log line per attempt says task, seed, frames and the verdict.

A killed run keeps every complete episode: the dataset is finalized after each saved episode
(`--checkpoint_every`), and SIGTERM / Ctrl-C discard only the episode in progress, finalize and exit (143 / 130).
A SIGKILL inside the fraction of a second between an episode's save and its checkpoint can leave that last episode
half-written; `--resume=true` then stops with an error naming the folder. `--resume=true` completes a run: it
records until each task has `--episodes` episodes.

    wbvla-record-sim --tasks='[pick_place,cart_push]' --episodes=50 --robot.head_camera='[224,224]' \\
      --repo_id=local/x2_scripted --root=outputs/x2_scripted
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import draccus
import numpy as np
from lerobot.configs.video import RGBEncoderConfig, rgb_encoder_defaults

from lerobot_wbvla.envs.agibot_x2.tasks import TASKS
from lerobot_wbvla.robots.agibot_x2 import sim_registry
from lerobot_wbvla.robots.agibot_x2.agibot_x2 import AgibotX2
from lerobot_wbvla.robots.agibot_x2.config_agibot_x2 import AgibotX2Config

from .episode import DEFAULT_SETTLE_S, EpisodeOutcome, ScriptedEpisode
from .task_scripts import SCRIPTS

logger = logging.getLogger(__name__)

PROG = "wbvla-record-sim"
# Extra columns of meta/episodes written by this recorder.
EPISODE_COLUMNS = ("success", "scene_seed")
SUCCESS_FEATURE = {"dtype": "bool", "shape": (1,), "names": None}


class RecordSimError(ValueError):
    """Bad input to wbvla-record-sim (printed as one `error:` line, nothing written)."""


class Interrupted(Exception):
    """SIGTERM / SIGINT arrived: stop after discarding the episode in progress."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class RecordSimConfig:
    # Tasks (envs/agibot_x2/tasks.py names) recorded into the one dataset, `episodes` of each, in this order.
    tasks: list[str] = field(default_factory=lambda: ["pick_place"])
    # Episodes per task (saved ones; re-recorded attempts do not count).
    episodes: int = 10
    # Scene seed of the first attempt; every attempt (re-records too) takes the next one, so no scene repeats.
    seed: int = 0
    # Frames per second of the dataset = the robot's control rate (each frame advances the twin 1/fps s).
    fps: int = 30
    # The robot (sim backend): cameras, base mode, waist, camera augmentation, limits... as with lerobot-record's
    # --robot.* flags. Its scene, seed, control_fps and id are set per task by the recorder.
    robot: AgibotX2Config = field(default_factory=AgibotX2Config)
    # Dataset id and folder (None: $HF_LEROBOT_HOME/<repo_id>). A new run needs a folder that does not exist.
    repo_id: str = "local/x2_scripted"
    root: Path | None = None
    # Add to the dataset in `root` until each task has `episodes` episodes (a killed run continues here).
    resume: bool = False
    # Push the dataset with LeRobot's `push_to_hub` once recorded (needs a Hub login or HF_ENDPOINT).
    push_to_hub: bool = False
    private: bool = False
    tags: list[str] | None = None
    # Sim-time budget of one episode (s); None = the task's episode length in envs/agibot_x2/tasks.py.
    episode_time_s: float | None = None
    # Sim seconds an episode goes on once the task counts as solved (it ends on a solved, resting scene).
    settle_s: float = DEFAULT_SETTLE_S
    # Re-record an unsolved episode with the next seed, up to `max_attempts` attempts (then keep it, flagged).
    rerecord_failed: bool = True
    max_attempts: int = 3
    # Store cameras as video (else PNG images in the parquet files).
    video: bool = True
    # Video encoder (LeRobot's settings, as lerobot-record's --dataset.rgb_encoder.*): the default AV1 encoder is
    # most of the per-frame cost on a small machine; e.g. --rgb_encoder.vcodec=h264 trades file size for speed.
    rgb_encoder: RGBEncoderConfig = field(default_factory=rgb_encoder_defaults)
    # Encode video while recording (LeRobot's streaming encoder) instead of writing PNGs and encoding at save.
    streaming_encoding: bool = True
    # Threads of the video encoder (None: the codec's default) and of the PNG writer (without streaming).
    encoder_threads: int | None = None
    image_writer_threads: int = 4
    # Finalize the dataset after this many saved episodes (a SIGKILL loses at most the episodes since the last
    # checkpoint and the one in progress); larger values mean fewer, larger files. 0: only at the end.
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in TASKS]
        if not self.tasks or unknown:
            raise RecordSimError(
                f"--tasks names unknown task(s) {unknown or '[]'}; choose from {', '.join(TASKS)}"
            )
        unscripted = [t for t in self.tasks if TASKS[t].scene not in SCRIPTS]
        if unscripted:
            raise RecordSimError(f"--tasks: no scripted operator for {unscripted}; scripted: {list(SCRIPTS)}")
        if self.episodes < 1:
            raise RecordSimError(f"--episodes must be >= 1, got {self.episodes}")
        if self.fps <= 0:
            raise RecordSimError(f"--fps must be > 0, got {self.fps}")
        if self.episode_time_s is not None and not self.episode_time_s > 0:
            raise RecordSimError(f"--episode_time_s must be > 0 (or unset), got {self.episode_time_s}")
        if not self.settle_s >= 0:
            raise RecordSimError(f"--settle_s must be >= 0, got {self.settle_s}")
        if self.max_attempts < 1:
            raise RecordSimError(f"--max_attempts must be >= 1, got {self.max_attempts}")
        if self.checkpoint_every < 0:
            raise RecordSimError(f"--checkpoint_every must be >= 0, got {self.checkpoint_every}")
        if self.robot.backend != "sim":
            raise RecordSimError(
                "--robot.backend must be 'sim': wbvla-record-sim drives the twin; record hardware with "
                "lerobot-record"
            )
        if "/" not in self.repo_id:
            raise RecordSimError(f"--repo_id must look like '<owner>/<name>', got {self.repo_id!r}")

    @property
    def dataset_root(self) -> Path:
        if self.root is not None:
            return Path(self.root)
        from lerobot.utils.constants import HF_LEROBOT_HOME

        return HF_LEROBOT_HOME / self.repo_id


@dataclass
class RecordSimResult:
    root: Path
    repo_id: str
    saved: list[EpisodeOutcome]
    attempts: list[EpisodeOutcome]
    wall_s: float
    interrupted: str | None = None

    @property
    def demos_per_minute(self) -> float:
        return 60.0 * len(self.saved) / self.wall_s if self.wall_s > 0 else 0.0


# ---------------------------------------------------------------------- dataset
def dataset_features(robot: AgibotX2, video: bool) -> dict:
    """The features lerobot-record writes for this robot (LeRobot's own functions, default processors), plus
    `next.success` and `next.done`."""
    from lerobot.datasets import aggregate_pipeline_dataset_features, create_initial_features
    from lerobot.processor import make_default_processors
    from lerobot.utils.feature_utils import combine_feature_dicts

    teleop_action_processor, _, robot_observation_processor = make_default_processors()
    features = combine_feature_dicts(
        aggregate_pipeline_dataset_features(
            pipeline=teleop_action_processor,
            initial_features=create_initial_features(action=robot.action_features),
            use_videos=video,
        ),
        aggregate_pipeline_dataset_features(
            pipeline=robot_observation_processor,
            initial_features=create_initial_features(observation=robot.observation_features),
            use_videos=video,
        ),
    )
    features["next.success"] = dict(SUCCESS_FEATURE)
    features["next.done"] = dict(SUCCESS_FEATURE)
    return features


@contextmanager
def episode_metadata(dataset, extra: dict):
    """Add `extra` columns to the meta/episodes row of the episode `dataset.save_episode()` saves in this block.

    LeRobot 0.6's `save_episode` has no parameter for per-episode metadata; its writer hands every column of the
    row to `dataset.meta.save_episode(..., episode_metadata)`, so this wraps that one call on this instance."""
    meta = dataset.meta
    original = meta.save_episode

    def save_episode(episode_index, episode_length, episode_tasks, episode_stats, episode_metadata):
        return original(
            episode_index, episode_length, episode_tasks, episode_stats, {**episode_metadata, **extra}
        )

    meta.save_episode = save_episode
    try:
        yield
    finally:
        del meta.save_episode  # the class method again


class Recorder:
    """One wbvla-record-sim run (see the module docstring)."""

    def __init__(self, cfg: RecordSimConfig) -> None:
        self.cfg = cfg
        self.root = cfg.dataset_root
        self.dataset = None
        self.seed = cfg.seed
        self.saved: list[EpisodeOutcome] = []
        self.attempts: list[EpisodeOutcome] = []
        self.done_per_task: Counter[str] = Counter()
        self._signal: int | None = None

    # ------------------------------------------------------------------ set-up
    def _robot_config(self, task: str) -> AgibotX2Config:
        cfg = self.cfg
        return dataclasses.replace(
            cfg.robot, scene=TASKS[task].scene, seed=cfg.seed, control_fps=cfg.fps, id=f"{PROG}-{task}"
        )

    def _writer_kwargs(self) -> dict:
        cfg = self.cfg
        n_cams = len(cfg.robot.camera_names)
        streaming = cfg.streaming_encoding and cfg.video
        return {
            "rgb_encoder": cfg.rgb_encoder,
            "streaming_encoding": streaming,
            "encoder_threads": cfg.encoder_threads,
            "image_writer_threads": 0 if streaming else cfg.image_writer_threads * n_cams,
        }

    def open_dataset(self) -> None:
        """Create the dataset (a new folder) or resume it (after checking it is one of ours and intact)."""
        from lerobot.datasets import LeRobotDataset

        cfg = self.cfg
        features = dataset_features(AgibotX2(self._robot_config(cfg.tasks[0])), cfg.video)
        if not cfg.resume:
            if self.root.exists():
                raise RecordSimError(
                    f"{self.root} already exists: pass --resume=true to add to that dataset, or another --root"
                )
            self.dataset = LeRobotDataset.create(
                cfg.repo_id,
                cfg.fps,
                root=self.root,
                robot_type=AgibotX2.name,
                features=features,
                use_videos=cfg.video,
                **self._writer_kwargs(),
            )
            return
        if not (self.root / "meta" / "info.json").exists():
            raise RecordSimError(f"--resume=true: no dataset in {self.root} (meta/info.json is missing)")
        try:
            existing = LeRobotDataset(cfg.repo_id, root=self.root)
            episodes = existing.meta.episodes
        except Exception as err:  # a dataset that does not load cannot be added to
            raise RecordSimError(
                f"--resume=true: the dataset in {self.root} does not load ({type(err).__name__}: {err}); a run "
                "killed while saving can leave its last episode half-written: restore that folder or start anew"
            ) from err
        from lerobot.utils.constants import DEFAULT_FEATURES

        have = {k: _feature_key(v) for k, v in existing.meta.features.items() if k not in DEFAULT_FEATURES}
        if existing.fps != cfg.fps or have != {k: _feature_key(v) for k, v in features.items()}:
            raise RecordSimError(
                f"--resume=true: the dataset in {self.root} was not recorded with these settings (fps "
                f"{existing.fps} vs {cfg.fps}, or other cameras/features); use the same --fps and --robot.* flags"
            )
        if episodes is not None and len(episodes):
            columns = set(episodes.column_names)
            if not set(EPISODE_COLUMNS) <= columns:
                raise RecordSimError(
                    f"--resume=true: the dataset in {self.root} has no {list(EPISODE_COLUMNS)} episode columns "
                    "(it was not written by wbvla-record-sim)"
                )
            seeds = [int(s) for s in episodes["scene_seed"]]
            self.seed = max(cfg.seed, max(seeds) + 1)
            for tasks in episodes["tasks"]:
                self.done_per_task.update(tasks)
        _remove_interrupted_episode_files(self.root)
        self.dataset = LeRobotDataset.resume(cfg.repo_id, root=self.root, **self._writer_kwargs())

    def _checkpoint(self) -> None:
        """Finalize (every file complete on disk) and reopen for the next episodes."""
        from lerobot.datasets import LeRobotDataset

        self.dataset.finalize()
        self.dataset = LeRobotDataset.resume(self.cfg.repo_id, root=self.root, **self._writer_kwargs())

    # ------------------------------------------------------------------ signals
    def _on_signal(self, signum, frame) -> None:
        self._signal = signum

    def _poll(self) -> None:
        if self._signal is not None:
            raise Interrupted(self._signal)

    # ------------------------------------------------------------------ recording
    def record_episode(self, robot: AgibotX2, attempt: int) -> EpisodeOutcome:
        """Record one attempt into the episode buffer (not saved yet); returns its outcome."""
        from lerobot.utils.constants import ACTION, OBS_STR
        from lerobot.utils.feature_utils import build_dataset_frame

        cfg, dataset = self.cfg, self.dataset
        backend = sim_registry.lookup_backend(robot.id)
        seed, self.seed = self.seed, self.seed + 1
        run = ScriptedEpisode(backend, seed, cfg.episode_time_s, cfg.settle_s, attempt=attempt)
        task_string = run.sim.task
        features = dataset.features
        max_frames = int(np.ceil(run.budget_s * cfg.fps)) + 2
        for _ in range(max_frames):
            self._poll()
            obs = robot.get_observation()
            action = run.act()
            sent = robot.send_action(action)
            run.note_sent(action, sent)
            reason = run.judge()
            frame = {
                **build_dataset_frame(features, obs, prefix=OBS_STR),
                **build_dataset_frame(features, sent, prefix=ACTION),
                "next.success": np.array([run.solved]),
                "next.done": np.array([reason is not None]),
                "task": task_string,
            }
            dataset.add_frame(frame)
            if reason is not None:
                break
        return run.outcome()

    def _save(self, outcome: EpisodeOutcome, index: int) -> None:
        """Save the buffered episode with its `success` and `scene_seed`, checkpoint, then log it (so a line saying
        "saved" means the episode is complete on disk when checkpoints are on)."""
        cfg = self.cfg
        with episode_metadata(self.dataset, {"success": outcome.success, "scene_seed": outcome.scene_seed}):
            self.dataset.save_episode()
        self.saved.append(outcome)
        if cfg.checkpoint_every and len(self.saved) % cfg.checkpoint_every == 0:
            self._checkpoint()
        if outcome.success and not outcome.clamped_frames:
            logger.info("%s: episode %d %s -> saved", PROG, index, outcome.describe())
        else:
            logger.error(
                "%s: episode %d %s -> FLAGGED, saved with success=%s",
                PROG,
                index,
                outcome.describe(),
                str(outcome.success).lower(),
            )

    def record_task(self, task: str, progress) -> None:
        cfg = self.cfg
        robot = AgibotX2(self._robot_config(task))
        robot.connect()
        try:
            task_string = sim_registry.lookup(robot.id).task
            while self.done_per_task[task_string] < cfg.episodes:
                index = self.dataset.num_episodes
                for attempt in range(1, cfg.max_attempts + 1):
                    outcome = self.record_episode(robot, attempt)
                    self.attempts.append(outcome)
                    last = attempt == cfg.max_attempts or not cfg.rerecord_failed
                    if outcome.success or last:
                        break
                    self.dataset.clear_episode_buffer()
                    logger.error(
                        "%s: episode %d %s -> FLAGGED, discarded: re-recording it with the next seed",
                        PROG,
                        index,
                        outcome.describe(),
                    )
                self._poll()
                self._save(outcome, index)
                self.done_per_task[task_string] += 1
                progress.update(1)
        finally:
            robot.disconnect()

    def run(self) -> RecordSimResult:
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        cfg = self.cfg
        start = time.monotonic()
        if self.dataset is None:
            self.open_dataset()
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        interrupted = None
        try:
            total = sum(max(0, cfg.episodes - self.done_per_task[_task_string(t)]) for t in cfg.tasks)
            with (
                logging_redirect_tqdm(),
                tqdm(total=total, desc=PROG, unit="demo", disable=None) as bar,
            ):
                for task in cfg.tasks:
                    self.record_task(task, bar)
        except Interrupted as stop:
            interrupted = str(stop)
            self.dataset.clear_episode_buffer()
            logger.warning(
                "%s: %s: discarded the episode in progress; %d complete episodes are kept in %s",
                PROG,
                interrupted,
                self.dataset.num_episodes,
                self.root,
            )
        finally:
            try:
                self.dataset.finalize()
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)
        if cfg.push_to_hub and interrupted is None:
            self.dataset.push_to_hub(tags=cfg.tags, private=cfg.private)
            logger.info("%s: pushed %s", PROG, cfg.repo_id)
        result = RecordSimResult(self.root, cfg.repo_id, self.saved, self.attempts, time.monotonic() - start)
        result.interrupted = interrupted
        solved = sum(o.success for o in self.saved)
        logger.info(
            "%s: saved %d episodes (%d solved, %d unsolved) from %d attempts in %.1f s (%.1f demos/min) to %s",
            PROG,
            len(self.saved),
            solved,
            len(self.saved) - solved,
            len(self.attempts),
            result.wall_s,
            result.demos_per_minute,
            self.root,
        )
        return result


def _remove_interrupted_episode_files(root: Path) -> None:
    """Remove what a killed run leaves of its episode in progress: LeRobot's staging folders (`images/`, PNG
    frames) and streaming-encoder folders (`tmp*/` holding one `*_streaming.mp4`). No dataset file refers to them."""
    leftovers = [root / "images"] if (root / "images").is_dir() else []
    for folder in root.glob("tmp*"):
        if folder.is_dir() and all(f.name.endswith("_streaming.mp4") for f in folder.iterdir()):
            leftovers.append(folder)
    for folder in leftovers:
        logger.warning("%s: removing %s (left by an interrupted episode)", PROG, folder)
        shutil.rmtree(folder)


def _task_string(task: str) -> str:
    """The language instruction of a task (declared by its scene)."""
    from lerobot_wbvla.robots.agibot_x2.mjcf import build_spec
    from lerobot_wbvla.robots.agibot_x2.scenes import get_scene

    return get_scene(TASKS[task].scene)(build_spec()).task


def _feature_key(ft: dict) -> tuple:
    return (
        ft["dtype"],
        tuple(ft["shape"]),
        tuple(ft["names"]) if isinstance(ft.get("names"), list) else None,
    )


def _root_cause(err: BaseException) -> BaseException:
    """The validation error a draccus ParsingError wraps (its message names the flag), else `err` itself."""
    while isinstance(err, draccus.utils.ParsingError) and err.__cause__ is not None:
        err = err.__cause__
    return err


def record_sim(cfg: RecordSimConfig) -> RecordSimResult:
    """Record scripted demos as configured; see the module docstring."""
    return Recorder(cfg).run()


def main(args: list[str] | None = None) -> None:
    """Console entry point `wbvla-record-sim` (draccus CLI over RecordSimConfig; `--help` lists the fields)."""
    # The per-episode lines are the log: no SVT-AV1 banner per video, no `datasets` progress bar per save.
    os.environ.setdefault("SVT_LOG", "2")
    import datasets

    datasets.disable_progress_bars()
    # Bad flags (RecordSimConfig and AgibotX2Config validate in __post_init__) and a bad dataset folder stop here,
    # before anything is written, with one line: LeRobot's INFO lines of the set-up are held back until then.
    logging.disable(logging.INFO)
    try:
        cfg = draccus.parse(config_class=RecordSimConfig, args=args)
        recorder = Recorder(cfg)
        recorder.open_dataset()
    except (RecordSimError, ValueError, draccus.utils.ParsingError) as err:
        print(f"{PROG}: error: {_root_cause(err)}", file=sys.stderr)
        sys.exit(2)
    finally:
        logging.disable(logging.NOTSET)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(asctime)s %(message)s", datefmt="%H:%M:%S", force=True
    )
    result = recorder.run()
    if result.interrupted is not None:
        sys.exit(128 + signal.Signals[result.interrupted].value)


if __name__ == "__main__":
    main()
