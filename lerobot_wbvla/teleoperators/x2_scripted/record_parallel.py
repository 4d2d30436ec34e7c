"""`wbvla-record-sim --num_workers=N`: N processes record a run's episodes, LeRobot merges them into the target.

The run's slots (record_plan.py: fixed seeds per episode) are split into units, each task's slots in N contiguous
blocks. Worker processes (forked, so the imports are shared) record their units, each into its own LeRobot dataset
`part-<first episode index>` in a staging folder beside the target, `.<target name>.wbvla-record-sim/`, with the same
`Recorder` as a one-process run (checkpoints, signals, per-episode log lines). Once every worker is done,
`lerobot.datasets.aggregate.aggregate_datasets` (what `lerobot-edit-dataset` merges with) concatenates the parts in
plan order, after the target's own episodes when `--resume=true` extends a complete dataset, into
`<staging>/merged`, which is then renamed to the target. So the episodes are ordered by task then seed exactly as
one process orders them, their `success` / `scene_seed` columns and `next.success` / `next.done` frames come along,
and the target appears (or changes) only complete.

The workers' log lines and progress reach this process through a queue: one progress bar counts every worker's
demos. SIGTERM / Ctrl-C stop every worker after discarding its episode in progress; a worker that fails or dies
stops the others. Either way nothing is merged: the staging folder keeps the complete episodes and
`--resume=true` (with any --num_workers) records the rest and merges. A worker whose parent is killed stops too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import logging.handlers
import multiprocessing
import os
import queue as queue_module
import shutil
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from lerobot_wbvla.robots.agibot_x2.agibot_x2 import AgibotX2

from .episode import EpisodeOutcome
from .record_plan import Slot, split_units
from .record_sim import (
    PROG,
    Recorder,
    RecordSimConfig,
    RecordSimError,
    RecordSimResult,
    StopRequest,
    dataset_features,
    episode_count,
    existing_episodes,
    plan_remaining,
    robot_config,
    roll_back_dataset,
)

logger = logging.getLogger(__name__)

PLAN_FILE = "plan.json"
MERGED = "merged"
PREVIOUS = "previous"
# Written once `merged` is complete and checked: from then on only the rename into place is left to do.
MERGE_DONE = "merged.complete"
# Seconds to wait, after a worker process ended, for its last report to arrive before calling it dead.
_REPORT_GRACE_S = 2.0


class WorkerError(RuntimeError):
    """A worker process failed or died (printed as one `error:` line; the staging folder keeps its episodes)."""


def staging_dir(root: Path) -> Path:
    """Where a parallel run into `root` keeps its worker datasets until they are merged (beside `root`, so the final
    rename stays on one file system)."""
    root = Path(root)
    return root.parent / f".{root.name}.{PROG}"


def use_parallel(cfg: RecordSimConfig) -> bool:
    """More than one worker, or an interrupted parallel run to complete."""
    return cfg.num_workers > 1 or staging_dir(cfg.dataset_root).exists()


def part_name(unit: list[Slot]) -> str:
    return f"part-{unit[0].index:06d}"


def _fingerprint(cfg: RecordSimConfig) -> dict:
    """The settings a staging folder's plan depends on: a resume must use the same."""
    return {
        "repo_id": cfg.repo_id,
        "tasks": list(cfg.tasks),
        "episodes": cfg.episodes,
        "seed": cfg.seed,
        "attempts": cfg.attempts,
        "fps": cfg.fps,
        "video": cfg.video,
    }


def _mp_context() -> multiprocessing.context.BaseContext:
    """Fork on Linux: workers inherit the imported modules (importing LeRobot costs seconds) and this process has
    started no OpenGL context and no thread yet. Spawn elsewhere."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


class ParallelRecording:
    """One `--num_workers` run (see the module docstring): `prepare()` checks the input and plans (writes nothing
    but a roll-back of a SIGKILLed target), `run()` records, merges and renames into place."""

    def __init__(self, cfg: RecordSimConfig) -> None:
        self.cfg = cfg
        self.root = cfg.dataset_root
        self.stage = staging_dir(self.root)
        self.units: list[list[Slot]] | None = None
        self.extend = False
        self._new_plan = False
        self.saved: list[EpisodeOutcome] = []
        self.attempts: list[EpisodeOutcome] = []

    # ------------------------------------------------------------------ planning
    def prepare(self) -> None:
        cfg = self.cfg
        if self.stage.exists():
            if not cfg.resume:
                raise RecordSimError(
                    f"an interrupted run left {self.stage}: pass --resume=true to complete it, or delete that "
                    "folder to start anew"
                )
            try:
                plan = json.loads((self.stage / PLAN_FILE).read_text())
            except (OSError, ValueError) as err:
                raise RecordSimError(
                    f"--resume=true: {self.stage} has no readable {PLAN_FILE} ({err}); delete that folder to start "
                    "anew"
                ) from err
            if plan["fingerprint"] != _fingerprint(cfg):
                differ = {k: v for k, v in plan["fingerprint"].items() if _fingerprint(cfg).get(k) != v}
                raise RecordSimError(
                    f"--resume=true: the interrupted run in {self.stage} was started with {differ}: resume it with "
                    "those settings, or delete that folder to start anew"
                )
            self.extend = bool(plan["extend"])
            self.units = [[Slot.from_json(s) for s in unit] for unit in plan["units"]]
            return
        if self.root.exists():
            if not cfg.resume:
                raise RecordSimError(
                    f"{self.root} already exists: pass --resume=true to add to that dataset, or another --root"
                )
            if not (self.root / "meta" / "info.json").exists():
                raise RecordSimError(f"--resume=true: no dataset in {self.root} (meta/info.json is missing)")
            roll_back_dataset(self.root)
            features = dataset_features(AgibotX2(robot_config(cfg, cfg.tasks[0])), cfg.video)
            seeds, per_task, count = existing_episodes(cfg, self.root, features)
            self.extend = True
        elif cfg.resume:
            raise RecordSimError(f"--resume=true: no dataset in {self.root} (meta/info.json is missing)")
        else:
            seeds, per_task, count = set(), Counter(), 0
        self.units = split_units(plan_remaining(cfg, seeds, per_task, count), cfg.num_workers)
        self._new_plan = True

    def _write_plan(self) -> None:
        self.stage.mkdir(parents=True)
        plan = {
            "fingerprint": _fingerprint(self.cfg),
            "extend": self.extend,
            "units": [[s.to_json() for s in unit] for unit in self.units],
        }
        tmp = self.stage / f".{PLAN_FILE}.tmp"
        tmp.write_text(json.dumps(plan, indent=1))
        os.replace(tmp, self.stage / PLAN_FILE)

    # ------------------------------------------------------------------ run
    def run(self) -> RecordSimResult:
        start = time.monotonic()
        if self.units is None:
            self.prepare()
        cfg = self.cfg
        if not self.units:
            logger.info("%s: %s already has every episode: nothing to record", PROG, self.root)
            return RecordSimResult(self.root, cfg.repo_id, [], [], time.monotonic() - start)
        if self._new_plan:
            self._write_plan()
        result = RecordSimResult(self.root, cfg.repo_id, self.saved, self.attempts, 0.0)
        if not (self.stage / MERGE_DONE).exists():
            stopped = self._record()
            if stopped is not None:
                result.interrupted, result.signum = stopped
                result.wall_s = time.monotonic() - start
                logger.warning(
                    "%s: %s: nothing merged; the complete episodes are kept in %s, --resume=true completes the run",
                    PROG,
                    result.interrupted,
                    self.stage,
                )
                result.log_summary(where=self.stage)
                return result
            self._merge()
        self._swap()
        if cfg.push_to_hub:
            from lerobot.datasets import LeRobotDataset

            LeRobotDataset(cfg.repo_id, root=self.root).push_to_hub(tags=cfg.tags, private=cfg.private)
            logger.info("%s: pushed %s", PROG, cfg.repo_id)
        result.wall_s = time.monotonic() - start
        result.log_summary()
        return result

    def _record(self) -> tuple[str, int] | None:
        """Run the workers to the end; returns (reason, signal) when a signal stopped them. Raises WorkerError when
        one failed or died (after stopping the others)."""
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        cfg = self.cfg
        ctx = _mp_context()
        n = min(cfg.num_workers, len(self.units))
        # One queue per worker: a queue's write lock is shared by its writers, and a worker killed while holding
        # it would block the others' queues for good.
        reports = [ctx.Queue() for _ in range(n)]
        procs = [
            ctx.Process(
                target=_worker,
                args=(cfg, i, self.units[i::n], str(self.stage), reports[i], os.getpid()),
                name=f"{PROG}-worker-{i}",
            )
            for i in range(n)
        ]
        stop = StopRequest()
        finished: dict[int, tuple[str, int] | None] = {}
        failed: dict[int, str] = {}
        ended_at: dict[int, float] = {}
        halted = False

        def halt() -> None:
            nonlocal halted
            if not halted:
                halted = True
                for p in procs:
                    if p.is_alive():
                        os.kill(p.pid, signal.SIGTERM)

        with stop.installed():
            for p in procs:
                p.start()
            total = sum(len(u) for u in self.units)
            with logging_redirect_tqdm(), tqdm(total=total, desc=PROG, unit="demo", disable=None) as bar:
                while len(finished) + len(failed) < n:
                    items = _drain(reports)
                    for item in items:
                        self._handle(item, bar, finished, failed)
                    if stop.signum is not None or failed:
                        halt()
                    now = time.monotonic()
                    for i, p in enumerate(procs):
                        if p.exitcode is None or i in finished or i in failed:
                            continue
                        ended_at.setdefault(i, now)
                        if now - ended_at[i] > _REPORT_GRACE_S:
                            failed[i] = f"died ({_exit_description(p.exitcode)})"
                    if not items:
                        time.sleep(0.05)
            for p in procs:
                p.join(timeout=60)
                if p.is_alive():  # stuck: it has reported, its files are what they are
                    p.kill()
                    p.join()
        if failed:
            lines = "; ".join(f"worker {i} {why}" for i, why in sorted(failed.items()))
            raise WorkerError(
                f"{lines}. Nothing was merged: the complete episodes are kept in {self.stage}, --resume=true "
                "continues the run"
            )
        if stop.signum is not None:
            return signal.Signals(stop.signum).name, stop.signum
        stopped = [why for why in finished.values() if why is not None]
        return stopped[0] if stopped else None

    def _handle(self, item, bar, finished: dict, failed: dict) -> None:
        if isinstance(item, logging.LogRecord):
            logging.getLogger(item.name).handle(item)
            return
        kind, worker, *rest = item
        if kind == "saved":
            self.saved.append(EpisodeOutcome(**rest[0]))
            bar.update(1)
        elif kind == "attempt":
            self.attempts.append(EpisodeOutcome(**rest[0]))
        elif kind == "skipped":
            bar.update(rest[0])
        elif kind == "done":
            finished[worker] = None if rest[0] is None else (rest[0], rest[1])
        elif kind == "error":
            failed[worker] = f"failed: {rest[0]}"

    # ------------------------------------------------------------------ merge
    def _merge(self) -> None:
        """Aggregate the parts (after the target's episodes when extending it) into `<staging>/merged`, check it,
        then mark the merge done."""
        from lerobot.datasets import LeRobotDatasetMetadata
        from lerobot.datasets.aggregate import aggregate_datasets

        cfg = self.cfg
        parts = [self.stage / part_name(unit) for unit in self.units]
        sources = ([self.root] if self.extend else []) + [p for p in parts if episode_count(p) > 0]
        expected = sum(episode_count(p) for p in sources)
        merged = self.stage / MERGED
        if merged.exists():  # a merge killed half-way
            shutil.rmtree(merged)
        logger.info("%s: merging %d datasets (%d episodes) into %s", PROG, len(sources), expected, self.root)
        aggregate_logger = logging.getLogger("lerobot.datasets.aggregate")
        level = aggregate_logger.level
        aggregate_logger.setLevel(logging.WARNING)  # its step-by-step INFO lines; this line says what happens
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # and its progress bars
                aggregate_datasets(
                    repo_ids=[cfg.repo_id] * len(sources),
                    aggr_repo_id=cfg.repo_id,
                    roots=sources,
                    aggr_root=merged,
                )
        finally:
            aggregate_logger.setLevel(level)
        meta = LeRobotDatasetMetadata(cfg.repo_id, root=merged)
        if meta.total_episodes != expected:
            raise WorkerError(
                f"the merged dataset in {merged} has {meta.total_episodes} of {expected} episodes"
            )
        (self.stage / MERGE_DONE).touch()

    def _swap(self) -> None:
        """Put the merged dataset in place of the target (a new target: one rename), then drop the staging folder."""
        merged = self.stage / MERGED
        if self.extend and self.root.exists():
            os.rename(self.root, self.stage / PREVIOUS)
        os.rename(merged, self.root)
        shutil.rmtree(self.stage)


def _drain(reports: list) -> list:
    """Everything the workers' queues hold now."""
    items = []
    for q in reports:
        while True:
            try:
                items.append(q.get_nowait())
            except queue_module.Empty:
                break
    return items


def _exit_description(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"


def _worker(
    cfg: RecordSimConfig, worker: int, units: list[list[Slot]], stage: str, reports, parent_pid: int
) -> None:
    """A worker process: record `units` into their part datasets, reporting log lines and outcomes to the parent."""
    # One llvmpipe raster thread per worker: the workers already share the cores (set before OpenGL starts).
    os.environ.setdefault("LP_NUM_THREADS", "1")
    root_logger = logging.getLogger()
    root_logger.handlers = [logging.handlers.QueueHandler(reports)]
    root_logger.setLevel(logging.INFO)
    stop = StopRequest(parent_pid)
    logger.info(
        "%s: worker %d (pid %d) records episodes %s",
        PROG,
        worker,
        os.getpid(),
        ", ".join(f"{u[0].index}-{u[-1].index}" if len(u) > 1 else f"{u[0].index}" for u in units),
    )
    try:
        with stop.installed():
            for unit in units:
                recorder = Recorder(
                    cfg,
                    root=Path(stage) / part_name(unit),
                    slots=unit,
                    part=True,
                    stop=stop,
                    on_saved=lambda o, index: reports.put(("saved", worker, dataclasses.asdict(o))),
                    on_attempt=lambda o: reports.put(("attempt", worker, dataclasses.asdict(o))),
                )
                recorder.open_dataset()
                if len(recorder.slots) < len(unit):
                    reports.put(("skipped", worker, len(unit) - len(recorder.slots)))
                result = recorder.run()
                if result.interrupted is not None:
                    reports.put(("done", worker, result.interrupted, result.signum))
                    return
        reports.put(("done", worker, None, None))
    except BaseException as err:  # reported to the parent, which prints it and stops the other workers
        reports.put(("error", worker, f"{type(err).__name__}: {err}"))
        sys.exit(1)
