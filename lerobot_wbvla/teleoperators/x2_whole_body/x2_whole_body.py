"""`x2_whole_body`: one teleoperator producing the X2's whole-body action (docs/CONTRACTS.md).

Arms and grippers come from the leader arms (`x2_leader`), the `loco.*` values from a locomotion teleop
(`x2_loco_keyboard` or `x2_loco_gamepad`); the action is their union, in the contract's key order.
"""

from __future__ import annotations

import logging

from lerobot.teleoperators.teleoperator import Teleoperator
from lerobot.teleoperators.utils import make_teleoperator_from_config
from lerobot.utils.decorators import check_if_already_connected, check_if_not_connected

from ...robots.agibot_x2.joints import ACTION_KEYS
from ..x2_leader import X2Leader
from .config_x2_whole_body import X2WholeBodyConfig

logger = logging.getLogger(__name__)


class X2WholeBody(Teleoperator):
    """Leader arms + locomotion device = the 20-value whole-body action."""

    config_class = X2WholeBodyConfig
    name = "x2_whole_body"

    def __init__(self, config: X2WholeBodyConfig):
        super().__init__(config)
        self.config = config
        self.arms = X2Leader(config.leader_config())
        self.loco = make_teleoperator_from_config(config.loco)

    @property
    def action_features(self) -> dict[str, type]:
        return dict.fromkeys(ACTION_KEYS, float)

    @property
    def feedback_features(self) -> dict[str, type]:
        return {}

    @property
    def is_connected(self) -> bool:
        return self.arms.is_connected and self.loco.is_connected

    @check_if_already_connected
    def connect(self, calibrate: bool = True) -> None:
        self.arms.connect(calibrate=calibrate)
        try:
            self.loco.connect()
        except Exception:
            self.arms.disconnect()
            raise

    @property
    def is_calibrated(self) -> bool:
        return self.arms.is_calibrated and self.loco.is_calibrated

    def calibrate(self) -> None:
        self.arms.calibrate()

    def configure(self) -> None:
        self.arms.configure()

    @check_if_not_connected
    def get_action(self) -> dict[str, float]:
        values = {**self.arms.get_action(), **self.loco.get_action()}
        return {key: values[key] for key in ACTION_KEYS}

    def send_feedback(self, feedback: dict) -> None:
        pass

    def disconnect(self) -> None:
        """Disconnect both parts; a failure of one does not keep the other connected."""
        for part in (self.loco, self.arms):
            if part.is_connected:
                try:
                    part.disconnect()
                except Exception as e:  # cleanup must not hide the error that ended the session
                    logger.warning("Disconnecting %s failed: %s", part, e)
