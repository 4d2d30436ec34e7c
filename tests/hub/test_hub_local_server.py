"""The local Hub server through the real huggingface_hub client: revisions, refs, errors, persistence."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    BadRequestError,
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from lerobot_wbvla.hub.local_server import LocalHubServer


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def test_upload_list_download_at_branches_tags_and_shas(hub_api, unique_repo_id, tmp_path):
    repo = unique_repo_id("model")
    url = hub_api.create_repo(repo)
    assert url == f"{hub_api.endpoint}/{repo}"
    v1 = {"config.json": b'{"dim": 4}', "weights/model.safetensors": os.urandom(50_000)}
    c1 = hub_api.upload_folder(folder_path=_write(tmp_path / "v1", v1), repo_id=repo, commit_message="v1")
    hub_api.create_tag(repo, tag="v1.0", revision=c1.oid)

    hub_api.create_branch(repo, branch="exp")
    c2 = hub_api.create_commit(
        repo,
        operations=[
            CommitOperationAdd("config.json", b'{"dim": 8}'),
            CommitOperationDelete("weights/", is_folder=True),
        ],
        commit_message="exp change",
        revision="exp",
    )

    assert sorted(hub_api.list_repo_files(repo)) == [
        ".gitattributes",
        "config.json",
        "weights/model.safetensors",
    ]
    assert sorted(hub_api.list_repo_files(repo, revision="exp")) == [".gitattributes", "config.json"]
    assert hub_api.repo_info(repo, revision="v1.0").sha == c1.oid
    assert hub_api.repo_info(repo, revision="exp").sha == c2.oid
    assert hub_api.repo_info(repo).sha == c1.oid  # main did not move

    # Files at a branch, a tag, a full sha and a short sha.
    for rev, expected in [
        ("exp", b'{"dim": 8}'),
        ("v1.0", b'{"dim": 4}'),
        (c2.oid, b'{"dim": 8}'),
        (c1.oid[:8], b'{"dim": 4}'),
    ]:
        assert Path(hf_hub_download(repo, "config.json", revision=rev)).read_bytes() == expected, rev
    snap = Path(snapshot_download(repo, revision="v1.0"))
    assert (snap / "weights/model.safetensors").read_bytes() == v1["weights/model.safetensors"]
    assert snap.name == c1.oid

    # Tree entries carry the git blob sha1 and the size; folders are listed (recursive or not).
    tree = {e.path: e for e in hub_api.list_repo_tree(repo, recursive=True)}
    data = v1["weights/model.safetensors"]
    assert (
        tree["weights/model.safetensors"].blob_id == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    )
    assert tree["weights/model.safetensors"].size == len(data)
    assert "weights" in tree
    assert {e.path for e in hub_api.list_repo_tree(repo)} == {".gitattributes", "config.json", "weights"}
    assert [e.path for e in hub_api.list_repo_tree(repo, path_in_repo="weights")] == [
        "weights/model.safetensors"
    ]
    info = hub_api.get_paths_info(repo, ["config.json", "weights", "missing.txt"], revision="v1.0")
    assert [(type(e).__name__, e.path) for e in info] == [
        ("RepoFile", "config.json"),
        ("RepoFolder", "weights"),
    ]

    commits = hub_api.list_repo_commits(repo, revision="exp")
    assert [c.commit_id for c in commits[:2]] == [c2.oid, c1.oid]
    assert [c.title for c in commits] == ["exp change", "v1", "initial commit"]

    refs = hub_api.list_repo_refs(repo)
    assert {b.name: b.target_commit for b in refs.branches} == {"main": c1.oid, "exp": c2.oid}
    assert {t.name: t.target_commit for t in refs.tags} == {"v1.0": c1.oid}
    assert hub_api.file_exists(repo, "weights/model.safetensors")
    assert not hub_api.file_exists(repo, "weights/model.safetensors", revision="exp")

    hub_api.delete_branch(repo, branch="exp")
    hub_api.delete_tag(repo, tag="v1.0")
    refs = hub_api.list_repo_refs(repo)
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []


def _refused(call, error_type: type[Exception], status: int, code: str | None = None) -> Exception:
    """Run `call`, expect `error_type` from an HTTP answer with `status` (and `X-Error-Code`, which the client
    maps to its typed errors): a server answering another status with the right code would fool the type alone."""
    with pytest.raises(error_type) as err:
        call()
    response = err.value.response
    assert response is not None and response.status_code == status, (response, err.value)
    if code is not None:
        assert response.headers.get("X-Error-Code") == code, dict(response.headers)
    return err.value


def test_refusals_raise_typed_errors(hub_api, unique_repo_id):
    repo = unique_repo_id("errors")
    hub_api.create_repo(repo)
    hub_api.upload_file(path_or_fileobj=b"x", path_in_repo="a.txt", repo_id=repo)
    hub_api.create_branch(repo, branch="dev")
    hub_api.create_tag(repo, tag="t1")
    nope = unique_repo_id("nope")

    for call, error_type, status, code in [
        (lambda: hub_api.repo_info(nope), RepositoryNotFoundError, 404, "RepoNotFound"),
        (lambda: hf_hub_download(nope, "a.txt"), RepositoryNotFoundError, 404, "RepoNotFound"),
        # ids without namespace (huggingface.co classics) are not here
        (lambda: hub_api.model_info("gpt2"), RepositoryNotFoundError, 404, "RepoNotFound"),
        (lambda: hf_hub_download("gpt2", "config.json"), RepositoryNotFoundError, 404, "RepoNotFound"),
        (
            lambda: hub_api.repo_info(repo, revision="no-such-branch"),
            RevisionNotFoundError,
            404,
            "RevisionNotFound",
        ),
        (
            lambda: hf_hub_download(repo, "a.txt", revision="no-such-branch"),
            RevisionNotFoundError,
            404,
            "RevisionNotFound",
        ),
        (lambda: hf_hub_download(repo, "missing.txt"), EntryNotFoundError, 404, "EntryNotFound"),
        (lambda: hub_api.delete_file("missing.txt", repo), EntryNotFoundError, 404, "EntryNotFound"),
        (
            lambda: hub_api.upload_file(
                path_or_fileobj=b"y", path_in_repo="b.txt", repo_id=repo, revision="no-such-branch"
            ),
            RevisionNotFoundError,
            404,
            "RevisionNotFound",
        ),
        (lambda: hub_api.delete_tag(repo, tag="no-such-tag"), RevisionNotFoundError, 404, "RevisionNotFound"),
        (
            lambda: hub_api.create_tag(repo, tag="t2", revision="no-such-branch"),
            RevisionNotFoundError,
            404,
            "RevisionNotFound",
        ),
        (lambda: hub_api.delete_branch(repo, branch="main"), HfHubHTTPError, 403, None),
        (lambda: hub_api.create_tag(repo, tag="bad tag"), BadRequestError, 400, None),
        (lambda: hub_api.create_branch(repo, branch="bad..branch"), BadRequestError, 400, None),
    ]:
        _refused(call, error_type, status, code)

    for duplicate in (
        lambda: hub_api.create_repo(repo),
        lambda: hub_api.create_branch(repo, branch="dev"),
        lambda: hub_api.create_tag(repo, tag="t1"),
    ):
        _refused(duplicate, HfHubHTTPError, 409)
    # exist_ok reads the url from the 409 body; the existing content is untouched.
    assert hub_api.create_repo(repo, exist_ok=True) == f"{hub_api.endpoint}/{repo}"
    hub_api.create_branch(repo, branch="dev", exist_ok=True)
    assert hub_api.list_repo_files(repo) == [".gitattributes", "a.txt"]

    # A commit that would lose work (stale parent) is refused, and so is a broken card.
    stale = hub_api.list_repo_commits(repo)[-1].commit_id
    _refused(
        lambda: hub_api.upload_file(
            path_or_fileobj=b"z", path_in_repo="c.txt", repo_id=repo, parent_commit=stale
        ),
        HfHubHTTPError,
        412,
    )
    with pytest.raises(ValueError, match="Invalid metadata"):
        hub_api.upload_file(path_or_fileobj=b"---\ntags: [a\n---\n", path_in_repo="README.md", repo_id=repo)
    assert hub_api.list_repo_files(repo) == [".gitattributes", "a.txt"]

    err = _refused(
        lambda: hub_api.upload_file(path_or_fileobj=b"z", path_in_repo="c.txt", repo_id=repo, create_pr=True),
        BadRequestError,
        400,
    )
    assert "pull requests" in str(err)

    hub_api.delete_repo(repo)
    assert not hub_api.repo_exists(repo)
    _refused(lambda: hub_api.delete_repo(repo), RepositoryNotFoundError, 404, "RepoNotFound")


def test_card_validation_answers_400_with_the_yaml_error(hub_server):
    """What `RepoCard.validate` (through the compat patch) turns into 'Invalid metadata': a 400 with errors."""
    ok = httpx.post(f"{hub_server.url}/api/validate-yaml", json={"content": "---\nlicense: mit\n---\n"})
    assert ok.status_code == 200 and ok.json()["errors"] == []
    bad = httpx.post(f"{hub_server.url}/api/validate-yaml", json={"content": "---\ntags: [a\n---\n"})
    assert bad.status_code == 400 and bad.json()["errors"], bad.text


def test_dataset_and_space_repos_are_separate_namespaces(hub_api, unique_repo_id):
    repo = unique_repo_id("shared-name")
    hub_api.create_repo(repo, repo_type="dataset")
    hub_api.upload_file(
        path_or_fileobj=b"rows", path_in_repo="data/x.parquet", repo_id=repo, repo_type="dataset"
    )
    assert not hub_api.repo_exists(repo)  # no model repo of that name
    hub_api.create_repo(repo)
    hub_api.create_repo(repo, repo_type="space", space_sdk="static")
    assert hub_api.list_repo_files(repo, repo_type="dataset") == [".gitattributes", "data/x.parquet"]
    assert hub_api.list_repo_files(repo) == [".gitattributes"]
    path = hf_hub_download(repo, "data/x.parquet", repo_type="dataset")
    assert Path(path).read_bytes() == b"rows"
    assert (
        hub_api.space_info(repo).sha
        == hub_api.list_repo_refs(repo, repo_type="space").branches[0].target_commit
    )


def test_resolve_headers_and_ranges(hub_server, hub_api, unique_repo_id):
    repo = unique_repo_id("headers")
    hub_api.create_repo(repo, repo_type="dataset")
    data = bytes(range(256)) * 10
    commit = hub_api.upload_file(
        path_or_fileobj=data, path_in_repo="blob.bin", repo_id=repo, repo_type="dataset"
    )
    url = f"{hub_server.url}/datasets/{repo}/resolve/main/blob.bin"
    head = httpx.head(url)
    assert head.status_code == 200
    assert head.headers["X-Repo-Commit"] == commit.oid
    assert head.headers["ETag"] == '"' + hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() + '"'
    assert int(head.headers["Content-Length"]) == len(data)
    assert not any(k.lower().startswith("x-xet") for k in head.headers)
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]


def test_fault_injection_and_reset(unique_repo_id, tmp_path):
    with LocalHubServer() as hub:
        from huggingface_hub import HfApi

        api = HfApi(endpoint=hub.url, token="dummy")
        repo = unique_repo_id("faults")
        api.create_repo(repo)
        hub.fail_next("commit", status=503)
        with pytest.raises(HfHubHTTPError) as err:
            api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo)
        assert err.value.response.status_code == 503
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo)  # only the next one failed
        hub.reset()
        assert not api.repo_exists(repo)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{hub.url}/api/whoami-v2")


def test_persisted_root_survives_restart(unique_repo_id, tmp_path):
    from huggingface_hub import HfApi

    repo = unique_repo_id("persist")
    with LocalHubServer(root=tmp_path / "hub") as hub:
        api = HfApi(endpoint=hub.url, token="dummy")
        api.create_repo(repo)
        commit = api.upload_file(path_or_fileobj=b"kept", path_in_repo="k.txt", repo_id=repo)
        api.create_tag(repo, tag="v1")
    with LocalHubServer(root=tmp_path / "hub") as hub:
        api = HfApi(endpoint=hub.url, token="dummy")
        assert api.repo_info(repo, revision="v1").sha == commit.oid
        path = hf_hub_download(repo, "k.txt", revision="v1", endpoint=hub.url, cache_dir=tmp_path / "cache")
        assert Path(path).read_bytes() == b"kept"


def test_standalone_command_serves(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lerobot_wbvla.hub.local_server",
            "--port",
            "0",
            "--root",
            str(tmp_path / "r"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        deadline = time.monotonic() + 10
        while True:
            try:
                who = httpx.get(f"{url}/api/whoami-v2").json()
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert who["name"] == "tester"
        created = httpx.post(f"{url}/api/repos/create", json={"name": "m", "organization": "me"})
        assert created.json()["url"] == f"{url}/me/m"
        assert (tmp_path / "r" / "state.json").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
