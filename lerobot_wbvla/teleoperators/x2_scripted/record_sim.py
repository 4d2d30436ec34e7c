"""`wbvla-record-sim`: scripted X2 twin demos into a LeRobot v3 dataset, paced by sim time, as fast as the machine
renders.

Scripted sim demos are data generation, not teleoperation: nobody watches them in real time, so nothing here waits
for the wall clock (lerobot-record stays the path for people and hardware). Per episode it resets the scene of the
robot `agibot_x2` (sim backend: the same action clamps, the same observation and action features as
`lerobot-record --robot.type=agibot_x2` records) with the episode's seed, drives it with the scripted operator
(`ScriptedEpisode`, episode.py) and writes each frame with LeRobot's dataset API (`LeRobotDataset.create` /
`add_frame` / `save_episode` / `finalize`, `push_to_hub`). On top of lerobot-record's features each frame has
`next.success` (the env's is_success after the frame's action) and `next.done`, and each episode's row in
`meta/episodes` has `success` and `scene_seed` (the episode replays from `X2Sim.reset(scene_seed)` with its
recorded actions, which are exactly the executed ones).

Which seeds a run records is fixed in advance (record_plan.py): episode j takes seed + j * max_attempts, and its
re-recorded attempts the seeds after it. An episode ends a short settle after the task is solved, or when its
sim-time budget is spent; an unsolved one is re-recorded on its next seed (`--rerecord_failed`, up to
`--max_attempts`), else kept with `success` false. One log line per attempt says task, seed, frames and the verdict.

`--num_workers=N` records with N processes (record_parallel.py): each records its share of every task into a
temporary dataset beside the target, and LeRobot's `aggregate_datasets` merges them, in task then seed order, into
the target, which appears only once complete. With one worker the dataset is written in place.

A killed run keeps its complete episodes. SIGTERM / Ctrl-C discard only the episode in progress, finalize and exit
(143 / 130). Against SIGKILL the dataset is checkpointed (finalized, checkpoint.py) every `--checkpoint_every_s`
seconds; `--resume=true` rolls a SIGKILLed folder back to its last checkpoint, then records until each task has
`--episodes` episodes.

    wbvla-record-sim --tasks='[pick_place,cart_push]' --episodes=50 --robot.head_camera='[224,224]' \\
      --repo_id=local/x2_scripted --root=outputs/x2_scripted --num_workers=2
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
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

from . import checkpoint
from .episode import DEFAULT_SETTLE_S, EpisodeOutcome, ScriptedEpisode
from .realtime import demote_realtime_threads
from .record_plan import Slot, attempts_per_slot, make_plan
from .task_scripts import SCRIPTS

logger = logging.getLogger(__name__)

PROG = "wbvla-record-sim"
# Extra columns of meta/episodes written by this recorder.
EPISODE_COLUMNS = ("success", "scene_seed")
SUCCESS_FEATURE = {"dtype": "bool", "shape": (1,), "names": None}
# Frames of an episode after which the recorder moves real-time threads (an AV1 encoder's, see realtime.py) back to
# the normal scheduler: the encoder of an episode starts with its first frames.
_DEMOTE_AT = frozenset({1, 2, 4, 8, 16})
# Memory the streaming encoder's frame queue may hold per worker (see Recorder._writer_kwargs).
_QUEUE_BYTES = 1 << 30


class RecordSimError(ValueError):
    """Bad input to wbvla-record-sim (printed as one `error:` line, nothing written)."""


class DroppedFramesError(RuntimeError):
    """LeRobot's streaming encoder dropped frames of an episode: the dataset is left at its last checkpoint."""


class Interrupted(Exception):
    """SIGTERM / SIGINT arrived, or the process that started this worker exited: stop after discarding the episode
    in progress."""

    def __init__(self, signum: int, reason: str | None = None) -> None:
        super().__init__(reason or signal.Signals(signum).name)
        self.signum = signum


class StopRequest:
    """Signals (SIGTERM, SIGINT) noted by a handler and raised as `Interrupted` at the next `check()`, once per
    frame. A worker also stops when the process that started it is gone (`parent_pid`), so a SIGKILLed parent
    leaves no worker recording on."""

    def __init__(self, parent_pid: int | None = None) -> None:
        self.signum: int | None = None
        self.parent_pid = parent_pid

    def _handler(self, signum, frame) -> None:
        self.signum = signum

    @contextmanager
    def installed(self):
        previous = {s: signal.signal(s, self._handler) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            raise Interrupted(signal.SIGTERM, "the wbvla-record-sim process that started this worker exited")


@dataclass
class RecordSimConfig:
    # Tasks (envs/agibot_x2/tasks.py names) recorded into the one dataset, `episodes` of each, in this order.
    tasks: list[str] = field(default_factory=lambda: ["pick_place"])
    # Episodes per task (saved ones; re-recorded attempts do not count).
    episodes: int = 10
    # Scene seed of the first episode. Episode j of the run records on seed + j * max_attempts, its re-recorded
    # attempts on the next seeds (record_plan.py): no scene repeats, and any --num_workers records the same scenes.
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
    # Worker processes recording in parallel (each its share of every task, merged in task then seed order into
    # `root` once all are done; the folder appears only complete). One process per CPU core uses the machine.
    num_workers: int = 1
    # Push the dataset with LeRobot's `push_to_hub` once recorded (needs a Hub login or HF_ENDPOINT).
    push_to_hub: bool = False
    private: bool = False
    tags: list[str] | None = None
    # Sim-time budget of one episode (s); None = the task's episode length in envs/agibot_x2/tasks.py.
    episode_time_s: float | None = None
    # Sim seconds an episode goes on once the task counts as solved (it ends on a solved, resting scene).
    settle_s: float = DEFAULT_SETTLE_S
    # Re-record an unsolved episode on its next seed, up to `max_attempts` attempts (then keep it, flagged).
    rerecord_failed: bool = True
    max_attempts: int = 3
    # Store cameras as video (else PNG images in the parquet files).
    video: bool = True
    # Video encoder (LeRobot's settings, as lerobot-record's --dataset.rgb_encoder.*): the default AV1 encoder and
    # LeRobot's image statistics are most of the per-frame cost; e.g. --rgb_encoder.vcodec=h264 trades file size
    # for speed.
    rgb_encoder: RGBEncoderConfig = field(default_factory=rgb_encoder_defaults)
    # Encode video while recording (LeRobot's streaming encoder) instead of writing PNGs and encoding at save.
    streaming_encoding: bool = True
    # Threads of the video encoder (None: the codec's default) and of the PNG writer (without streaming).
    encoder_threads: int | None = None
    image_writer_threads: int = 4
    # Seconds of recording between checkpoints (the dataset finalized on disk; a SIGKILL loses at most the
    # episodes since, see checkpoint.py). 0: after every episode, which costs more as the dataset grows.
    checkpoint_every_s: float = 60.0

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in TASKS]
        if not self.tasks or unknown:
            raise RecordSimError(
                f"--tasks names unknown task(s) {unknown or '[]'}; choose from {', '.join(TASKS)}"
            )
        twice = sorted({t for t in self.tasks if self.tasks.count(t) > 1})
        if twice:
            raise RecordSimError(f"--tasks lists {twice} more than once; --episodes is per task")
        unscripted = [t for t in self.tasks if TASKS[t].scene not in SCRIPTS]
        if unscripted:
            raise RecordSimError(f"--tasks: no scripted operator for {unscripted}; scripted: {list(SCRIPTS)}")
        if self.episodes < 1:
            raise RecordSimError(f"--episodes must be >= 1, got {self.episodes}")
        if self.fps <= 0:
            raise RecordSimError(f"--fps must be > 0, got {self.fps}")
        if self.num_workers < 1:
            raise RecordSimError(
                f"--num_workers must be >= 1 (processes recording in parallel; this machine has {os.cpu_count()} "
                f"CPUs), got {self.num_workers}"
            )
        if self.episode_time_s is not None and not self.episode_time_s > 0:
            raise RecordSimError(f"--episode_time_s must be > 0 (or unset), got {self.episode_time_s}")
        if not self.settle_s >= 0:
            raise RecordSimError(f"--settle_s must be >= 0, got {self.settle_s}")
        if self.max_attempts < 1:
            raise RecordSimError(f"--max_attempts must be >= 1, got {self.max_attempts}")
        if not self.checkpoint_every_s >= 0:
            raise RecordSimError(f"--checkpoint_every_s must be >= 0, got {self.checkpoint_every_s}")
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

    @property
    def attempts(self) -> int:
        """Seeds reserved per episode (record_plan.py)."""
        return attempts_per_slot(self.max_attempts, self.rerecord_failed)

    def budget_s(self, task: str) -> float:
        return float(TASKS[task].episode_s if self.episode_time_s is None else self.episode_time_s)

    def max_frames(self, task: str) -> int:
        """The most frames an episode of `task` can have (its budget, plus the frame that ends it)."""
        return int(np.ceil(self.budget_s(task) * self.fps)) + 2


@dataclass
class RecordSimResult:
    root: Path
    repo_id: str
    saved: list[EpisodeOutcome]
    attempts: list[EpisodeOutcome]
    wall_s: float
    interrupted: str | None = None
    # Signal that interrupted the run (the exit status is 128 + it).
    signum: int | None = None

    @property
    def demos_per_minute(self) -> float:
        return 60.0 * len(self.saved) / self.wall_s if self.wall_s > 0 else 0.0

    def log_summary(self, where: Path | None = None) -> None:
        """One line: episodes saved, solved, attempts, time, demos/min and where they are (the target)."""
        solved = sum(o.success for o in self.saved)
        logger.info(
            "%s: saved %d episodes (%d solved, %d unsolved) from %d attempts in %.1f s (%.1f demos/min) to %s",
            PROG,
            len(self.saved),
            solved,
            len(self.saved) - solved,
            len(self.attempts),
            self.wall_s,
            self.demos_per_minute,
            where or self.root,
        )


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


def robot_config(cfg: RecordSimConfig, task: str) -> AgibotX2Config:
    """The robot recording `task`: the --robot.* settings on the task's scene at the run's frame rate."""
    return dataclasses.replace(
        cfg.robot, scene=TASKS[task].scene, seed=cfg.seed, control_fps=cfg.fps, id=f"{PROG}-{task}"
    )


@contextmanager
def episode_metadata(dataset, extra: dict, fps: int):
    """Add `extra` columns to the meta/episodes row of the episode `dataset.save_episode()` saves in this block, and
    check that each of its videos holds all its frames.

    LeRobot 0.6's `save_episode` has no parameter for per-episode metadata; its writer hands every column of the
    row to `dataset.meta.save_episode(..., episode_metadata)`, so this wraps that one call on this instance."""
    meta = dataset.meta
    original = meta.save_episode

    def save_episode(episode_index, episode_length, episode_tasks, episode_stats, episode_metadata):
        for key in meta.video_keys:
            span = (
                episode_metadata[f"videos/{key}/to_timestamp"]
                - episode_metadata[f"videos/{key}/from_timestamp"]
            )
            if round(span * fps) != episode_length:
                raise DroppedFramesError(
                    f"the video {key} of episode {episode_index} holds {round(span * fps)} of its "
                    f"{episode_length} frames (LeRobot's streaming encoder dropped frames)"
                )
        return original(
            episode_index, episode_length, episode_tasks, episode_stats, {**episode_metadata, **extra}
        )

    meta.save_episode = save_episode
    try:
        yield
    finally:
        del meta.save_episode  # the class method again


def existing_episodes(cfg: RecordSimConfig, root: Path, features: dict) -> tuple[set[int], Counter[str], int]:
    """Scene seeds, episodes per task string and episode count of the dataset in `root`, after checking that it
    loads and was recorded by wbvla-record-sim with these features (else RecordSimError naming the folder)."""
    from lerobot.datasets import LeRobotDataset
    from lerobot.utils.constants import DEFAULT_FEATURES

    try:
        existing = LeRobotDataset(cfg.repo_id, root=root)
        episodes = existing.meta.episodes
    except Exception as err:  # a dataset that does not load cannot be added to
        raise RecordSimError(
            f"--resume=true: the dataset in {root} does not load ({type(err).__name__}: {err}); restore that "
            "folder or start anew"
        ) from err
    have = {k: _feature_key(v) for k, v in existing.meta.features.items() if k not in DEFAULT_FEATURES}
    if existing.fps != cfg.fps or have != {k: _feature_key(v) for k, v in features.items()}:
        raise RecordSimError(
            f"--resume=true: the dataset in {root} was not recorded with these settings (fps "
            f"{existing.fps} vs {cfg.fps}, or other cameras/features); use the same --fps and --robot.* flags"
        )
    seeds: set[int] = set()
    per_task: Counter[str] = Counter()
    if episodes is not None and len(episodes):
        if not set(EPISODE_COLUMNS) <= set(episodes.column_names):
            raise RecordSimError(
                f"--resume=true: the dataset in {root} has no {list(EPISODE_COLUMNS)} episode columns "
                "(it was not written by wbvla-record-sim)"
            )
        seeds = {int(s) for s in episodes["scene_seed"]}
        for tasks in episodes["tasks"]:
            per_task.update(tasks)
    return seeds, per_task, existing.meta.total_episodes


def plan_remaining(cfg: RecordSimConfig, seeds: set[int], per_task: Counter[str], count: int) -> list[Slot]:
    """The slots a run still records given the `count` episodes a dataset has (record_plan.py): each task up to
    `--episodes`, on seeds above every seed the dataset holds, indexed after its episodes."""
    todo = [(t, max(0, cfg.episodes - per_task[_task_string(t)])) for t in cfg.tasks]
    base = max(cfg.seed, max(seeds) + 1) if seeds else cfg.seed
    return make_plan(todo, base, cfg.attempts, first_index=count)


class Recorder:
    """Records episode slots into one LeRobot dataset: the target of a one-worker run, or one unit of a parallel
    run (`part=True`: its folder is created, or resumed after a kill, and only the slots it lacks are recorded)."""

    def __init__(
        self,
        cfg: RecordSimConfig,
        root: Path | None = None,
        slots: list[Slot] | None = None,
        part: bool = False,
        stop: StopRequest | None = None,
        on_saved: Callable[[EpisodeOutcome, int], None] | None = None,
        on_attempt: Callable[[EpisodeOutcome], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.root = Path(root) if root is not None else cfg.dataset_root
        self.slots = slots
        self.part = part
        self.stop = stop
        self.on_saved = on_saved
        self.on_attempt = on_attempt
        self.dataset = None
        self.saved: list[EpisodeOutcome] = []
        self.attempts: list[EpisodeOutcome] = []
        self._last_checkpoint = 0.0

    # ------------------------------------------------------------------ set-up
    def _writer_kwargs(self) -> dict:
        cfg = self.cfg
        n_cams = len(cfg.robot.camera_names)
        streaming = cfg.streaming_encoding and cfg.video
        # LeRobot's streaming encoder drops a frame its queue has no room for within 0.1 s (and says so in a
        # warning); with a slow encoder or a busy machine that happens. A queue that holds a whole episode never
        # fills (within a memory bound: larger cameras get a shorter queue and rely on the check at save).
        h, w = cfg.robot.head_camera
        frames = max(cfg.max_frames(t) for t in cfg.tasks)
        queue = max(30, min(frames, _QUEUE_BYTES // (h * w * 3 * n_cams)))
        return {
            "rgb_encoder": cfg.rgb_encoder,
            "streaming_encoding": streaming,
            "encoder_threads": cfg.encoder_threads,
            "encoder_queue_maxsize": queue,
            "image_writer_threads": 0 if streaming else cfg.image_writer_threads * n_cams,
        }

    def _create(self, features: dict) -> None:
        from lerobot.datasets import LeRobotDataset

        cfg = self.cfg
        self.dataset = LeRobotDataset.create(
            cfg.repo_id,
            cfg.fps,
            root=self.root,
            robot_type=AgibotX2.name,
            features=features,
            use_videos=cfg.video,
            **self._writer_kwargs(),
        )

    def open_dataset(self) -> None:
        """Create the dataset (a new folder) or resume it (rolled back to its last checkpoint after a SIGKILL, and
        checked to be one of ours with these features); then plan the slots left to record."""
        from lerobot.datasets import LeRobotDataset

        cfg = self.cfg
        features = dataset_features(AgibotX2(robot_config(cfg, cfg.tasks[0])), cfg.video)
        seeds: set[int] = set()
        per_task: Counter[str] = Counter()
        count = 0
        if not self.part and not cfg.resume and self.root.exists():
            raise RecordSimError(
                f"{self.root} already exists: pass --resume=true to add to that dataset, or another --root"
            )
        if not (self.root / "meta" / "info.json").exists():
            if not self.part and cfg.resume:
                raise RecordSimError(f"--resume=true: no dataset in {self.root} (meta/info.json is missing)")
            if self.root.exists():  # a part killed while being created
                shutil.rmtree(self.root)
            self._create(features)
        elif (rolled_back := self._roll_back()) == 0 or (
            # A part killed between its creation and its first checkpoint record: no episode, begin anew.
            rolled_back is None and self.part and episode_count(self.root) == 0
        ):  # ours, and empty: begin anew
            shutil.rmtree(self.root)
            self._create(features)
        else:
            seeds, per_task, count = existing_episodes(cfg, self.root, features)
            self.dataset = LeRobotDataset.resume(cfg.repo_id, root=self.root, **self._writer_kwargs())
        checkpoint.mark(self.root)
        self._last_checkpoint = time.monotonic()
        _no_dataset_progress_bars()
        if self.slots is None:
            self.slots = plan_remaining(cfg, seeds, per_task, count)
        else:  # a unit of a parallel run: record the slots it lacks
            self.slots = [s for s in self.slots if not seeds.intersection(s.seeds)]

    def _roll_back(self) -> int | None:
        return roll_back_dataset(self.root)

    def _checkpoint(self) -> None:
        """Finalize (every file complete on disk), record the checkpoint, reopen for the next episodes."""
        from lerobot.datasets import LeRobotDataset

        self.dataset.finalize()
        checkpoint.mark(self.root)
        self.dataset = LeRobotDataset.resume(self.cfg.repo_id, root=self.root, **self._writer_kwargs())
        self._last_checkpoint = time.monotonic()
        _no_dataset_progress_bars()

    def _poll(self) -> None:
        if self.stop is not None:
            self.stop.check()

    # ------------------------------------------------------------------ recording
    def record_episode(self, robot: AgibotX2, seed: int, attempt: int) -> EpisodeOutcome:
        """Record one attempt into the episode buffer (not saved yet); returns its outcome."""
        from lerobot.utils.constants import ACTION, OBS_STR
        from lerobot.utils.feature_utils import build_dataset_frame

        cfg, dataset = self.cfg, self.dataset
        backend = sim_registry.lookup_backend(robot.id)
        run = ScriptedEpisode(backend, seed, cfg.episode_time_s, cfg.settle_s, attempt=attempt)
        task_string = run.sim.task
        features = dataset.features
        for frame_index in range(cfg.max_frames(run.spec.name)):
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
            if frame_index in _DEMOTE_AT or frame_index % 32 == 0:
                demote_realtime_threads()
            if reason is not None:
                break
        return run.outcome()

    def _save(self, outcome: EpisodeOutcome, index: int) -> None:
        """Save the buffered episode with its `success` and `scene_seed`, checkpoint when one is due, then log it."""
        cfg = self.cfg
        extra = {"success": outcome.success, "scene_seed": outcome.scene_seed}
        with episode_metadata(self.dataset, extra, cfg.fps):
            self.dataset.save_episode()
        demote_realtime_threads()  # without streaming the encoder runs here, in this thread
        self.saved.append(outcome)
        if time.monotonic() - self._last_checkpoint >= cfg.checkpoint_every_s:
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
        if self.on_saved is not None:
            self.on_saved(outcome, index)

    def record_slot(self, robot: AgibotX2, slot: Slot) -> None:
        """Record the slot's attempts until one solves the task (or the last), then save that one."""
        index = slot.index
        for attempt, seed in enumerate(slot.seeds, start=1):
            outcome = self.record_episode(robot, seed, attempt)
            self.attempts.append(outcome)
            if self.on_attempt is not None:
                self.on_attempt(outcome)
            if outcome.success or attempt == len(slot.seeds):
                break
            self.dataset.clear_episode_buffer()
            logger.error(
                "%s: episode %d %s -> FLAGGED, discarded: re-recording it on its next seed",
                PROG,
                index,
                outcome.describe(),
            )
        self._poll()
        self._save(outcome, index)

    def record(self) -> None:
        """Record every planned slot, one robot per run of consecutive slots of a task."""
        for task, slots in itertools.groupby(self.slots, key=lambda s: s.task):
            robot = AgibotX2(robot_config(self.cfg, task))
            robot.connect()
            try:
                for slot in slots:
                    self.record_slot(robot, slot)
            finally:
                robot.disconnect()

    def run(self) -> RecordSimResult:
        """Open the dataset (unless done), record, finalize; a signal stops it cleanly (see the module docstring)."""
        start = time.monotonic()
        if self.dataset is None:
            self.open_dataset()
        interrupted, signum = None, None
        consistent = True
        try:
            self.record()
        except Interrupted as stop:
            interrupted, signum = str(stop), stop.signum
            self.dataset.clear_episode_buffer()
            logger.warning(
                "%s: %s: discarded the episode in progress; %d complete episodes are kept in %s",
                PROG,
                interrupted,
                self.dataset.num_episodes,
                self.root,
            )
        except DroppedFramesError:
            consistent = False  # files of the failed save are on disk: --resume rolls them back
            raise
        finally:
            if consistent:
                self.dataset.finalize()
                if self.dataset.num_episodes:
                    checkpoint.clear(self.root)
                else:  # keep the record that the folder is ours: --resume begins it anew
                    checkpoint.mark(self.root)
        result = RecordSimResult(
            self.root, self.cfg.repo_id, self.saved, self.attempts, time.monotonic() - start
        )
        result.interrupted, result.signum = interrupted, signum
        return result


def record_sim(cfg: RecordSimConfig) -> RecordSimResult:
    """Record scripted demos as configured (one process writing the target, or `--num_workers` processes); see the
    module docstring. A signal ends it cleanly (the result says which)."""
    from .record_parallel import ParallelRecording, use_parallel

    if use_parallel(cfg):
        return ParallelRecording(cfg).run()
    return run_single(Recorder(cfg))


def run_single(recorder: Recorder) -> RecordSimResult:
    """A one-process run writing the target in place, with its progress bar and signal handling."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    cfg = recorder.cfg
    recorder.stop = recorder.stop or StopRequest()
    with recorder.stop.installed():
        if recorder.dataset is None:
            recorder.open_dataset()
        with (
            logging_redirect_tqdm(),
            tqdm(total=len(recorder.slots), desc=PROG, unit="demo", disable=None) as bar,
        ):
            recorder.on_saved = lambda outcome, index: bar.update(1)
            result = recorder.run()
    if cfg.push_to_hub and result.interrupted is None:
        recorder.dataset.push_to_hub(tags=cfg.tags, private=cfg.private)
        logger.info("%s: pushed %s", PROG, cfg.repo_id)
    result.log_summary()
    return result


def episode_count(root: Path) -> int:
    """`total_episodes` of the dataset in `root` (0 when it has no meta/info.json)."""
    info = Path(root) / "meta" / "info.json"
    return int(json.loads(info.read_text())["total_episodes"]) if info.exists() else 0


def roll_back_dataset(root: Path) -> int | None:
    """Return a folder killed after its last checkpoint to that checkpoint (checkpoint.py) and remove what the
    episode in progress left. Returns its episode count when its checkpoint record says wbvla-record-sim wrote it
    (None: a dataset without one, from a run that ended cleanly or from elsewhere)."""
    try:
        removed = checkpoint.roll_back(root)
    except checkpoint.RollbackError as err:
        raise RecordSimError(f"--resume=true: {err}; restore that folder or start anew") from err
    _remove_interrupted_episode_files(root)
    if removed is None:
        return None
    if removed:
        logger.warning(
            "%s: %s was killed after its last checkpoint: removed %d files written since",
            PROG,
            root,
            len(removed),
        )
    return int(json.loads((root / "meta" / "info.json").read_text())["total_episodes"])


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


def _no_dataset_progress_bars() -> None:
    """No `datasets` progress bar per saved episode: the per-episode lines are the log. (LeRobot re-enables them
    globally after each metadata load, so this follows every load.)"""
    import datasets

    datasets.disable_progress_bars()


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


def main(args: list[str] | None = None) -> None:
    """Console entry point `wbvla-record-sim` (draccus CLI over RecordSimConfig; `--help` lists the fields)."""
    from .record_parallel import ParallelRecording, WorkerError, use_parallel

    # The per-episode lines are the log: no SVT-AV1 banner per video, no `datasets` progress bar per save.
    os.environ.setdefault("SVT_LOG", "2")
    import av

    # LeRobot hands FFmpeg's log back to FFmpeg's own printer after each video, which prints its INFO lines ("moving
    # the moov atom" per appended episode): warnings and errors only.
    av.logging.set_libav_level(av.logging.WARNING)
    _no_dataset_progress_bars()
    # Bad flags (RecordSimConfig and AgibotX2Config validate in __post_init__) and a bad dataset folder stop here,
    # before anything is written, with one line: LeRobot's INFO lines of the set-up are held back until then.
    logging.disable(logging.INFO)
    try:
        cfg = draccus.parse(config_class=RecordSimConfig, args=args)
        if use_parallel(cfg):
            runner = ParallelRecording(cfg)
            runner.prepare()
        else:
            runner = Recorder(cfg)
            runner.open_dataset()
    except (RecordSimError, ValueError, draccus.utils.ParsingError) as err:
        print(f"{PROG}: error: {_root_cause(err)}", file=sys.stderr)
        sys.exit(2)
    finally:
        logging.disable(logging.NOTSET)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(asctime)s %(message)s", datefmt="%H:%M:%S", force=True
    )
    if isinstance(runner, ParallelRecording):
        try:
            result = runner.run()
        except WorkerError as err:
            print(f"{PROG}: error: {err}", file=sys.stderr)
            sys.exit(1)
    else:
        result = run_single(runner)
    if result.signum is not None:
        sys.exit(128 + result.signum)


if __name__ == "__main__":
    main()
