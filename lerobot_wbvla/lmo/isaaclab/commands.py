"""The arm clips as an Isaac Lab command term: the CPU env's clip-dependent inputs (arm targets, loco, z_t).

`ClipCommand` replaces the task's uniform velocity command (same term name, `loco`) when the task is given a clip
library (`LMOEnvCfg.clips`). Its command is the clip's locomotion schedule (vx, vy, yaw rate, height), as the CPU
env's `current_loco`; it also holds the clip's z_t (`clean_latent` / `noisy_latent`) for the observation and the
rewards, and drives the arms. Isaac Lab resets the term with the env (`_resample_command`: a new random clip at
t = 0) and computes it once per control step after the rewards and resets (`_update_command`: the cursor advances,
clip_player.py), which is when the CPU env advances its clips.

Arms: as in the CPU env, the clip's 14 arm joint values are the arm actuators' PD targets (the implicit PD of
asset.py, the twin's gains), not set kinematically; the grippers' closure c gives both finger joints the target
GRIPPER_STROKE * (1 - c), the CPU env's gripper actuator target (the MJCF couples finger b to finger a by an
equality; the converted USD drives both). The targets are written into the articulation's joint position targets
after each advance and at reset; the leg action term writes only the legs, so they hold through the next control
period's physics steps. Not ported: the CPU env's gravity feed-forward on the arm, waist and head actuators.
"""

from __future__ import annotations

from dataclasses import MISSING
from typing import TYPE_CHECKING

import torch
from isaaclab.managers import CommandTerm, CommandTermCfg
from isaaclab.utils import configclass

from lerobot_wbvla.lmo.isaaclab.clip_player import GRIPPER_COLUMNS, ClipPlayer, load_library
from lerobot_wbvla.robots.agibot_x2 import params as P
from lerobot_wbvla.robots.agibot_x2.joints import ARM_JOINTS, GRIPPERS, mjcf_joint_name

if TYPE_CHECKING:
    from isaaclab.envs import ManagerBasedRLEnv


def finger_joints(gripper: str) -> list[str]:
    """The MJCF finger joints of one gripper (mjcf.py's `<gripper>_finger_{a,b}_joint`)."""
    return [f"{gripper}_finger_a_joint", f"{gripper}_finger_b_joint"]


class ClipCommand(CommandTerm):
    cfg: ClipCommandCfg

    def __init__(self, cfg: ClipCommandCfg, env: ManagerBasedRLEnv) -> None:
        super().__init__(cfg, env)
        library = load_library(cfg.library)
        self.latent_info = library.latent_info
        self.player = ClipPlayer(
            library.stack(), self.num_envs, self.device, cfg.latent_noise_std, seed=cfg.seed
        )
        self.robot = env.scene[cfg.asset_name]
        arms = [mjcf_joint_name(j) for j in ARM_JOINTS]
        self.arm_ids = self.robot.find_joints(arms, preserve_order=True)[0]
        fingers = [finger_joints(g) for g in GRIPPERS]
        self.finger_ids = [self.robot.find_joints(names, preserve_order=True)[0] for names in fingers]

    @property
    def command(self) -> torch.Tensor:
        """(N, 4) the clip's locomotion command: vx, vy (base frame), yaw rate, height (0 = nominal)."""
        return self.player.loco_command()

    def _update_metrics(self) -> None:
        pass

    def _resample_command(self, env_ids) -> None:
        if isinstance(env_ids, slice):
            env_ids = torch.arange(self.num_envs, device=self.device)[env_ids]
        self.player.start(env_ids, int(self._env.common_step_counter))
        self._write_targets()

    def _update_command(self) -> None:
        self.player.advance(int(self._env.common_step_counter))
        self._write_targets()

    def _write_targets(self) -> None:
        """The clip's arm row as the arm and finger PD targets of every env."""
        row = self.player.arm_targets()
        self.robot.set_joint_position_target_index(target=row[:, : len(ARM_JOINTS)], joint_ids=self.arm_ids)
        stroke = P.GRIPPER_STROKE * (1.0 - row[:, GRIPPER_COLUMNS])
        for k, ids in enumerate(self.finger_ids):
            target = stroke[:, k : k + 1].expand(-1, len(ids)).contiguous()
            self.robot.set_joint_position_target_index(target=target, joint_ids=ids)


@configclass
class ClipCommandCfg(CommandTermCfg):
    class_type: type = ClipCommand
    # The articulation whose arms play the clips.
    asset_name: str = "robot"
    # A clip library folder written by ClipLibrary.save (python -m lerobot_wbvla.lmo.isaaclab.clip_library).
    library: str = MISSING
    # Std of the Gaussian noise on the policy's z_t (the CPU env's domain_rand.latent_noise_std; 0 = clean).
    latent_noise_std: float = 0.0
    # Seed of the clip draws and the latent noise.
    seed: int = 0
    # Clips change at reset and when they end, never on a timer.
    resampling_time_range: tuple[float, float] = (1.0e9, 1.0e9)
    debug_vis: bool = False
