"""Test helpers of the LMO export/policy/controller tests: an RSL-RL actor with random weights and a non-identity
observation normaliser, built the way OnPolicyRunner builds it, and its export.

RSL-RL builds the actor as `MLPModel(obs, obs_groups, "actor", num_actions, **cfg["actor"])` from the env's first
observation TensorDict; this does the same with a zero observation of the layout's size (group `policy`, as the
LMO env names it), then feeds the empirical normaliser a batch so that its mean/std are far from (0, 1): an export
that dropped the normaliser would then give different actions.
"""

from __future__ import annotations

from pathlib import Path

import torch
from rsl_rl.models import MLPModel
from tensordict import TensorDict

from lerobot_wbvla.lmo.export import NUM_ACTIONS, export_lmo
from lerobot_wbvla.lmo.layout import ObservationLayout

ACTOR_CFG = {
    "hidden_dims": [256, 256, 128],
    "activation": "elu",
    "obs_normalization": True,
    "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": 1.0},
}
META = {"action_scale": 0.25, "clip_actions": 10.0, "iteration": 0, "seed": 0}


def random_actor(layout: ObservationLayout, seed: int = 0, hidden=(256, 256, 128)) -> MLPModel:
    torch.manual_seed(seed)
    obs = TensorDict({"policy": torch.zeros(2, layout.size)}, batch_size=[2])
    cfg = {**ACTOR_CFG, "hidden_dims": list(hidden)}
    actor = MLPModel(obs, {"actor": ["policy"]}, "actor", NUM_ACTIONS, **cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    mean = torch.rand(layout.size, generator=gen) * 2 - 1
    std = torch.rand(layout.size, generator=gen) * 1.5 + 0.1
    data = mean + std * torch.randn(4096, layout.size, generator=gen)
    actor.train()
    actor.update_normalization(TensorDict({"policy": data}, batch_size=[4096]))
    actor.eval()
    return actor


def make_export(out_dir: Path, layout: ObservationLayout, seed: int = 0, **meta) -> Path:
    return export_lmo(random_actor(layout, seed), layout, out_dir, {**META, **meta})


def article_layout(**kw) -> ObservationLayout:
    """The article's observation: 38 proprioceptive values + a 256-d LAM latent = 294."""
    args = {"conditioning": "latent", "latent_dim": 256, "lam": "wbvla-tests/lam", "lam_revision": "v1"}
    return ObservationLayout(**{**args, **kw})
