"""The walking curriculum's stages (issue 11): stage I (gait) gives random velocity commands within widening
ranges, still arms, no payload, no z_t and narrowed joint ranges; stage II (loco-manipulation) the clips' commands
and arm motion, payloads and z_t. The switch happens at the configured iteration, in the env and in training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lerobot_wbvla.lmo.curriculum import Curriculum, CurriculumConfig, StageConfig
from lerobot_wbvla.lmo.env import commands as C
from lerobot_wbvla.lmo.env.config_env import DomainRandConfig, LMOEnvConfig
from lerobot_wbvla.lmo.env.rollout_clips import rollout_clips
from lerobot_wbvla.lmo.env.x2_vec_env import X2LMOVecEnv
from lerobot_wbvla.lmo.presets import walking_stages

GAIT, MANIP = walking_stages(stage2_iteration=2)


def _block(env: X2LMOVecEnv, name: str) -> slice:
    start = 0
    for block, size in env.layout.blocks:
        if block == name:
            return slice(start, start + size)
        start += size
    raise KeyError(name)


def test_stage_switches_at_the_configured_iteration_and_sets_the_level_once():
    c = Curriculum(
        CurriculumConfig(mode="adaptive", start=0.0, step=0.5, smoothing=0.0, stages=[GAIT, MANIP])
    )
    entered = []
    for it in range(4):
        stage = c.enter_stage(it)
        entered.append(stage.name if stage else None)
        c.update(falls=0, robot_seconds=100.0)  # +0.5 per iteration
    assert entered == ["gait", None, "loco_manipulation", None]
    assert c.level == pytest.approx(
        min(1.0, MANIP.level_at_start + 1.0)
    )  # reset to 0.3 at it 2, then +0.5 x2
    resumed = Curriculum(c.cfg)
    resumed.load_state_dict({"level": 0.9, "hazard": 0.0, "stage": 1})
    assert resumed.enter_stage(3).name == "loco_manipulation" and resumed.level == 0.9  # not reset again
    with pytest.raises(ValueError, match="first must start at 0"):
        CurriculumConfig(stages=[MANIP]).validate()
    with pytest.raises(ValueError, match="commands="):
        StageConfig(commands="joystick").validate()


def test_commands_and_joint_ranges_widen_with_the_level():
    rng = np.random.default_rng(0)
    narrow = C.sample_commands(rng, 4000, GAIT, level=0.0)
    wide = C.sample_commands(rng, 4000, GAIT, level=1.0)
    f = GAIT.command_range_start
    assert narrow[:, 0].max() <= f * GAIT.vx[1] + 1e-9 and narrow[:, 0].min() >= f * GAIT.vx[0] - 1e-9
    assert wide[:, 0].max() > 0.9 * GAIT.vx[1] and wide[:, 2].min() < 0.9 * GAIT.yaw_rate[0]
    standing = (np.abs(wide[:, :3]).sum(axis=1) == 0).mean()
    assert abs(standing - GAIT.stand_fraction) < 0.03
    lo, hi, stance = np.array([-1.0, -2.0]), np.array([1.0, 0.5]), np.array([0.0, 0.0])
    assert np.allclose(C.joint_range(lo, hi, stance, GAIT, 0.0), ([-0.5, -1.0], [0.5, 0.25]))
    assert np.allclose(C.joint_range(lo, hi, stance, GAIT, 1.0), (lo, hi))


def test_env_stage_switch_changes_commands_arms_payload_latent_and_rewards():
    cfg = LMOEnvConfig(
        num_envs=4,
        conditioning="latent",
        terrain=False,
        domain_rand=DomainRandConfig(push_force_n=(0.0, 0.0)),
    )
    clips = rollout_clips(latent_dim=8, t=40)
    env = X2LMOVecEnv(cfg, clips, lam="some/lam")
    arms: list[np.ndarray] = []
    physics = env._advance_physics
    env._advance_physics = lambda targets, arm, t: (arms.append(np.array(arm)), physics(targets, arm, t))[1]
    full_lo = env.leg_lo.copy()
    stance_arm = env.clip_arm[:, 0]

    env.set_stage(GAIT)
    env.set_difficulty(1.0)
    obs = env.reset()
    assert env.stage.name == "gait" and set(env.rewards.weights) == {
        k for k, w in GAIT.reward_weights.items() if w
    }
    assert np.all(env.payload == 0.0)  # payload x0
    loco = env.current_loco()
    assert not np.allclose(loco, env.clip_loco[env.clip_id, env.clip_t])  # random, not the clips' schedule
    assert np.all((loco[:, 0] >= GAIT.vx[0]) & (loco[:, 0] <= GAIT.vx[1])) and np.all(loco[:, 3] == 0)
    assert np.allclose(obs["policy"][:, _block(env, "latent")].numpy(), 0.0)  # no z_t in stage I
    env.set_difficulty(0.0)  # the legs' range narrows about the stance at level 0
    assert np.all(env.leg_lo >= full_lo) and np.any(env.leg_lo > full_lo)
    env.set_difficulty(1.0)
    assert np.allclose(env.leg_lo, full_lo)
    env.step(torch.zeros(4, 12))
    assert np.allclose(arms[-1], stance_arm[env.clip_id])  # still arms at the stance
    still = arms[-1].copy()

    env.set_stage(MANIP)
    obs = env.reset()
    assert np.all(env.payload.sum(axis=1) > 0)  # hand payloads on (DR range 0-5 kg at level 1)
    assert np.allclose(env.current_loco(), env.clip_loco[env.clip_id, env.clip_t])  # the clips' schedule
    assert np.abs(obs["critic"][:, _block(env, "latent")].numpy()).max() > 0.1  # z_t back
    assert "manipulation_support" in env.rewards.weights
    for _ in range(10):
        env.step(torch.zeros(4, 12))
    moving = np.abs(arms[-1] - env.clip_arm[env.clip_id, 0]).max()
    assert moving > 0.05 and not np.allclose(arms[-1], still)  # the clips' arm motion
    env.close()


def test_training_switches_stage_at_the_configured_iteration(tmp_path):
    from lerobot_wbvla.lmo.config_train import TrainLMOConfig
    from lerobot_wbvla.lmo.train import train

    cfg = TrainLMOConfig(output_dir=tmp_path / "run", iterations=3, export=False, progress=False, threads=1)
    cfg.env.num_envs = 2
    cfg.env.conditioning = "none"
    cfg.env.episode_s = 1.0
    cfg.ppo.num_steps_per_env = 4
    cfg.ppo.num_mini_batches = 1
    cfg.ppo.num_learning_epochs = 1
    cfg.clips.procedural = 2
    cfg.curriculum = CurriculumConfig(mode="off", stages=[GAIT, MANIP])
    seen = []
    set_stage = X2LMOVecEnv.set_stage

    def spy(self, stage):
        seen.append((stage.name, self.current_loco().copy()))
        set_stage(self, stage)

    X2LMOVecEnv.set_stage = spy
    try:
        result = train(cfg)
    finally:
        X2LMOVecEnv.set_stage = set_stage
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in rows] == ["gait", "gait", "loco_manipulation"]
    assert [name for name, _ in seen] == ["gait", "loco_manipulation"]
    env = result.runner.env
    assert env.stage.name == "loco_manipulation" and env.payload.sum() > 0
    assert env.difficulty == 1.0  # curriculum off: the stage's level_at_start does not apply
    assert (
        json.loads((tmp_path / "run" / "train_config.json").read_text())["curriculum"]["stages"][1][
            "start_iteration"
        ]
        == 2
    )


def test_cli_preset_is_the_default_flags_override_it_and_it_is_recorded(tmp_path, subprocess_env):
    import subprocess
    import sys

    out = tmp_path / "run"
    base = [sys.executable, "-m", "lerobot_wbvla.lmo.train"]
    args = [
        "--preset=walking_gpu",
        "--backend=cpu",  # flags override the preset's warp / 4096 envs
        "--env.num_envs=2",
        "--env.conditioning=none",
        "--env.episode_s=1.0",
        "--iterations=1",
        "--ppo.num_steps_per_env=4",
        "--ppo.num_mini_batches=1",
        "--clips.procedural=2",
        "--threads=1",
        "--progress=false",
        f"--output_dir={out}",
    ]
    proc = subprocess.run([*base, *args], env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["preset"] == "walking_gpu" and saved["backend"] == "cpu" and saved["env"]["num_envs"] == 2
    assert [s["name"] for s in saved["curriculum"]["stages"]] == ["gait", "loco_manipulation"]
    assert saved["ppo"]["schedule"] == "adaptive"  # from the preset
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["stage"] == "gait"
    card = (out / "export" / "README.md").read_text()
    assert "walking_gpu" in card and "gait from iteration 0" in card
    ckpt = torch.load(out / "checkpoints" / "model_000001.pt", weights_only=False)
    assert ckpt["infos"]["preset"] == "walking_gpu" and ckpt["infos"]["curriculum"]["stage"] == 0
    training = json.loads((out / "export" / "lmo.json").read_text())["training"]
    assert training["preset"] == "walking_gpu" and training["curriculum_stages"][0]["commands"] == "random"

    bad = subprocess.run(
        [*base, "--preset=running_tpu", f"--output_dir={tmp_path / 'bad'}"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert bad.returncode == 2 and len(lines) == 1 and "walking_gpu" in lines[0], bad.stderr
    assert not (tmp_path / "bad").exists()


def test_warp_backend_runs_the_stages_with_the_cpu_envs_commands():
    """The stage logic is the shared host-side control loop: on the warp backend (its CPU device here) a stage
    gives the same random commands as the CPU env with the same seed, and they reach the torch observation."""
    pytest.importorskip("mujoco_warp")
    from lerobot_wbvla.lmo.env.config_env import WarpConfig
    from lerobot_wbvla.lmo.env.warp_vec_env import WarpLMOVecEnv

    cfg = LMOEnvConfig(
        num_envs=2, conditioning="none", terrain=False, domain_rand=DomainRandConfig(enabled=False)
    )
    clips = rollout_clips(t=40)
    cpu, warp = X2LMOVecEnv(cfg, clips), WarpLMOVecEnv(cfg, clips, warp=WarpConfig(device="cpu"))
    for env in (cpu, warp):
        env.set_stage(GAIT)
        env.set_difficulty(0.0)
    obs = {"cpu": cpu.reset(), "warp": warp.reset()}
    assert np.array_equal(cpu.current_loco(), warp.current_loco())
    assert np.abs(cpu.current_loco()[:, :3]).max() > 0  # random commands, not the clips' zero schedule
    command = _block(warp, "locomotion_command")
    assert np.allclose(obs["warp"]["policy"][:, command].cpu().numpy(), warp.current_loco(), atol=1e-6)
    assert np.allclose(obs["cpu"]["policy"][:, command].numpy(), cpu.current_loco(), atol=1e-6)
    assert np.allclose(warp.leg_lo, cpu.leg_lo) and np.any(
        warp.leg_lo > warp._leg_full[0]
    )  # narrowed at level 0
    _, reward, _, _ = warp.step(torch.zeros(2, 12, device=warp.device))
    assert torch.isfinite(reward).all()
    cpu.close()
    warp.close()
