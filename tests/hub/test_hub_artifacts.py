"""push_folder_to_hub / resolve_pretrained_dir / cards against the local Hub with the real client."""

from __future__ import annotations

import json
import os
from pathlib import Path

import draccus
import pytest
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.errors import HfHubHTTPError

from lerobot_wbvla.hub import (
    ArtifactCard,
    ArtifactNotFoundError,
    HubPushConfig,
    HubPushError,
    push_folder_to_hub,
    push_with_config,
    resolve_pretrained_dir,
)


def _artifact(folder: Path, dim: int) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"latent_dim": dim}))
    (folder / "model.safetensors").write_bytes(os.urandom(4096) + bytes([dim]))
    (folder / "extra").mkdir()
    (folder / "extra" / "stats.json").write_text("{}")
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_push_with_card_then_resolve_by_branch_tag_and_sha(hub_api, unique_repo_id, tmp_path):
    repo = unique_repo_id("lam")
    v1, v2 = _artifact(tmp_path / "v1", 16), _artifact(tmp_path / "v2", 32)
    card = ArtifactCard(
        kind="lam",
        config={"latent_dim": 16, "codebook_size": 512},
        datasets=["wbvla-tests/egovideo"],
        base_model="facebook/dinov2-small",
        metrics={"val_mse": 0.125},
        tags=["latent-action"],
    )
    first = push_folder_to_hub(v1, repo, card=card, tag="v1.0", private=False)
    second = push_folder_to_hub(v2, repo, branch="exp", tag="v2.0")
    assert (first.branch, first.tag, second.branch) == ("main", "v1.0", "exp")
    assert first.repo_url == f"{hub_api.endpoint}/{repo}"

    # Each push is exactly one commit on top of the repo's initial commit.
    assert [c.commit_id for c in hub_api.list_repo_commits(repo)][:1] == [first.commit_oid]
    assert len(hub_api.list_repo_commits(repo)) == 2
    assert len(hub_api.list_repo_commits(repo, revision="exp")) == 3

    for rev, source in [("v1.0", v1), ("main", v1), ("v2.0", v2), ("exp", v2), (first.commit_oid, v1)]:
        local = resolve_pretrained_dir(repo, revision=rev)
        got = _files(local)
        for rel, data in _files(source).items():
            assert got[rel] == data, (rev, rel)

    readme = resolve_pretrained_dir(repo, revision="v1.0") / "README.md"
    meta = ModelCard.load(readme).data
    assert meta.library_name == "lerobot"
    assert (
        meta.tags[:3] == ["lerobot", "wholebodyvla", "latent-action-model"] and "latent-action" in meta.tags
    )
    assert meta.license == "apache-2.0"
    assert meta.datasets == ["wbvla-tests/egovideo"]
    assert meta.base_model == "facebook/dinov2-small"
    assert meta.wbvla_metrics == {"val_mse": 0.125}
    text = readme.read_text()
    assert '"codebook_size": 512' in text and f'resolve_pretrained_dir("{repo}", revision="v1.0")' in text


def test_local_dirs_and_bad_names(tmp_path, unique_repo_id):
    folder = _artifact(tmp_path / "lam", 8)
    assert resolve_pretrained_dir(folder) == folder
    assert resolve_pretrained_dir(str(folder)) == folder
    with pytest.raises(FileNotFoundError, match="No such directory"):
        resolve_pretrained_dir(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="No such directory"):
        resolve_pretrained_dir("./outputs/lam")
    with pytest.raises(NotADirectoryError):
        resolve_pretrained_dir(str(folder / "config.json"))
    with pytest.raises(ValueError, match="neither an existing directory nor a valid Hub repo id"):
        resolve_pretrained_dir("bad name!/x")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        push_folder_to_hub(tmp_path / "missing", unique_repo_id())


def test_unknown_repo_and_revision_give_clear_errors(hub_api, unique_repo_id, tmp_path):
    missing = unique_repo_id("missing")
    with pytest.raises(ArtifactNotFoundError, match="no such repo") as err:
        resolve_pretrained_dir(missing)
    assert err.value.repo_id == missing and missing in str(err.value)
    assert err.value.__cause__.response.status_code == 404
    assert err.value.__cause__.response.headers["X-Error-Code"] == "RepoNotFound"

    repo = unique_repo_id("revs")
    push_folder_to_hub(_artifact(tmp_path / "a", 4), repo, tag="v1")
    with pytest.raises(
        ArtifactNotFoundError, match=r"no such revision \(branches and tags: main, v1\)"
    ) as err:
        resolve_pretrained_dir(repo, revision="v9")
    assert err.value.revision == "v9"
    assert err.value.__cause__.response.status_code == 404
    assert err.value.__cause__.response.headers["X-Error-Code"] == "RevisionNotFound"
    with pytest.raises(ArtifactNotFoundError, match="not in the local cache") as err:
        resolve_pretrained_dir(repo, revision="v1", local_files_only=True, cache_dir=tmp_path / "empty-cache")
    assert "pass the path of a local folder" in str(err.value)


def test_failed_push_leaves_nothing(hub_server, hub_api, unique_repo_id, tmp_path, monkeypatch):
    folder = _artifact(tmp_path / "a", 4)

    # A new repo whose commit fails is deleted again.
    repo = unique_repo_id("interrupted")
    hub_server.fail_next("commit", status=500)
    with pytest.raises(HfHubHTTPError) as err:
        push_folder_to_hub(folder, repo, tag="v1")
    assert err.value.response.status_code == 500
    assert not hub_api.repo_exists(repo)

    # An existing repo keeps its content; a branch the failed push created is removed; main does not move.
    repo = unique_repo_id("kept")
    good = push_folder_to_hub(folder, repo)
    hub_server.fail_next("commit", status=503)
    with pytest.raises(HfHubHTTPError) as err:
        push_folder_to_hub(_artifact(tmp_path / "b", 5), repo, branch="exp")
    assert err.value.response.status_code == 503
    refs = hub_api.list_repo_refs(repo)
    assert [b.name for b in refs.branches] == ["main"]
    assert refs.branches[0].target_commit == good.commit_oid

    # Interrupted by the user (KeyboardInterrupt mid-push): a new repo is cleaned up too.
    repo = unique_repo_id("ctrl-c")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(HfApi, "create_commit", interrupted)
        with pytest.raises(KeyboardInterrupt):
            push_folder_to_hub(folder, repo)
    assert not hub_api.repo_exists(repo)

    # An existing tag is refused before anything is written.
    hub_api.create_tag(good.repo_id, tag="v1")
    with pytest.raises(HubPushError, match="already exists"):
        push_folder_to_hub(_artifact(tmp_path / "c", 6), good.repo_id, tag="v1")
    assert [c.commit_id for c in hub_api.list_repo_commits(good.repo_id)][0] == good.commit_oid


def test_push_config_parses_with_draccus_and_pushes(hub_api, unique_repo_id, tmp_path):
    repo = unique_repo_id("cfg")
    cfg = draccus.parse(
        HubPushConfig,
        args=["--push_to_hub=true", f"--repo_id={repo}", "--tags=[a,b]", "--license=mit", "--tag=v0.1"],
    )
    assert cfg.tags == ["a", "b"] and cfg.tag == "v0.1"
    card = ArtifactCard(kind="lam", tags=["own"])
    pushed = push_with_config(_artifact(tmp_path / "a", 3), cfg, card=card)
    assert card.tags == ["own"] and card.license == "apache-2.0"  # the caller's card is left as it was
    assert pushed is not None and pushed.tag == "v0.1"
    meta = ModelCard.load(resolve_pretrained_dir(repo, revision="v0.1") / "README.md").data
    assert meta.license == "mit" and {"own", "a", "b", "lerobot", "wholebodyvla"} <= set(meta.tags)
    assert push_with_config(tmp_path / "a", HubPushConfig()) is None
    with pytest.raises(ValueError, match="repo_id is missing"):
        HubPushConfig(push_to_hub=True)
