"""`x2_leader`: bimanual Dynamixel leader arms for the AgiBot X2 (see x2_leader.py)."""

from . import sim  # noqa: F401  (registers the `x2_leader_arm` simulated chain preset)
from .config_x2_leader import X2LeaderConfig
from .x2_leader import LeaderArmDisconnectedError, X2Leader

__all__ = ["LeaderArmDisconnectedError", "X2Leader", "X2LeaderConfig"]
