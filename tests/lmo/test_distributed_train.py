"""Multi-process LMO training under torchrun (lmo/distributed.py), on CPUs with the gloo backend: both ranks train,
each with its own env seed; only rank 0 writes (metrics, checkpoints, export); after the all-reduced PPO updates
the two ranks hold identical parameters although they trained on different episodes. The same code runs with nccl
on GPUs (cuda:LOCAL_RANK); what needs a GPU (nccl, warp on cuda:i) cannot be tested here. Both backends: the CPU
env and the warp env on warp's CPU device."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lerobot_wbvla.lmo.distributed import DistInfo, warp_device_for

WORKER = Path(__file__).with_name("dist_train_worker.py")


@pytest.mark.parametrize("backend", ["cpu", "warp"])
def test_two_ranks_train_with_gloo_only_rank0_writes_and_parameters_match(backend, tmp_path, subprocess_env):
    if backend == "warp":
        pytest.importorskip("mujoco_warp")
    args = [
        f"--backend={backend}",
        "--warp.device=cpu",  # warp's CPU device (used with backend=warp): no GPU here
        "--output_dir=run",  # relative: each rank runs from its own folder
        "--iterations=2",
        "--env.num_envs=2",
        "--env.conditioning=none",
        "--env.episode_s=1.0",
        "--ppo.num_steps_per_env=4",
        "--ppo.num_mini_batches=2",
        "--ppo.num_learning_epochs=1",
        "--clips.procedural=2",
        "--threads=1",
        "--progress=false",
        "--save_every=1",
    ]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    proc = subprocess.run(
        [*cmd, str(WORKER), str(tmp_path), *args],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    ran = [json.loads((tmp_path / f"ran_rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in ran] == [0, 1] and all(
        r["world_size"] == 2 and r["iterations"] == 2 for r in ran
    )
    assert all(r["multi_gpu"]["world_size"] == 2 for r in ran)
    assert ran[0]["env_seed"] != ran[1]["env_seed"]  # each rank its own episodes

    run0 = tmp_path / "rank0" / "run"
    assert (run0 / "checkpoints" / "last.json").is_file() and (run0 / "export" / "layout.json").is_file()
    rows = (run0 / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 2  # one writer: no rank's rows twice
    assert list((tmp_path / "rank1").iterdir()) == []  # rank 1 wrote nothing

    p0 = torch.load(tmp_path / "params_rank0.pt")
    p1 = torch.load(tmp_path / "params_rank1.pt")
    assert p0.keys() == p1.keys() and len(p0) > 4
    differing = [k for k in p0 if not torch.equal(p0[k], p1[k])]
    assert differing == [], f"parameters differ between ranks after the all-reduced update: {differing}"
    ckpt = torch.load(run0 / "checkpoints" / "model_000002.pt", weights_only=False)
    first = next(k for k in ckpt["actor_state_dict"] if k.endswith("weight"))
    assert torch.equal(ckpt["actor_state_dict"][first], p0[f"actor.{first}"])


def test_warp_device_per_rank_and_clear_errors():
    one, two = DistInfo(), DistInfo(world_size=2, rank=1, local_rank=1)
    assert warp_device_for("auto", one) == "auto"  # a single process: unchanged
    assert warp_device_for("cpu", two) == "cpu"
    assert warp_device_for("auto", two) == ("cuda:1" if torch.cuda.device_count() > 1 else "cpu")
    with pytest.raises(ValueError, match="cuda:LOCAL_RANK"):
        warp_device_for("cuda:0", two)
    if torch.cuda.device_count() < 2:
        with pytest.raises(ValueError, match="GPU"):
            warp_device_for("cuda", two)
