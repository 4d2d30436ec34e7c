"""The module LeRobot's plugin discovery imports (distribution ``lerobot_policy_wbvla``).

LeRobot imports every installed distribution whose name starts with ``lerobot_policy_`` (and the robot, teleop,
camera and env prefixes) before parsing a CLI's flags, so that ``--robot.type=agibot_x2``, ``--teleop.type=...`` and
``--env.type=agibot_x2`` resolve with no ``--discover_packages_path`` flag. This module only imports the registering
modules that ``lerobot_wbvla`` provides; it holds no logic of its own.
"""

from lerobot_wbvla.plugin import register_all

REGISTERED = register_all()

__all__ = ["REGISTERED"]
