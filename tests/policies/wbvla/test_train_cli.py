"""`wbvla` through LeRobot's own CLIs (child processes): `lerobot-train` on a dataset `lerobot-record` wrote, killed
and resumed, pushed to the (local) Hub and loaded back by repo id with bit-identical actions, `lerobot-eval` with a
batch of envs, and latent pretraining on egocentric video followed by fine-tuning from that checkpoint.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
TRAIN = str(BIN / "lerobot-train")
EVAL = str(BIN / "lerobot-eval")


def train_args(out: Path, dataset: Path, vlm: Path, lam: Path | None, steps: int, **extra) -> list[str]:
    args = [
        TRAIN,
        "--policy.type=wbvla",
        f"--policy.vlm_model_name={vlm}",
        "--policy.vlm_image_size=56",
        "--policy.chunk_size=8",
        "--policy.n_action_steps=4",
        "--policy.head_dim=64",
        "--policy.optimizer_lr_vlm=1e-4",
        "--policy.device=cpu",
        f"--dataset.repo_id=wbvla-tests/{dataset.name}",
        f"--dataset.root={dataset}",
        "--dataset.video_backend=pyav",
        "--batch_size=4",
        f"--steps={steps}",
        "--log_freq=5",
        "--num_workers=0",
        f"--output_dir={out}",
        "--wandb.enable=false",
        "--seed=1",
    ]
    if lam is not None:
        args.append(f"--policy.lam={lam}")
    return args + [f"--{k}={v}" for k, v in extra.items()]


def losses(log: str) -> dict[int, float]:
    return {int(s): float(v) for s, v in re.findall(r"step:(\d+) .*?\bloss:([0-9.]+)", log)}


def run(args: list[str], env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-5000:])
    return proc


def first_frame_batch(dataset: Path) -> dict:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset(f"wbvla-tests/{dataset.name}", root=dataset, video_backend="pyav")
    item = ds[7]
    return {k: item[k] for k in ("observation.images.head", "observation.state", "task")}


def test_lerobot_train_kill_resume_push_and_reload_by_repo_id(
    tmp_path, x2_record_dataset, tiny_qwen2_vl_dir, tiny_lam_dir, subprocess_env, unique_repo_id, hub_api
):
    from lerobot.policies.factory import make_pre_post_processors

    from lerobot_wbvla.policies.wbvla import WbvlaPolicy

    vlm = tmp_path / "vlm"  # a backbone folder that disappears before resume and reload
    shutil.copytree(tiny_qwen2_vl_dir, vlm)
    out, repo_id = tmp_path / "train", unique_repo_id("wbvla")
    args = train_args(
        out,
        x2_record_dataset,
        vlm,
        tiny_lam_dir,
        steps=60,
        save_freq=20,
        **{"policy.push_to_hub": "true", "policy.repo_id": repo_id},
    )
    log_path = tmp_path / "first_run.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(
            args,
            env=subprocess_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        last = out / "checkpoints" / "last"
        deadline = time.monotonic() + 900
        # kill as soon as the step-20 checkpoint is complete (LeRobot points `last` at it after writing it)
        while proc.poll() is None and time.monotonic() < deadline:
            if last.is_symlink() and last.resolve().name == "000020":
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    first_log = log_path.read_text()
    assert (out / "checkpoints" / "000020" / "pretrained_model" / "model.safetensors").exists(), first_log[
        -4000:
    ]
    assert not (out / "checkpoints" / "000060").exists(), "the run ended before it could be killed"
    shutil.rmtree(vlm)

    resumed = run(
        [
            TRAIN,
            f"--config_path={out / 'checkpoints' / 'last' / 'pretrained_model' / 'train_config.json'}",
            "--resume=true",
        ],
        subprocess_env,
    )
    log2 = resumed.stdout + resumed.stderr
    first, second = losses(first_log), losses(log2)
    assert first and second and min(second) > 20, (sorted(first), sorted(second))  # resumed after step 20
    assert second[max(second)] < first[min(first)], (first, second)  # the loss fell over the run
    assert (out / "checkpoints" / "000060" / "pretrained_model" / "vlm" / "config.json").is_file()

    files = set(hub_api.list_repo_files(repo_id))
    assert {
        "config.json",
        "model.safetensors",
        "policy_preprocessor.json",
        "vlm/config.json",
        "README.md",
    } <= files
    card = (Path(hub_api.hf_hub_download(repo_id, "README.md"))).read_text()
    assert str(vlm) in card and str(tiny_lam_dir) in card and "WholeBodyVLA" in card

    local = out / "checkpoints" / "000060" / "pretrained_model"
    batch = first_frame_batch(x2_record_dataset)
    actions = []
    for source in (local, repo_id):
        policy = WbvlaPolicy.from_pretrained(source)
        pre, post = make_pre_post_processors(policy.config, pretrained_path=str(source))
        actions.append(post(policy.select_action(pre(dict(batch)))))
    assert torch.equal(actions[0], actions[1])


def test_lerobot_eval_runs_a_trained_wbvla_with_a_batch_of_envs(tmp_path, wbvla_checkpoint, subprocess_env):
    eval_dir = tmp_path / "eval"
    run(
        [
            EVAL,
            f"--policy.path={wbvla_checkpoint}",
            "--env.type=agibot_x2",
            "--env.observation_height=48",
            "--env.observation_width=64",
            "--env.episode_length=30",
            "--eval.batch_size=2",
            "--eval.n_episodes=2",
            f"--output_dir={eval_dir}",
            "--policy.device=cpu",
        ],
        subprocess_env,
    )
    info = json.loads((eval_dir / "eval_info.json").read_text())
    assert info["overall"]["n_episodes"] == 2
    assert len(list((eval_dir / "videos").rglob("*.mp4"))) == 2


def test_latent_pretraining_on_video_then_fine_tuning_on_demos(
    tmp_path, x2_record_dataset, tiny_qwen2_vl_dir, tiny_lam_dir, subprocess_env
):
    from safetensors.torch import load_file

    from lerobot_wbvla.datasets.egovideo import EgoVideoConfig, generate
    from lerobot_wbvla.policies.wbvla.video_dataset import EgoVideoToLeRobotConfig, convert_egovideo

    video = generate(
        EgoVideoConfig(
            out_dir=tmp_path / "ego",
            num_clips=4,
            height=48,
            width=48,
            fps=30,
            clip_seconds=1.0,
            heldout_fraction=0.0,
            seed=0,
            contact_sheet=False,
        )
    )
    ego = convert_egovideo(
        EgoVideoToLeRobotConfig(video_root=video, repo_id="wbvla-tests/ego", root=tmp_path / "ego_ds")
    )
    pre_out = tmp_path / "pretrain"
    log = run(
        train_args(
            pre_out, ego, tiny_qwen2_vl_dir, tiny_lam_dir, steps=10, **{"policy.push_to_hub": "false"}
        ),
        subprocess_env,
    )
    assert "loss_latent_mse" in log.stdout + log.stderr and "loss_action_l1" not in log.stdout + log.stderr
    pre_ckpt = pre_out / "checkpoints" / "last" / "pretrained_model"
    pre_w = load_file(str(pre_ckpt / "model.safetensors"))
    assert not any(k.startswith("decoder.") for k in pre_w)

    ft_out = tmp_path / "finetune"
    args = [
        a
        for a in train_args(ft_out, x2_record_dataset, tiny_qwen2_vl_dir, None, steps=2)
        if not a.startswith(("--policy.", "--log_freq"))
    ]
    log = run(
        args
        + [f"--policy.path={pre_ckpt}", "--policy.push_to_hub=false", "--policy.device=cpu", "--log_freq=1"],
        subprocess_env,
    )
    assert "loss_action_l1" in log.stdout + log.stderr
    ft_w = load_file(str(ft_out / "checkpoints" / "last" / "pretrained_model" / "model.safetensors"))
    assert any(k.startswith("decoder.") for k in ft_w)
    assert "decoder.state_in.weight" in ft_w and "state_mean" in ft_w  # the demos' state reaches the decoder
    # the fine-tuned projector started from the pretrained one (two small steps away, not a fresh init)
    for k in (k for k in pre_w if k.startswith("projector.")):
        assert (ft_w[k] - pre_w[k]).abs().max() < 5e-3, k
