"""Git-like storage behind the local Hub-compatible server (stdlib only).

The local server (`local_server.py`) speaks the Hub's HTTP API; this module holds what it serves: repositories
with commits (sha + parent + a full snapshot of paths -> blob sha), branches and tags pointing at commits, and a
content-addressed blob store. Keeping it apart from the HTTP layer lets the git semantics be read (and reasoned
about) without the request plumbing.

Everything lives in memory; with `root` set, every change is also written to that folder (blobs by sha, the rest
in one JSON file, each written to a temp path, flushed to disk, then renamed) so a standalone server survives
restarts. A root is used by one store at a time (an exclusive lock on `<root>/.lock`: two servers writing one
state file would erase each other's repos); at start the store removes temp files a killed write left behind and
checks every blob against its name (its git sha1), so a corrupt blob stops the start with a clear error instead of
being served.

Errors are `HubStoreError`s that carry the HTTP status and the `X-Error-Code` the real Hub sends, so the server
can turn them into the responses huggingface_hub maps to its typed exceptions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lerobot_wbvla.hub.repo_paths import path_problem, ref_problem, tree_conflicts

try:  # POSIX; elsewhere the root is not locked (the project runs on Linux)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

REPO_TYPES = ("model", "dataset", "space", "kernel")
DEFAULT_BRANCH = "main"
LOCAL_USER = "tester"

# The Hub refuses names outside this set (huggingface_hub validates the same on the client side).
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")
_BLOB_NAME_RE = re.compile(r"^[0-9a-f]{40}$")
_TMP_PREFIX = ".tmp-"

# The real Hub seeds every new repo with a .gitattributes routing binary files to LFS; the local server keeps
# the file (so listings look like the Hub's) but stores everything as regular blobs.
_GITATTRIBUTES = b"".join(
    f"*.{ext} filter=lfs diff=lfs merge=lfs -text\n".encode()
    for ext in ("bin", "safetensors", "pt", "pth", "ckpt", "onnx", "parquet", "arrow", "mp4", "npz", "zip")
)


class RootInUseError(RuntimeError):
    """Another store (another server) holds the lock on this root."""


class CorruptStoreError(ValueError):
    """The root's state file or a blob does not hold what it should; the message names the file."""


class HubStoreError(Exception):
    """A refusal the Hub would send: HTTP `status`, optional `X-Error-Code`, extra JSON body fields."""

    def __init__(self, status: int, message: str, code: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.extra = extra


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob: what the Hub reports as a regular file's `oid` and download ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def now_iso() -> str:
    """Time in the Hub's JSON format (`2024-05-01T12:00:00.000Z`), which huggingface_hub's parser expects."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Commit:
    id: str
    parents: list[str]
    title: str
    message: str
    date: str
    author: str
    files: dict[str, str]  # path -> blob sha, the full snapshot at this commit


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit id
    tags: dict[str, str] = field(default_factory=dict)  # name -> commit id
    sdk: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.repo_type, self.repo_id)


def check_repo_path(path: str) -> str:
    """Refuse file paths the Hub's clients cannot write (see `repo_paths.path_problem`): 400, nothing stored."""
    problem = path_problem(path)
    if problem is not None:
        raise HubStoreError(400, f"Invalid path in repo: {problem}")
    return path


class HubStore:
    """Thread-safe in-memory Hub: repos keyed by (type, id), commits, refs and blobs."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.lock = threading.RLock()
        self.root = Path(root) if root is not None else None
        self.repos: dict[tuple[str, str], Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self._counter = 0
        self._lock_file: int | None = None
        if self.root is not None:
            self._lock_root()
            try:
                self._load()
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        """Release the root's lock (another store may use the root afterwards)."""
        if self._lock_file is not None:
            os.close(self._lock_file)  # closing the descriptor drops the flock
            self._lock_file = None

    def _lock_root(self) -> None:
        assert self.root is not None
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise RootInUseError(
                    f"another local Hub server (pid {holder}) already uses --root {self.root}: stop it, or give "
                    "this one another --root (two servers on one root would erase each other's repos)"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_file = fd

    # ----------------------------------------------------------------------------------------------- repos
    def reset(self) -> None:
        """Forget every repo and blob (and the persisted copy, if any)."""
        with self.lock:
            self.repos.clear()
            self.blobs.clear()
            if self.root is not None:
                for blob in (self.root / "blobs").glob("*"):
                    blob.unlink()
                self._save()

    def get_repo(self, repo_type: str, repo_id: str) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            raise HubStoreError(404, f"Repository not found: {repo_type} {repo_id}", "RepoNotFound")
        return repo

    def create_repo(
        self, repo_type: str, repo_id: str, private: bool = False, sdk: str | None = None
    ) -> Repo:
        if repo_type not in REPO_TYPES:
            raise HubStoreError(400, f"Invalid repo type {repo_type!r}; expected one of {REPO_TYPES}")
        parts = repo_id.split("/")
        if len(parts) != 2 or not all(_NAME_RE.match(p) for p in parts):
            raise HubStoreError(
                400, f"Invalid repo id {repo_id!r}: expected 'namespace/name' of [A-Za-z0-9._-]"
            )
        if repo_type == "space" and not sdk:
            raise HubStoreError(400, "A space needs an sdk (gradio, streamlit, docker or static)")
        with self.lock:
            if (repo_type, repo_id) in self.repos:
                raise HubStoreError(409, f"You already created this {repo_type} repo", None)
            repo = Repo(repo_type=repo_type, repo_id=repo_id, private=private, created_at=now_iso(), sdk=sdk)
            first = self._new_commit(
                repo, [], {".gitattributes": self._put_blob(_GITATTRIBUTES)}, "initial commit", ""
            )
            repo.branches[DEFAULT_BRANCH] = first.id
            self.repos[repo.key] = repo
            self._save()
            return repo

    def delete_repo(self, repo_type: str, repo_id: str) -> None:
        with self.lock:
            self.get_repo(repo_type, repo_id)
            del self.repos[(repo_type, repo_id)]
            self._save()

    def set_private(self, repo: Repo, private: bool) -> None:
        with self.lock:
            repo.private = private
            self._save()

    # ------------------------------------------------------------------------------------------- revisions
    def resolve(self, repo: Repo, revision: str | None) -> Commit:
        """A branch, a tag, `refs/heads/x`, `refs/tags/x`, a full commit sha or a unique prefix of >= 7 chars."""
        rev = revision or DEFAULT_BRANCH
        with self.lock:
            if rev.startswith("refs/heads/") and rev[len("refs/heads/") :] in repo.branches:
                return repo.commits[repo.branches[rev[len("refs/heads/") :]]]
            if rev.startswith("refs/tags/") and rev[len("refs/tags/") :] in repo.tags:
                return repo.commits[repo.tags[rev[len("refs/tags/") :]]]
            if rev in repo.branches:
                return repo.commits[repo.branches[rev]]
            if rev in repo.tags:
                return repo.commits[repo.tags[rev]]
            if _SHA_RE.match(rev):
                found = [c for cid, c in repo.commits.items() if cid.startswith(rev)]
                if len(found) == 1:
                    return found[0]
        raise HubStoreError(404, f"Invalid rev id: {rev}", "RevisionNotFound")

    def create_branch(self, repo: Repo, name: str, starting_point: str | None) -> None:
        self._check_ref_name(name, "branch")
        with self.lock:
            start = self.resolve(repo, starting_point)
            if name in repo.branches:
                raise HubStoreError(409, f"Reference already exists: refs/heads/{name}")
            repo.branches[name] = start.id
            self._save()

    def delete_branch(self, repo: Repo, name: str) -> None:
        with self.lock:
            if name not in repo.branches:
                raise HubStoreError(404, f"Invalid rev id: {name}", "RevisionNotFound")
            if name == DEFAULT_BRANCH:
                raise HubStoreError(403, "Cannot delete the default branch")
            del repo.branches[name]
            self._save()

    def create_tag(self, repo: Repo, tag: str, revision: str | None) -> None:
        self._check_ref_name(tag, "tag")
        with self.lock:
            target = self.resolve(repo, revision)
            if tag in repo.tags:
                raise HubStoreError(409, f"Tag already exists: {tag}")
            repo.tags[tag] = target.id
            self._save()

    def delete_tag(self, repo: Repo, tag: str) -> None:
        with self.lock:
            if tag not in repo.tags:
                raise HubStoreError(404, f"Invalid rev id: {tag}", "RevisionNotFound")
            del repo.tags[tag]
            self._save()

    def history(self, repo: Repo, revision: str | None) -> list[Commit]:
        """Commits reachable from `revision` through first parents, newest first."""
        with self.lock:
            commit: Commit | None = self.resolve(repo, revision)
            out = []
            while commit is not None:
                out.append(commit)
                commit = repo.commits[commit.parents[0]] if commit.parents else None
            return out

    # --------------------------------------------------------------------------------------------- commits
    def commit(
        self,
        repo: Repo,
        branch: str,
        title: str,
        message: str,
        adds: dict[str, bytes],
        deleted_files: list[str],
        deleted_folders: list[str],
        parent_commit: str | None = None,
    ) -> Commit:
        """Apply deletions then additions on top of the branch head, all or nothing, and move the branch."""
        with self.lock:
            if branch not in repo.branches:
                if branch in repo.tags or _SHA_RE.match(branch):
                    raise HubStoreError(400, f"Can only commit to a branch, not to {branch!r}")
                raise HubStoreError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            head = repo.commits[repo.branches[branch]]
            if parent_commit is not None and not head.id.startswith(parent_commit):
                raise HubStoreError(
                    412, f"Branch {branch} is at {head.id}, not at parent commit {parent_commit}"
                )
            files = dict(head.files)
            for path in deleted_files:
                if path not in files:
                    raise HubStoreError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                del files[path]
            for folder in deleted_folders:
                prefix = folder.rstrip("/") + "/"
                doomed = [p for p in files if p.startswith(prefix)]
                if not doomed:
                    raise HubStoreError(
                        404, f"A folder with this name doesn't exist: {folder}", "EntryNotFound"
                    )
                for p in doomed:
                    del files[p]
            for path in adds:
                check_repo_path(path)
            for file, below in tree_conflicts([*files, *adds]):
                if file in adds or below in adds:
                    raise HubStoreError(
                        400,
                        f"Invalid path in repo: {file!r} would be both a file and the folder of {below!r}",
                    )
            for path, data in adds.items():
                files[path] = self._put_blob(data)
            commit = self._new_commit(repo, [head.id], files, title, message)
            repo.branches[branch] = commit.id
            self._save()
            return commit

    def _new_commit(
        self, repo: Repo, parents: list[str], files: dict[str, str], title: str, message: str
    ) -> Commit:
        self._counter += 1
        date = now_iso()
        body = json.dumps(
            [
                repo.repo_type,
                repo.repo_id,
                parents,
                sorted(files.items()),
                title,
                message,
                date,
                self._counter,
                os.getpid(),
            ]
        ).encode()
        commit = Commit(hashlib.sha1(body).hexdigest(), parents, title, message, date, LOCAL_USER, files)
        repo.commits[commit.id] = commit
        return commit

    # ------------------------------------------------------------------------------------------ tree views
    def blob(self, sha: str) -> bytes:
        return self.blobs[sha]

    def _put_blob(self, data: bytes) -> str:
        sha = git_blob_sha1(data)
        if sha not in self.blobs:
            self.blobs[sha] = data
            if self.root is not None:
                _atomic_write(self.root / "blobs" / sha, data)
        return sha

    def file_entry(self, commit: Commit, path: str) -> dict:
        sha = commit.files[path]
        return {"type": "file", "oid": sha, "size": len(self.blobs[sha]), "path": path}

    @staticmethod
    def folder_entry(commit: Commit, folder: str) -> dict:
        prefix = folder + "/"
        listing = "\n".join(f"{p} {s}" for p, s in sorted(commit.files.items()) if p.startswith(prefix))
        return {
            "type": "directory",
            "oid": hashlib.sha1(listing.encode()).hexdigest(),
            "size": 0,
            "path": folder,
        }

    @staticmethod
    def folders(commit: Commit) -> set[str]:
        out = set()
        for path in commit.files:
            parts = path.split("/")[:-1]
            out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return out

    def tree(self, commit: Commit, path: str, recursive: bool) -> list[dict]:
        """Entries under folder `path` ("" = root): direct children, or everything below when recursive."""
        path = path.strip("/")
        folders = self.folders(commit)
        if path and path not in folders:
            raise HubStoreError(404, f"Entry not found: {path}", "EntryNotFound")
        prefix = path + "/" if path else ""

        def below(p: str) -> bool:
            return p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :])

        entries = [self.folder_entry(commit, f) for f in sorted(folders) if below(f)]
        entries += [self.file_entry(commit, p) for p in sorted(commit.files) if below(p)]
        return entries

    def paths_info(self, commit: Commit, paths: list[str]) -> list[dict]:
        folders = self.folders(commit)
        out = []
        for path in paths:
            path = path.strip("/")
            if path in commit.files:
                out.append(self.file_entry(commit, path))
            elif path in folders:
                out.append(self.folder_entry(commit, path))
        return out

    # -------------------------------------------------------------------------------------------- validate
    @staticmethod
    def _check_ref_name(name: str, kind: str) -> None:
        problem = ref_problem(name, kind)
        if problem is not None:
            raise HubStoreError(400, f"Invalid reference name: {problem}")

    # --------------------------------------------------------------------------------------------- persist
    def _save(self) -> None:
        if self.root is None:
            return
        state = {
            "repos": [
                {
                    "repo_type": r.repo_type,
                    "repo_id": r.repo_id,
                    "private": r.private,
                    "created_at": r.created_at,
                    "sdk": r.sdk,
                    "branches": r.branches,
                    "tags": r.tags,
                    "commits": [c.__dict__ for c in r.commits.values()],
                }
                for r in self.repos.values()
            ]
        }
        _atomic_write(self.root / "state.json", json.dumps(state).encode())

    def _load(self) -> None:
        """Read the root (under its lock): drop temp files of killed writes, verify every blob, load the state."""
        assert self.root is not None
        blobs = self.root / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        for folder in (self.root, blobs):
            for stray in folder.glob(f"{_TMP_PREFIX}*"):
                logger.info("local hub: removing %s, left by a write that was killed", stray)
                stray.unlink()
        for blob in blobs.iterdir():
            if not _BLOB_NAME_RE.match(blob.name):
                logger.warning("local hub: ignoring %s (not a blob this server wrote)", blob)
                continue
            data = blob.read_bytes()
            if git_blob_sha1(data) != blob.name:
                raise CorruptStoreError(
                    f"blob {blob} is corrupt: its {len(data)} bytes hash to {git_blob_sha1(data)}, not to its "
                    "name. Restore the file from a backup, or start with an empty --root"
                )
            self.blobs[blob.name] = data
        state_file = self.root / "state.json"
        if not state_file.exists():
            return
        try:
            state = json.loads(state_file.read_text())
            for r in state["repos"]:
                commits = {c["id"]: Commit(**c) for c in r.pop("commits")}
                repo = Repo(commits=commits, **r)
                self.repos[repo.key] = repo
        except (KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CorruptStoreError(
                f"{state_file} is not a local Hub state file ({e}); point --root at an empty folder"
            ) from e
        missing = {
            s for r in self.repos.values() for c in r.commits.values() for s in c.files.values()
        } - set(self.blobs)
        if missing:
            raise CorruptStoreError(
                f"{blobs} lacks {len(missing)} blob(s) the state file references (e.g. {sorted(missing)[0]}); "
                "restore them from a backup, or start with an empty --root"
            )


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, flush it to disk, rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
