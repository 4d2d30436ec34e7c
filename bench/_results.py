"""What every benchmark shares: where results go, how the machine is described, how a result is written and when
a committed result no longer describes the code.

A result file is replaced in one step (written beside it, then renamed), so an interrupted benchmark never leaves
a half-written JSON where the project's checks (tests/bench) and reviewers read it. Every result is stamped with
the commit it was measured on and the code paths it measures (`source_stamp`); `stale_reason` says when that
stamp no longer holds, so old figures cannot sit in the README unnoticed.

Conventions of a benchmark script `bench/<name>.py` (tests/bench runs each one in smoke mode):
- a draccus config with `output: Path = RESULTS / "<name>.json"` and `smoke: bool = False` (tiny settings for
  the test suite: it must finish in seconds; the figures mean nothing);
- its result written with `write_result(cfg.output, result, measures=[...], smoke=cfg.smoke)`.
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


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


# Prose inside a measured folder (a README beside the code) does not change a figure: edits to it neither make a
# stamp dirty nor a result stale.
NOT_MEASURED = (":(exclude,glob)**/*.md",)

# The LMO on MuJoCo (the CPU env and the warp env): `lerobot_wbvla/lmo` less the Isaac Lab task, which runs in its
# own venv and is never imported by the MuJoCo backends.
LMO_MUJOCO = ["lerobot_wbvla/lmo", ":(exclude)lerobot_wbvla/lmo/isaaclab"]
# The LMO's CPU env and trainer: LMO_MUJOCO less what the CPU path never imports (the warp env, imported only for
# --backend=warp; the CPU-vs-warp equivalence check and its synthetic clips). Their figures are
# bench/lmo_backends.py's.
LMO_CPU = [
    *LMO_MUJOCO,
    ":(exclude)lerobot_wbvla/lmo/env/warp_vec_env.py",
    ":(exclude)lerobot_wbvla/lmo/env/equivalence.py",
    ":(exclude)lerobot_wbvla/lmo/env/rollout_clips.py",
]


def source_stamp(measures: list[str], repo: Path = REPO) -> dict:
    """Which code a figure was measured on: the git commit, whether the measured paths had uncommitted edits, and
    the paths (relative to the repo root) whose code the benchmark measures. A result is stale once any of them
    changed after that commit (`stale_reason`)."""
    try:
        commit = _git(repo, "rev-parse", "HEAD")
        dirty = bool(_git(repo, "status", "--porcelain", "--", *measures, *NOT_MEASURED))
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. an sdist)
        commit, dirty = None, None
    return {"commit": commit, "dirty": dirty, "measures": list(measures)}


def write_result(path: Path, result: dict, measures: list[str], smoke: bool = False) -> None:
    """Write `result` as indented JSON to `path` atomically, stamped under "source" (see `source_stamp`) with the
    code it measured, and print it. `measures`: the repo paths whose code the figures depend on (the benchmark
    script itself is always included). `smoke`: the run used the tiny test settings (recorded in the stamp, so a
    smoke result is never taken for a measurement)."""
    import inspect  # noqa: PLC0415

    caller = Path(inspect.stack()[1].filename).resolve()
    paths = sorted(
        {*measures, caller.relative_to(REPO).as_posix()} if caller.is_relative_to(REPO) else set(measures)
    )
    stamp = source_stamp(paths)
    if smoke:
        stamp["smoke"] = True
    result = {**result, "source": stamp}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)
    print(json.dumps(result, indent=2))


def _script_of(result_path: Path, measures: list) -> str:
    """The benchmark that writes `result_path`: the bench script in its stamp, else bench/<name>.py."""
    scripts = [m for m in measures if isinstance(m, str) and m.startswith("bench/") and m.endswith(".py")]
    scripts = [m for m in scripts if not Path(m).name.startswith("_")]
    return scripts[0] if len(scripts) == 1 else f"bench/{result_path.stem}.py"


def stale_reason(result_path: Path, repo: Path = REPO) -> str | None:
    """None when the committed result at `result_path` still describes the code; otherwise one line saying why
    not and which benchmark to re-run. Fresh means: stamped (`write_result`) at a commit this repository has, with
    no uncommitted edits to the measured paths then, not a smoke run, and no measured path changed between that
    commit and HEAD."""
    result_path = Path(result_path)
    try:
        source = json.loads(result_path.read_text()).get("source")
    except FileNotFoundError:
        return f"{result_path.name} is missing: run bench/{result_path.stem}.py"
    except (OSError, ValueError, AttributeError) as exc:
        return f"{result_path.name} is not a readable JSON object ({exc}): re-run bench/{result_path.stem}.py"
    if not isinstance(source, dict) or not source.get("commit"):
        return (
            f"{result_path.name} is unstamped (no source commit, written before results were stamped or outside "
            f"git): re-run bench/{result_path.stem}.py"
        )
    commit, measures = str(source["commit"]), source.get("measures")
    script = _script_of(result_path, measures if isinstance(measures, list) else [])
    rerun = f"re-run {script}"
    if source.get("smoke"):
        return f"{result_path.name} is a smoke run (tiny settings, the figures mean nothing): {rerun}"
    if source.get("dirty") is not False:
        return (
            f"{result_path.name} was measured on {commit[:12]} with uncommitted edits to the code it measures "
            f"(dirty): commit them, then {rerun}"
        )
    if not isinstance(measures, list) or not measures or not all(isinstance(m, str) for m in measures):
        return f"{result_path.name} does not say which code it measures (source.measures): {rerun}"
    try:
        _git(repo, "cat-file", "-e", f"{commit}^{{commit}}")
    except (OSError, subprocess.CalledProcessError):
        return (
            f"{result_path.name} was measured on commit {commit[:12]}, which this repository does not have (a "
            f"shallow clone, or a rebased/squashed branch): {rerun}"
        )
    changed = _git(repo, "diff", "--name-only", commit, "HEAD", "--", *measures, *NOT_MEASURED).splitlines()
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        return (
            f"{result_path.name} is stale: {len(changed)} file(s) it measures changed since {commit[:12]} "
            f"({shown}): {rerun}"
        )
    return None
