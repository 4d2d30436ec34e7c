"""`stale_reason` (bench/_results.py), the check behind test_committed_result_is_stamped_and_fresh, on a small git
repository of its own: a result is fresh only while nothing it measures changed since its stamped commit, and
each way of being stale gets one line naming the benchmark to re-run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from _results import source_stamp, stale_reason  # bench/_results.py (tests/bench/conftest.py)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _commit(repo: Path, message: str) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """pkg/ (measured), docs/ (not measured), bench/speed.py (the benchmark) and bench/results/."""
    _git(tmp_path, "init", "-q")
    for path, text in {
        "pkg/core.py": "x = 1\n",
        "pkg/sub/deep.py": "y = 2\n",
        "docs/notes.md": "notes\n",
        "bench/speed.py": "print('bench')\n",
    }.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    _commit(tmp_path, "code")
    return tmp_path


MEASURES = ["bench/speed.py", "pkg"]


def _write_result(repo: Path, **source_changes) -> Path:
    """A result as bench/speed.py writes it (stamped now), committed like a real result."""
    path = repo / "bench" / "results" / "speed.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    source = {**source_stamp(MEASURES, repo=repo), **source_changes}
    path.write_text(json.dumps({"steps_per_s": 10.0, "source": source}))
    _commit(repo, "result")
    return path


def test_fresh_until_a_measured_file_changes(repo: Path):
    result = _write_result(repo)
    assert json.loads(result.read_text())["source"]["dirty"] is False
    assert stale_reason(result, repo=repo) is None
    (repo / "docs" / "notes.md").write_text("more notes\n")  # not measured: still fresh
    _commit(repo, "docs")
    assert stale_reason(result, repo=repo) is None
    (repo / "pkg" / "sub" / "README.md").write_text("why\n")  # prose inside a measured folder: still fresh
    assert source_stamp(MEASURES, repo=repo)["dirty"] is False
    _commit(repo, "readme")
    assert stale_reason(result, repo=repo) is None

    (repo / "pkg" / "sub" / "deep.py").write_text("y = 3\n")  # under a measured folder
    changed = _commit(repo, "faster")
    reason = stale_reason(result, repo=repo)
    assert reason is not None and "speed.json is stale" in reason and "pkg/sub/deep.py" in reason
    assert reason.endswith("re-run bench/speed.py")

    _write_result(repo)  # re-run after the change: fresh again
    assert stale_reason(result, repo=repo) is None
    assert json.loads(result.read_text())["source"]["commit"] == changed


def test_the_benchmark_script_itself_is_measured(repo: Path):
    result = _write_result(repo)
    (repo / "bench" / "speed.py").write_text("print('bench v2')\n")
    _commit(repo, "bench v2")
    assert "bench/speed.py" in (stale_reason(result, repo=repo) or "")


def test_unstamped_dirty_smoke_and_unknown_commits_are_stale(repo: Path):
    path = repo / "bench" / "results" / "speed.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"steps_per_s": 10.0}))  # written before results were stamped
    assert stale_reason(path, repo=repo) == (
        "speed.json is unstamped (no source commit, written before results were stamped or outside git): "
        "re-run bench/speed.py"
    )

    (repo / "pkg" / "core.py").write_text("x = 2  # not committed\n")
    stamp = source_stamp(MEASURES, repo=repo)
    assert stamp["dirty"] is True  # measured on code that no commit holds
    path.write_text(json.dumps({"source": stamp}))
    reason = stale_reason(path, repo=repo)
    assert reason is not None and "uncommitted edits" in reason and reason.endswith("re-run bench/speed.py")
    _git(repo, "checkout", "--", "pkg/core.py")

    path.write_text(json.dumps({"source": {**source_stamp(MEASURES, repo=repo), "smoke": True}}))
    assert "is a smoke run" in (stale_reason(path, repo=repo) or "")

    path.write_text(json.dumps({"source": {**source_stamp(MEASURES, repo=repo), "commit": "ab" * 20}}))
    reason = stale_reason(path, repo=repo)
    assert reason is not None and "abababababab, which this repository does not have" in reason

    path.write_text(json.dumps({"source": {**source_stamp(MEASURES, repo=repo), "measures": []}}))
    assert "does not say which code it measures" in (stale_reason(path, repo=repo) or "")

    path.write_text("{not json")
    assert "not a readable JSON object" in (stale_reason(path, repo=repo) or "")
    path.unlink()
    assert stale_reason(path, repo=repo) == "speed.json is missing: run bench/speed.py"
