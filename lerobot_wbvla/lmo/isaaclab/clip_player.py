"""The arm clips of the CPU env, played per env on torch tensors (no isaaclab import: runs and is tested anywhere).

The Isaac Lab task plays the same clip library the CPU env trains on: a folder written by `ClipLibrary.save`
(lmo/clips.py), e.g. by `python -m lerobot_wbvla.lmo.isaaclab.clip_library` in the main venv, where the frozen LAM
imports and labels the clips (`latents.attach_latents`: z_t held at the VLA's 20 Hz and interpolated to the 50 Hz
control rate, stored per clip). `ClipLibrary.load(...).stack()` gives the padded arrays the CPU env indexes; this
player keeps them on the env's device and holds each env's cursor with the CPU env's (`X2LMOVecEnv`) bookkeeping:
- a reset env starts a random clip at its first row (`_next_clip`: clip drawn uniformly, t = 0);
- a control step's physics, rewards and terminations see the cursor's row; after them the cursor advances by one,
  and an env whose clip ended starts the next random clip at t = 0 (the observation then shows the new row, which
  the next step's physics plays);
- an env reset in this step is not advanced: its first observation shows row 0, as the CPU env's.
The latent noise (`latent_noise_std`, the CPU env's `domain_rand.latent_noise_std`) is drawn afresh each control
step for the policy's z_t; the critic and the rewards read the clean z_t.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from lerobot_wbvla.lmo.clips import ClipLibrary

GRIPPER_COLUMNS = slice(14, 16)  # clip arm columns 14, 15: the grippers' closure (0 open .. 1 closed)


@lru_cache(maxsize=4)
def load_library(path: str) -> ClipLibrary:
    """The clip library folder at `path` (cached: the task's config and its command term both read it)."""
    return ClipLibrary.load(Path(path).expanduser())


class ClipPlayer:
    """Per-env cursors into a stacked clip library (`ClipLibrary.stack()`), on `device`."""

    def __init__(
        self,
        stacked: dict,
        num_envs: int,
        device: str | torch.device = "cpu",
        latent_noise_std: float = 0.0,
        seed: int = 0,
    ) -> None:
        lengths = np.asarray(stacked["lengths"], dtype=np.int64)
        if lengths.size == 0 or lengths.min() < 1:
            raise ValueError("the clip library has no clips (or an empty one): build one with lmo.clips")
        self.device = torch.device(device)
        self.arm = torch.as_tensor(np.asarray(stacked["arm"]), dtype=torch.float32, device=self.device)
        self.loco = torch.as_tensor(np.asarray(stacked["loco"]), dtype=torch.float32, device=self.device)
        latent = stacked.get("latent")
        self.latent = (
            None
            if latent is None
            else torch.as_tensor(np.asarray(latent), dtype=torch.float32, device=self.device)
        )
        self.lengths = torch.as_tensor(lengths, device=self.device)
        self.num_envs = num_envs
        self.latent_noise_std = float(latent_noise_std)
        self.clip_id = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.clip_t = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        # The env step at which each env last (re)started: an env reset in the current step is not advanced.
        self.started_at = torch.full((num_envs,), -1, dtype=torch.long, device=self.device)
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        self.noise = torch.zeros(num_envs, self.latent_dim or 1, device=self.device)

    @property
    def latent_dim(self) -> int:
        return 0 if self.latent is None else int(self.latent.shape[2])

    @property
    def num_clips(self) -> int:
        return int(self.lengths.numel())

    def start(self, env_ids: torch.Tensor, step: int) -> None:
        """Envs `env_ids` start a random clip at t = 0 (a reset at env step `step`)."""
        env_ids = torch.as_tensor(env_ids, dtype=torch.long, device=self.device)
        if env_ids.numel() == 0:
            return
        draw = torch.randint(0, self.num_clips, (env_ids.numel(),), generator=self.gen, device=self.device)
        self.clip_id[env_ids] = draw
        self.clip_t[env_ids] = 0
        self.started_at[env_ids] = step
        self._draw_noise(env_ids)

    def advance(self, step: int) -> None:
        """After env step `step`'s rewards: every env not reset in it moves one row on; ended clips restart."""
        moving = self.started_at != step
        self.clip_t += moving.long()
        ended = torch.nonzero(self.clip_t >= self.lengths[self.clip_id]).flatten()
        if ended.numel():
            self.start(ended, step - 1)  # a clip change, not a reset: the env moves on at the next step
        self._draw_noise(torch.nonzero(moving).flatten())

    def _draw_noise(self, env_ids: torch.Tensor) -> None:
        if self.latent is None or self.latent_noise_std <= 0.0 or env_ids.numel() == 0:
            return
        shape = (env_ids.numel(), self.latent_dim)
        noise = torch.randn(shape, generator=self.gen, device=self.device) * self.latent_noise_std
        self.noise[env_ids] = noise

    # ------------------------------------------------------------------ the rows of the cursor
    def _row(self, table: torch.Tensor) -> torch.Tensor:
        t = torch.minimum(self.clip_t, self.lengths[self.clip_id] - 1)
        return table[self.clip_id, t]

    def arm_targets(self) -> torch.Tensor:
        """(N, 16) the 14 arm joint targets (joints.ARM_JOINTS order, rad) and the 2 gripper closures."""
        return self._row(self.arm)

    def loco_command(self) -> torch.Tensor:
        """(N, 4) vx, vy, yaw rate, height: the clip's locomotion schedule (the CPU env's `current_loco`)."""
        return self._row(self.loco)

    def clean_latent(self) -> torch.Tensor | None:
        """(N, D) the clip's z_t at the cursor (None without latents)."""
        return None if self.latent is None else self._row(self.latent)

    def noisy_latent(self) -> torch.Tensor | None:
        """The policy's z_t: the clean one plus this step's Gaussian noise (latent_noise_std)."""
        z = self.clean_latent()
        if z is None or self.latent_noise_std <= 0.0:
            return z
        return z + self.noise
