"""Push and pull of every artifact of the project (LAM now; VLA, LMO, datasets later).

An artifact is a folder (config, weights, anything else). `push_folder_to_hub` publishes it as one commit, so a
repo never shows half an artifact; `resolve_pretrained_dir` turns a repo id (at a branch, tag or commit) or a
local folder into a local folder, online or from the cache when offline. CLIs embed `HubPushConfig` in their
draccus configs and call `push_with_config`.

Option names follow LeRobot's (`push_to_hub`, `repo_id`, `private`, `tags`, `license`).
"""

from __future__ import annotations

import fnmatch
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, constants, snapshot_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from lerobot_wbvla.hub.model_card import ArtifactCard

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


class HubPushError(RuntimeError):
    """A push was refused before or while writing; nothing of it landed on the Hub."""


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


@dataclass(frozen=True)
class PushedArtifact:
    """Where a push landed: the repo, the commit, the branch and the tag (if any)."""

    repo_id: str
    repo_type: str
    repo_url: str
    commit_oid: str
    commit_url: str
    branch: str
    tag: str | None


def _local_files(
    folder: Path, allow_patterns: list[str] | None, ignore_patterns: list[str] | None
) -> list[str]:
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or rel.split("/")[0] in (".git", ".cache"):
            continue
        if allow_patterns and not any(fnmatch.fnmatch(rel, p) for p in allow_patterns):
            continue
        if ignore_patterns and any(fnmatch.fnmatch(rel, p) for p in ignore_patterns):
            continue
        files.append(rel)
    return files


def push_folder_to_hub(
    folder: str | Path,
    repo_id: str,
    *,
    repo_type: str = "model",
    branch: str | None = None,
    tag: str | None = None,
    private: bool | None = None,
    commit_message: str | None = None,
    card: ArtifactCard | None = None,
    allow_patterns: list[str] | None = None,
    ignore_patterns: list[str] | None = None,
    token: str | None = None,
) -> PushedArtifact:
    """Publish every file of `folder` (plus `card` as README.md, replacing the folder's own) in one commit.

    Creates the repo if needed and the branch if asked (from main). If anything fails after that, what this call
    created is removed again (a new repo is deleted, a new branch too), so the Hub never holds half an artifact.
    `tag` marks the new commit; it is checked before anything is written and must not exist yet.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Cannot push {folder}: not a directory (expected the artifact's output folder)"
        )
    files = _local_files(folder, allow_patterns, ignore_patterns)
    if not files and card is None:
        raise ValueError(f"Cannot push {folder}: no files to upload (check allow_patterns/ignore_patterns)")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise ValueError(f"Invalid repo_id {repo_id!r}: {e}") from e

    api = HfApi(token=token)
    try:
        repo_url = str(api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=False))
        created_repo = True
    except OfflineModeIsEnabled as e:
        raise HubPushError(
            f"Cannot push {folder} to {repo_id}: HF_HUB_OFFLINE is set. Unset it, or turn push_to_hub off."
        ) from e
    except HfHubHTTPError as e:
        # 409: the repo exists. 401/402/403: no right to create here, but the repo may exist (as exist_ok handles).
        status = e.response.status_code if e.response is not None else None
        if status not in (401, 402, 403, 409) or (
            status != 409 and not api.repo_exists(repo_id, repo_type=repo_type)
        ):
            raise
        prefix = constants.REPO_TYPES_URL_PREFIXES.get(repo_type, "")
        repo_url = f"{api.endpoint}/{prefix}{repo_id}"
        created_repo = False

    created_branch = False
    try:
        if tag is not None and not created_repo:
            refs = api.list_repo_refs(repo_id, repo_type=repo_type)
            if any(t.name == tag for t in refs.tags):
                raise HubPushError(
                    f"Tag {tag!r} already exists in {repo_type} repo {repo_id}: pick a new tag (tags name fixed "
                    "revisions) or delete the old one first"
                )
        if branch is not None and branch != constants.DEFAULT_REVISION:
            try:
                api.create_branch(repo_id, branch=branch, repo_type=repo_type, exist_ok=False)
                created_branch = True
            except HfHubHTTPError as e:
                if e.response is None or e.response.status_code != 409:
                    raise
        operations = [
            CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(folder / rel)) for rel in files
        ]
        if card is not None:
            operations = [op for op in operations if op.path_in_repo != "README.md"]
            readme = card.render(repo_id, repo_type=repo_type, revision=tag or branch)
            operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=readme.encode()))
        commit = api.create_commit(
            repo_id,
            operations=operations,
            commit_message=commit_message or f"Upload {card.kind if card else 'artifact'} from {folder.name}",
            repo_type=repo_type,
            revision=branch,
        )
        if tag is not None:
            api.create_tag(repo_id, tag=tag, revision=commit.oid, repo_type=repo_type)
    except BaseException:
        _undo(api, repo_id, repo_type, created_repo, branch if created_branch else None)
        raise
    branch_name = branch or constants.DEFAULT_REVISION
    logger.info("Pushed %s to %s (%s@%s)", folder, repo_url, branch_name, commit.oid[:8])
    return PushedArtifact(
        repo_id=repo_id,
        repo_type=repo_type,
        repo_url=repo_url,
        commit_oid=commit.oid,
        commit_url=commit.commit_url,
        branch=branch_name,
        tag=tag,
    )


def _undo(api: HfApi, repo_id: str, repo_type: str, created_repo: bool, created_branch: str | None) -> None:
    """Remove what a failed push created; never hides the original error."""
    try:
        if created_repo:
            api.delete_repo(repo_id, repo_type=repo_type, missing_ok=True)
        elif created_branch is not None:
            api.delete_branch(repo_id, branch=created_branch, repo_type=repo_type)
    except Exception as cleanup_error:  # the push error matters more; say what is left behind
        logger.error(
            "Push to %s failed and cleaning up also failed (%s): remove %s by hand",
            repo_id,
            cleanup_error,
            "the repo" if created_repo else f"branch {created_branch}",
        )


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
) -> Path:
    """A local folder holding the artifact: `repo_id_or_path` itself if it is a directory, else a Hub snapshot.

    The snapshot is taken at `revision` (branch, tag or commit sha; None = main). With `HF_HUB_OFFLINE=1` or
    `local_files_only=True` only the cache is used. Raises `ArtifactNotFoundError` (a FileNotFoundError) naming
    the repo id, revision and what to do when the artifact is neither there nor reachable.
    """
    candidate = Path(repo_id_or_path).expanduser()
    if candidate.is_dir():
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
    return Path(path)


def _known_refs(repo_id: str, repo_type: str, token: str | None) -> str:
    try:
        refs = HfApi(token=token).list_repo_refs(repo_id, repo_type=repo_type)
    except Exception:  # only decorates an error message
        return ""
    names = [b.name for b in refs.branches] + [t.name for t in refs.tags]
    return f" (branches and tags: {', '.join(sorted(names))})" if names else ""
