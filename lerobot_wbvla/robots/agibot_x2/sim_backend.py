"""The `sim` backend of the robot `agibot_x2`: the MuJoCo twin (X2Sim) behind the X2Backend interface.

Each `send_command` advances the physics by one control period (1 / control_fps), so recording and replay with
the same seed and actions are deterministic. The live twin and this backend are registered in sim_registry under
the robot id.

Scene resets (a new episode's scene) go through the backend, so that what follows is exact and known:
- `reset_scene(seed)` resets now; `request_reset(seed)` resets right after the next command's physics, so the
  observation that follows that command is the fresh scene (for resets decided inside a control loop);
- `scene_seed` is the seed of the scene on the twin, `fresh` says that no control period ran since its reset
  (the next observation is exactly the state `X2Sim.reset(scene_seed)` leaves);
- `take_twin_reset()` tells the robot (once per reset) to restart its per-tick step limits from the reset pose.
"""

from __future__ import annotations

import numpy as np

from lerobot_wbvla.datasets.augment import RecordTimeAugmenter

from . import sim_registry
from .backend import WholeBodyCommand
from .config_agibot_x2 import AgibotX2Config
from .joints import BODY_JOINTS
from .lower_body import make_lower_body_controller
from .sim import X2Sim, X2SimConfig


def sim_config_from_robot(config: AgibotX2Config) -> X2SimConfig:
    return X2SimConfig(
        scene=config.scene,
        base_mode=config.base_mode,
        physics_hz=config.physics_hz,
        lower_body_hz=config.lower_body_hz,
        head_camera=tuple(config.head_camera),
        wrist_cameras=config.wrist_cameras,
        waist=config.waist,
        lower_body_controller=config.lower_body_controller,
        lower_body_options=config.lower_body_options,
    )


def gains_from_robot(config: AgibotX2Config, defaults: dict[str, tuple[float, float]]) -> dict:
    """Per-joint (kp, kd): the twin's defaults with the config's `kp`/`kd` overrides."""
    for field_name in ("kp", "kd"):
        unknown = set(getattr(config, field_name)) - set(BODY_JOINTS)
        if unknown:
            raise ValueError(
                f"--robot.{field_name} names unknown joint(s) {sorted(unknown)}; known: {', '.join(BODY_JOINTS)}"
            )
    return {j: (config.kp.get(j, kp), config.kd.get(j, kd)) for j, (kp, kd) in defaults.items()}


class SimBackend:
    """X2Backend over an X2Sim."""

    def __init__(self, config: AgibotX2Config) -> None:
        self.config = config
        self.sim: X2Sim | None = None
        self.augmenter: RecordTimeAugmenter | None = None
        self._augmented_episode = -1
        self._seed: int | None = None
        self._pending_reset: int | None = None
        # Values of the twin's reset_count: at our last reset (the seed is known), when the physics last advanced
        # (not fresh), when the robot last re-synced its step limits.
        self._seeded_at: int | None = None
        self._advanced_at: int | None = None
        self._synced_at: int | None = None

    @property
    def is_connected(self) -> bool:
        return self.sim is not None

    def connect(self) -> None:
        controller = make_lower_body_controller(
            self.config.lower_body_controller, **self.config.lower_body_options
        )
        sim = X2Sim(sim_config_from_robot(self.config), lower_body=controller)
        sim.set_gains(gains_from_robot(self.config, sim.default_gains))
        seed = self.config.seed if self.config.seed is not None else 0
        self.sim = sim
        self._pending_reset = None
        self._advanced_at = None
        try:
            self.reset_scene(seed)
        except BaseException:
            self.sim = None
            raise
        self._synced_at = sim.reset_count  # the robot syncs its step limits to the state at connect
        if self.config.camera_augment:
            self.augmenter = RecordTimeAugmenter(self.config.camera_augment_ranges, seed=seed)
            self._augmented_episode = sim.reset_count
        self.last_sim = sim  # kept after disconnect so callers can inspect the final state
        sim_registry.register(self.config.id, sim, backend=self)

    def disconnect(self) -> None:
        if self.sim is None:
            return
        if self.config.on_disconnect == "damp":
            self.sim.damp()
        else:
            self.sim.hold()
        sim_registry.unregister(self.config.id, self.sim)
        self.sim.close()
        self.sim = None

    def _live(self) -> X2Sim:
        if self.sim is None:
            raise ConnectionError("The agibot_x2 sim backend is not connected; call robot.connect() first.")
        return self.sim

    def read_state(self) -> dict[str, float]:
        return self._live().observation()

    def read_cameras(self) -> dict[str, np.ndarray]:
        sim = self._live()
        frames = {name: sim.render(name) for name in self.config.camera_names}
        if self.augmenter is None:
            return frames
        if sim.reset_count != self._augmented_episode:  # a scene reset starts a new episode: new lighting
            self._augmented_episode = sim.reset_count
            if self.scene_seed is not None:
                # Drawn from the scene's seed: an episode looks the same whoever records it and after whichever
                # episodes (wbvla-record-sim's worker processes), and replays with its own lighting and noise.
                self.augmenter = RecordTimeAugmenter(
                    self.config.camera_augment_ranges, seed=_augment_seed(self.config.seed, self.scene_seed)
                )
            else:
                self.augmenter.new_episode()
        return {name: self.augmenter(frame) for name, frame in frames.items()}

    def send_command(self, command: WholeBodyCommand) -> None:
        sim = self._live()
        sim.set_whole_body(command.arm_targets, command.grippers, command.loco)
        sim.advance(1.0 / self.config.control_fps)
        self._advanced_at = sim.reset_count
        if self._pending_reset is not None:
            self.reset_scene(self._pending_reset)

    # ------------------------------------------------------------------ scene resets
    def reset_scene(self, seed: int) -> None:
        """Reset the twin now: standing pose, commands cleared, scene randomised from `seed` (X2Sim.reset)."""
        sim = self._live()
        self._pending_reset = None
        sim.reset(int(seed))
        self._seed = int(seed)
        self._seeded_at = sim.reset_count

    def request_reset(self, seed: int) -> None:
        """Reset with `seed` right after the next `send_command`'s physics (replacing an earlier request), so the
        observation read after that command is exactly the fresh scene."""
        self._live()
        self._pending_reset = int(seed)

    @property
    def scene_seed(self) -> int | None:
        """Seed of the scene on the twin; None when the twin was reset some other way (seed unknown)."""
        sim = self._live()
        return self._seed if self._seeded_at == sim.reset_count else None

    @property
    def fresh(self) -> bool:
        """No control period has run since the twin's last reset: the next observation is the reset state."""
        return self._advanced_at != self._live().reset_count

    def take_twin_reset(self) -> bool:
        """True once after each twin reset (by anyone): the robot then restarts its step limits from the state."""
        count = self._live().reset_count
        if count == self._synced_at:
            return False
        self._synced_at = count
        return True

    def hold(self) -> None:
        self._live().hold()

    def damp(self) -> None:
        self._live().damp()


def _augment_seed(robot_seed: int | None, scene_seed: int) -> int:
    """Seed of the camera augmentation of the episode on scene `scene_seed` (the robot's seed keeps two robots'
    augmentations apart)."""
    return int(np.random.SeedSequence([robot_seed or 0, scene_seed]).generate_state(1)[0])
