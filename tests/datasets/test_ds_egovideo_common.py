"""The writing both egocentric generators share (lerobot_wbvla.datasets.egovideo_common): stale staging folders of
killed runs are removed by the next run, live ones are not, and the package imports in any order."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lerobot_wbvla.datasets.egovideo import EgoVideoConfig
from lerobot_wbvla.datasets.egovideo import generate as generate_egovideo
from lerobot_wbvla.datasets.egovideo.labels import read_labels
from lerobot_wbvla.datasets.egovideo_common.staging import pid_alive, staging_dir
from lerobot_wbvla.datasets.raycast_egovideo import RaycastEgoVideoConfig
from lerobot_wbvla.datasets.raycast_egovideo import generate as generate_raycast

TINY = dict(num_clips=1, height=16, width=16, fps=30, clip_seconds=0.3, contact_sheet=False, progress=False)
GENERATORS: dict[str, Callable[[Path], Path]] = {
    "egovideo": lambda out: generate_egovideo(EgoVideoConfig(out_dir=out, **TINY)),
    "raycast_egovideo": lambda out: generate_raycast(RaycastEgoVideoConfig(out_dir=out, **TINY)),
}


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The pid of a sleeping child process (alive for the whole test)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


@pytest.fixture
def dead_pid() -> int:
    """The pid of a child process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)
    return child.pid


def _fake_staging(out: Path, pid: int) -> Path:
    """What a generator killed mid-run leaves: its hidden staging folder with a partial clips folder."""
    stage = staging_dir(out, pid)
    (stage / "clips").mkdir(parents=True)
    (stage / "clips" / "000000000_walk_forward.mp4").write_bytes(b"partial")
    return stage


@pytest.mark.skipif(os.name != "posix", reason="pids are tested with os.kill(pid, 0), POSIX only")
@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_next_run_removes_stale_staging_of_dead_runs_only(
    generator: str, tmp_path: Path, dead_pid: int, live_pid: int
) -> None:
    out = tmp_path / "ego"
    stale = _fake_staging(out, dead_pid)
    running = _fake_staging(out, live_pid)  # another run writing the same out_dir right now
    other_output = _fake_staging(tmp_path / "other", dead_pid)  # not this run's out_dir

    GENERATORS[generator](out)

    assert not stale.exists()
    assert (running / "clips" / "000000000_walk_forward.mp4").read_bytes() == b"partial"
    assert other_output.exists()
    assert not staging_dir(out).exists()  # this run's own staging folder was swapped in
    assert len(read_labels(out)) == 1 and len(list((out / "clips").glob("*.mp4"))) == 1


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(0) and not pid_alive(-1)


@pytest.mark.parametrize("first", ["egovideo_common.writer", "egovideo_common.plan"])
def test_modules_import_in_any_order(first: str) -> None:
    """egovideo's __init__ imports egovideo.generate, which imports egovideo_common, which imports egovideo's
    contract modules: importing any of them first in a fresh interpreter must work."""
    code = (
        f"import lerobot_wbvla.datasets.{first}\n"
        "from lerobot_wbvla.datasets.egovideo import generate\n"
        "print(generate.__module__)"  # the function (a module has no __module__)
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "lerobot_wbvla.datasets.egovideo.generate"
