"""What every benchmark shares: where results go, how the machine is described, how a result is written.

A result file is replaced in one step (written beside it, then renamed), so an interrupted benchmark never leaves
a half-written JSON where the project's checks (tests/bench) and reviewers read it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
REPO = RESULTS.parents[1]


def machine_description(with_torch: bool = False) -> str:
    """'x86_64, 2 CPUs[, torch 2.11.0]': enough to tell which machine a figure came from."""
    text = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    if with_torch:
        import torch  # noqa: PLC0415 (the simulator benchmarks do not need it)

        text += f", torch {torch.__version__}"
    return text


def source_stamp(measures: list[str]) -> dict:
    """Which code a figure was measured on: the git commit, whether the measured paths had uncommitted edits, and
    the paths (relative to the repo root) whose code the benchmark measures. A result is stale once any of them
    changed after that commit (tests/bench checks it)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", *measures))
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. an sdist)
        commit, dirty = None, None
    return {"commit": commit, "dirty": dirty, "measures": list(measures)}


def write_result(path: Path, result: dict, measures: list[str]) -> None:
    """Write `result` as indented JSON to `path` atomically, stamped under "source" (see `source_stamp`) with the
    code it measured, and print it. `measures`: the repo paths whose code the figures depend on (the benchmark
    script itself is always included)."""
    import inspect  # noqa: PLC0415

    caller = Path(inspect.stack()[1].filename).resolve()
    paths = sorted(
        {*measures, caller.relative_to(REPO).as_posix()} if caller.is_relative_to(REPO) else set(measures)
    )
    result = {**result, "source": source_stamp(paths)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)
    print(json.dumps(result, indent=2))
