"""Pushes leave nothing half-made: checked before anything is created, undone on failure and on SIGTERM.

The SIGTERM tests push from a child process through the real client and freeze it at the worst moment with the
local server's `hold_next` (the repo or branch exists, the commit or tag request is at the server), then send
SIGTERM: the Hub must end up as it was before the push.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from huggingface_hub import snapshot_download
from huggingface_hub.errors import HfHubHTTPError

from lerobot_wbvla.hub import HubPushError, push_folder_to_hub

_CHILD = textwrap.dedent(
    """
    import json, sys
    from lerobot_wbvla.hub import push_folder_to_hub
    folder, repo, branch, tag = json.loads(sys.argv[1])
    pushed = push_folder_to_hub(folder, repo, branch=branch, tag=tag)
    print("pushed", pushed.commit_oid, flush=True)
    """
)


def _artifact(folder: Path, seed: int, big: bool = False) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(f'{{"seed": {seed}}}')
    rng = __import__("random").Random(seed)
    size = 6_000_000 if big else 4096  # 6 MB: the commit request takes a while to send, as a real one does
    (folder / "model.safetensors").write_bytes(rng.randbytes(size))
    (folder / "extra").mkdir()
    (folder / "extra" / f"only-in-{seed}.json").write_text("{}")
    return folder


def _snapshot(repo: str, revision: str, cache: Path) -> dict[str, str]:
    """{path: sha256} of the repo at `revision`, downloaded through the real client."""
    path = Path(snapshot_download(repo, revision=revision, cache_dir=cache))
    return {
        p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def _start_child(subprocess_env: dict[str, str], folder: Path, repo: str, branch=None, tag=None):
    import json

    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps([str(folder), repo, branch, tag])],
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    "case",
    [
        "new-repo",  # killed between create_repo and the end of the commit
        "new-branch",  # killed between create_branch and the end of the commit
        "existing-main-commit",  # the commit request is at the server when SIGTERM comes
        "existing-main-tag",  # the commit landed, the tag request is at the server
    ],
)
def test_sigterm_mid_push_leaves_the_hub_as_it_was(
    case, hub_server, hub_api, unique_repo_id, subprocess_env, tmp_path
):
    repo = unique_repo_id(f"sigterm-{case}")
    existing = case != "new-repo"
    before = None
    if existing:
        push_folder_to_hub(_artifact(tmp_path / "v1", 1), repo, tag="v1")
        before = _snapshot(repo, "main", tmp_path / "cache-before")
    branch = "exp" if case == "new-branch" else None
    tag = "v2" if case != "existing-main-commit" else None
    hold = hub_server.hold_next("tag" if case == "existing-main-tag" else "commit", timeout=120)
    child = _start_child(subprocess_env, _artifact(tmp_path / "v2", 2, big=True), repo, branch, tag)
    try:
        assert hold.arrived.wait(120), "the push never reached its commit/tag request"
        # The worst moment: what the push creates exists, its content is not committed (or not tagged) yet.
        if case == "new-repo":
            assert hub_api.list_repo_files(repo) == [".gitattributes"]
        if case == "new-branch":
            assert "exp" in [b.name for b in hub_api.list_repo_refs(repo).branches]
        child.send_signal(signal.SIGTERM)
        if case in ("new-repo", "new-branch"):
            # The child undoes at once (deleting what it created makes the held request fail later).
            child.wait(120)
            hold.release()
        else:
            # A request already at the server may still land: the child waits for its answer, then undoes it.
            hold.release()
            child.wait(120)
        assert hold.done.wait(60)
    finally:
        hold.release()
        if child.poll() is None:
            child.kill()
    out, err = child.communicate()

    # The Hub first (what matters), then how the child ended: by the signal, after saying what it undid.
    if existing:
        refs = hub_api.list_repo_refs(repo)
        assert [b.name for b in refs.branches] == ["main"]
        assert [t.name for t in refs.tags] == ["v1"]
        assert _snapshot(repo, "main", tmp_path / "cache-after") == before
    else:
        assert not hub_api.repo_exists(repo)
    assert child.returncode == -signal.SIGTERM, (child.returncode, out, err[-3000:])
    assert "pushed" not in out
    assert "interrupted by SIGTERM" in err


def test_failed_tag_after_the_commit_reverts_it(hub_server, hub_api, unique_repo_id, tmp_path):
    repo = unique_repo_id("tag-fails")
    first = push_folder_to_hub(_artifact(tmp_path / "v1", 1), repo, tag="v1")
    before = _snapshot(repo, "main", tmp_path / "c1")

    hub_server.fail_next("tag", status=500)
    with pytest.raises(HubPushError, match=r"tag 'v2' could not be created .* reverted by commit") as err:
        push_folder_to_hub(_artifact(tmp_path / "v2", 2), repo, tag="v2")
    assert isinstance(err.value.__cause__, HfHubHTTPError)
    assert err.value.__cause__.response.status_code == 500

    # main holds exactly the files it held before (the push's commit and its revert are in the history).
    assert _snapshot(repo, "main", tmp_path / "c2") == before
    commits = hub_api.list_repo_commits(repo)
    assert commits[0].title.startswith("Revert") and commits[2].commit_id == first.commit_oid
    assert [t.name for t in hub_api.list_repo_refs(repo).tags] == ["v1"]

    # On a new repo or a new branch, a failed tag removes what the push created.
    new_repo = unique_repo_id("tag-fails-new")
    hub_server.fail_next("tag", status=500)
    with pytest.raises(HubPushError, match="repo it had created"):
        push_folder_to_hub(_artifact(tmp_path / "v3", 3), new_repo, tag="v1")
    assert not hub_api.repo_exists(new_repo)
    hub_server.fail_next("tag", status=500)
    with pytest.raises(HubPushError, match="branch it had created"):
        push_folder_to_hub(_artifact(tmp_path / "v4", 4), repo, branch="exp", tag="v4")
    assert [b.name for b in hub_api.list_repo_refs(repo).branches] == ["main"]


def test_everything_is_checked_before_anything_is_created(hub_api, unique_repo_id, tmp_path):
    folder = _artifact(tmp_path / "a", 1)
    repo = unique_repo_id("prechecked")
    for bad_tag in ("bad tag", "v1..2", "v1:x", "-v1", "a" * 40):
        with pytest.raises(ValueError, match="tag name"):
            push_folder_to_hub(folder, repo, tag=bad_tag)
    with pytest.raises(ValueError, match="branch name"):
        push_folder_to_hub(folder, repo, branch="feature branch")
    (folder / "back\\slash.json").write_text("{}")  # a name Windows clients cannot write
    with pytest.raises(ValueError, match="backslash.*ignore_patterns"):
        push_folder_to_hub(folder, repo)
    (folder / "back\\slash.json").unlink()
    (folder / "line\nbreak.json").write_text("{}")
    with pytest.raises(ValueError, match="control character"):
        push_folder_to_hub(folder, repo)
    assert not hub_api.repo_exists(repo)
    push_folder_to_hub(folder, repo, ignore_patterns=["line*"])  # left out: the rest pushes

    # A file of the repo that the push would turn into a folder: refused before the branch is created.
    clash = tmp_path / "clash"
    (clash / "config.json").mkdir(parents=True)
    (clash / "config.json" / "inner.json").write_text("{}")
    head = hub_api.repo_info(repo).sha
    with pytest.raises(HubPushError, match="'config.json' would be both a file and the folder"):
        push_folder_to_hub(clash, repo, branch="exp")
    assert [b.name for b in hub_api.list_repo_refs(repo).branches] == ["main"]
    assert hub_api.repo_info(repo).sha == head


def test_interrupted_commit_on_an_existing_branch_is_reverted(hub_api, unique_repo_id, tmp_path, monkeypatch):
    """The commit landed but the call did not return (the connection broke): the push finds it and reverts it."""
    from huggingface_hub import HfApi

    repo = unique_repo_id("lost-answer")
    push_folder_to_hub(_artifact(tmp_path / "v1", 1), repo)
    before = _snapshot(repo, "main", tmp_path / "c1")
    real_commit = HfApi.create_commit

    def commit_then_lose_the_answer(self, *args, **kwargs):
        real_commit(self, *args, **kwargs)
        monkeypatch.setattr(HfApi, "create_commit", real_commit)  # the revert commits normally
        raise ConnectionResetError("connection reset after the request was sent")

    monkeypatch.setattr(HfApi, "create_commit", commit_then_lose_the_answer)
    with pytest.raises(ConnectionResetError):
        push_folder_to_hub(_artifact(tmp_path / "v2", 2), repo)
    assert _snapshot(repo, "main", tmp_path / "c2") == before
    assert hub_api.list_repo_commits(repo)[0].title.startswith("Revert")


def test_identical_push_is_not_reverted(hub_server, hub_api, unique_repo_id, tmp_path):
    """Pushing the same bytes again makes no commit; a failing tag then must not revert the previous one."""
    repo = unique_repo_id("same-bytes")
    folder = _artifact(tmp_path / "v1", 1)
    first = push_folder_to_hub(folder, repo)
    hub_server.fail_next("tag", status=500)
    with pytest.raises(HubPushError, match="could not be created"):
        push_folder_to_hub(folder, repo, tag="v1")
    assert hub_api.repo_info(repo).sha == first.commit_oid


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_a_push_outside_the_main_thread_still_pushes(unique_repo_id, tmp_path):
    """SIGTERM handlers can only be set in the main thread: elsewhere the push runs without them."""
    import threading

    result = {}
    repo = unique_repo_id("thread")
    handler = signal.getsignal(signal.SIGTERM)

    def push():
        result["pushed"] = push_folder_to_hub(_artifact(tmp_path / "a", 1), repo)

    t = threading.Thread(target=push)
    t.start()
    t.join(120)
    assert result["pushed"].repo_id == repo
    assert signal.getsignal(signal.SIGTERM) is handler
