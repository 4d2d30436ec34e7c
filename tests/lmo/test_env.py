"""The LMO's vectorized env: RSL-RL's VecEnv contract on the real twin physics, observation parity with the robot's
state readout, falls vs time-outs, domain randomization and the exact action delay."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from lerobot_wbvla.lmo.env.config_env import DomainRandConfig, LMOEnvConfig
from lerobot_wbvla.lmo.env.x2_vec_env import PRIVILEGED_BLOCKS, X2LMOVecEnv
from lerobot_wbvla.lmo.layout import PROPRIO_SIZE, LayoutMismatchError, ObservationLayout
from lerobot_wbvla.lmo.mdp.observations import STANCE, proprio_vector
from lerobot_wbvla.lmo.proprio import Proprio
from lerobot_wbvla.robots.agibot_x2.joints import ARM_JOINTS, LEG_JOINTS
from lerobot_wbvla.robots.agibot_x2.sim import X2Sim

T = 100


def _clips(swing: float = 0.0, latent_dim: int | None = None, clips: int = 2) -> dict:
    """Stance arms; clip 1 swings the right shoulder pitch by +-swing rad."""
    up = X2Sim.stance_upper_body()
    arm = np.zeros((clips, T, 16))
    arm[:, :, :14] = [up[j] for j in ARM_JOINTS]
    if clips > 1:
        arm[1, :, ARM_JOINTS.index("right_shoulder_pitch")] += swing * np.sin(np.linspace(0, 2 * np.pi, T))
    latent = None
    if latent_dim:
        latent = np.random.default_rng(0).standard_normal((clips, T, latent_dim))
    return {"arm": arm, "loco": np.zeros((clips, T, 4)), "latent": latent, "lengths": np.full(clips, T)}


def _nominal(**kw) -> LMOEnvConfig:
    base = dict(num_envs=4, conditioning="none", domain_rand=DomainRandConfig(enabled=False), terrain=False)
    base.update(kw)
    return LMOEnvConfig(**base)


def test_layout_sizes_match_the_article_and_the_env():
    assert ObservationLayout("latent", latent_dim=256).size == 294  # the article's LMOObservation
    env = X2LMOVecEnv(_nominal(conditioning="latent"), _clips(latent_dim=32), lam="some/lam")
    obs = env.get_observations()
    assert obs["policy"].shape == (4, PROPRIO_SIZE + 32) and obs["policy"].dtype == torch.float32
    assert obs["critic"].shape == (4, PROPRIO_SIZE + 32 + sum(s for _, s in PRIVILEGED_BLOCKS))
    assert env.layout.lam == "some/lam" and env.num_actions == 12
    with pytest.raises(LayoutMismatchError, match="latent_dim=256"):
        ObservationLayout("latent", latent_dim=256).check(env.layout)


def test_latent_conditioning_without_latents_and_empty_library_are_refused():
    with pytest.raises(ValueError, match="attach the frozen LAM"):
        X2LMOVecEnv(_nominal(conditioning="latent"), _clips())
    empty = {"arm": np.zeros((0, 1, 16)), "loco": np.zeros((0, 1, 4)), "latent": None, "lengths": np.zeros(0)}
    with pytest.raises(ValueError, match="no clips"):
        X2LMOVecEnv(_nominal(), empty)


def test_standing_still_times_out_not_falls_and_auto_resets():
    env = X2LMOVecEnv(_nominal(episode_s=0.3), _clips())  # 15 control steps, arms at rest
    zero = torch.zeros(4, 12)
    for step in range(1, 16):
        obs, rew, done, extras = env.step(zero)
        assert rew.shape == (4,) and torch.isfinite(rew).all()
        if step < 15:
            assert not done.any()
    assert done.all() and extras["time_outs"].all()  # time-outs, not falls
    assert (env.episode_length_buf == 0).all()  # auto-reset
    assert extras["log"]["Episode_Termination/time_out"] == 1.0
    assert 0.6 < env.qpos[:, 2].min() < 0.7  # standing at the nominal pelvis height after the reset


def test_a_violent_push_is_a_fall_not_a_time_out():
    env = X2LMOVecEnv(_nominal(episode_s=4.0), _clips())
    env.push_start[:] = 0.0
    env.push_end[:] = 1.0
    env.push_force[:] = [400.0, 0.0, 0.0]  # 400 N for a second: nobody stays up
    fell = np.zeros(4, dtype=bool)
    for _ in range(100):
        _, _, done, extras = env.step(torch.zeros(4, 12))
        fell |= (done & ~extras["time_outs"]).numpy()
        env.push_end[:] = np.where(fell, 0.0, env.push_end)
        if fell.all():
            break
    assert fell.all()


def test_observation_equals_the_robot_state_readout():
    """The env's proprioceptive block is what the robot's `lmo` controller builds from the twin's state dict."""
    env = X2LMOVecEnv(_nominal(), _clips(swing=0.6))
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        obs, *_ = env.step(0.3 * torch.randn(4, 12, generator=g))
    twin = env.twin
    own = twin.data
    try:
        for i in range(4):
            twin.data = env.datas[i]  # the twin's own readout (X2Sim.state) of this env's physics
            expected = proprio_vector(Proprio.from_state(twin.state()))[0]
            np.testing.assert_allclose(obs["policy"][i, :PROPRIO_SIZE].numpy(), expected, atol=1e-5)
    finally:
        twin.data = own


def test_domain_randomization_differs_per_env_within_the_ranges():
    dr = DomainRandConfig()
    env = X2LMOVecEnv(
        LMOEnvConfig(num_envs=6, conditioning="command", terrain=True, domain_rand=dr), _clips()
    )
    lo, hi = dr.friction
    assert ((env.friction >= lo) & (env.friction <= hi)).all() and len(set(env.friction.round(6))) == 6
    # one load per env in [0, 5] kg shared by the hands (random split): the hands' sum is the load
    total = env.payload.sum(axis=1)
    assert (
        (env.payload >= 0).all()
        and (total <= dr.payload_kg[1] + 1e-9).all()
        and len(set(total.round(6))) == 6
    )
    assert not np.allclose(env.payload[:, 0], env.payload[:, 1])  # the split differs from env to env
    assert ((env.strength >= 0.8) & (env.strength <= 1.2)).all()
    assert ((env.action_lag >= 2) & (env.action_lag <= 8)).all()
    palm = env.models[0].body("left_gripper_palm").id
    masses = [m.body_mass[palm] for m in env.models]
    assert len(set(np.round(masses, 6))) == 6  # each env's own model
    gains = [m.actuator_gainprm[env.leg_act[0], 0] for m in env.models]
    np.testing.assert_allclose(np.array(gains) / gains[0], env.strength / env.strength[0])
    rough = [m.hfield_data.max() for m in env.models]
    assert max(rough) > 0 and len(set(np.round(rough, 6))) > 1
    # the critic sees the payload and the friction (privileged), the actor does not
    critic = env.get_observations()["critic"].numpy()
    start = env.layout.size + 14
    np.testing.assert_allclose(critic[:, start : start + 2], env.payload, rtol=1e-6)


@pytest.mark.parametrize("lag, expected", [(2, "current"), (6, "previous")])
def test_action_delay_is_exact_to_the_physics_step(lag, expected):
    lags_only = replace(DomainRandConfig().off(), enabled=True, action_lag_steps=(2, 8))
    env = X2LMOVecEnv(_nominal(num_envs=1, domain_rand=lags_only), _clips())
    env.action_lag[:] = lag
    a0 = torch.full((1, 12), 0.2)
    a1 = torch.full((1, 12), -0.2)
    env.step(a0)
    env.step(a1)
    ctrl = env.datas[0].ctrl[env.leg_act]
    action = a1 if expected == "current" else a0
    target = np.clip(STANCE + env.cfg.action_scale * action.numpy()[0], env.leg_lo, env.leg_hi)
    np.testing.assert_allclose(ctrl, target)
    assert len(LEG_JOINTS) == 12


def test_physics_threads_give_the_same_rollout_as_one_thread():
    """Each env touches only its own model and data, so stepping env groups on threads changes nothing: the same
    seed gives bit-identical observations, rewards and dones with full randomization, pushes, lags and falls."""
    cfg = LMOEnvConfig(num_envs=5, conditioning="none", terrain=True, seed=3)
    clips = _clips(swing=1.5)
    rng = np.random.default_rng(0)
    actions = [torch.as_tensor(rng.normal(0.0, 1.5, (5, 12)), dtype=torch.float32) for _ in range(60)]
    runs = []
    for threads in (1, 3):
        env = X2LMOVecEnv(replace(cfg, physics_threads=threads), clips)
        assert len(env._env_groups) == threads
        out = [env.step(a) for a in actions]
        env.close()
        runs.append(out)
    assert sum(int(done.sum()) for _, _, done, _ in runs[0]) > 0  # the noisy legs fall: resets are exercised
    for (o1, r1, d1, _), (o3, r3, d3, _) in zip(*runs, strict=True):
        assert torch.equal(o1["policy"], o3["policy"]) and torch.equal(o1["critic"], o3["critic"])
        assert torch.equal(r1, r3) and torch.equal(d1, d3)


def test_physics_threads_must_be_positive():
    with pytest.raises(ValueError, match="physics_threads must be >= 1"):
        LMOEnvConfig(physics_threads=0)


@pytest.mark.parametrize("split", ["random", "equal", "per_hand"])
def test_payload_split_shares_one_load_or_draws_per_hand(split):
    from lerobot_wbvla.lmo.mdp.events import hand_payloads

    rng = np.random.default_rng(0)
    loads = np.array([hand_payloads(rng, 1.0, 3.0, split) for _ in range(2000)])
    total = loads.sum(axis=1)
    assert (loads >= 0).all()
    if split == "per_hand":  # each hand in the range on its own: totals up to twice the range
        assert ((loads >= 1.0) & (loads <= 3.0)).all() and total.max() > 5.5
    else:  # one load in the range, shared
        assert ((total >= 1.0) & (total <= 3.0)).all() and total.max() > 2.95 and total.min() < 1.05
        if split == "equal":
            np.testing.assert_array_equal(loads[:, 0], loads[:, 1])
        else:  # from all in the left hand to all in the right
            share = loads[:, 0] / total
            assert share.min() < 0.02 and share.max() > 0.98 and abs(share.mean() - 0.5) < 0.03


def test_payload_split_must_be_known():
    with pytest.raises(ValueError, match=r"payload_split='both'.*random, equal, per_hand"):
        DomainRandConfig(payload_split="both")
