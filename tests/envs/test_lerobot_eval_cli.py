"""`lerobot-eval --env.type=agibot_x2` end to end, as a subprocess, with a tiny saved LeRobot policy (ACT built from
the env's features, untrained): the eval runs its episodes, reports success 0 and writes videos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import torch

IMG = 64  # small head camera to keep the CPU policy fast


def _save_tiny_act(out: Path) -> None:
    from lerobot.configs.types import FeatureType, NormalizationMode
    from lerobot.envs.utils import env_to_policy_features
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    from lerobot_wbvla.envs.agibot_x2 import AgibotX2EnvConfig

    features = env_to_policy_features(AgibotX2EnvConfig(observation_height=IMG, observation_width=IMG))
    identity = {k: NormalizationMode.IDENTITY for k in ("VISUAL", "STATE", "ACTION")}
    cfg = ACTConfig(
        input_features={k: v for k, v in features.items() if v.type is not FeatureType.ACTION},
        output_features={k: v for k, v in features.items() if v.type is FeatureType.ACTION},
        chunk_size=5,
        n_action_steps=5,
        dim_model=32,
        n_heads=2,
        dim_feedforward=64,
        n_encoder_layers=1,
        n_decoder_layers=1,
        use_vae=False,
        pretrained_backbone_weights=None,  # no download
        normalization_mapping=identity,
        device="cpu",
        push_to_hub=False,
    )
    torch.manual_seed(0)
    ACTPolicy(cfg).save_pretrained(out)
    pre, post = make_pre_post_processors(cfg, dataset_stats=None)
    pre.save_pretrained(out)
    post.save_pretrained(out)


def test_lerobot_eval_runs_agibot_x2_with_a_saved_policy(tmp_path, subprocess_env):
    policy_dir = tmp_path / "tiny_act"
    _save_tiny_act(policy_dir)
    out_dir = tmp_path / "eval"
    cmd = [
        str(Path(sys.executable).parent / "lerobot-eval"),
        f"--policy.path={policy_dir}",
        "--env.type=agibot_x2",
        "--env.task=pick_place",
        f"--env.observation_height={IMG}",
        f"--env.observation_width={IMG}",
        "--env.episode_length=20",
        "--eval.n_episodes=2",
        "--eval.batch_size=1",
        "--eval.use_async_envs=false",
        f"--output_dir={out_dir}",
        "--seed=11",
    ]
    env = {**subprocess_env, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-4000:]

    info = json.loads((out_dir / "eval_info.json").read_text())
    overall = info["overall"]
    assert overall["n_episodes"] == 2
    assert overall["pc_success"] == 0.0  # an untrained policy does not place the box
    per_task = info["per_task"][0]
    assert per_task["task_group"] == "agibot_x2"
    assert per_task["metrics"]["successes"] == [False, False]
    videos = [Path(p) for p in overall["video_paths"]]
    assert len(videos) == 2
    for video in videos:
        assert video.is_file()
        with av.open(str(video)) as container:
            frames = [f for f in container.decode(video=0)]
        # lerobot-eval keeps the frames up to the done step: the reset frame + 19 (20 steps, no early end)
        assert len(frames) == 20, (video, len(frames))
        assert (frames[0].height, frames[0].width) == (IMG, IMG)
