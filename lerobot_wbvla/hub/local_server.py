"""A small Hub-compatible HTTP server (stdlib only) for offline pushes and pulls.

huggingface_hub talks to whatever `HF_ENDPOINT` names. This server answers the part of the Hub API that the
client's create/upload/list/branch/tag/download/delete calls use, on top of the git-like `HubStore`, so the
project's tests (and users without network) can run real `push_to_hub` / `from_pretrained` round trips.

Uploads never touch LFS or xet: the preupload endpoint answers `"regular"` for every file, so the client inlines
the bytes (base64) in the NDJSON commit; downloads are plain `HEAD` + `GET` on `resolve` with no xet headers.

Not covered: `upload_large_folder`, pull requests (`create_pr`), pagination, auth and private-repo semantics.

Hostile input gets the Hub's answers, never a broken repo or a 500: file paths the clients could not write
(`repo_paths.py`) and bodies that are not the JSON/NDJSON/base64 the API takes are refused with 400 and nothing
is stored; error text goes into the JSON body, and into headers only escaped to printable ASCII (a crafted
revision cannot add a header).

There is no authentication: whoever reaches the port can read, push and delete every repo. The server therefore
binds loopback addresses only unless told otherwise (`allow_remote=True`, `--allow_remote`), and then warns.

Standalone: `python -m lerobot_wbvla.hub.local_server --port 8765 --root ~/.cache/wbvla-local-hub`, then
`HF_ENDPOINT=http://127.0.0.1:8765 HF_HUB_DISABLE_XET=1 HF_TOKEN=local <command that pushes>`. Card pushes
(`ModelCard.push_to_hub`, `LeRobotDataset.push_to_hub`) on huggingface_hub < 2 also need
`lerobot_wbvla.hub.patch_repocard_validate()` in that process (see `compat.py`). One server per `--root` (a
second one exits with an error).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import ipaddress
import json
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from lerobot_wbvla.hub.local_store import (
    LOCAL_USER,
    CorruptStoreError,
    HubStore,
    HubStoreError,
    Repo,
    RootInUseError,
)

logger = logging.getLogger(__name__)

# URL word (`/api/{word}/...`, `/{word}/ns/name/resolve/...`) -> repo type, and back.
_TYPE_BY_PLURAL = {"models": "model", "datasets": "dataset", "spaces": "space", "kernels": "kernel"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/", "kernel": "kernels/"}


NO_AUTH_WARNING = (
    "the local Hub server has no authentication: anyone who can reach {url} can read, push and delete every repo "
    "on it. Serve it on a network you trust only."
)


class HeldRequest:
    """A request the server holds before handling it (`LocalHubServer.hold_next`), to freeze a client mid-call."""

    def __init__(self, action: str, timeout: float) -> None:
        self.action = action
        self.timeout = timeout
        self.arrived = threading.Event()  # set when the request reached the server
        self.done = threading.Event()  # set when the server answered it (after release)
        self._released = threading.Event()

    def release(self) -> None:
        """Let the held request go on (it is then handled as usual)."""
        self._released.set()


class LocalHubServer:
    """The Hub-compatible server on `host:port` (0 = a free port) in a daemon thread.

    `host` must be a loopback address unless `allow_remote` (the server has no authentication). With `root` the
    repos persist in that folder, which one server at a time may use (`RootInUseError` otherwise).

    >>> with LocalHubServer() as hub:            # doctest: +SKIP
    ...     os.environ["HF_ENDPOINT"] = hub.url  # before huggingface_hub is imported
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        root: str | Path | None = None,
        *,
        allow_remote: bool = False,
    ) -> None:
        loopback = is_loopback(host)
        if not loopback and not allow_remote:
            raise ValueError(
                f"refusing to serve on {host!r}, which is not a loopback address: the local Hub server has no "
                "authentication, so anyone who can reach it could read, overwrite and delete every repo. Keep the "
                "default 127.0.0.1, or pass --allow_remote (allow_remote=True) on a network you trust"
            )
        self.store = HubStore(root)
        try:
            self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        except BaseException:
            self.store.close()
            raise
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._faults: dict[str, tuple[int, str, int]] = {}
        self._holds: dict[str, HeldRequest] = {}
        self._faults_lock = threading.Lock()
        bound_host, bound_port = self._httpd.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        self.port = bound_port
        self.remote = not loopback
        if self.remote:
            logger.warning(NO_AUTH_WARNING.format(url=self.url))

    def start(self) -> LocalHubServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="local-hub", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, free the port and the root (later requests get connection errors, as from a dead Hub)."""
        self._release_holds()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        self.store.close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the standalone command)."""
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()
            self.store.close()

    def reset(self) -> None:
        """Delete every repo, pending injected failure and held request: a clean Hub for the next test."""
        with self._faults_lock:
            self._faults.clear()
        self._release_holds()
        self.store.reset()

    def hold_next(self, action: str, timeout: float = 60.0) -> HeldRequest:
        """Hold the next request of `action` (words as in `fail_next`) until `.release()` or `timeout` seconds.

        `.arrived` is set when it reaches the server, so a test can act while a client waits for that call (kill
        a push between creating a repo and committing to it); `.done` is set once it was answered.
        """
        hold = HeldRequest(action, timeout)
        with self._faults_lock:
            self._holds[action] = hold
        return hold

    def _take_hold(self, action: str) -> HeldRequest | None:
        with self._faults_lock:
            return self._holds.pop(action, None)

    def _release_holds(self) -> None:
        with self._faults_lock:
            holds, self._holds = list(self._holds.values()), {}
        for hold in holds:
            hold.release()

    def fail_next(self, action: str, status: int = 500, message: str | None = None, times: int = 1) -> None:
        """Make the next `times` requests of `action` fail with `status` (fault injection for tests).

        `action` is the word that names the request: `create` (repos/create), `delete` (repos/delete),
        `commit`, `preupload`, `tree`, `paths-info`, `refs`, `branch`, `tag`, `commits`, `revision`,
        `info` (repo info at the default branch) or `resolve` (file downloads).
        """
        with self._faults_lock:
            self._faults[action] = (status, message or f"Injected failure of {action}", times)

    def _take_fault(self, action: str) -> HubStoreError | None:
        with self._faults_lock:
            if action not in self._faults:
                return None
            status, message, times = self._faults[action]
            if times <= 1:
                del self._faults[action]
            else:
                self._faults[action] = (status, message, times - 1)
            return HubStoreError(status, message)

    def repo_url(self, repo_type: str, repo_id: str) -> str:
        return f"{self.url}/{_URL_PREFIX[repo_type]}{repo_id}"

    def __enter__(self) -> LocalHubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_handler(server: LocalHubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_HubRequestHandler):
        hub = server

    return Handler


class _HubRequestHandler(BaseHTTPRequestHandler):
    """Routes one request to the store; every response is HTTP/1.1 with a Content-Length."""

    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections close after this many seconds
    hub: LocalHubServer

    # ------------------------------------------------------------------------------------------ plumbing
    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        self.method = method
        split = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        segments = split.path.split("/")[1:]
        action = _action_of(segments)
        hold = None
        try:
            try:
                self._body = self._read_body()
            except ValueError as e:  # the body's framing is broken: the connection cannot be reused
                self.close_connection = True
                raise HubStoreError(400, f"Bad request body: {e}") from e
            hold = self.hub._take_hold(action)
            if hold is not None:
                hold.arrived.set()
                hold._released.wait(hold.timeout)
            fault = self.hub._take_fault(action)
            if fault is not None:
                raise fault
            self._route(method, segments)
        except HubStoreError as e:
            self._send_error(e)
        except (ValueError, KeyError, TypeError) as e:
            self._send_error(HubStoreError(400, f"Bad request: {e}"))
        except (
            BrokenPipeError,
            ConnectionResetError,
        ):  # the client went away (killed mid-call): no one to tell
            self.close_connection = True
        except Exception as e:  # a bug here must reach the client as a 500, not a hung connection
            logger.exception("local hub: %s %s failed", method, self.path)
            self._send_error(HubStoreError(500, f"Internal error in the local Hub server: {e!r}"))
        finally:
            if hold is not None:
                hold.done.set()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size < 0:
                    raise ValueError("negative chunk size")
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError(f"negative Content-Length {length}")
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> dict:
        """The request's JSON object (form-encoded bodies as lists of values); anything else is a 400."""
        if not self._body:
            return {}
        if "application/x-www-form-urlencoded" in self.headers.get("Content-Type", ""):
            return {k: v for k, v in parse_qs(self._body.decode(), keep_blank_values=True).items()}
        try:
            body = json.loads(self._body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise HubStoreError(400, f"Bad request: the body is not JSON ({e})") from e
        if not isinstance(body, dict):
            raise HubStoreError(
                400, f"Bad request: the body must be a JSON object, not {type(body).__name__}"
            )
        return body

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, header_value(value))  # never raw text in a header (CR/LF would add headers)
        self.end_headers()
        if self.method != "HEAD":
            self.wfile.write(body)

    def _send_json(self, payload: object, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send_error(self, error: HubStoreError) -> None:
        headers = {"X-Error-Message": error.message}
        if error.code:
            headers["X-Error-Code"] = error.code
        body = json.dumps({"error": error.message, **error.extra}).encode()
        self._send(error.status, body, "application/json", headers)

    def _not_found(self) -> None:
        raise HubStoreError(
            404, f"No route for {self.method} {urlsplit(self.path).path} on the local Hub server"
        )

    # ---------------------------------------------------------------------------------------------- routes
    def _route(self, method: str, seg: list[str]) -> None:
        if seg[:1] == ["api"]:
            self._route_api(method, seg[1:])
            return
        # File downloads: /{ns}/{name}/resolve/{rev}/{path} (models) or /{datasets|spaces}/{ns}/{name}/resolve/...
        repo_type = "model"
        if seg and seg[0] in _TYPE_BY_PLURAL and len(seg) > 3 and seg[3] == "resolve":
            repo_type, seg = _TYPE_BY_PLURAL[seg[0]], seg[1:]
        if len(seg) >= 5 and seg[2] == "resolve" and method in ("GET", "HEAD"):
            repo = self.hub.store.get_repo(repo_type, f"{seg[0]}/{seg[1]}")
            self._resolve_file(repo, unquote(seg[3]), unquote("/".join(seg[4:])))
            return
        if len(seg) >= 4 and seg[1] == "resolve":  # a repo id without namespace ("gpt2"): never stored here
            self.hub.store.get_repo(repo_type, seg[0])
        self._not_found()

    def _route_api(self, method: str, seg: list[str]) -> None:
        store = self.hub.store
        if seg == ["repos", "create"] and method == "POST":
            self._create_repo(self._json_body())
        elif seg == ["repos", "delete"] and method == "DELETE":
            body = self._json_body()
            store.delete_repo(_field(body, "type", str, "model"), _repo_id_from_body(body))
            self._send_json({})
        elif seg == ["validate-yaml"] and method == "POST":
            result = _validate_card(_field(self._json_body(), "content", str, ""))
            self._send_json(result, status=400 if result["errors"] else 200)
        elif seg == ["whoami-v2"] and method == "GET":
            self._send_json(
                {
                    "type": "user",
                    "name": LOCAL_USER,
                    "fullname": "Local Hub user",
                    "orgs": [],
                    "auth": {"accessToken": {"displayName": "local", "role": "write"}},
                }
            )
        elif len(seg) == 2 and seg[0] in _TYPE_BY_PLURAL:  # a repo id without namespace: never stored here
            store.get_repo(_TYPE_BY_PLURAL[seg[0]], unquote(seg[1]))
        elif len(seg) >= 3 and seg[0] in _TYPE_BY_PLURAL:
            repo = store.get_repo(_TYPE_BY_PLURAL[seg[0]], f"{seg[1]}/{seg[2]}")
            self._route_repo(method, repo, seg[3:])
        else:
            self._not_found()

    def _route_repo(self, method: str, repo: Repo, rest: list[str]) -> None:
        store = self.hub.store
        action = rest[0] if rest else ""
        arg = unquote(rest[1]) if len(rest) > 1 else None
        if action == "" and method in ("GET", "HEAD"):
            self._send_json(self._repo_info(repo, None))
        elif action == "revision" and arg and method in ("GET", "HEAD"):
            self._send_json(self._repo_info(repo, unquote("/".join(rest[1:]))))
        elif action == "preupload" and arg and method == "POST":
            self._refuse_pr()
            commit = store.resolve(repo, arg)
            paths = [_field(f, "path", str) for f in _list_of(self._json_body(), "files", dict)]
            files = [
                {"path": p, "uploadMode": "regular", "shouldIgnore": False, "oid": commit.files.get(p)}
                for p in paths
            ]
            self._send_json({"files": files, "commitOid": commit.id})
        elif action == "commit" and arg and method == "POST":
            self._refuse_pr()
            self._commit(repo, unquote("/".join(rest[1:])))
        elif action == "tree" and arg and method == "GET":
            commit = store.resolve(repo, arg)
            recursive = self.query.get("recursive", "false").lower() in ("1", "true")
            self._send_json(store.tree(commit, unquote("/".join(rest[2:])), recursive))
        elif action == "paths-info" and arg and method == "POST":
            commit = store.resolve(repo, arg)
            body = self._json_body()
            paths = [body["paths"]] if isinstance(body.get("paths"), str) else _list_of(body, "paths", str)
            self._send_json(store.paths_info(commit, paths))
        elif action == "refs" and method == "GET":
            self._send_json(self._refs(repo))
        elif action == "branch" and arg and method == "POST":
            starting_point = _field(self._json_body(), "startingPoint", str, None)
            store.create_branch(repo, unquote("/".join(rest[1:])), starting_point)
            self._send_json({})
        elif action == "branch" and arg and method == "DELETE":
            store.delete_branch(repo, unquote("/".join(rest[1:])))
            self._send_json({})
        elif action == "tag" and arg and method == "POST":
            store.create_tag(repo, _field(self._json_body(), "tag", str), unquote("/".join(rest[1:])))
            self._send_json({})
        elif action == "tag" and arg and method == "DELETE":
            store.delete_tag(repo, unquote("/".join(rest[1:])))
            self._send_json({})
        elif action == "commits" and arg and method == "GET":
            self._send_json(
                [
                    {
                        "id": c.id,
                        "title": c.title,
                        "message": c.message,
                        "authors": [{"user": c.author}],
                        "date": c.date,
                        "parents": c.parents,
                    }
                    for c in store.history(repo, unquote("/".join(rest[1:])))
                ]
            )
        elif action == "settings" and method == "PUT":
            body = self._json_body()
            if "visibility" in body or "private" in body:
                store.set_private(repo, body.get("visibility") == "private" or bool(body.get("private")))
            self._send_json({})
        else:
            self._not_found()

    # ---------------------------------------------------------------------------------------------- actions
    def _refuse_pr(self) -> None:
        if self.query.get("create_pr") in ("1", "true"):
            raise HubStoreError(400, "The local Hub server does not support pull requests (create_pr)")

    def _create_repo(self, body: dict) -> None:
        repo_type = _field(body, "type", str, None) or "model"
        repo_id = _repo_id_from_body(body)
        private = body.get("visibility") == "private" or bool(body.get("private"))
        url = self.hub.repo_url(repo_type, repo_id) if repo_type in _URL_PREFIX else ""
        try:
            self.hub.store.create_repo(
                repo_type, repo_id, private=private, sdk=_field(body, "sdk", str, None)
            )
        except HubStoreError as e:
            if e.status == 409:  # huggingface_hub's exist_ok reads the url from the 409 body
                e.extra["url"] = url
            raise
        self._send_json({"url": url, "name": repo_id})

    def _commit(self, repo: Repo, branch: str) -> None:
        title, message, parent = "", "", None
        adds: dict[str, bytes] = {}
        deleted_files: list[str] = []
        deleted_folders: list[str] = []
        for number, line in enumerate(self._body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise HubStoreError(400, f"Bad commit: line {number} is not JSON ({e})") from e
            if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
                raise HubStoreError(400, f'Bad commit: line {number} is not {{"key": ..., "value": {{...}}}}')
            key, value = item.get("key"), item["value"]
            if key == "header":
                title = _field(value, "summary", str, "")
                message = _field(value, "description", str, "")
                parent = _field(value, "parentCommit", str, None)
            elif key == "file":
                path = _field(value, "path", str)
                if path in adds:
                    raise HubStoreError(400, f"Bad commit: {path!r} is added twice")
                adds[path] = _decode_content(
                    path, _field(value, "content", str, ""), _field(value, "encoding", str, "base64")
                )
            elif key == "deletedFile":
                deleted_files.append(_field(value, "path", str))
            elif key == "deletedFolder":
                deleted_folders.append(_field(value, "path", str))
            elif key == "lfsFile":
                raise HubStoreError(
                    400,
                    f"LFS uploads are not supported by the local Hub server ({value.get('path')}): "
                    "it answers 'regular' at preupload; use upload_folder/create_commit, not upload_large_folder",
                )
            else:
                raise HubStoreError(400, f"Unknown commit operation key {key!r}")
        commit = self.hub.store.commit(
            repo, branch, title, message, adds, deleted_files, deleted_folders, parent
        )
        url = f"{self.hub.repo_url(repo.repo_type, repo.repo_id)}/commit/{commit.id}"
        self._send_json(
            {
                "success": True,
                "commitOid": commit.id,
                "commitUrl": url,
                "commitMessage": title,
                "pullRequestUrl": None,
            }
        )

    def _repo_info(self, repo: Repo, revision: str | None) -> dict:
        store = self.hub.store
        commit = store.resolve(repo, revision)
        info = {
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.id,
            "private": repo.private,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "createdAt": repo.created_at,
            "lastModified": commit.date,
            "siblings": [
                {"rfilename": p, "size": len(store.blob(s)), "blobId": s}
                for p, s in sorted(commit.files.items())
            ],
        }
        if repo.repo_type == "space":
            info["sdk"] = repo.sdk
        return info

    def _refs(self, repo: Repo) -> dict:
        def ref(kind: str, name: str, target: str) -> dict:
            return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": target}

        with self.hub.store.lock:
            return {
                "branches": [ref("heads", n, t) for n, t in sorted(repo.branches.items())],
                "converts": [],
                "tags": [ref("tags", n, t) for n, t in sorted(repo.tags.items())],
                "pullRequests": [],
            }

    def _resolve_file(self, repo: Repo, revision: str, path: str) -> None:
        store = self.hub.store
        commit = store.resolve(repo, revision)
        if path not in commit.files:
            raise HubStoreError(404, f"Entry not found: {path} at {revision}", "EntryNotFound")
        sha = commit.files[path]
        data = store.blob(sha)
        headers = {"X-Repo-Commit": commit.id, "ETag": f'"{sha}"', "Accept-Ranges": "bytes"}
        status = 200
        byte_range = self.headers.get("Range")
        if byte_range and byte_range.startswith("bytes="):
            start_s, _, end_s = byte_range[len("bytes=") :].split(",")[0].partition("-")
            start = int(start_s) if start_s else max(len(data) - int(end_s), 0)
            end = int(end_s) if start_s and end_s else len(data) - 1
            if start >= len(data):
                raise HubStoreError(416, f"Range {byte_range} is past the end of {path} ({len(data)} bytes)")
            headers["Content-Range"] = f"bytes {start}-{min(end, len(data) - 1)}/{len(data)}"
            data, status = data[start : end + 1], 206
        self._send(status, data, "application/octet-stream", headers)


def _action_of(seg: list[str]) -> str:
    """The word naming a request, as `LocalHubServer.fail_next` takes it."""
    if seg[:2] == ["api", "repos"] and len(seg) > 2:
        return seg[2]
    if seg[:1] == ["api"] and len(seg) >= 4 and seg[1] in _TYPE_BY_PLURAL:
        return seg[4] if len(seg) > 4 else "info"
    if "resolve" in seg[:4]:
        return "resolve"
    return seg[1] if seg[:1] == ["api"] and len(seg) > 1 else ""


_MISSING = object()


def _field(body: dict, key: str, kind: type, default: object = _MISSING):
    """`body[key]` checked to be a `kind` (None allowed when the default is None); a 400 otherwise."""
    value = body.get(key, default)
    if value is _MISSING:
        raise HubStoreError(400, f"Bad request: missing field {key!r}")
    if not isinstance(value, kind) and not (value is None and default is None):
        raise HubStoreError(400, f"Bad request: field {key!r} must be a {kind.__name__}")
    return value


def _list_of(body: dict, key: str, kind: type) -> list:
    items = body.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, kind) for i in items):
        raise HubStoreError(400, f"Bad request: field {key!r} must be a list of {kind.__name__}")
    return items


def _decode_content(path: str, content: str, encoding: str) -> bytes:
    """A commit's file content; base64 is decoded strictly (a lenient decoder turns garbage into an empty file)."""
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError) as e:
            raise HubStoreError(400, f"Bad commit: the content of {path!r} is not valid base64 ({e})") from e
    if encoding in ("utf-8", "utf8"):
        return content.encode()
    raise HubStoreError(400, f"Bad commit: unknown encoding {encoding!r} for {path!r} (use base64)")


def _repo_id_from_body(body: dict) -> str:
    name = _field(body, "name", str, None)
    organization = _field(body, "organization", str, None)
    if not name:
        raise HubStoreError(400, "Missing repo 'name'")
    return f"{organization or LOCAL_USER}/{name}"


def header_value(text: str, limit: int = 300) -> str:
    """`text` made safe for a response header: printable ASCII only (others escaped), at most `limit` chars."""
    safe = "".join(c if " " <= c <= "~" else ascii(c)[1:-1] for c in str(text))
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback one (127.0.0.0/8, ::1); "" and 0.0.0.0 are not."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def _validate_card(content: str) -> dict:
    """Check a README's YAML block as the Hub does (structure always; YAML parsing when PyYAML is installed)."""
    errors: list[dict] = []
    if content.startswith("---"):
        head, sep, _ = content[3:].partition("\n---")
        if not sep:
            errors.append({"message": "The metadata block opened by '---' is never closed"})
        else:
            try:
                import yaml  # optional: the server itself stays stdlib-only
            except ImportError:
                yaml = None
            if yaml is not None:
                try:
                    meta = yaml.safe_load(head)
                except yaml.YAMLError as e:
                    errors.append({"message": f"Invalid YAML in metadata: {e}"})
                else:
                    if meta is not None and not isinstance(meta, dict):
                        errors.append({"message": "Card metadata must be a YAML mapping"})
    return {"errors": errors, "warnings": []}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m lerobot_wbvla.hub.local_server",
        description="Run a local Hub-compatible server; point HF_ENDPOINT at the printed URL.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0 = any free port)")
    parser.add_argument("--root", type=Path, default=None, help="folder that keeps repos across restarts")
    parser.add_argument(
        "--allow_remote",
        action="store_true",
        help="allow a --host that is not a loopback address (the server has no authentication)",
    )
    args = parser.parse_args(argv)
    try:
        hub = LocalHubServer(args.host, args.port, args.root, allow_remote=args.allow_remote)
    except (ValueError, OSError, RootInUseError, CorruptStoreError) as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    if hub.remote:
        print(f"{parser.prog}: warning: {NO_AUTH_WARNING.format(url=hub.url)}", file=sys.stderr, flush=True)
    print(hub.url, flush=True)
    print(f"export HF_ENDPOINT={hub.url} HF_HUB_DISABLE_XET=1 HF_TOKEN=local", flush=True)
    try:
        hub.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
