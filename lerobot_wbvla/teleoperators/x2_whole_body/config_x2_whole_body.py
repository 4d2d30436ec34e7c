"""Configuration of `x2_whole_body` (`--teleop.type=x2_whole_body`): leader arms + a locomotion input device."""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.teleoperators.config import TeleoperatorConfig

from ..x2_leader.config_x2_leader import X2LeaderArmsConfig, X2LeaderConfig
from ..x2_loco.config_x2_loco import X2LocoKeyboardConfig, X2LocoTeleopConfig


@TeleoperatorConfig.register_subclass("x2_whole_body")
@dataclass(kw_only=True)
class X2WholeBodyConfig(TeleoperatorConfig):
    # The two leader arms (e.g. --teleop.arms.left_port=/dev/ttyUSB0 --teleop.arms.right_port=/dev/ttyUSB1).
    # Their calibration id defaults to this teleop's --teleop.id.
    arms: X2LeaderArmsConfig
    # Locomotion input: --teleop.loco.type=x2_loco_keyboard (default) or x2_loco_gamepad, with its options.
    loco: X2LocoTeleopConfig = field(default_factory=X2LocoKeyboardConfig)

    def leader_config(self) -> X2LeaderConfig:
        """The `x2_leader` config of the arms; it shares this teleop's id and calibration directory, so the
        arms' calibration file is the one `--teleop.type=x2_leader --teleop.id=<same id>` writes."""
        return X2LeaderConfig.from_arms(self.arms, id=self.id, calibration_dir=self.calibration_dir)
