"""Pulls without a Hub, in child processes (huggingface_hub reads HF_HUB_OFFLINE and HF_ENDPOINT at import)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import huggingface_hub
import pytest

from lerobot_wbvla.hub import ArtifactNotFoundError, push_folder_to_hub, resolve_pretrained_dir
from lerobot_wbvla.hub.compat import patch_repocard_validate

# Child: resolve each (repo, revision) and print {"ok": {rev: {file: sha256}}, "errors": {rev: [type, message]}}.
_CHILD = textwrap.dedent(
    """
    import hashlib, json, sys
    from pathlib import Path
    from lerobot_wbvla.hub import ArtifactNotFoundError, resolve_pretrained_dir
    out = {"ok": {}, "errors": {}}
    for repo, rev in json.loads(sys.argv[1]):
        key = f"{repo}@{rev}"
        try:
            path = resolve_pretrained_dir(repo, revision=rev)
        except ArtifactNotFoundError as e:
            out["errors"][key] = [type(e).__name__, str(e), e.repo_id, e.revision]
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file())
        out["ok"][key] = {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    print(json.dumps(out))
    """
)


def _run_child(env: dict[str, str], queries: list[tuple[str, str | None]]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(queries)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _digest(folder: Path) -> dict[str, str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture
def cached_artifact(unique_repo_id, tmp_path) -> tuple[str, dict[str, str]]:
    """An artifact pushed with tag v1 and pulled once at v1 (so the shared cache holds it)."""
    folder = tmp_path / "lam"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"latent_dim": 8}')
    (folder / "sub" / "model.safetensors").write_bytes(bytes(range(256)) * 64)
    repo = unique_repo_id("offline")
    push_folder_to_hub(folder, repo, tag="v1")
    pulled = resolve_pretrained_dir(repo, revision="v1")
    return repo, _digest(pulled)


def test_offline_mode_uses_cache_and_explains_misses(cached_artifact, unique_repo_id, offline_subprocess_env):
    repo, expected = cached_artifact
    missing = unique_repo_id("never-pulled")
    out = _run_child(offline_subprocess_env, [(repo, "v1"), (repo, "main"), (missing, None)])
    assert out["ok"][f"{repo}@v1"] == expected
    assert expected["sub/model.safetensors"] == hashlib.sha256(bytes(range(256)) * 64).hexdigest()

    # main was never pulled: the cache has no ref for it, so offline it is missing too.
    name, message, repo_id, revision = out["errors"][f"{repo}@main"]
    assert (name, repo_id, revision) == ("ArtifactNotFoundError", repo, "main")
    name, message, repo_id, revision = out["errors"][f"{missing}@None"]
    assert (name, repo_id, revision) == ("ArtifactNotFoundError", missing, None)
    assert missing in message and "'main'" in message
    assert "offline mode is on" in message and "hf download" in message and "local folder" in message


def test_dead_hub_without_offline_flag_falls_back_to_cache(
    cached_artifact, unique_repo_id, offline_subprocess_env
):
    repo, expected = cached_artifact
    env = {**offline_subprocess_env, "HF_HUB_OFFLINE": "0"}
    missing = unique_repo_id("never-pulled")
    out = _run_child(env, [(repo, "v1"), (missing, "v3")])
    assert out["ok"][f"{repo}@v1"] == expected
    name, message, _, revision = out["errors"][f"{missing}@v3"]
    assert (name, revision) == ("ArtifactNotFoundError", "v3")
    assert "cannot be reached" in message and env["HF_ENDPOINT"] in message


def test_child_processes_validate_cards_at_local_hub(hub_api, unique_repo_id, subprocess_env):
    repo = unique_repo_id("card")
    hub_api.create_repo(repo)
    code = textwrap.dedent(
        f"""
        from huggingface_hub import ModelCard
        from huggingface_hub.repocard import RepoCard
        assert getattr(RepoCard.validate, "_wbvla_patch", False) == (int(__import__("huggingface_hub").__version__[0]) < 2)
        ModelCard("---\\nlicense: mit\\ntags: [child]\\n---\\n# from a child\\n").push_to_hub("{repo}")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    readme = huggingface_hub.hf_hub_download(repo, "README.md")
    assert "# from a child" in Path(readme).read_text()


def test_patch_is_a_no_op_on_hub_2(monkeypatch):
    from huggingface_hub.repocard import RepoCard

    monkeypatch.setattr(RepoCard, "validate", lambda self, repo_type=None: "unpatched")
    monkeypatch.setattr(huggingface_hub, "__version__", "2.4.0")
    assert patch_repocard_validate() is False
    assert RepoCard.validate(None) == "unpatched"
    monkeypatch.setattr(huggingface_hub, "__version__", "1.33.0")
    assert patch_repocard_validate() is True
    assert getattr(RepoCard.validate, "_wbvla_patch", False)


_PARTIAL_CHILD = textwrap.dedent(
    """
    import json, sys
    from lerobot_wbvla.hub import ArtifactNotFoundError, resolve_pretrained_dir
    from lerobot_wbvla.lam.modeling_lam import resolve_lam_dir
    repo = sys.argv[1]
    out = {"generic": sorted(p.name for p in resolve_pretrained_dir(repo).iterdir())}
    for name, call in [
        ("lam", lambda: resolve_pretrained_dir(repo, kind="lam")),
        ("explicit", lambda: resolve_pretrained_dir(repo, required_files=["config.json", "tokenizer.json"])),
        ("lam_loader", lambda: resolve_lam_dir(repo, None)),
    ]:
        try:
            out[name] = ["returned", str(call())]
        except ArtifactNotFoundError as e:
            out[name] = [type(e).__name__, str(e), e.repo_id, e.revision]
    print(json.dumps(out))
    """
)


def test_offline_snapshot_missing_required_files_is_refused(unique_repo_id, tmp_path, offline_subprocess_env):
    """Only config.json was ever downloaded: offline, huggingface_hub returns that partial snapshot; a LAM needs
    model.safetensors too, so the pull must fail naming the repo, the revision, the missing file and the fix."""
    folder = tmp_path / "lam"
    folder.mkdir()
    (folder / "config.json").write_text('{"latent_dim": 8}')
    (folder / "model.safetensors").write_bytes(bytes(range(256)))
    repo = unique_repo_id("partial")
    push_folder_to_hub(folder, repo)
    huggingface_hub.hf_hub_download(
        repo, "config.json"
    )  # the cache now holds main -> commit, config.json only

    proc = subprocess.run(
        [sys.executable, "-c", _PARTIAL_CHILD, repo],
        env=offline_subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["generic"] == ["config.json"]  # what huggingface_hub hands back offline: a partial snapshot
    for key, missing in (
        ("lam", "model.safetensors"),
        ("explicit", "tokenizer.json"),
        ("lam_loader", "model.safetensors"),
    ):
        name, message, repo_id, revision = out[key]
        assert (name, repo_id, revision) == ("ArtifactNotFoundError", repo, None), out[key]
        assert repo in message and "'main'" in message and missing in message
        assert "offline mode is on" in message and f"hf download {repo}" in message
        assert "config.json" not in message.split("lacks")[1].split(",")[0]  # only what is missing is named


def test_incomplete_repo_is_refused_online(hub_api, unique_repo_id, tmp_path):
    """Online, a repo that lacks a required file is named as such (not as a cache problem)."""
    folder = tmp_path / "only-config"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    repo = unique_repo_id("incomplete")
    push_folder_to_hub(folder, repo, tag="v1")
    with pytest.raises(
        ArtifactNotFoundError, match=r"the repo lacks model\.safetensors.*holds .*config\.json"
    ) as err:
        resolve_pretrained_dir(repo, revision="v1", kind="lam", cache_dir=tmp_path / "cache")
    assert (err.value.repo_id, err.value.revision) == (repo, "v1") and "'v1'" in str(err.value)
    # allow_patterns never filter out the required files.
    full = tmp_path / "full"
    full.mkdir()
    (full / "config.json").write_text("{}")
    (full / "model.safetensors").write_bytes(b"w")
    push_folder_to_hub(full, repo, tag="v2")
    got = resolve_pretrained_dir(
        repo, revision="v2", kind="lam", allow_patterns=["*.md"], cache_dir=tmp_path / "c2"
    )
    assert (got / "model.safetensors").read_bytes() == b"w"
    # A local folder is checked too.
    with pytest.raises(FileNotFoundError, match="lacks model.safetensors"):
        resolve_pretrained_dir(folder, kind="lam")
