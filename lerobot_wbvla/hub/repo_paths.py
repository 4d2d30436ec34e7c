"""Which file paths and ref names a Hub repo may hold (stdlib only: the local server imports it too).

A path that the Hub stores but its clients cannot write to disk breaks every later download of the repo:
huggingface_hub refuses `..` segments and anchored names (`/x`, `C:x`, `\\\\host\\x`) under both POSIX and
Windows rules (`_local_folder._validate_relative_filename`) and uploads under `.git/` or `.cache/`
(`FORBIDDEN_FOLDERS`); a snapshot cannot hold a file and a folder of the same name; and file systems refuse NUL,
names over 255 bytes per segment (NAME_MAX on Linux, ext4, APFS, NTFS) and paths near 4096 bytes (PATH_MAX, which
the cache's own prefix eats into). The push (`push.py`) checks these before anything is created and the local
server (`local_store.py`) answers 400 for them, both with the messages below.

Ref names (branches, tags) follow git's `check-ref-format` rules, which the Hub applies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PureWindowsPath

# Folders huggingface_hub refuses to upload into (huggingface_hub.utils._paths.FORBIDDEN_FOLDERS).
FORBIDDEN_FOLDERS = (".git", ".cache")
# Longest segment (bytes, UTF-8): NAME_MAX of the common file systems.
MAX_SEGMENT_BYTES = 255
# Longest path in a repo (bytes): leaves room under PATH_MAX (4096) for the cache folder it is written below.
MAX_PATH_BYTES = 1024

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SHA = re.compile(r"^[0-9a-f]{40}$")


def path_problem(path: object) -> str | None:
    """Why `path` cannot be a file path in a Hub repo, or None when it can. The reason names the path."""
    if not isinstance(path, str):
        return f"a file path must be a string, got {type(path).__name__}"
    shown = _show(path)
    if not path:
        return "a file path is empty"
    if _CONTROL.search(path):
        return f"file path {shown} holds a control character (NUL, newline, ...)"
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        return f"file path {shown} is not valid Unicode"
    if "\\" in path:
        return f"file path {shown} holds a backslash, which Windows clients read as a folder separator"
    if path.startswith("/"):
        return f"file path {shown} is absolute; paths are relative to the repo root"
    parts = path.split("/")
    if any(p == "" for p in parts):
        return f"file path {shown} has an empty segment ('//' or a trailing '/')"
    if any(p in (".", "..") for p in parts):
        return f"file path {shown} has a '.' or '..' segment"
    if any(p in FORBIDDEN_FOLDERS for p in parts):
        return f"file path {shown} is inside a {'/'.join(FORBIDDEN_FOLDERS)} folder, which the Hub reserves"
    if any(PureWindowsPath(p).drive for p in parts):
        return f"file path {shown} has a Windows drive segment (like 'C:')"
    if size > MAX_PATH_BYTES:
        return f"file path {shown} is {size} bytes long; the limit is {MAX_PATH_BYTES}"
    long = [p for p in parts if len(p.encode("utf-8")) > MAX_SEGMENT_BYTES]
    if long:
        return f"file path {shown} has a segment over {MAX_SEGMENT_BYTES} bytes, more than file systems store"
    return None


def tree_conflicts(paths: Iterable[str]) -> list[tuple[str, str]]:
    """(file, path below it) pairs where a file is also used as a folder: no snapshot can hold both."""
    files = set(paths)
    out = []
    for path in sorted(files):
        parts = path.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder in files:
                out.append((folder, path))
    return out


def tree_problem(paths: Iterable[str]) -> str | None:
    """Why a set of file paths cannot be one snapshot (each path's own problem first), or None."""
    paths = list(paths)
    for path in paths:
        problem = path_problem(path)
        if problem is not None:
            return problem
    conflicts = tree_conflicts(paths)
    if conflicts:
        file, below = conflicts[0]
        return f"{_show(file)} would be both a file and the folder of {_show(below)}"
    return None


def ref_problem(name: object, kind: str = "ref") -> str | None:
    """Why `name` cannot be a branch or tag name (git check-ref-format, one level), or None when it can."""
    if not isinstance(name, str) or not name:
        return f"{kind} name must be a non-empty string"
    shown = _show(name)
    if _CONTROL.search(name) or any(c in name for c in " ~^:?*[\\"):
        return f"{kind} name {shown} holds a space, a control character or one of ~ ^ : ? * [ \\"
    if len(name.encode("utf-8", "replace")) > 250:
        return f"{kind} name {shown} is longer than 250 bytes"
    if name.startswith(("/", "refs/", "-")) or name.endswith(("/", ".", ".lock")):
        return f"{kind} name {shown} starts with '/', 'refs/' or '-', or ends with '/', '.' or '.lock'"
    if ".." in name or "//" in name or "@{" in name or name == "@":
        return f"{kind} name {shown} holds '..', '//' or '@{{', or is '@'"
    if any(p.startswith(".") for p in name.split("/")):
        return f"{kind} name {shown} has a segment starting with '.'"
    if _SHA.match(name):
        return f"{kind} name {shown} looks like a commit sha, so revisions naming it would be ambiguous"
    return None


def _show(text: str, limit: int = 80) -> str:
    """`text` quoted with escapes, shortened: error messages never echo raw control characters or megabytes."""
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[: limit - 20]}...{shown[-12:]} ({len(text)} chars)"
