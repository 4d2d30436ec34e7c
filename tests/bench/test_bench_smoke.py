"""Every benchmark script runs: each `bench/*.py` (not `_*.py`), as a user would start it, with its tiny settings
(`--smoke=true`) and a temporary `--output`, must exit 0 and write a result stamped with the code it measured.

Scripts are found by listing bench/, so a new benchmark is covered without editing this file, provided it follows
the convention of `bench/_results.py` (draccus config with `output` and `smoke`, `write_result(..., smoke=)`).
Two scripts run at a time (the project's machines have 2 cores); the committed results are never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_"))
SMOKE_TIMEOUT_S = 300  # per script, on a loaded machine; smoke settings take seconds to a few tens of seconds
TEST = "test_bench_script_smoke_run_writes_a_stamped_result"


def _results_snapshot() -> dict[str, str]:
    root = BENCH / "results"
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def smoke_runs(request, tmp_path_factory) -> dict[str, dict]:
    """Run the selected scripts (two at a time) once for the module: script name -> outcome."""
    selected = sorted(
        {
            item.callspec.params["script"]
            for item in request.session.items
            if getattr(item, "originalname", None) == TEST and hasattr(item, "callspec")
        }
    )
    out_dir = tmp_path_factory.mktemp("bench-smoke")
    before = _results_snapshot()

    def run(script: str) -> dict:
        output = out_dir / f"{Path(script).stem}.json"
        start = time.monotonic()
        try:
            proc = subprocess.run(
                [sys.executable, str(BENCH / script), "--smoke=true", f"--output={output}"],
                cwd=out_dir,  # nothing may depend on (or be written to) the current folder
                env=dict(os.environ),
                capture_output=True,
                text=True,
                timeout=SMOKE_TIMEOUT_S,
            )
            rc, log = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc, log = None, f"{exc.stdout or ''}{exc.stderr or ''}"
        return {"rc": rc, "log": log, "output": output, "seconds": time.monotonic() - start}

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(selected, pool.map(run, selected), strict=True))
    for outcome in runs.values():
        outcome["results_changed"] = _results_snapshot() != before
    return runs


def test_every_benchmark_is_found():
    assert {"lam_probe.py", "lam_throughput.py", "sim_step.py", "scripted_success.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_script_smoke_run_writes_a_stamped_result(script: str, smoke_runs: dict[str, dict]):
    run = smoke_runs[script]
    tail = "\n".join(run["log"].splitlines()[-30:])
    assert run["rc"] is not None, (
        f"bench/{script} --smoke=true ran over {SMOKE_TIMEOUT_S} s: its smoke settings must finish in "
        f"seconds\n{tail}"
    )
    assert run["rc"] == 0, f"bench/{script} --smoke=true exited {run['rc']}:\n{tail}"
    assert run["output"].is_file(), f"bench/{script} ignored --output (wrote no {run['output'].name})"
    result = json.loads(run["output"].read_text())
    source = result.get("source")
    assert isinstance(source, dict), f"bench/{script}: no 'source' stamp; write the result with write_result"
    assert re.fullmatch(r"[0-9a-f]{40}", source.get("commit") or ""), source
    assert isinstance(source.get("dirty"), bool), source
    assert f"bench/{script}" in source["measures"] and len(source["measures"]) >= 2, source
    # An entry may be a git pathspec with magic (":(exclude)path"): the path after the magic must exist too.
    paths = [re.sub(r"^:\([^)]*\)", "", m) for m in source["measures"]]
    assert all((REPO / m).exists() for m in paths), f"measured paths that do not exist: {source}"
    assert source.get("smoke") is True, f"bench/{script}: pass smoke=cfg.smoke to write_result"
    assert not run["results_changed"], "a smoke run wrote into bench/results (the committed figures)"
