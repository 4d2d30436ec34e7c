"""bench/lmo_gpu.py without a GPU: one clear line, exit status 2, nothing written; its `gpu` block writer (shared
with bench/lmo_backends.py) replaces only that block and stamps it on its own. (Its smoke run, on warp's CPU
device, is tests/bench/test_bench_smoke.py's.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _lmo_bench import read_gpu_block, write_gpu_block  # bench/ is on the path (conftest)

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_without_a_gpu_it_says_so_in_one_line_and_writes_nothing(tmp_path, subprocess_env):
    out = tmp_path / "lmo_backends.json"
    env = {**subprocess_env, "CUDA_VISIBLE_DEVICES": ""}  # no GPU, also on a machine that has one
    proc = subprocess.run(
        [sys.executable, str(BENCH / "lmo_gpu.py"), f"--output={out}", f"--work_dir={tmp_path / 'work'}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no CUDA GPU" in lines[0] and "Nothing was written" in lines[0], proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no result, no work folder


def test_gpu_block_writer_keeps_the_cpu_figures_and_their_stamp(tmp_path):
    path = tmp_path / "lmo_backends.json"
    cpu = {"cpu_env_steps_per_s": 900.0, "gpu": None, "source": {"commit": "abc", "measures": ["x"]}}
    path.write_text(json.dumps(cpu))
    block = {"device": "H200", "env_steps_per_s_4096": 1e5, "vx_error_0.5": 0.1, "train_minutes": 60.0}
    content = write_gpu_block(path, block, ["bench/lmo_gpu.py", "lerobot_wbvla/lmo"])
    assert json.loads(path.read_text()) == content
    assert content["cpu_env_steps_per_s"] == 900.0 and content["source"] == cpu["source"]
    gpu = read_gpu_block(path)
    assert {k: gpu[k] for k in block} == block and "bench/lmo_gpu.py" in gpu["source"]["measures"]
    with pytest.raises(ValueError, match="vx_error_0.5"):
        write_gpu_block(path, {"device": "x", "env_steps_per_s_4096": 1.0, "train_minutes": 1.0}, ["x"])
    assert read_gpu_block(tmp_path / "missing.json") is None
