"""`x2_whole_body`: leader arms + keyboard/gamepad locomotion as one X2 teleoperator."""

from .config_x2_whole_body import X2WholeBodyConfig
from .x2_whole_body import X2WholeBody

__all__ = ["X2WholeBody", "X2WholeBodyConfig"]
