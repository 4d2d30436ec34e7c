"""`wbvla-train-lmo` as a user runs it (child processes): a run killed after a checkpoint resumes to the same
iteration count, writes curves and an export that LMOPolicy loads, pushes to the local Hub and loads back
bit-identical; latent conditioning takes its size from the LAM; bad input is one line and loses nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BIN = Path(sys.executable).parent
TRAIN = str(BIN / "wbvla-train-lmo")
TINY = [
    "--env.num_envs=4",
    "--env.episode_s=1.0",
    "--ppo.num_steps_per_env=8",
    "--ppo.num_mini_batches=2",
    "--clips.procedural=2",
    "--threads=1",
    "--progress=false",
]


def _run(args: list[str], env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([TRAIN, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]


def test_killed_run_resumes_exports_pushes_and_loads_back(tmp_path, subprocess_env, unique_repo_id):
    from lerobot_wbvla.lmo.layout import ObservationLayout
    from lerobot_wbvla.lmo.policy import LMOPolicy

    out = tmp_path / "run"
    args = [f"--output_dir={out}", "--env.conditioning=none", "--iterations=8", "--save_every=2", *TINY]
    proc = subprocess.Popen(
        [TRAIN, *args], env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 240
    ckpt = out / "checkpoints" / "model_000004.pt"
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ckpt.exists(), proc.communicate()[0].decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "export").exists()  # killed before the end

    again = _run(args, subprocess_env)
    assert again.returncode == 2 and "--resume=true" in again.stderr  # refuses to overwrite the run

    repo = unique_repo_id("lmo")
    resumed = _run(
        [*args, "--resume=true", "--hub.push_to_hub=true", f"--hub.repo_id={repo}"], subprocess_env
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["iterations"] == 8
    rows = _metrics(out)
    assert [r["iteration"] for r in rows] == list(range(1, 9))  # each iteration once, across the kill
    assert (out / "curves.png").stat().st_size > 10_000
    assert json.loads((out / "checkpoints" / "last.json").read_text())["iteration"] == 8
    # The adaptive curriculum continues from the checkpoint's state: iteration 5 ran at the level saved at 4.
    import torch

    saved = torch.load(ckpt, weights_only=False)["infos"]["curriculum"]
    assert 0.0 < saved["level"] == pytest.approx(rows[4]["difficulty"])

    export = out / "export"
    local = LMOPolicy.from_pretrained(export)
    assert local.layout == ObservationLayout.load(out) and local.layout.conditioning == "none"
    card = (export / "README.md").read_text()
    assert "Observation layout" in card and "manipulation_support" in card

    hub = LMOPolicy.from_pretrained(repo)
    obs = np.random.default_rng(0).standard_normal((16, local.obs_size)).astype(np.float32)
    np.testing.assert_array_equal(hub.act(obs), local.act(obs))


def test_latent_conditioning_reads_the_lam_and_needs_one(tmp_path, subprocess_env, tiny_lam_dir):
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel
    from lerobot_wbvla.lmo.policy import LMOPolicy

    missing = _run([f"--output_dir={tmp_path / 'x'}", "--env.conditioning=latent", *TINY], subprocess_env)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "--lam=" in missing.stderr
    assert not (tmp_path / "x" / "checkpoints").exists()

    out = tmp_path / "latent"
    run = _run(
        [
            f"--output_dir={out}",
            f"--lam={tiny_lam_dir}",
            "--iterations=1",
            f"--clips.latent_cache_dir={tmp_path / 'cache'}",
            *TINY,
        ],
        subprocess_env,
        timeout=400,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    policy = LMOPolicy.from_pretrained(out / "export")
    lam_cfg = LatentActionModel.from_pretrained(str(tiny_lam_dir)).config
    assert policy.layout.conditioning == "latent"
    assert policy.layout.latent_dim == lam_cfg.model.latent_dim * lam_cfg.model.num_codes
    assert policy.layout.lam == str(tiny_lam_dir)
    assert policy.obs_size == 38 + policy.layout.latent_dim


def test_warp_backend_trains_and_its_export_drives_the_twin(tmp_path, subprocess_env):
    """`--backend=warp` (MuJoCo Warp on its CPU device here; the GPU path is the same code) runs 3 PPO iterations,
    and its export loads in LMOPolicy and drives the robot twin's `lmo` lower-body controller."""
    pytest.importorskip("mujoco_warp")
    from lerobot_wbvla.lmo.controller import LMOController
    from lerobot_wbvla.lmo.policy import LMOPolicy
    from lerobot_wbvla.robots.agibot_x2.sim import X2Sim, X2SimConfig

    out = tmp_path / "warp"
    args = [f"--output_dir={out}", "--env.conditioning=none", "--iterations=3", "--backend=warp"]
    run = _run([*args, "--warp.device=cpu", *TINY], subprocess_env)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = _metrics(out)
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert all(np.isfinite(r["loss/value"]) and r["env_steps_per_s"] > 0 for r in rows)
    config = json.loads((out / "train_config.json").read_text())
    assert config["backend"] == "warp" and config["warp"]["device"] == "cpu"

    policy = LMOPolicy.from_pretrained(out / "export")
    assert policy.layout.conditioning == "none" and policy.obs_size == 42
    sim = X2Sim(
        X2SimConfig(
            base_mode="physical",
            lower_body_controller="lmo",
            lower_body_options={"path": str(out / "export")},
        )
    )
    assert isinstance(sim.lower_body, LMOController)
    sim.advance(0.2)
    assert np.isfinite(sim.data.qpos).all() and sim.lower_body.nonfinite_ticks == 0


@pytest.mark.parametrize(
    "bad, message",
    [
        (["--iterations=0"], "iterations must be >= 1"),
        (["--env.conditioning=walk"], "conditioning='walk'"),
        (["--clips.procedural=0"], "no arm motion clips"),
        (["--clips.loco=walk"], "clips.loco='walk'"),
        (["--backend=gpu"], "backend='gpu'"),
        (["--validation.every=-1"], "validation.every must be >= 0"),
    ],
)
def test_bad_input_is_one_line(tmp_path, subprocess_env, bad, message):
    run = _run([f"--output_dir={tmp_path / 'o'}", "--env.conditioning=none", *TINY, *bad], subprocess_env)
    assert run.returncode != 0
    assert message in run.stderr, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "o" / "checkpoints").exists()
