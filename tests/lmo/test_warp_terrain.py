"""Per-world terrain of the MuJoCo Warp backend (issue 11): each world has its own heightfield, drawn at its reset
by the CPU env's terrain event at the curriculum-scaled roughness (lmo/env/warp_vec_env.py `_terrain_pool`).

Run on warp's CPU device. The kernels compile on first use (~1-2 min on 2 cores, then cached under
WARP_CACHE_PATH or ~/.cache/warp); warm, this file takes 30-80 s on 2 busy cores."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import mujoco
import numpy as np
import pytest
import torch

pytest.importorskip("mujoco_warp")

from lerobot_wbvla.lmo.env.config_env import DomainRandConfig, LMOEnvConfig, WarpConfig  # noqa: E402
from lerobot_wbvla.lmo.env.rollout_clips import rollout_clips  # noqa: E402
from lerobot_wbvla.lmo.env.warp_vec_env import WarpLMOVecEnv  # noqa: E402
from lerobot_wbvla.lmo.env.x2_vec_env import X2LMOVecEnv  # noqa: E402
from lerobot_wbvla.lmo.mdp import events  # noqa: E402
from lerobot_wbvla.lmo.mdp.rewards import REWARD_TERMS, RewardParams  # noqa: E402
from lerobot_wbvla.lmo.mdp.terminations import TERMINATION_TERMS, TerminationParams  # noqa: E402
from lerobot_wbvla.robots.agibot_x2 import scenes  # noqa: E402

WARP_CPU = WarpConfig(device="cpu")
# Far enough from the origin that the field has its full bumps (events.START_PAD_M: flat within 0.6 m, full
# height beyond 1.2 m).
ON_BUMPS = np.array([2.5, 1.0])


def _nominal_dr(roughness: tuple[float, float]) -> DomainRandConfig:
    """Randomization on, but only the terrain: the worlds differ by their ground alone."""
    return DomainRandConfig(
        friction=(1.0, 1.0),
        payload_kg=(0.0, 0.0),
        motor_strength=(1.0, 1.0),
        push_force_n=(0.0, 0.0),
        latent_noise_std=0.0,
        terrain_roughness_m=roughness,
        com_displacement_m=0.0,
        action_lag_steps=(0, 0),
        imu_lag_steps=(0, 0),
    )


def _cfg(num_envs: int, **kw) -> LMOEnvConfig:
    return LMOEnvConfig(num_envs=num_envs, conditioning="none", terrain=True, **kw)


def _move(env: X2LMOVecEnv, i: int, dxyz) -> None:
    """Translate CPU env i's robot (its free joint) by dxyz and recompute its derived state."""
    d = env.datas[i]
    d.qpos[0:3] += np.asarray(dxyz, dtype=float)
    mujoco.mj_forward(env.models[i], d)


@pytest.fixture(scope="module")
def pair() -> tuple[X2LMOVecEnv, WarpLMOVecEnv]:
    """The CPU env and the warp env with the same config and seed (full randomization, terrain on)."""
    cfg = _cfg(4, seed=3)
    clips = rollout_clips()
    cpu, warp = X2LMOVecEnv(cfg, clips), WarpLMOVecEnv(cfg, clips, warp=WARP_CPU)
    yield cpu, warp
    cpu.close()
    warp.close()


def test_each_world_draws_its_own_field_with_the_cpu_envs_event(pair):
    cpu, warp = pair
    lo, hi = cpu.cfg.domain_rand.terrain_roughness_m
    # the same rng draws as the CPU env: the same roughness per env, all different, within the range
    np.testing.assert_array_equal(warp.roughness, cpu.roughness)
    assert (
        len(set(warp.roughness.round(9).tolist())) == 4
        and ((lo <= warp.roughness) & (warp.roughness <= hi)).all()
    )
    # world i's heightfield is env i's field, value for value; world i's terrain geom points at it
    pool = warp._hfield_t.numpy()
    for i in range(4):
        np.testing.assert_array_equal(pool[i], warp._terrain_of(cpu.models[i]))
    dataid = warp.wp.to_torch(warp.mw.geom_dataid)[:, cpu.twin.model.geom("terrain").id]
    assert dataid.tolist() == [0, 1, 2, 3] and warp.mw.nhfield == 4
    # the bumps scale with the drawn roughness (heights = elevation * TERRAIN_MAX_HEIGHT)
    top = pool.max(axis=1) * scenes.TERRAIN_MAX_HEIGHT
    assert ((top <= warp.roughness + 1e-6) & (top > 0.5 * warp.roughness)).all()


def test_difficulty_scales_the_roughness_and_level_0_is_flat(pair):
    _, warp = pair
    warp.set_difficulty(0.0)
    warp.reset()
    assert (warp.roughness == 0.0).all() and float(warp._hfield_t.abs().max()) == 0.0
    warp.set_difficulty(0.5)
    warp.reset()
    hi = 0.5 * warp.cfg.domain_rand.terrain_roughness_m[1]
    assert (warp.roughness <= hi).all() and (warp.roughness > 0).all()
    pool = warp._hfield_t.numpy()
    for i in range(4):  # a reset redraws the world's field at its new roughness
        assert pool[i].max() * scenes.TERRAIN_MAX_HEIGHT <= warp.roughness[i] + 1e-6
    warp.set_difficulty(1.0)


def test_a_world_on_a_rough_field_stands_on_its_bumps():
    """CPU env 0 on a 5 cm field, env 1 on flat ground, both robots moved 2.7 m out onto the bumps and settled there
    by the CPU env. Loaded into the warp env, world 0's feet rest at different heights (world 1's level) and one
    step agrees with the CPU env; the same state over a flat field instead drops the robot and does not."""
    cfg = _cfg(2, domain_rand=_nominal_dr((0.05, 0.05)), episode_s=10.0)
    clips = rollout_clips()
    cpu = X2LMOVecEnv(cfg, clips)
    events.randomize_terrain(cpu.models[1], cpu.rng, 0.0, 0.0)  # env 1: flat
    cpu.roughness[1] = 0.0
    cpu.clip_id[:] = 0
    cpu.clip_t[:] = 0
    for i in range(2):
        _move(cpu, i, (*ON_BUMPS, 0.05))
    zero = torch.zeros(2, 12)
    for _ in range(30):  # 0.6 s: dropped onto the ground and settled
        _, _, done, _ = cpu.step(zero)
        assert not done.any()
    assert np.abs(cpu.qpos[:, 0:2] - ON_BUMPS).max() < 0.2  # still out on the bumps

    warp = WarpLMOVecEnv(cfg, clips, warp=WARP_CPU)
    warp.load_state_from(cpu)
    np.testing.assert_array_equal(warp.roughness, [0.05, 0.0])
    obs_w, rew_w, done_w, _ = warp.step(zero)
    obs_c, rew_c, done_c, _ = cpu.step(zero)
    pad_z = warp.pads[:, :, 2].double().numpy()  # after the warp step, on the warp worlds' ground
    spread = pad_z.max(axis=1) - pad_z.min(axis=1)
    assert spread[0] > 0.001 and spread[0] > 10 * spread[1], (
        pad_z
    )  # uneven footing on the bumps, level on the flat
    assert pad_z[0].min() > pad_z[1].max() + 0.01, (
        pad_z
    )  # on top of the bumps (here ~4 cm), above the flat floor
    assert (warp.contacts.sum(dim=1) >= 2).all()  # standing on the ground, not falling through it
    # Not the flat-floor TOLERANCES: on a heightfield mujoco_warp keeps at most 4 contacts per foot (its
    # mjc_ConvexHField port), MuJoCo C up to ~8, which moves the accelerometer after one step (measured: 0.03-0.05
    # m/s^2 on the flat field, 0.16-0.19 on the bumps; a foot over the wrong ground: ~10, free fall).
    diff = (obs_w["policy"].double() - obs_c["policy"].double()).abs().max(dim=1).values
    assert float(diff.max()) < 0.5 and not done_w.any() and not done_c.any(), diff
    assert float((rew_w.double() - rew_c.double()).abs().max()) < 1e-3

    # the counterfactual: the same state over flat ground in world 0 (the field's bumps gone) gives a different step
    warp.load_state_from(cpu)
    warp._hfield_t[0] = 0.0
    obs_f, _, _, _ = warp.step(zero)
    obs_c2, _, _, _ = cpu.step(zero)
    flat_diff = float((obs_f["policy"][0].double() - obs_c2["policy"][0].double()).abs().max())
    assert flat_diff > 5.0 and float(warp.contacts[0].sum()) == 0.0, flat_diff  # its feet lost the ground
    warp.close()
    cpu.close()


def test_worlds_in_the_same_state_on_flat_fields_observe_the_same_wherever_they_stand():
    """Three worlds on flat fields (difficulty 0), the same robot and arm clip: worlds 0 and 1 at the origin on
    their own heightfields step bit for bit alike; world 2, moved 3.6 m away, observes and earns the same as world
    0 to float32 rounding while standing (the root's x/y enters no term; under random actions the float32 rounding
    of the larger coordinates grows through the contacts like any perturbation, so that is not compared)."""
    cfg = _cfg(3, domain_rand=_nominal_dr((0.0, 0.05)))
    clips = rollout_clips()
    cpu = X2LMOVecEnv(cfg, clips)
    cpu.set_difficulty(0.0)
    cpu.reset()
    cpu.clip_id[:] = 0
    cpu.clip_t[:] = 0
    _move(cpu, 2, (3.0, -2.0, 0.0))
    warp = WarpLMOVecEnv(cfg, clips, warp=WARP_CPU)
    warp.load_state_from(cpu)
    assert (warp.roughness == 0.0).all() and float(warp._hfield_t.abs().max()) == 0.0
    g = torch.Generator().manual_seed(0)
    for std in (0.0, 0.5):
        for _ in range(5):
            obs, rew, done, _ = warp.step(std * torch.randn(1, 12, generator=g).repeat(3, 1))
            for key in ("policy", "critic"):
                assert torch.equal(obs[key][0], obs[key][1]), key
                if std == 0.0:
                    gap = float((obs[key][0] - obs[key][2]).abs().max())
                    assert gap < 1e-4, (key, gap)  # measured ~2e-5 (the accelerometer)
            assert rew[0] == rew[1] and bool(done[0]) == bool(done[1]) and not done.any()
            if std == 0.0:
                assert abs(float(rew[0] - rew[2])) < 1e-6
    dx = warp.qpos[2, 0:2] - warp.qpos[0, 0:2]
    assert torch.allclose(dx, torch.tensor([3.0, -2.0]), atol=0.05)  # it really stands apart
    warp.close()
    cpu.close()


def test_no_term_reads_the_roots_horizontal_position():
    """Every reward and termination term gives the same values when the whole robot (pelvis, CoM, pads) is moved
    horizontally: a spawn or tile offset could not leak into them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib: the module beside us
    from test_warp_equivalence import _random_state

    s = _random_state(64, np.random.default_rng(0))
    shift = np.array([37.0, -12.5, 0.0])
    moved = replace(s, base_pos=s.base_pos + shift, com=s.com + shift, pad_pos=s.pad_pos + shift)
    params = RewardParams()
    for name, term in REWARD_TERMS.items():
        np.testing.assert_allclose(term(moved, params), term(s, params), atol=1e-9, err_msg=name)
    for name, term in TERMINATION_TERMS.items():
        np.testing.assert_array_equal(term(moved, TerminationParams()), term(s, TerminationParams()), name)


def test_terrain_off_keeps_the_shared_model_and_no_pool():
    cfg = replace(_cfg(2, domain_rand=_nominal_dr((0.0, 0.05))), terrain=False)
    warp = WarpLMOVecEnv(cfg, rollout_clips(t=10), warp=WARP_CPU)
    assert warp._hfield_t is None and warp.mw.nhfield == 0 and (warp.roughness == 0.0).all()
    warp.close()
