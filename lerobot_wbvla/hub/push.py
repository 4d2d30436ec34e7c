"""`push_folder_to_hub`: publish an artifact folder as one commit, all or nothing.

"Nothing half-written lands" is what makes a pushed artifact trustworthy: a repo, branch or tag either holds a
complete artifact or is as it was. The Hub has no transaction over several calls (create repo, create branch,
commit, tag), so the push orders them to leave as little to undo as possible and undoes the rest:

1. Everything that can be checked is checked before anything is created: the repo id, branch and tag names, every
   file path (the rules the Hub's clients need, `repo_paths.py`), each file's bytes (hashed for the commit), the
   card, and on the Hub the repo's refs (the tag must be free) and its files (no file may become a folder).
2. The repo (or the branch, from the head that was checked) is created only then, and committed to right after.
3. On any failure, Ctrl-C or SIGTERM, what this push created is undone: a repo it created is deleted, a branch it
   created is deleted; on an existing branch a commit that landed (e.g. the tag failed after it) is reverted by a
   second commit (with `parent_commit`, so nobody else's work is touched) that restores the files as they were.

SIGKILL cannot be caught. Killed between step 2 and the end of the commit (the upload time of the files), a push
leaves a new repo holding only `.gitattributes`, or a new branch at the head it started from; killed between
the commit and the tag, the commit without its tag. `HfApi().list_repo_refs` and `list_repo_commits` show what
is there; `hf repo delete <repo>` and `hf repo branch delete <repo> <branch>` (or `HfApi().delete_repo`,
`delete_branch`) remove it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import logging
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
)
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import validate_repo_id

from lerobot_wbvla.hub.model_card import ArtifactCard
from lerobot_wbvla.hub.repo_paths import path_problem, ref_problem, tree_conflicts

logger = logging.getLogger(__name__)


class HubPushError(RuntimeError):
    """A push was refused before writing, or failed and was undone; the message says what is on the Hub now."""


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


class _Terminated(BaseException):
    """SIGTERM arrived during a push: raised in the main thread so that the undo runs before the process ends."""


class _SigtermGuard:
    """Turns SIGTERM into `_Terminated` while a push runs (main thread only; elsewhere signals are not ours).

    Inside `deferred()` (creating the repo or the branch) the signal waits until the call returned, so the push
    always knows what it created. After the undo, `redeliver()` restores the previous handler and raises the
    signal again: a process that SIGTERM would have ended still ends, only later.
    """

    def __init__(self) -> None:
        self.installed = False
        self.fired = False  # `_Terminated` was raised
        self.pending = False  # a SIGTERM waits for `deferred()` to end, or for the push to end
        self.closing = False  # the push succeeded or is undoing: no more `_Terminated`, deliver at the end
        self.deferring = 0
        self.previous: object = None

    def __enter__(self) -> _SigtermGuard:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGTERM)
            if previous not in (signal.SIG_IGN, None):
                self.previous = previous
                signal.signal(signal.SIGTERM, self._handle)
                self.installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()
        if self.pending:  # arrived while a creation was deferred and never raised: deliver it now
            self.pending = False
            signal.raise_signal(signal.SIGTERM)

    def _handle(self, signum: int, frame: object) -> None:
        if self.fired:
            return  # a second SIGTERM while undoing: the undo finishes first
        if self.deferring or self.closing:
            self.pending = True
            return
        self.fired = True
        raise _Terminated

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self.deferring += 1
        try:
            yield
        finally:
            self.deferring -= 1
        if self.pending and not (self.deferring or self.fired or self.closing):
            self.pending = False
            self.fired = True
            raise _Terminated

    def _restore(self) -> None:
        if self.installed:
            signal.signal(signal.SIGTERM, self.previous)  # type: ignore[arg-type]
            self.installed = False

    def redeliver(self) -> None:
        self._restore()
        signal.raise_signal(signal.SIGTERM)


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

    Creates the repo if needed and `branch` if missing (from main's head); `tag` marks the new commit and must
    not exist yet. All checks run before anything is created; on any failure, Ctrl-C or SIGTERM the push undoes
    what it created (a new repo or branch is deleted, a commit on an existing branch is reverted) and raises:
    the original error, or `HubPushError` when the commit had landed (the tag failed) or SIGTERM ended the push.
    SIGKILL between creating the repo/branch and the end of the commit leaves an empty repo or a branch at its
    start (see the module docstring for how to find and delete them).
    """
    push = _Push(
        _plan(folder, repo_id, repo_type, branch, tag, card, allow_patterns, ignore_patterns, commit_message),
        HfApi(token=token),
        private,
    )
    with _SigtermGuard() as guard:
        push.guard = guard
        try:
            return push.run()
        except BaseException as err:
            guard.closing = True  # a SIGTERM now waits until the undo is done
            undo_error = push.undo(err)
            if isinstance(err, _Terminated):
                logger.error("Push to %s interrupted by SIGTERM: %s", repo_id, push.undone)
                guard.redeliver()  # ends the process when SIGTERM's handler is the default one
                raise HubPushError(f"Push to {repo_id} was interrupted by SIGTERM; {push.undone}") from None
            if undo_error is not None:
                raise undo_error from err
            if push.step == "tag":
                raise HubPushError(
                    f"Push to {repo_id}: tag {tag!r} could not be created ({_short(err)}); {push.undone}. "
                    "Retry the push once the cause is fixed."
                ) from err
            if push.created_repo or push.created_branch or push.step in ("commit", "tag"):
                logger.error("Push to %s failed (%s); %s", repo_id, _short(err), push.undone)
            raise


@dataclass
class _Plan:
    """A push checked locally: what to commit where."""

    folder: Path
    repo_id: str
    repo_type: str
    branch: str
    tag: str | None
    operations: list[CommitOperationAdd]
    title: str


def _plan(
    folder: str | Path,
    repo_id: str,
    repo_type: str,
    branch: str | None,
    tag: str | None,
    card: ArtifactCard | None,
    allow_patterns: list[str] | None,
    ignore_patterns: list[str] | None,
    commit_message: str | None,
) -> _Plan:
    """Every check that needs no Hub, and the commit's operations (reading and hashing every file)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Cannot push {folder}: not a directory (expected the artifact's output folder)"
        )
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise ValueError(f"Invalid repo_id {repo_id!r}: {e}") from e
    if repo_type not in constants.REPO_TYPES:
        raise ValueError(f"Invalid repo_type {repo_type!r}: use one of {constants.REPO_TYPES}")
    for kind, name in (("branch", branch), ("tag", tag)):
        problem = None if name is None else ref_problem(name, kind)
        if problem is not None:
            raise ValueError(f"Cannot push {folder} to {repo_id}: {problem}")
    files = _local_files(folder, allow_patterns, ignore_patterns)
    if card is not None:
        files = [f for f in files if f != "README.md"]
    if not files and card is None:
        raise ValueError(f"Cannot push {folder}: no files to upload (check allow_patterns/ignore_patterns)")
    for rel in files:
        problem = path_problem(rel)
        if problem is not None:
            raise ValueError(
                f"Cannot push {folder}: {problem}. Rename the file, or leave it out (ignore_patterns)"
            )
    operations = [CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(folder / rel)) for rel in files]
    if card is not None:
        readme = card.render(repo_id, repo_type=repo_type, revision=tag or branch)
        operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=readme.encode()))
    title = commit_message or f"Upload {card.kind if card else 'artifact'} from {folder.name}"
    return _Plan(folder, repo_id, repo_type, branch or constants.DEFAULT_REVISION, tag, operations, title)


class _Push:
    """One push: `run` does it step by step, recording what it created so that `undo` can remove exactly that."""

    def __init__(self, plan: _Plan, api: HfApi, private: bool | None) -> None:
        self.plan, self.api, self.private = plan, api, private
        self.guard = _SigtermGuard()
        self.step = "check"
        self.created_repo = False
        self.created_branch = False
        self.base: str | None = None  # head of the branch before the push (None for a new repo)
        self.commit_oid: str | None = None
        self.tagged = False
        self.repo_url = ""
        self.undone = "nothing was written"

    # -------------------------------------------------------------------------------------------------- run
    def run(self) -> PushedArtifact:
        p, api = self.plan, self.api
        kw = {"repo_type": p.repo_type}
        refs = self._refs()
        if refs is None:
            with self.guard.deferred():
                self.step = "create repo"
                try:
                    self.repo_url = str(
                        api.create_repo(p.repo_id, private=self.private, exist_ok=False, **kw)
                    )
                    self.created_repo = True
                except HfHubHTTPError as e:
                    if e.response is None or e.response.status_code != 409:
                        raise
            if not self.created_repo:  # someone created it since the check: check it as an existing repo
                refs = self._refs()
                if refs is None:
                    raise HubPushError(
                        f"{p.repo_type} repo {p.repo_id} exists but cannot be read with this token: log in with "
                        "a token that can write to it, or push to another repo_id"
                    )
        if refs is not None:
            self._check_existing(refs)
        if p.branch != constants.DEFAULT_REVISION and (self.created_repo or p.branch not in refs[0]):
            with self.guard.deferred():
                self.step = "create branch"
                start = None if self.created_repo else refs[0].get(constants.DEFAULT_REVISION)
                api.create_branch(p.repo_id, branch=p.branch, revision=start, **kw)
                self.created_branch = True
                self.base = start
        self.step = "commit"
        # On a branch this push did not create, a commit request that was sent may still land after the client
        # gave up, and nothing deletes it then: upload the LFS files first (interruptible, nothing lands), then
        # let the commit call finish and undo its result. A new repo or branch is deleted instead, which makes a
        # late commit to it fail.
        existing = not (self.created_repo or self.created_branch)
        if existing:
            api.preupload_lfs_files(
                p.repo_id, additions=p.operations, revision=p.branch, free_memory=False, **kw
            )
        with self.guard.deferred() if existing else contextlib.nullcontext():
            commit = api.create_commit(
                p.repo_id,
                operations=p.operations,
                commit_message=p.title,
                revision=p.branch,
                parent_commit=self.base,
                **kw,
            )
            if commit.oid != self.base:  # no new commit when every file was already there, byte for byte
                self.commit_oid = commit.oid
        if p.tag is not None:
            self.step = "tag"
            with self.guard.deferred():  # a tag request in flight may land too: wait for it, then undo it
                api.create_tag(p.repo_id, tag=p.tag, revision=commit.oid, **kw)
                self.tagged = True
        self.step = "done"
        # Complete: a SIGTERM from here on ends the process after the push instead of undoing it.
        self.guard.closing = True
        logger.info("Pushed %s to %s (%s@%s)", p.folder, self.repo_url, p.branch, commit.oid[:8])
        return PushedArtifact(
            repo_id=p.repo_id,
            repo_type=p.repo_type,
            repo_url=self.repo_url,
            commit_oid=commit.oid,
            commit_url=commit.commit_url,
            branch=p.branch,
            tag=p.tag,
        )

    def _refs(self) -> tuple[dict[str, str], set[str]] | None:
        """(branch -> head, tag names) of the repo, or None when it does not exist."""
        p = self.plan
        try:
            refs = self.api.list_repo_refs(p.repo_id, repo_type=p.repo_type)
        except OfflineModeIsEnabled as e:
            raise HubPushError(
                f"Cannot push {p.folder} to {p.repo_id}: HF_HUB_OFFLINE is set. Unset it, or turn push_to_hub off."
            ) from e
        except RepositoryNotFoundError:
            return None
        prefix = constants.REPO_TYPES_URL_PREFIXES.get(p.repo_type, "")
        self.repo_url = f"{self.api.endpoint}/{prefix}{p.repo_id}"
        return {b.name: b.target_commit for b in refs.branches}, {t.name for t in refs.tags}

    def _check_existing(self, refs: tuple[dict[str, str], set[str]]) -> None:
        """The checks an existing repo allows before anything is written: tag free, no file/folder clash."""
        p = self.plan
        branches, tags = refs
        if p.tag is not None and p.tag in tags:
            raise HubPushError(
                f"Tag {p.tag!r} already exists in {p.repo_type} repo {p.repo_id}: pick a new tag (tags name fixed "
                "revisions) or delete the old one first"
            )
        head = branches.get(p.branch, branches.get(constants.DEFAULT_REVISION))
        if p.branch in branches:
            self.base = branches[p.branch]
        if head is None:
            return
        remote = self.api.list_repo_files(p.repo_id, repo_type=p.repo_type, revision=head)
        ours = {op.path_in_repo for op in p.operations}
        for file, below in tree_conflicts([*remote, *ours]):
            if file in ours or below in ours:
                raise HubPushError(
                    f"Cannot push {p.folder} to {p.repo_id}@{p.branch}: {file!r} would be both a file and the "
                    f"folder of {below!r} (one of them is already in the repo). Rename it, or push to a new branch"
                )

    # ------------------------------------------------------------------------------------------------- undo
    def undo(self, err: BaseException) -> HubPushError | None:
        """Remove what this push created; sets `self.undone` to what the Hub holds now. Returns a HubPushError
        when the undo itself failed (the message says what to remove by hand), else None."""
        p, api = self.plan, self.api
        kw = {"repo_type": p.repo_type}
        try:
            if self.created_repo:  # its refs, tag included, go with it
                api.delete_repo(p.repo_id, missing_ok=True, **kw)
                self.undone = f"the repo it had created ({p.repo_id}) was deleted"
                return None
            untagged = ""
            if self.tagged:  # the tag call finished, but the push did not
                api.delete_tag(p.repo_id, tag=p.tag, **kw)
                untagged = f"its tag {p.tag!r} was deleted and "
            if self.created_branch:
                api.delete_branch(p.repo_id, branch=p.branch, **kw)
                self.undone = f"{untagged}the branch it had created ({p.branch}) was deleted"
            elif self.step in ("commit", "tag"):
                landed = self.commit_oid or self._landed_commit()
                if landed is None:
                    self.undone = f"{untagged}nothing was written ({p.branch} is unchanged)"
                else:
                    revert = self._revert(landed, f"push failed at its {self.step} step: {_short(err)}")
                    self.undone = untagged + (
                        f"its commit {landed[:8]} was reverted by commit {revert[:8]}, so {p.branch} holds the "
                        "same files as before the push"
                        if revert
                        else f"its commit {landed[:8]} changed no file"
                    )
            return None
        except Exception as cleanup_error:  # the push error matters more; say what is left behind
            what = (
                f"delete the repo {p.repo_id}"
                if self.created_repo
                else f"delete the branch {p.branch} of {p.repo_id}"
                if self.created_branch
                else f"check branch {p.branch} of {p.repo_id} (list_repo_commits) and revert the push's commit"
            )
            if self.tagged and not self.created_repo:
                what += f" and delete the tag {p.tag!r}"
            self.undone = f"undoing it failed too ({_short(cleanup_error)}): {what} by hand"
            logger.error("Push to %s failed (%s); %s", p.repo_id, _short(err), self.undone)
            return HubPushError(f"Push to {p.repo_id} failed ({_short(err)}) and {self.undone}")

    def _landed_commit(self) -> str | None:
        """This push's commit when it reached the branch although the call did not return (it was interrupted):
        the head moved from `base` by exactly one commit with this push's title."""
        p = self.plan
        commits = self.api.list_repo_commits(p.repo_id, repo_type=p.repo_type, revision=p.branch)
        if len(commits) >= 2 and commits[0].commit_id != self.base and commits[1].commit_id == self.base:
            if commits[0].title.strip() == p.title.splitlines()[0].strip():
                return commits[0].commit_id
        return None

    def _revert(self, landed: str, reason: str) -> str | None:
        """Commit on top of `landed` the files of `base` for every path the push wrote; the revert's oid."""
        p, api = self.plan, self.api
        kw = {"repo_type": p.repo_type}
        paths = [op.path_in_repo for op in p.operations]
        before = {
            f.path: f
            for f in api.get_paths_info(p.repo_id, paths, revision=self.base, **kw)
            if isinstance(f, RepoFile)
        }
        with tempfile.TemporaryDirectory(prefix="wbvla-revert-") as tmp:
            operations: list[CommitOperationAdd | CommitOperationDelete] = []
            for op in p.operations:
                old = before.get(op.path_in_repo)
                if old is None:
                    operations.append(CommitOperationDelete(op.path_in_repo))
                elif not _same_content(old, op):
                    local = api.hf_hub_download(p.repo_id, old.path, revision=self.base, cache_dir=tmp, **kw)
                    operations.append(CommitOperationAdd(old.path, local))
            if not operations:
                return None
            return api.create_commit(
                p.repo_id,
                operations=operations,
                commit_message=f"Revert {p.title.splitlines()[0]!r}",
                commit_description=f"Reverted by lerobot_wbvla.hub: the {reason}",
                revision=p.branch,
                parent_commit=landed,
                **kw,
            ).oid


def _same_content(remote: RepoFile, op: CommitOperationAdd) -> bool:
    """Whether `op` uploads exactly the bytes `remote` holds (LFS: sha256; regular files: git blob sha1)."""
    if remote.lfs is not None:
        return remote.lfs.sha256 == op.upload_info.sha256.hex()
    if remote.size != op.upload_info.size:
        return False
    with op.as_file() as f:
        data = f.read()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == remote.blob_id


def _short(err: BaseException) -> str:
    """An error in one line (huggingface_hub's messages span several)."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."
