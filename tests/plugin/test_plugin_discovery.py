"""LeRobot finds this project with no flags: by distribution name, through its own discovery function and CLIs."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path


def test_distribution_name_is_discoverable():
    dist = importlib.metadata.distribution("lerobot_policy_wbvla")
    # LeRobot matches METADATA `Name` by prefix with underscores; a hyphenated name would never be imported.
    assert dist.metadata["Name"] == "lerobot_policy_wbvla"


def test_register_third_party_plugins_registers_every_choice(subprocess_env):
    """In a fresh interpreter, LeRobot's own discovery imports the plugin and every choice resolves."""
    code = """
import logging, sys
failed = []
class Catch(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.ERROR:
            failed.append(record.getMessage())
logging.getLogger().addHandler(Catch())
from lerobot.utils.import_utils import register_third_party_plugins
register_third_party_plugins()
assert not failed, failed
assert "lerobot_policy_wbvla" in sys.modules
from lerobot.robots.config import RobotConfig
from lerobot.teleoperators.config import TeleoperatorConfig
from lerobot.envs.configs import EnvConfig
print("robots", sorted(RobotConfig.get_known_choices()))
print("teleops", sorted(TeleoperatorConfig.get_known_choices()))
print("envs", sorted(EnvConfig.get_known_choices()))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-4000:]
    lines = dict(line.split(" ", 1) for line in out.stdout.strip().splitlines())
    assert "'agibot_x2'" in lines["robots"]
    for teleop in ("x2_leader", "x2_loco_keyboard", "x2_loco_gamepad", "x2_whole_body", "x2_scripted"):
        assert f"'{teleop}'" in lines["teleops"], teleop
    assert "'agibot_x2'" in lines["envs"]


def test_lerobot_cli_resolves_robot_type_without_flags(subprocess_env):
    """`lerobot-record --robot.type=agibot_x2 --help` parses: the choice exists before draccus reads the flags."""
    bindir = Path(sys.executable).parent
    out = subprocess.run(
        [str(bindir / "lerobot-record"), "--robot.type=agibot_x2", "--help"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert "base_mode" in out.stdout and "control_fps" in out.stdout
