"""Resumable stages of a long benchmark that runs the project's CLIs as child processes.

A long benchmark (hours of training on 2 cores) must survive being interrupted: each stage writes
`<work_dir>/<stage>/stage.json` when it completes, and a re-run with the same settings reuses it. Children run one
at a time unless a benchmark starts them in parallel itself (`start_cli`), so `RUSAGE_CHILDREN` deltas are theirs.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The venv's console scripts (wbvla-*, lerobot-*), next to the interpreter running the benchmark.
BIN = Path(sys.executable).parent


def child_env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("SVT_LOG", "1")
    return env


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def start_cli(tag: str, args: list[str], log: Path, threads: int) -> subprocess.Popen:
    """Start one CLI with its output in `log` (first line: the command)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{tag}] $ {' '.join(args)}\n[{tag}]   log: {log}", flush=True)
    f = open(log, "w")  # noqa: SIM115 - closed by finish_cli
    f.write(" ".join(args) + "\n")
    f.flush()
    proc = subprocess.Popen(
        args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_env(threads)
    )
    proc.log_file = f  # type: ignore[attr-defined]
    proc.log_path = log  # type: ignore[attr-defined]
    return proc


def finish_cli(tag: str, proc: subprocess.Popen) -> None:
    """Wait for a started CLI; a failure ends the benchmark with the log's tail."""
    code = proc.wait()
    proc.log_file.close()  # type: ignore[attr-defined]
    if code != 0:
        log = proc.log_path  # type: ignore[attr-defined]
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise SystemExit(f"{Path(proc.args[0]).name} failed ({code}); see {log}:\n{tail}")


def run_cli(tag: str, args: list[str], log: Path, threads: int) -> dict:
    """Run one CLI to completion: its wall and CPU seconds."""
    cpu0, t0 = children_cpu_s(), time.monotonic()
    finish_cli(tag, start_cli(tag, args, log, threads))
    out = {"wall_s": round(time.monotonic() - t0, 1), "cpu_s": round(children_cpu_s() - cpu0, 1)}
    print(f"[{tag}]   done: {out}", flush=True)
    return out


class Stages:
    """`run(name, settings, fn)`: `fn(folder)` unless `<work_dir>/<name>/stage.json` holds a completed run with the
    same settings (then its result). `reused` lists the stages taken from an earlier run."""

    def __init__(self, tag: str, work_dir: Path, reuse: bool = True) -> None:
        self.tag, self.work_dir, self.reuse = tag, Path(work_dir), reuse
        self.reused: list[str] = []

    def done(self, name: str, settings: dict) -> dict | None:
        marker = self.work_dir / name / "stage.json"
        if self.reuse and marker.is_file():
            done = json.loads(marker.read_text())
            if done.get("settings") == _plain(settings):
                return done["result"]
        return None

    def run(self, name: str, settings: dict, fn: Callable[[Path], dict]) -> dict:
        folder = self.work_dir / name
        previous = self.done(name, settings)
        if previous is not None:
            print(f"[{self.tag}] {name}: reusing {folder}", flush=True)
            self.reused.append(name)
            return previous
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        result = fn(folder)
        self.mark(name, settings, result)
        return result

    def mark(self, name: str, settings: dict, result: dict) -> None:
        marker = self.work_dir / name / "stage.json"
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps({"settings": _plain(settings), "result": result}, indent=2, default=str) + "\n"
        )
        os.replace(tmp, marker)


def _plain(settings: dict) -> dict:
    return json.loads(json.dumps(settings, default=str))
