"""A small Hub-compatible HTTP server (stdlib only) for offline pushes and pulls.

huggingface_hub talks to whatever `HF_ENDPOINT` names. This server answers the part of the Hub API that the
client's create/upload/list/branch/tag/download/delete calls use, on top of the git-like `HubStore`, so the
project's tests (and users without network) can run real `push_to_hub` / `from_pretrained` round trips.

Uploads never touch LFS or xet: the preupload endpoint answers `"regular"` for every file, so the client inlines
the bytes (base64) in the NDJSON commit; downloads are plain `HEAD` + `GET` on `resolve` with no xet headers.

Not covered: `upload_large_folder`, pull requests (`create_pr`), pagination, auth and private-repo semantics.

Standalone: `python -m lerobot_wbvla.hub.local_server --port 8765 --root ~/.cache/wbvla-local-hub`, then
`HF_ENDPOINT=http://127.0.0.1:8765 HF_HUB_DISABLE_XET=1 HF_TOKEN=local <command that pushes>`. Card pushes
(`ModelCard.push_to_hub`, `LeRobotDataset.push_to_hub`) on huggingface_hub < 2 also need
`lerobot_wbvla.hub.patch_repocard_validate()` in that process (see `compat.py`).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from lerobot_wbvla.hub.local_store import LOCAL_USER, HubStore, HubStoreError, Repo

logger = logging.getLogger(__name__)

# URL word (`/api/{word}/...`, `/{word}/ns/name/resolve/...`) -> repo type, and back.
_TYPE_BY_PLURAL = {"models": "model", "datasets": "dataset", "spaces": "space", "kernels": "kernel"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/", "kernel": "kernels/"}


class LocalHubServer:
    """The Hub-compatible server on `host:port` (0 = a free port) in a daemon thread.

    >>> with LocalHubServer() as hub:            # doctest: +SKIP
    ...     os.environ["HF_ENDPOINT"] = hub.url  # before huggingface_hub is imported
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, root: str | Path | None = None) -> None:
        self.store = HubStore(root)
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._faults: dict[str, tuple[int, str, int]] = {}
        self._faults_lock = threading.Lock()
        bound_host, bound_port = self._httpd.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        self.port = bound_port

    def start(self) -> LocalHubServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="local-hub", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port (later requests get connection errors, as from a dead Hub)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the standalone command)."""
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

    def reset(self) -> None:
        """Delete every repo and pending injected failure: a clean Hub for the next test."""
        with self._faults_lock:
            self._faults.clear()
        self.store.reset()

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
        try:
            self._body = self._read_body()
            fault = self.hub._take_fault(_action_of(segments))
            if fault is not None:
                raise fault
            self._route(method, segments)
        except HubStoreError as e:
            self._send_error(e)
        except (ValueError, KeyError, TypeError) as e:
            self._send_error(HubStoreError(400, f"Bad request: {e}"))
        except Exception as e:  # a bug here must reach the client as a 500, not a hung connection
            logger.exception("local hub: %s %s failed", method, self.path)
            self._send_error(HubStoreError(500, f"Internal error in the local Hub server: {e!r}"))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> dict:
        if not self._body:
            return {}
        if "application/x-www-form-urlencoded" in self.headers.get("Content-Type", ""):
            return {k: v for k, v in parse_qs(self._body.decode(), keep_blank_values=True).items()}
        return json.loads(self._body)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.method != "HEAD":
            self.wfile.write(body)

    def _send_json(self, payload: object, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send_error(self, error: HubStoreError) -> None:
        headers = {"X-Error-Message": error.message.encode("ascii", "replace").decode()}
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
            store.delete_repo(body.get("type") or "model", _repo_id_from_body(body))
            self._send_json({})
        elif seg == ["validate-yaml"] and method == "POST":
            result = _validate_card(self._json_body().get("content", ""))
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
            files = [
                {
                    "path": f["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": commit.files.get(f["path"]),
                }
                for f in self._json_body().get("files", [])
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
            paths = self._json_body().get("paths", [])
            self._send_json(store.paths_info(commit, [paths] if isinstance(paths, str) else list(paths)))
        elif action == "refs" and method == "GET":
            self._send_json(self._refs(repo))
        elif action == "branch" and arg and method == "POST":
            store.create_branch(repo, unquote("/".join(rest[1:])), self._json_body().get("startingPoint"))
            self._send_json({})
        elif action == "branch" and arg and method == "DELETE":
            store.delete_branch(repo, unquote("/".join(rest[1:])))
            self._send_json({})
        elif action == "tag" and arg and method == "POST":
            store.create_tag(repo, self._json_body()["tag"], unquote("/".join(rest[1:])))
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
        repo_type = body.get("type") or "model"
        repo_id = _repo_id_from_body(body)
        private = body.get("visibility") == "private" or bool(body.get("private"))
        url = self.hub.repo_url(repo_type, repo_id) if repo_type in _URL_PREFIX else ""
        try:
            self.hub.store.create_repo(repo_type, repo_id, private=private, sdk=body.get("sdk"))
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
        for line in self._body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                title, message = value.get("summary", ""), value.get("description", "")
                parent = value.get("parentCommit")
            elif key == "file":
                content = value.get("content", "")
                encoding = value.get("encoding", "base64")
                adds[value["path"]] = base64.b64decode(content) if encoding == "base64" else content.encode()
            elif key == "deletedFile":
                deleted_files.append(value["path"])
            elif key == "deletedFolder":
                deleted_folders.append(value["path"])
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


def _repo_id_from_body(body: dict) -> str:
    name, organization = body.get("name"), body.get("organization")
    if not name:
        raise HubStoreError(400, "Missing repo 'name'")
    return f"{organization or LOCAL_USER}/{name}"


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
    args = parser.parse_args(argv)
    hub = LocalHubServer(args.host, args.port, args.root)
    print(hub.url, flush=True)
    print(f"export HF_ENDPOINT={hub.url} HF_HUB_DISABLE_XET=1 HF_TOKEN=local", flush=True)
    try:
        hub.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
