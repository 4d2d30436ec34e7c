"""Trivial policies of the agibot_x2 env, used to show that its success checks are not met by chance:
`nothing` holds the reset pose, `random` draws each action uniformly from the action space."""

from __future__ import annotations

import numpy as np

from lerobot_wbvla.robots.agibot_x2.joints import ACTION_KEYS

from .env import AgibotX2Env

POLICIES = ("nothing", "random")


def hold_action(env: AgibotX2Env) -> np.ndarray:
    """The action that keeps the robot as it is after reset: arm targets at the current joint angles, grippers
    open, no walking, nominal height."""
    obs = env.sim.observation()
    return np.array(
        [obs[k] if k.endswith(".pos") and not k.endswith("gripper.pos") else 0.0 for k in ACTION_KEYS],
        dtype=np.float32,
    )


def baseline_episode(env: AgibotX2Env, seed: int, max_steps: int, policy: str) -> bool:
    """Run one episode of `policy` ("nothing" or "random", seeded by `seed`); whether it succeeded."""
    if policy not in POLICIES:
        raise ValueError(f"Unknown baseline policy {policy!r}; choose one of {', '.join(POLICIES)}")
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    still = hold_action(env)
    for _ in range(max_steps):
        if policy == "random":
            action = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        else:
            action = still
        _, _, terminated, truncated, info = env.step(action)
        if info["is_success"]:
            return True
        if terminated or truncated:
            return False
    return False
