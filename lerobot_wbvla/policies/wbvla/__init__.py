"""The `wbvla` LeRobot policy (`--policy.type=wbvla`): importing this package registers config, policy and
processor steps under LeRobot's naming rules (configuration_* -> modeling_* -> processor_*)."""

from lerobot_wbvla.policies.wbvla.configuration_wbvla import WbvlaConfig
from lerobot_wbvla.policies.wbvla.modeling_wbvla import WbvlaPolicy
from lerobot_wbvla.policies.wbvla.processor_wbvla import make_wbvla_pre_post_processors

__all__ = ["WbvlaConfig", "WbvlaPolicy", "make_wbvla_pre_post_processors"]
