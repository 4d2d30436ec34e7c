"""The staging folder of a generator run: built beside the output, swapped into place only when complete.

A run writes into the hidden folder `.<out_dir name>.tmp-<pid>` next to `out_dir`, so readers never see half a
dataset. A run that ends with an exception removes its staging folder; one that is killed (SIGKILL, power loss)
cannot, so every run first removes the staging folders of the same `out_dir` whose process is gone.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def staging_dir(out_dir: Path, pid: int | None = None) -> Path:
    """The staging folder of the run with process id `pid` (default: this process) writing `out_dir`."""
    return out_dir.parent / f".{out_dir.name}.tmp-{os.getpid() if pid is None else pid}"


def pid_alive(pid: int) -> bool:
    """True if a process `pid` exists (also one of another user, or a zombie: when unsure, it is alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: checks existence and permission, sends nothing
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Remove the staging folders of `out_dir` left by runs whose process no longer exists; returns them.

    Folders of live processes (another run writing the same out_dir right now) and of this process are kept.
    Only POSIX can test a pid without side effects (on Windows os.kill ends the process), so elsewhere nothing is
    removed.
    """
    if os.name != "posix" or not out_dir.parent.is_dir():
        return []
    pattern = re.compile(rf"\.{re.escape(out_dir.name)}\.tmp-(\d+)")
    removed = []
    for path in sorted(out_dir.parent.iterdir()):
        match = pattern.fullmatch(path.name)
        if match is None or not path.is_dir() or path.is_symlink():
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or pid_alive(pid):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
        print(
            f"Removed {path}: staging folder of an interrupted run (process {pid} is gone).", file=sys.stderr
        )
    return removed


def swap_in(stage: Path, out_dir: Path) -> None:
    """Rename the finished staging folder to out_dir; an old out_dir is moved aside first and removed after."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        out_dir.rename(old)
    stage.rename(out_dir)
    if old is not None:
        shutil.rmtree(old)


@contextmanager
def staged_output(out_dir: Path, overwrite: bool) -> Iterator[Path]:
    """Yield an empty staging folder for `out_dir`; swap it in when the block ends, remove it if the block raises.

    Refuses an existing out_dir unless `overwrite` (then the old one is replaced only once the new one is
    complete), and first removes stale staging folders of out_dir (see `remove_stale_staging`).
    """
    if out_dir.exists() and not overwrite:
        raise FileExistsError(
            f"Output folder {out_dir} already exists; pass --overwrite=true to replace it or choose another --out_dir."
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out_dir)
    stage = staging_dir(out_dir)
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir()
    try:
        yield stage
        swap_in(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
