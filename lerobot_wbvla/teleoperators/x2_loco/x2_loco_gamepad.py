"""`x2_loco_gamepad`: walk the X2 with a gamepad.

Built on LeRobot's gamepad input layer (`GamepadController`, pygame/SDL): pygame initialisation, joystick
selection and shutdown are LeRobot's, as are the episode buttons it reports (Y success, A failure, X re-record).
Sticks are read from SDL's joystick events (`JOYAXISMOTION`), which is also how a headless test drives the
teleop: it posts those events with `pygame.event.post`. A `JOYDEVICEREMOVED` for our pad raises a clear error
instead of silently commanding zeros.
"""

from __future__ import annotations

import logging
import os
import warnings

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame prints a banner at import otherwise
with warnings.catch_warnings():  # pygame 2.6 imports the deprecated pkg_resources
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    from lerobot.teleoperators.gamepad.gamepad_utils import GamepadController
from lerobot.teleoperators.teleoperator import Teleoperator  # noqa: E402
from lerobot.teleoperators.utils import TeleopEvents  # noqa: E402
from lerobot.utils.decorators import check_if_already_connected, check_if_not_connected  # noqa: E402

from ...robots.agibot_x2.joints import LOCO_KEYS
from .command import LocoCommand, LocoInput
from .config_x2_loco import X2LocoGamepadConfig

logger = logging.getLogger(__name__)


class GamepadDisconnectedError(ConnectionError):
    """The gamepad was unplugged (or its wireless link dropped) while teleoperating."""


class LocoGamepadController(GamepadController):
    """LeRobot's pygame gamepad controller with event-tracked axes and hot-unplug detection."""

    def __init__(self, config: X2LocoGamepadConfig) -> None:
        super().__init__(deadzone=config.deadzone)
        self.config = config
        self.axes: dict[int, float] = {}
        self.pressed: set[int] = set()
        self.removed = False

    def start(self) -> None:
        import pygame

        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            # SDL needs a video driver for its event queue; joysticks work with the dummy one.
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        pygame.display.init()
        pygame.joystick.init()
        count = pygame.joystick.get_count()
        if self.config.joystick_index < count:
            self.joystick = pygame.joystick.Joystick(self.config.joystick_index)
            self.joystick.init()
            logger.info("Gamepad %d: %s", self.config.joystick_index, self.joystick.get_name())
        elif self.config.require_device:
            pygame.quit()
            raise ConnectionError(
                f"No gamepad at SDL index {self.config.joystick_index} ({count} found). Plug one in, pick another "
                "with --teleop.joystick_index, or use --teleop.type=x2_loco_keyboard."
            )
        else:
            logger.warning("No gamepad found; x2_loco_gamepad reads only injected SDL events.")
        self.running = True

    def _is_ours(self, event) -> bool:
        if self.joystick is None:
            return True
        return getattr(event, "instance_id", None) == self.joystick.get_instance_id()

    def update(self) -> None:
        import pygame

        for event in pygame.event.get():
            if event.type == pygame.JOYDEVICEREMOVED and self._is_ours(event):
                self.removed = True
            elif event.type == pygame.JOYAXISMOTION and self._is_ours(event):
                self.axes[event.axis] = float(event.value)
            elif event.type == pygame.JOYBUTTONDOWN and self._is_ours(event):
                self.pressed.add(event.button)
                # LeRobot's gamepad episode buttons.
                if event.button == 3:
                    self.episode_end_status = TeleopEvents.SUCCESS
                elif event.button == 1:
                    self.episode_end_status = TeleopEvents.FAILURE
                elif event.button == 0:
                    self.episode_end_status = TeleopEvents.RERECORD_EPISODE
            elif event.type == pygame.JOYBUTTONUP and self._is_ours(event):
                self.pressed.discard(event.button)

    def axis(self, index: int) -> float:
        """Axis value with the dead zone removed and the rest rescaled to reach +-1 at full tilt."""
        value = self.axes.get(index, 0.0)
        dz = self.deadzone
        if abs(value) < dz:
            return 0.0
        return (abs(value) - dz) / (1.0 - dz) * (1.0 if value > 0 else -1.0)


class X2LocoGamepad(Teleoperator):
    """Locomotion commands from a gamepad (see X2LocoGamepadConfig for the mapping)."""

    config_class = X2LocoGamepadConfig
    name = "x2_loco_gamepad"

    def __init__(self, config: X2LocoGamepadConfig):
        super().__init__(config)
        self.config = config
        self.command = LocoCommand(config)
        self.gamepad: LocoGamepadController | None = None

    @property
    def action_features(self) -> dict[str, type]:
        return dict.fromkeys(LOCO_KEYS, float)

    @property
    def feedback_features(self) -> dict[str, type]:
        return {}

    @property
    def is_connected(self) -> bool:
        return self.gamepad is not None

    @property
    def is_calibrated(self) -> bool:
        return True

    def calibrate(self) -> None:
        pass

    def configure(self) -> None:
        pass

    @check_if_already_connected
    def connect(self, calibrate: bool = True) -> None:
        gamepad = LocoGamepadController(self.config)
        gamepad.start()
        self.gamepad = gamepad
        self.command.reset()

    @check_if_not_connected
    def get_action(self) -> dict[str, float]:
        pad = self.gamepad
        pad.update()
        if pad.removed:
            raise GamepadDisconnectedError(
                f"The gamepad (SDL index {self.config.joystick_index}) was disconnected during teleoperation. "
                "Reconnect it and record again; episodes saved before this one are kept in the dataset."
            )
        c = self.config
        return self.command.step(
            LocoInput(
                forward=-pad.axis(c.axis_forward),
                lateral=-pad.axis(c.axis_lateral),
                turn=-pad.axis(c.axis_turn),
                height=-pad.axis(c.axis_height),
                stand=c.button_stand in pad.pressed,
            )
        )

    def get_teleop_events(self) -> dict[TeleopEvents, bool]:
        """Episode events in LeRobot's gamepad convention (for scripts that poll teleop events)."""
        if self.gamepad is None:
            return dict.fromkeys(
                (
                    TeleopEvents.IS_INTERVENTION,
                    TeleopEvents.TERMINATE_EPISODE,
                    TeleopEvents.SUCCESS,
                    TeleopEvents.RERECORD_EPISODE,
                ),
                False,
            )
        status = self.gamepad.get_episode_end_status()
        return {
            TeleopEvents.IS_INTERVENTION: False,
            TeleopEvents.TERMINATE_EPISODE: status in (TeleopEvents.FAILURE, TeleopEvents.RERECORD_EPISODE),
            TeleopEvents.SUCCESS: status == TeleopEvents.SUCCESS,
            TeleopEvents.RERECORD_EPISODE: status == TeleopEvents.RERECORD_EPISODE,
        }

    def send_feedback(self, feedback: dict) -> None:
        pass

    def disconnect(self) -> None:
        if self.gamepad is not None:
            self.gamepad.stop()
            self.gamepad = None
