"""`scripts/setup_venv.sh` shares the heavy dependencies between clones but never which checkout the package
resolves to: two clones set up one after the other each run their own code, through `.venv/bin/python`, a script
under `bench/` run from elsewhere, the project's console scripts and LeRobot's CLIs (plugin discovery)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MARKER = 'import os as _os\nif _os.environ.get("WBVLA_PRINT_CLONE"):\n    print("CLONE=" + {name!r})\n'


def _deps_of_this_venv() -> Path:
    record = REPO / ".venv" / ".wbvla-deps"
    if not record.is_file():
        pytest.fail(f"{REPO}/.venv was not made by scripts/setup_venv.sh (no .wbvla-deps); run it first")
    return Path(record.read_text().strip())


def _copy_clone(dst: Path, name: str) -> Path:
    """The tracked files of this working tree (uncommitted edits included), marked with the clone's name."""
    files = (
        subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    init = dst / "lerobot_wbvla" / "__init__.py"
    init.write_text(init.read_text() + "\n" + MARKER.format(name=name))
    (dst / "bench" / "which_clone.py").write_text("import lerobot_wbvla  # noqa: F401\n")
    return dst


def _setup(clone: Path, env: dict) -> str:
    proc = subprocess.run(
        ["bash", "scripts/setup_venv.sh"], cwd=clone, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _clone_name(cmd: list[str], env: dict) -> str:
    proc = subprocess.run(cmd, cwd="/", env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stderr[-3000:]}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("CLONE=")]
    assert lines, f"{cmd} did not import lerobot_wbvla:\n{proc.stdout[-2000:]}"
    return lines[0].removeprefix("CLONE=")


@pytest.mark.slow
def test_each_clone_runs_its_own_code(tmp_path):
    deps = _deps_of_this_venv()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["WBVLA_CACHE"] = str(deps.parent)
    clones = {name: _copy_clone(tmp_path / name, name) for name in ("a", "b")}
    for clone in clones.values():  # a first, then b: b is the clone that set up last
        out = _setup(clone, env)
        assert f"reusing the dependencies in {deps}" in out, out  # the heavy part is shared
    env["WBVLA_PRINT_CLONE"] = "1"
    for name, clone in clones.items():
        venv = clone / ".venv"
        assert not venv.is_symlink() and (venv / ".wbvla-deps").read_text().strip() == str(deps)
        assert _clone_name([str(venv / "bin/python"), "-c", "import lerobot_wbvla"], env) == name
        assert _clone_name([str(venv / "bin/python"), str(clone / "bench/which_clone.py")], env) == name
        assert _clone_name([str(venv / "bin/wbvla-gen-egovideo"), "--help"], env) == name
        assert _clone_name([str(venv / "bin/lerobot-record"), "--help"], env) == name
