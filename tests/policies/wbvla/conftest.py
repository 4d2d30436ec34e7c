"""Fixtures of the wbvla tests: tiny random VLMs (built offline once per session by `build_tiny_vlm`) and a tiny
wbvla checkpoint trained by lerobot-train (shared by the eval and rollout tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_vlm_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """family -> folder of a tiny (~0.2M parameter) random VLM with its processor, for every buildable family."""
    from lerobot_wbvla.policies.wbvla.tiny_vlm import FAMILIES, build_tiny_vlm

    root = tmp_path_factory.mktemp("tiny_vlms")
    return {family: build_tiny_vlm(family, root / family) for family in FAMILIES}


@pytest.fixture(scope="session")
def tiny_qwen2_vl_dir(tiny_vlm_dirs: dict[str, Path]) -> Path:
    """The tiny Qwen2-VL folder (the family of the article's backbone)."""
    return tiny_vlm_dirs["qwen2_vl"]


@pytest.fixture(scope="session")
def wbvla_checkpoint(
    tmp_path_factory: pytest.TempPathFactory,
    x2_record_dataset: Path,
    tiny_qwen2_vl_dir: Path,
    tiny_lam_dir: Path,
    subprocess_env_session: dict,
) -> Path:
    """A tiny wbvla checkpoint: 4 lerobot-train steps on `x2_record_dataset` (shared by the eval and rollout tests)."""
    out = tmp_path_factory.mktemp("wbvla_train") / "train"
    args = [
        str(Path(sys.executable).with_name("lerobot-train")),
        "--policy.type=wbvla",
        f"--policy.vlm_model_name={tiny_qwen2_vl_dir}",
        f"--policy.lam={tiny_lam_dir}",
        "--policy.vlm_image_size=56",
        "--policy.chunk_size=8",
        "--policy.n_action_steps=4",
        "--policy.head_dim=64",
        "--policy.device=cpu",
        "--policy.push_to_hub=false",
        f"--dataset.repo_id=wbvla-tests/{x2_record_dataset.name}",
        f"--dataset.root={x2_record_dataset}",
        "--dataset.video_backend=pyav",
        "--batch_size=4",
        "--steps=4",
        "--num_workers=0",
        f"--output_dir={out}",
        "--wandb.enable=false",
        "--seed=1",
    ]
    proc = subprocess.run(
        args,
        env=subprocess_env_session,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-5000:])
    return out / "checkpoints" / "last" / "pretrained_model"
