"""AgiBot X2 Ultra: parameter table, generated MJCF twin (X2Sim), scenes, and the LeRobot robot `agibot_x2`.

Importing this package registers `--robot.type=agibot_x2`.
"""

import os

# MuJoCo picks its GL backend at import time; offscreen rendering on headless machines needs EGL.
os.environ.setdefault("MUJOCO_GL", "egl")

from .agibot_x2 import AgibotX2  # noqa: E402
from .config_agibot_x2 import AgibotX2Config  # noqa: E402

__all__ = ["AgibotX2", "AgibotX2Config"]
