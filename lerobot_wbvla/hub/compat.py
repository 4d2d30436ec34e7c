"""Fixes for huggingface_hub versions that ignore `HF_ENDPOINT` somewhere.

huggingface_hub < 2 (0.35.x and 1.x, including the 1.33 the LeRobot 0.6 stack pins) posts card validation to a
hard-coded `https://huggingface.co/api/validate-yaml` in `RepoCard.validate`, which `ModelCard.push_to_hub`,
`DatasetCard.push_to_hub` and so `LeRobotDataset.push_to_hub` call. Against a local or private Hub endpoint (or
offline) that call fails with a connection error although every other call goes to `HF_ENDPOINT`. The patch
below sends it to the configured endpoint instead, keeping the validation itself; huggingface_hub >= 2 already
does so and is left alone.
"""

from __future__ import annotations

import huggingface_hub
from huggingface_hub import constants
from huggingface_hub.repocard import RepoCard
from huggingface_hub.utils import get_session, hf_raise_for_status


def _validate_at_configured_endpoint(self: RepoCard, repo_type: str | None = None) -> None:
    """`RepoCard.validate`, posting to `constants.ENDPOINT` (read at call time) instead of huggingface.co."""
    body = {"repoType": repo_type or self.repo_type, "content": str(self)}
    response = get_session().post(
        f"{constants.ENDPOINT}/api/validate-yaml", json=body, headers={"Accept": "text/plain"}
    )
    if response.status_code == 400:
        raise ValueError(response.text)
    hf_raise_for_status(response)


_validate_at_configured_endpoint._wbvla_patch = True  # type: ignore[attr-defined]


def needs_repocard_validate_patch() -> bool:
    """True for huggingface_hub < 2, whose `RepoCard.validate` ignores `HF_ENDPOINT`."""
    return int(huggingface_hub.__version__.split(".")[0]) < 2


def patch_repocard_validate() -> bool:
    """Make `RepoCard.validate` use the configured endpoint; a no-op on huggingface_hub >= 2.

    Idempotent. Returns True when the patch is in place after the call.
    """
    if not needs_repocard_validate_patch():
        return False
    if not getattr(RepoCard.validate, "_wbvla_patch", False):
        RepoCard.validate = _validate_at_configured_endpoint  # type: ignore[method-assign]
    return True
