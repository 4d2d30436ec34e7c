"""Push/pull of the project's artifacts, model cards, revisions, and a local Hub-compatible server.

Names are imported lazily: `import lerobot_wbvla.hub.local_server` must not import huggingface_hub, because
huggingface_hub reads `HF_ENDPOINT` (and the offline flags) once, at its import, and the test suite starts the
local server before setting them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ArtifactNotFoundError": "artifacts",
    "HubPushConfig": "artifacts",
    "HubPushError": "push",
    "PushedArtifact": "push",
    "push_folder_to_hub": "push",
    "REQUIRED_FILES": "artifacts",
    "push_with_config": "artifacts",
    "resolve_pretrained_dir": "artifacts",
    "ArtifactCard": "model_card",
    "CardTemplate": "model_card",
    "PROJECT_TAGS": "model_card",
    "card_template": "model_card",
    "register_card_template": "model_card",
    "patch_repocard_validate": "compat",
    "LocalHubServer": "local_server",
}

__all__ = [
    "PROJECT_TAGS",
    "REQUIRED_FILES",
    "ArtifactCard",
    "ArtifactNotFoundError",
    "CardTemplate",
    "HubPushConfig",
    "HubPushError",
    "LocalHubServer",
    "PushedArtifact",
    "card_template",
    "patch_repocard_validate",
    "push_folder_to_hub",
    "push_with_config",
    "register_card_template",
    "resolve_pretrained_dir",
]
assert sorted(__all__) == sorted(_EXPORTS)

if TYPE_CHECKING:
    from lerobot_wbvla.hub.artifacts import (
        REQUIRED_FILES,
        ArtifactNotFoundError,
        HubPushConfig,
        push_with_config,
        resolve_pretrained_dir,
    )
    from lerobot_wbvla.hub.compat import patch_repocard_validate
    from lerobot_wbvla.hub.local_server import LocalHubServer
    from lerobot_wbvla.hub.model_card import (
        PROJECT_TAGS,
        ArtifactCard,
        CardTemplate,
        card_template,
        register_card_template,
    )
    from lerobot_wbvla.hub.push import HubPushError, PushedArtifact, push_folder_to_hub


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lerobot_wbvla.hub' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lerobot_wbvla.hub.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return __all__
