"""Imports every module of ``lerobot_wbvla`` that registers a choice in one of LeRobot's draccus registries.

Importing a config module runs its ``@XConfig.register_subclass(...)`` decorator; importing the device module next to
it lets LeRobot's factories (``make_robot_from_config``, ``make_teleoperator_from_config``, ``make_env``) find the class
by its naming convention. The list is explicit so that a broken module fails loudly here (and in the tests) instead
of surfacing later as draccus' ``invalid choice``.
"""

from __future__ import annotations

import importlib

# (registry kind, registered name, module paths to import) -- one row per choice this package adds to LeRobot.
REGISTERING_MODULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("robot", "agibot_x2", ("lerobot_wbvla.robots.agibot_x2",)),
    ("teleoperator", "x2_leader", ("lerobot_wbvla.teleoperators.x2_leader",)),
    ("teleoperator", "x2_loco_keyboard", ("lerobot_wbvla.teleoperators.x2_loco",)),
    ("teleoperator", "x2_loco_gamepad", ("lerobot_wbvla.teleoperators.x2_loco",)),
    ("teleoperator", "x2_whole_body", ("lerobot_wbvla.teleoperators.x2_whole_body",)),
    (
        "teleoperator",
        "x2_scripted",
        (
            "lerobot_wbvla.teleoperators.x2_scripted.config_x2_scripted",
            "lerobot_wbvla.teleoperators.x2_scripted.x2_scripted",
        ),
    ),
    ("env", "agibot_x2", ("lerobot_wbvla.envs.agibot_x2",)),
    ("policy", "wbvla", ("lerobot_wbvla.policies.wbvla",)),
    # Not a LeRobot registry: the X2's lower-body controller registry (robots/agibot_x2/lower_body.py), so that
    # `--robot.lower_body_controller=lmo` (and `--env.`) works in every LeRobot CLI; robots/ cannot import lmo/.
    ("lower_body_controller", "lmo", ("lerobot_wbvla.lmo.controller",)),
)


def register_all() -> dict[str, list[str]]:
    """Import the registering modules; return ``{kind: [names]}`` of what was registered."""
    registered: dict[str, list[str]] = {}
    for kind, name, modules in REGISTERING_MODULES:
        for module in modules:
            importlib.import_module(module)
        registered.setdefault(kind, []).append(name)
    return registered
