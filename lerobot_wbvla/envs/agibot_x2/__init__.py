"""`--env.type=agibot_x2`: the AgiBot X2 twin's task suite as gymnasium envs for lerobot-eval.

Importing this package registers the env config with LeRobot and one gym id per task,
`lerobot_policy_wbvla/<task>` (see config_agibot_x2.py for why that namespace).
"""

from __future__ import annotations

import gymnasium as gym

from .config_agibot_x2 import GYM_NAMESPACE, AgibotX2EnvConfig
from .tasks import TASKS

ENTRY_POINT = "lerobot_wbvla.envs.agibot_x2.env:AgibotX2Env"


def gym_id(task: str) -> str:
    return f"{GYM_NAMESPACE}/{task}"


def register_gym_envs() -> None:
    """Register `lerobot_policy_wbvla/<task>` for every task (idempotent)."""
    for task in TASKS:
        if gym_id(task) not in gym.registry:
            gym.register(id=gym_id(task), entry_point=ENTRY_POINT, kwargs={"task": task})


register_gym_envs()

__all__ = ["AgibotX2EnvConfig", "TASKS", "gym_id", "register_gym_envs"]
