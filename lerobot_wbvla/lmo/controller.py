"""The robot's `lmo` lower-body controller: the exported LMO policy driving the legs at 50 Hz.

`--robot.lower_body_controller=lmo --robot.lmo_path=<repo id or folder> [--robot.lmo_revision=<rev>]` (and the
same `--env.*` fields for `lerobot-eval`) selects it; the robot config passes `path` and `revision` to this
module's factory through the lower-body registry (robots/ never imports lmo/: the plugin imports this module,
which registers itself). Each tick (`compute`, called by the twin at `lower_body_hz`) builds the observation the
policy was trained on with the same functions as the training env (`Proprio.from_state` +
`observations.build_observation`, with a `ProprioHistory` when the layout has history) and returns the 12 leg
targets of `LMOPolicy.leg_targets`.

z_t. For `latent` conditioning the policy reads the VLA's latent z_t. `set_latent(z, timestamp)` is the entry
point the dual-rate runtime (a later issue) will call every time the VLA produces one; until it does, and after
every `reset()`, the controller feeds a neutral z of zeros. Zeros are "no arm intent" only approximately (the
normaliser inside the policy centres inputs on their training mean), which is why the real signal matters.
`command` and `none` conditioning read the locomotion command (`loco`) instead and ignore z.

Bad input. A state with NaN/inf in any reading the policy uses (or a non-finite policy output) makes the
controller hold the stance (params.STANCE_LEG, the pose the policy's actions are offsets around) for that tick,
and log one warning per episode saying so; the history is not fed the bad frame. A controller rate other than the
policy's training rate is an error at the first tick (a 50 Hz policy at 100 Hz sees a different world).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from lerobot_wbvla.lmo.layout import ObservationLayout
from lerobot_wbvla.lmo.mdp.observations import STANCE, ProprioHistory, build_observation, proprio_vector
from lerobot_wbvla.lmo.proprio import Proprio
from lerobot_wbvla.robots.agibot_x2.backend import LocoCommand
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS
from lerobot_wbvla.robots.agibot_x2.lower_body import register_lower_body_controller

logger = logging.getLogger(__name__)

# The controller period may differ from 1/control_hz by this fraction (the twin rounds to physics steps).
_RATE_TOLERANCE = 0.02
_STANCE_TARGETS = dict(zip(LEG_JOINTS, STANCE.tolist(), strict=True))
# Resolved local folders of Hub exports by (repo id, revision): an env rebuilds its robot (and so this controller)
# every episode, and each build would otherwise ask the Hub again.
_RESOLVED: dict[tuple[str, str | None, str], Path] = {}
_RESOLVED_LOCK = threading.Lock()


def load_policy(path: str | Path, revision: str | None = None, backend: str = "onnx"):
    """`LMOPolicy.from_pretrained`, with Hub ids resolved once per process (see `_RESOLVED`)."""
    from lerobot_wbvla.lmo.policy import LMOPolicy, resolve_export_dir

    key = (str(path), revision, backend)
    with _RESOLVED_LOCK:
        folder = _RESOLVED.get(key)
    if folder is None or not folder.is_dir():
        folder = resolve_export_dir(path, revision=revision, backend=backend)
        if (
            not Path(path).expanduser().is_dir()
        ):  # a Hub snapshot (a local folder may be re-exported in place)
            with _RESOLVED_LOCK:
                _RESOLVED[key] = folder
    return LMOPolicy(folder, backend=backend)


@register_lower_body_controller("lmo")
class LMOController:
    """Lower-body controller running an exported LMO (see the module docstring). Implements
    robots.agibot_x2.lower_body.LowerBodyController."""

    name = "lmo"

    def __init__(
        self,
        path: str | Path | None = None,
        revision: str | None = None,
        backend: str = "onnx",
        policy=None,
    ) -> None:
        """`path`: folder or Hub repo id of an export (`--robot.lmo_path`), at `revision` for a repo id; or an
        already loaded `policy` (an `LMOPolicy`, tests and the runtime)."""
        if policy is None:
            if not path:
                raise ValueError(
                    "the 'lmo' lower-body controller needs a trained policy: pass --robot.lmo_path=<Hub repo id or "
                    "export folder> (or --env.lmo_path with lerobot-eval)"
                )
            policy = load_policy(path, revision=revision, backend=backend)
        self.policy = policy
        self.layout: ObservationLayout = policy.layout
        self._history = ProprioHistory(1, self.layout.history) if self.layout.history else None
        self._loco = np.zeros((1, 4))
        self._latent: np.ndarray | None = None
        self.latent_timestamp: float | None = None
        self.reset()

    # ------------------------------------------------------------------ z_t input (the runtime's)
    def set_latent(self, z: np.ndarray, timestamp: float) -> None:
        """Feed z_t (latent_dim,) or (1, latent_dim), computed at `timestamp` (time.monotonic() of the VLA's
        computation). It is held until the next call; `reset()` goes back to the neutral z (zeros). A latent that
        does not fit the policy is a ValueError; a non-finite one is refused the same way (the robot keeps the
        previous z rather than feeding NaN to its legs)."""
        if self.layout.conditioning != "latent":
            raise ValueError(
                f"this LMO was trained with conditioning={self.layout.conditioning!r}: it reads no z_t "
                "(feed the locomotion command instead)"
            )
        z = np.asarray(z, dtype=np.float64).reshape(1, -1)
        if z.shape[1] != self.layout.latent_dim:
            raise ValueError(
                f"z_t has {z.shape[1]} values; this LMO was trained on latent_dim={self.layout.latent_dim}"
            )
        if not np.isfinite(z).all():
            raise ValueError("z_t holds NaN/inf; it was not applied (the previous z stays)")
        self._latent = z
        self.latent_timestamp = float(timestamp)

    def check_layout(self, layout: ObservationLayout) -> None:
        """LayoutMismatchError unless `layout` (e.g. the runtime's, with its LAM) fits the policy."""
        self.policy.check_layout(layout)

    # ------------------------------------------------------------------ LowerBodyController
    def reset(self) -> None:
        self._latent = None
        self.latent_timestamp = None
        self._fresh = True  # the next good frame starts the history
        self._warned_nonfinite = False
        self._rate_checked = False
        self.nonfinite_ticks = 0

    def compute(self, state: Mapping[str, float], loco: LocoCommand, dt: float) -> dict[str, float]:
        if not self._rate_checked:
            self._check_rate(dt)
        p = Proprio.from_state(state)
        loco_vec = self._loco
        loco_vec[0] = (loco.vx, loco.vy, loco.yaw_rate, loco.height)
        if not (p.is_finite()[0] and np.isfinite(loco_vec).all()):
            return self._hold("the robot state (or loco command) holds NaN/inf")
        current = proprio_vector(p) if self._history is not None else None
        if self._history is not None and self._fresh:
            self._history.reset(slice(None), current)
        obs = build_observation(self.layout, p, loco_vec, self._latent, self._history)
        targets = self.policy.leg_targets(obs)[0]
        if not np.isfinite(targets).all():
            return self._hold("the policy output NaN/inf")
        if self._history is not None:
            self._history.push(current)
        self._fresh = False
        return dict(zip(LEG_JOINTS, targets.tolist(), strict=True))

    # ------------------------------------------------------------------ helpers
    def _hold(self, why: str) -> dict[str, float]:
        self.nonfinite_ticks += 1
        if not self._warned_nonfinite:
            self._warned_nonfinite = True
            logger.warning(
                "lmo lower-body controller: %s; holding the stance until the readings are finite again (warned "
                "once per episode; `nonfinite_ticks` counts the ticks held)",
                why,
            )
        return dict(_STANCE_TARGETS)

    def _check_rate(self, dt: float) -> None:
        hz = self.policy.control_hz
        if not (math.isfinite(dt) and dt > 0 and abs(dt * hz - 1.0) <= _RATE_TOLERANCE):
            raise ValueError(
                f"the LMO policy was trained at {hz} Hz but the lower-body controller runs every {dt:.4g} s; set "
                f"--robot.lower_body_hz={hz} (or --env.lower_body_hz={hz})"
            )
        self._rate_checked = True
