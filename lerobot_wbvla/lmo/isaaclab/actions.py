"""The leg action term with the CPU env's action delay, exact to the physics step.

`DelayedJointPositionAction` is Isaac Lab's `JointPositionAction` (targets = stance + scale * action, clipped to
the joint ranges) whose targets reach the joints `lag` physics steps late, one lag per env drawn at each reset from
`lag_steps` (the CPU env's `domain_rand.action_lag_steps`, 2-8). Isaac Lab calls `apply_actions` once per physics
step of a control period, so the term keeps the targets of the last few periods and, in physics step s, applies
the one the shared `mdp.actions.delayed_slots` (the CPU and warp envs' function) names. A new episode starts with
the stance in the history (the CPU env's zero actions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from isaaclab.envs import mdp
from isaaclab.envs.mdp.actions.joint_actions import JointPositionAction
from isaaclab.utils import configclass

from lerobot_wbvla.lmo.mdp.actions import delayed_slots

if TYPE_CHECKING:
    from isaaclab.envs import ManagerBasedEnv


class DelayedJointPositionAction(JointPositionAction):
    cfg: DelayedJointPositionActionCfg

    def __init__(self, cfg: DelayedJointPositionActionCfg, env: ManagerBasedEnv) -> None:
        super().__init__(cfg, env)
        lo, hi = cfg.lag_steps
        self._decimation = int(env.cfg.decimation)
        self._depth = hi // self._decimation + 2
        self._rng = np.random.default_rng(cfg.seed)
        self._lag = np.zeros(self.num_envs, dtype=int)
        self._hist = self._offset_targets().unsqueeze(1).repeat(1, self._depth, 1)
        self._slots = torch.zeros(self.num_envs, self._decimation, dtype=torch.long, device=self.device)
        self._substep = 0
        self.reset(None)

    def _offset_targets(self) -> torch.Tensor:
        """(N, A) the targets of a zero action (the stance, clipped like any target)."""
        target = torch.zeros(self.num_envs, self.action_dim, device=self.device) + self._offset
        if self.cfg.clip is not None:
            target = target.clamp(min=self._clip[:, :, 0], max=self._clip[:, :, 1])
        return target

    @property
    def lag(self) -> np.ndarray:
        """(N,) each env's action delay in physics steps."""
        return self._lag

    def process_actions(self, actions: torch.Tensor) -> None:
        super().process_actions(actions)
        self._hist[:, 1:] = self._hist[:, :-1].clone()
        self._hist[:, 0] = self._processed_actions
        slots = delayed_slots(self._lag, self._decimation, self._depth)
        self._slots = torch.as_tensor(slots, dtype=torch.long, device=self.device)
        self._substep = 0

    def apply_actions(self) -> None:
        s = min(self._substep, self._decimation - 1)
        rows = torch.arange(self.num_envs, device=self.device)
        target = self._hist[rows, self._slots[:, s]]
        self._asset.set_joint_position_target_index(target=target, joint_ids=self._joint_ids)
        self._substep += 1

    def reset(self, env_ids=None) -> None:
        super().reset(env_ids)
        if env_ids is None or isinstance(env_ids, slice):
            ids = np.arange(self.num_envs)[env_ids if env_ids is not None else slice(None)]
        else:
            ids = np.asarray(torch.as_tensor(env_ids).cpu())
        lo, hi = self.cfg.lag_steps
        self._lag[ids] = self._rng.integers(lo, hi + 1, size=len(ids))
        rows = torch.as_tensor(ids, device=self.device)
        self._hist[rows] = self._offset_targets()[rows].unsqueeze(1)


@configclass
class DelayedJointPositionActionCfg(mdp.JointPositionActionCfg):
    class_type: type = DelayedJointPositionAction
    # Action delay in physics steps, drawn per env at each reset, inclusive (0, 0 = none).
    lag_steps: tuple[int, int] = (0, 0)
    # Seed of the lag draws.
    seed: int = 0
