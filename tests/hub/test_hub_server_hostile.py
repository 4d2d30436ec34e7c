"""The local Hub server against hostile input, over HTTP: status codes, error headers, nothing stored.

Raw `http.client` requests send what the real client never would (broken JSON, bad base64, crafted paths and
revisions); the real huggingface_hub client checks that what it can send gets the same answers. Every refusal
must be a 4xx with the error in the body, never a 500, a header the request injected or a repo that later
downloads cannot read.
"""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from huggingface_hub import HfApi, snapshot_download
from huggingface_hub.errors import BadRequestError, RevisionNotFoundError

from lerobot_wbvla.hub.local_server import LocalHubServer
from lerobot_wbvla.hub.local_store import CorruptStoreError, RootInUseError


def _raw(
    hub, method: str, path: str, body: bytes | str | None = None, content_type: str = "application/json"
):
    """(status, [(header, value), ...], parsed JSON body or raw bytes) of one raw request."""
    conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=30)
    try:
        data = body.encode() if isinstance(body, str) else body
        conn.request(
            method, path, body=data, headers={"Content-Type": content_type} if data is not None else {}
        )
        response = conn.getresponse()
        payload = response.read()
        try:
            payload = json.loads(payload)
        except ValueError:
            pass
        return response.status, response.getheaders(), payload
    finally:
        conn.close()


def _ndjson(*lines: object) -> str:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)


def _file(path: str, data: bytes = b"x") -> dict:
    return {
        "key": "file",
        "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"},
    }


_HEADER = {"key": "header", "value": {"summary": "hostile"}}


@pytest.fixture
def repo(hub_api, unique_repo_id) -> str:
    repo = unique_repo_id("hostile")
    hub_api.create_repo(repo)
    hub_api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo)
    return repo


def _assert_headers_safe(headers: list[tuple[str, str]]) -> None:
    names = [k.lower() for k, _ in headers]
    assert "set-cookie" not in names and "x-injected" not in names, headers
    for _, value in headers:
        assert all(" " <= c <= "~" for c in value), value


def test_error_text_never_reaches_headers_raw(hub_server, hub_api, repo, tmp_path):
    crafted = quote("x\r\nSet-Cookie: injected=1\r\nX-Injected: 1", safe="")
    for path in (
        f"/api/models/{repo}/revision/{crafted}",
        f"/{repo}/resolve/{crafted}/config.json",
        f"/api/models/{repo}/tree/{crafted}",
    ):
        status, headers, body = _raw(hub_server, "GET", path)
        assert status == 404, (path, status, body)
        assert dict(headers)["X-Error-Code"] == "RevisionNotFound"
        _assert_headers_safe(headers)
        assert "x\r\nSet-Cookie: injected=1" in body["error"]  # the body keeps the text, JSON-escaped
        assert "\\r\\n" in dict(headers)["X-Error-Message"]  # the header shows it escaped

    # The real client sends such a revision too (percent-encoded): same answer, typed error, no cookie.
    with pytest.raises(RevisionNotFoundError) as err:
        hub_api.repo_info(repo, revision="x\r\nSet-Cookie: injected=1")
    assert err.value.response.status_code == 404
    assert "set-cookie" not in err.value.response.headers


@pytest.mark.parametrize(
    "method, route, body",
    [
        ("POST", "/api/repos/create", "{not json"),
        ("POST", "/api/repos/create", "[1, 2]"),
        ("POST", "/api/repos/create", '"a string"'),
        ("POST", "/api/repos/create", '{"name": 5}'),
        ("POST", "/api/repos/create", '{"name": "m", "organization": ["x"]}'),
        ("POST", "/api/repos/create", b"\xff\xfe\x00"),
        ("DELETE", "/api/repos/delete", "[]"),
        ("POST", "/api/models/{repo}/paths-info/main", '"config.json"'),
        ("POST", "/api/models/{repo}/paths-info/main", '{"paths": [1]}'),
        ("POST", "/api/models/{repo}/preupload/main", '{"files": "config.json"}'),
        ("POST", "/api/models/{repo}/preupload/main", '{"files": [{"size": 3}]}'),
        ("POST", "/api/models/{repo}/tag/main", '{"tag": 5}'),
        ("POST", "/api/models/{repo}/tag/main", "{}"),
        ("POST", "/api/models/{repo}/branch/dev", '{"startingPoint": ["main"]}'),
        ("POST", "/api/validate-yaml", '{"content": 7}'),
    ],
)
def test_malformed_json_bodies_get_400(hub_server, hub_api, repo, method, route, body):
    status, headers, payload = _raw(hub_server, method, route.format(repo=repo), body)
    assert status == 400, (status, payload)
    assert "error" in payload and dict(headers).get("X-Error-Message")
    _assert_headers_safe(headers)
    refs = hub_api.list_repo_refs(repo)
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []
    assert not hub_api.repo_exists(f"{hub_api.whoami()['name']}/m")


@pytest.mark.parametrize(
    "lines",
    [
        ["not json at all"],
        [[1, 2]],
        [{"key": "header", "value": "a string"}],
        [_HEADER, {"key": "file", "value": {"path": 5, "content": ""}}],
        [_HEADER, {"key": "file", "value": {"path": "a.txt", "content": 5}}],
        [_HEADER, {"key": "file", "value": {"path": "a.txt", "content": "", "encoding": "rot13"}}],
        [_HEADER, {"key": "nonsense", "value": {}}],
        [_HEADER, _file("a.txt"), _file("a.txt")],
    ],
)
def test_malformed_commits_get_400_and_commit_nothing(hub_server, hub_api, repo, lines):
    head = hub_api.repo_info(repo).sha
    status, headers, payload = _raw(hub_server, "POST", f"/api/models/{repo}/commit/main", _ndjson(*lines))
    assert status == 400, (status, payload)
    _assert_headers_safe(headers)
    assert hub_api.repo_info(repo).sha == head


@pytest.mark.parametrize("content", ["!!!!", "YWJj!ZGVm", "not base64 at all", "YQ"])
def test_invalid_base64_commits_nothing(hub_server, hub_api, repo, content):
    head = hub_api.repo_info(repo).sha
    line = {"key": "file", "value": {"path": "data.bin", "content": content, "encoding": "base64"}}
    status, headers, payload = _raw(
        hub_server, "POST", f"/api/models/{repo}/commit/main", _ndjson(_HEADER, line)
    )
    assert status == 400, (status, payload)
    assert "not valid base64" in payload["error"] and "data.bin" in payload["error"]
    assert hub_api.repo_info(repo).sha == head
    assert "data.bin" not in hub_api.list_repo_files(repo)


HOSTILE_PATHS = [
    "..\\evil.txt",
    "sub\\..\\..\\evil.txt",
    "a\x00b.txt",
    "bell\x07.txt",
    "new\nline.txt",
    "tab\there.txt",
    "x" * 5000,
    "folder/" + "y" * 300,
    "..",
    "../evil.txt",
    "a/../b.txt",
    "./a.txt",
    "/etc/passwd",
    "a//b.txt",
    "trailing/",
    "",
    ".git/config",
    "sub/.cache/x",
    "C:evil.txt",
    "bad\ud800surrogate",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS, ids=[repr(p)[:40] for p in HOSTILE_PATHS])
def test_paths_the_clients_cannot_write_are_refused(hub_server, hub_api, repo, path, tmp_path):
    head = hub_api.repo_info(repo).sha
    status, headers, payload = _raw(
        hub_server, "POST", f"/api/models/{repo}/commit/main", _ndjson(_HEADER, _file(path))
    )
    assert status == 400, (status, payload)
    assert payload["error"].startswith("Invalid path in repo")
    _assert_headers_safe(headers)
    assert len(dict(headers)["X-Error-Message"]) <= 300
    assert hub_api.repo_info(repo).sha == head
    # The repo still downloads with the real client (a stored bad path would break every later download).
    snap = Path(snapshot_download(repo, cache_dir=tmp_path / "cache"))
    assert sorted(p.name for p in snap.iterdir()) == [".gitattributes", "config.json"]


def test_the_real_client_gets_400_for_paths_it_does_not_check_itself(hub_api, repo):
    for path in ("..\\evil.txt", "a\x00b", "x" * 5000):
        with pytest.raises(BadRequestError, match="Invalid path in repo") as err:
            hub_api.upload_file(path_or_fileobj=b"x", path_in_repo=path, repo_id=repo)
        assert err.value.response.status_code == 400
    assert hub_api.list_repo_files(repo) == [".gitattributes", "config.json"]


def test_a_file_and_a_folder_of_the_same_name_are_refused(hub_server, hub_api, repo, tmp_path):
    route = f"/api/models/{repo}/commit/main"
    head = hub_api.repo_info(repo).sha
    for lines in (
        [_HEADER, _file("config.json/inner.json")],  # the repo has a file config.json
        [_HEADER, _file("d"), _file("d/e")],  # both in one commit
        [_HEADER, _file("f/g/h"), _file("f/g")],
    ):
        status, _, payload = _raw(hub_server, "POST", route, _ndjson(*lines))
        assert status == 400 and "both a file and the folder" in payload["error"], payload
    assert hub_api.repo_info(repo).sha == head
    # Replacing the file by a folder in one commit (delete + add) is a valid change.
    status, _, _ = _raw(
        hub_server,
        "POST",
        route,
        _ndjson(_HEADER, {"key": "deletedFile", "value": {"path": "config.json"}}, _file("config.json/x")),
    )
    assert status == 200
    snap = Path(snapshot_download(repo, cache_dir=tmp_path / "cache"))
    assert (snap / "config.json" / "x").read_bytes() == b"x"


def _standalone(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lerobot_wbvla.hub.local_server", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if "error:" in line]


def test_one_server_per_root(tmp_path):
    root = tmp_path / "root"
    with LocalHubServer(root=root):
        with pytest.raises(RootInUseError, match="already uses --root"):
            LocalHubServer(root=root)
        proc = _standalone("--root", str(root))
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 2
        (line,) = _error_lines(stderr)
        assert "another local Hub server" in line and str(root) in line
    with LocalHubServer(root=root):  # stopped: the root is free again
        pass


def test_killed_writes_are_cleaned_and_corrupt_blobs_refused(unique_repo_id, tmp_path):
    root = tmp_path / "root"
    repo = unique_repo_id("persist")
    with LocalHubServer(root=root) as hub:
        api = HfApi(endpoint=hub.url, token="dummy")
        api.create_repo(repo)
        api.upload_file(path_or_fileobj=b"kept bytes", path_in_repo="k.txt", repo_id=repo)
    # What a write killed half-way leaves: temp files beside the blobs and the state file.
    (root / "blobs" / ".tmp-killed").write_bytes(b"half a blo")
    (root / ".tmp-state").write_bytes(b'{"repos": [')
    with LocalHubServer(root=root) as hub:
        assert sorted(p.name for p in (root / "blobs").iterdir() if p.name.startswith(".")) == []
        assert not (root / ".tmp-state").exists()
        api = HfApi(endpoint=hub.url, token="dummy")
        path = api.hf_hub_download(repo, "k.txt", cache_dir=tmp_path / "cache")
        assert Path(path).read_bytes() == b"kept bytes"

    # A blob whose bytes changed on disk is refused at start, not served.
    blob = next(p for p in (root / "blobs").iterdir() if p.read_bytes() == b"kept bytes")
    blob.write_bytes(b"kept bytez")
    with pytest.raises(CorruptStoreError, match=f"blob .*{blob.name} is corrupt"):
        LocalHubServer(root=root)
    proc = _standalone("--root", str(root))
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    (line,) = _error_lines(stderr)
    assert "is corrupt" in line


def test_non_loopback_hosts_need_allow_remote(tmp_path):
    with pytest.raises(ValueError, match="not a loopback address.*--allow_remote"):
        LocalHubServer(host="0.0.0.0")
    proc = _standalone("--host", "0.0.0.0")
    out, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2 and out == ""
    (line,) = _error_lines(stderr)
    assert "no authentication" in line and "--allow_remote" in line

    proc = _standalone("--host", "0.0.0.0", "--allow_remote")
    try:
        url = proc.stdout.readline().strip()
        port = int(url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/api/whoami-v2")
                assert conn.getresponse().status == 200
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    warning = [line for line in stderr.splitlines() if "warning:" in line]
    assert len(warning) == 1 and "no authentication" in warning[0], stderr
    with LocalHubServer(host="localhost") as hub:
        assert hub.url.startswith("http://127.0.0.1:")
