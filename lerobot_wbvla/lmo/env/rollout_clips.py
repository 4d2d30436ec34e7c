"""A small synthetic clip library for checks of the LMO env (equivalence of backends, bit-identity of refactors).

Three clips whose arms swing and grippers open and close, with stand / walk / turn-and-squat commands and random
z_t; the second clip is shorter, so clips end (and the next is drawn) at different times. The function imports the
project only inside, and only modules that every version of the LMO env has: scripts/lmo_bit_identity.py loads this
file by path to record an older checkout with the same clips.
"""

from __future__ import annotations

import numpy as np


def rollout_clips(latent_dim: int = 8, clips: int = 3, t: int = 40, seed: int = 1) -> dict:
    """The stacked library (lmo/clips.py `ClipLibrary.stack()` format): arm (C, t, 16), loco (C, t, 4), latent
    (C, t, latent_dim), lengths (C,)."""
    from lerobot_wbvla.robots.agibot_x2.joints import ARM_JOINTS
    from lerobot_wbvla.robots.agibot_x2.sim import X2Sim

    rng = np.random.default_rng(seed)
    up = X2Sim.stance_upper_body()
    arm = np.zeros((clips, t, 16))
    arm[:, :, :14] = [up[j] for j in ARM_JOINTS]
    phase = np.linspace(0, 2 * np.pi, t)
    arm[:, :, :14] += 0.5 * rng.uniform(-1, 1, (clips, 1, 14)) * np.sin(phase)[None, :, None]
    arm[:, :, 14:16] = 0.5 + 0.5 * np.sin(phase)[None, :, None]
    loco = np.zeros((clips, t, 4))
    loco[1 % clips, :, 0] = 0.3
    loco[2 % clips, :, 2] = 0.4
    loco[2 % clips, :, 3] = 0.6
    latent = rng.standard_normal((clips, t, latent_dim)) * 5.0
    lengths = np.full(clips, t)
    lengths[1 % clips] = t - t // 5
    return {"arm": arm, "loco": loco, "latent": latent, "lengths": lengths}
