"""Push and pull of every artifact of the project (LAM now; VLA, LMO, datasets later).

An artifact is a folder (config, weights, anything else). `push_folder_to_hub` (push.py) publishes it as one
commit, so a repo never shows half an artifact; `resolve_pretrained_dir` turns a repo id (at a branch, tag or
commit) or a local folder into a local folder, online or from the cache when offline, and checks that the files
the artifact's kind needs are there. CLIs embed `HubPushConfig` in their draccus configs and call
`push_with_config`.

Option names follow LeRobot's (`push_to_hub`, `repo_id`, `private`, `tags`, `license`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from huggingface_hub import HfApi, constants, snapshot_download
from huggingface_hub.errors import (
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from lerobot_wbvla.hub.model_card import ArtifactCard
from lerobot_wbvla.hub.push import HubPushError, PushedArtifact, push_folder_to_hub

__all__ = [
    "REQUIRED_FILES",
    "ArtifactNotFoundError",
    "HubPushConfig",
    "HubPushError",
    "PushedArtifact",
    "push_folder_to_hub",
    "push_with_config",
    "resolve_pretrained_dir",
]

logger = logging.getLogger(__name__)

try:  # huggingface_hub >= 1.x names it; older versions raise LocalEntryNotFoundError only
    from huggingface_hub.errors import IncompleteSnapshotError
except ImportError:  # pragma: no cover
    IncompleteSnapshotError = LocalEntryNotFoundError  # type: ignore[misc,assignment]


class ArtifactNotFoundError(FileNotFoundError):
    """An artifact could not be found locally or on the Hub; the message says what to do."""

    def __init__(self, message: str, *, repo_id: str, revision: str | None, repo_type: str) -> None:
        super().__init__(message)
        self.repo_id = repo_id
        self.revision = revision
        self.repo_type = repo_type


# Files without which an artifact of a kind is unusable (a snapshot lacking one is refused, not returned).
# "generic" requires nothing; a caller can always pass its own `required_files`.
REQUIRED_FILES: dict[str, tuple[str, ...]] = {
    "generic": (),
    "lam": ("config.json", "model.safetensors"),
    "dataset": ("meta/info.json",),
}


@dataclass
class HubPushConfig:
    """Where and how a CLI publishes what it produced (embed as e.g. `hub: HubPushConfig` in a draccus config)."""

    # Publish the output folder to the Hub when the run ends.
    push_to_hub: bool = False
    # Target repo, "namespace/name" (required with push_to_hub).
    repo_id: str | None = None
    # Create the repo private (None = the Hub's default, public). Ignored for a repo that exists.
    private: bool | None = None
    # Extra card tags (the card always carries "lerobot" and "wholebodyvla").
    tags: list[str] = field(default_factory=list)
    # License identifier written in the card.
    license: str | None = "apache-2.0"
    # Branch to commit to (created from main if missing); None = main.
    branch: str | None = None
    # Git tag to put on the new commit (a fixed revision such as "v1.0"); must not exist yet.
    tag: str | None = None
    # Commit message; None = "Upload <kind> artifact".
    commit_message: str | None = None

    def __post_init__(self) -> None:
        if self.push_to_hub and not self.repo_id:
            raise ValueError("push_to_hub is set but repo_id is missing: pass repo_id=namespace/name")


def push_with_config(
    folder: str | Path, cfg: HubPushConfig, *, card: ArtifactCard | None = None, repo_type: str = "model"
) -> PushedArtifact | None:
    """Push `folder` as `cfg` says (nothing when `cfg.push_to_hub` is off); card tags/license come from `cfg`."""
    if not cfg.push_to_hub:
        return None
    if cfg.repo_id is None:
        raise ValueError("push_to_hub is set but repo_id is missing: pass repo_id=namespace/name")
    if card is not None:
        tags = list(dict.fromkeys([*card.tags, *cfg.tags]))
        card = replace(card, tags=tags, license=cfg.license or card.license)
    return push_folder_to_hub(
        folder,
        cfg.repo_id,
        repo_type=repo_type,
        branch=cfg.branch,
        tag=cfg.tag,
        private=cfg.private,
        commit_message=cfg.commit_message,
        card=card,
    )


def _looks_like_path(value: str) -> bool:
    """A repo id is `name` or `namespace/name`; anything else that looks like a path is treated as one."""
    return (
        value.startswith(("/", "./", "../", "~", "."))
        or value.endswith(("/", os.sep))
        or value.count("/") > 1
        or os.sep != "/"
        and os.sep in value
    )


def resolve_pretrained_dir(
    repo_id_or_path: str | Path,
    *,
    revision: str | None = None,
    repo_type: str = "model",
    local_files_only: bool = False,
    cache_dir: str | Path | None = None,
    allow_patterns: list[str] | None = None,
    token: str | None = None,
    kind: str = "generic",
    required_files: Sequence[str] | None = None,
) -> Path:
    """A local folder holding the artifact: `repo_id_or_path` itself if it is a directory, else a Hub snapshot.

    The snapshot is taken at `revision` (branch, tag or commit sha; None = main). With `HF_HUB_OFFLINE=1` or
    `local_files_only=True` only the cache is used. The folder must hold `required_files` (default: those of
    `kind`, `REQUIRED_FILES`): offline, huggingface_hub returns a cached snapshot even when it holds only some
    files (it can tell only when it had cached the repo's file list). Raises `ArtifactNotFoundError` (a
    FileNotFoundError) naming the repo id, revision, missing files and what to do when the artifact is neither
    there nor reachable, or incomplete.
    """
    if required_files is None:
        if kind not in REQUIRED_FILES:
            raise ValueError(
                f"Unknown artifact kind {kind!r}: use one of {sorted(REQUIRED_FILES)} or required_files"
            )
        required_files = REQUIRED_FILES[kind]
    required = list(dict.fromkeys(required_files))
    candidate = Path(repo_id_or_path).expanduser()
    if candidate.is_dir():
        missing = [f for f in required if not (candidate / f).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{candidate} is not a complete {kind} artifact: it lacks {', '.join(missing)}. Pass the folder the "
                "artifact was saved to, or a Hub repo id"
            )
        return candidate
    text = str(repo_id_or_path)
    if candidate.exists():
        raise NotADirectoryError(f"{candidate} is a file; pass the artifact's folder (or a Hub repo id)")
    if isinstance(repo_id_or_path, Path) or _looks_like_path(text):
        raise FileNotFoundError(
            f"No such directory: {candidate} (pass an existing artifact folder or a repo id)"
        )
    try:
        validate_repo_id(text)
    except HFValidationError as e:
        raise ValueError(f"{text!r} is neither an existing directory nor a valid Hub repo id: {e}") from e

    where = f"{repo_type} {text!r} at revision {revision or constants.DEFAULT_REVISION!r}"
    offline = local_files_only or constants.HF_HUB_OFFLINE

    def not_found(reason: str, advice: str) -> ArtifactNotFoundError:
        return ArtifactNotFoundError(
            f"{where}: {reason}. {advice}", repo_id=text, revision=revision, repo_type=repo_type
        )

    if allow_patterns is not None:  # the required files are always fetched
        allow_patterns = [*allow_patterns, *required]
    try:
        path = snapshot_download(
            text,
            repo_type=repo_type,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            allow_patterns=allow_patterns,
            token=token,
        )
    except RevisionNotFoundError as e:
        raise not_found(
            f"the repo exists on {constants.ENDPOINT} but has no such revision{_known_refs(text, repo_type, token)}",
            "Pass an existing branch, tag or commit sha.",
        ) from e
    except RepositoryNotFoundError as e:
        raise not_found(
            f"no such repo on {constants.ENDPOINT}",
            "Check the repo id and repo_type (and log in if the repo is private), or pass a local folder.",
        ) from e
    except IncompleteSnapshotError as e:
        raise not_found(
            "only part of it is in the local cache and the Hub cannot be reached",
            "Pull it again online to complete the cache, or pass a local folder.",
        ) from e
    except LocalEntryNotFoundError as e:
        cache = cache_dir or constants.HF_HUB_CACHE
        reason = (
            "offline mode is on (HF_HUB_OFFLINE=1 or local_files_only=True)"
            if offline
            else f"the Hub at {constants.ENDPOINT} cannot be reached"
        )
        raise not_found(
            f"it is not in the local cache ({cache}) and {reason}",
            "Pull it once while online (e.g. `hf download "
            f"{text}{' --repo-type ' + repo_type if repo_type != 'model' else ''}"
            f"{' --revision ' + revision if revision else ''}`), or pass the path of a local folder instead.",
        ) from e
    missing = [f for f in required if not (Path(path) / f).is_file()]
    if missing:
        raise _incomplete(text, revision, repo_type, kind, Path(path), missing, offline, cache_dir, token)
    return Path(path)


def _incomplete(
    repo_id: str,
    revision: str | None,
    repo_type: str,
    kind: str,
    path: Path,
    missing: list[str],
    offline: bool,
    cache_dir: str | Path | None,
    token: str | None,
) -> ArtifactNotFoundError:
    """The error for a snapshot without some required files: the cache is incomplete, or the repo is."""
    where = f"{repo_type} {repo_id!r} at revision {revision or constants.DEFAULT_REVISION!r}"
    lacks = f"lacks {', '.join(missing)}, without which a {kind} artifact cannot be loaded"
    pull = (
        f"`hf download {repo_id}{' --repo-type ' + repo_type if repo_type != 'model' else ''}"
        f"{' --revision ' + revision if revision else ''}`"
    )
    if offline:
        message = (
            f"{where}: the local cache ({cache_dir or constants.HF_HUB_CACHE}) holds only part of it ({path} "
            f"{lacks}) and offline mode is on (HF_HUB_OFFLINE=1 or local_files_only=True). Complete the cache "
            f"while online ({pull}), or pass the path of a complete local folder instead."
        )
    else:
        try:
            files = HfApi(token=token).list_repo_files(repo_id, repo_type=repo_type, revision=revision)
        except Exception:  # the Hub is unreachable: the snapshot came from an incomplete cache
            files = None
        if files is None:
            message = (
                f"{where}: the Hub at {constants.ENDPOINT} cannot be reached and the cached snapshot {path} {lacks}. "
                f"Complete the cache when the Hub is reachable ({pull}), or pass a complete local folder."
            )
        else:
            message = (
                f"{where}: the repo {lacks} (it holds {', '.join(sorted(files)) or 'no files'}). Push the complete "
                "artifact to it, or pass a revision that holds one."
            )
    return ArtifactNotFoundError(message, repo_id=repo_id, revision=revision, repo_type=repo_type)


def _known_refs(repo_id: str, repo_type: str, token: str | None) -> str:
    try:
        refs = HfApi(token=token).list_repo_refs(repo_id, repo_type=repo_type)
    except Exception:  # only decorates an error message
        return ""
    names = [b.name for b in refs.branches] + [t.name for t in refs.tags]
    return f" (branches and tags: {', '.join(sorted(names))})" if names else ""
