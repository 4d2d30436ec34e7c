"""LMOPolicy (lmo/policy.py): an export run from numpy, its leg targets, layout checks, Hub loading, latency."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(
    0, str(Path(__file__).resolve().parent)
)  # --import-mode=importlib: the helper module beside us

from lmo_export_helpers import article_layout, make_export  # noqa: E402

from lerobot_wbvla.lmo.export import LMO_FILE, POLICY_PT  # noqa: E402
from lerobot_wbvla.lmo.layout import LAYOUT_FILE, LayoutMismatchError, ObservationLayout  # noqa: E402
from lerobot_wbvla.lmo.mdp.observations import STANCE  # noqa: E402
from lerobot_wbvla.lmo.policy import LMOPolicy, step_latency  # noqa: E402
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS  # noqa: E402
from lerobot_wbvla.robots.agibot_x2.mjcf import joint_range  # noqa: E402


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    return make_export(tmp_path_factory.mktemp("lmo") / "export", article_layout(), seed=5)


@pytest.fixture(scope="module")
def policy(export_dir) -> LMOPolicy:
    return LMOPolicy.from_pretrained(export_dir)


def _obs(n: int, size: int = 294, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, size)).astype(np.float32)


def test_onnx_and_torch_backends_agree(export_dir, policy):
    torch_policy = LMOPolicy.from_pretrained(export_dir, backend="torch")
    obs = _obs(1000)
    a, b = policy.act(obs), torch_policy.act(obs)
    assert a.shape == (1000, 12) and a.dtype == np.float32
    assert np.abs(a - b).max() <= 1e-5
    # The single-robot path (bound buffers) gives the batched numbers, for a (1, size) row and a (size,) vector.
    for i in range(5):
        np.testing.assert_allclose(policy.act(obs[i : i + 1])[0], a[i], atol=1e-6)
        np.testing.assert_allclose(torch_policy.act(obs[i])[0], b[i], atol=1e-6)
    first = policy.act(obs[:1])
    policy.act(obs[1:2])
    np.testing.assert_array_equal(first, policy.act(obs[:1]))  # results are copies, not the reused buffer


def test_leg_targets_are_the_env_mapping_clipped_to_joint_ranges(policy):
    obs = _obs(200, seed=1)
    actions = policy.act(obs).astype(np.float64)
    want = STANCE + 0.25 * np.clip(actions, -10, 10)
    lo = np.array([joint_range(j)[0] for j in LEG_JOINTS])
    hi = np.array([joint_range(j)[1] for j in LEG_JOINTS])
    np.testing.assert_allclose(policy.leg_targets(obs), np.clip(want, lo, hi), atol=1e-12)
    huge = np.full((1, 12), 1e3)
    targets = policy.targets_from_actions(huge)
    np.testing.assert_allclose(targets[0], np.clip(STANCE + 0.25 * 10, lo, hi))
    assert np.all(targets >= lo) and np.all(targets <= hi)


def test_single_robot_step_latency(policy):
    stats = step_latency(policy, n=3000, warmup=300)
    print(
        f"\nLMOPolicy.leg_targets (onnxruntime, 1 thread, N=1): p50 {stats['p50_ms']:.4f} ms, "
        f"p99 {stats['p99_ms']:.4f} ms, max {stats['max_ms']:.3f} ms"
    )
    assert stats["p99_ms"] < 2.0  # the goal is 0.2 ms on a quiet core; this machine is shared


def test_layout_checks(policy):
    policy.check_layout(article_layout())  # the same layout passes
    policy.check_layout(article_layout(lam_revision=None))  # an unpinned revision matches any
    cases = [  # (what the caller builds, what the error must name)
        (ObservationLayout(conditioning="latent", latent_dim=128, lam="wbvla-tests/lam"), "latent_dim=128"),
        (ObservationLayout(conditioning="none"), "given conditioning=none"),
        (ObservationLayout(conditioning="command"), "given conditioning=command"),
        (article_layout(history=2), "history=2"),
        (ObservationLayout(conditioning="latent", latent_dim=256, lam="other/lam"), "given other/lam"),
        (article_layout(lam_revision="v2"), "given wbvla-tests/lam@v2"),
    ]
    for layout, needle in cases:
        with pytest.raises(LayoutMismatchError) as err:
            policy.check_layout(layout)
        assert needle in str(err.value), (needle, str(err.value))
    with pytest.raises(LayoutMismatchError, match=r"takes \(N, 294\)"):
        policy.act(_obs(1, size=42))


def test_inconsistent_or_foreign_exports_are_refused(export_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(export_dir, bad)
    ObservationLayout(conditioning="none").save(bad)  # layout.json of another policy
    with pytest.raises(LayoutMismatchError, match="294 observation values"):
        LMOPolicy.from_pretrained(bad)
    shutil.copy(export_dir / LAYOUT_FILE, bad / LAYOUT_FILE)
    meta = json.loads((bad / LMO_FILE).read_text())
    meta["stance"] = [s + 0.1 for s in meta["stance"]]
    (bad / LMO_FILE).write_text(json.dumps(meta))
    with pytest.raises(LayoutMismatchError, match="stance"):
        LMOPolicy.from_pretrained(bad)
    (bad / POLICY_PT).unlink()
    with pytest.raises(FileNotFoundError, match="policy.pt"):
        LMOPolicy.from_pretrained(bad, backend="torch")
    with pytest.raises(ValueError, match="backend"):
        LMOPolicy.from_pretrained(export_dir, backend="tensorrt")
    with pytest.raises(FileNotFoundError, match="No such directory"):
        LMOPolicy.from_pretrained(tmp_path / "nothing")


def test_from_pretrained_through_the_hub(export_dir, unique_repo_id, hub_api):
    from lerobot_wbvla.hub.artifacts import ArtifactNotFoundError
    from lerobot_wbvla.hub.push import push_folder_to_hub

    repo_id = unique_repo_id("lmo")
    push_folder_to_hub(export_dir, repo_id, tag="v1")
    policy = LMOPolicy.from_pretrained(repo_id, revision="v1")
    assert policy.path != export_dir and policy.layout == article_layout()
    local = LMOPolicy.from_pretrained(export_dir)
    obs = _obs(16, seed=3)
    np.testing.assert_array_equal(policy.act(obs), local.act(obs))
    torch_policy = LMOPolicy.from_pretrained(repo_id, backend="torch")
    assert np.abs(torch_policy.act(obs) - local.act(obs)).max() <= 1e-5
    with pytest.raises(ArtifactNotFoundError, match="no such revision"):
        LMOPolicy.from_pretrained(repo_id, revision="v9")
    with pytest.raises(ArtifactNotFoundError, match="no such repo"):
        LMOPolicy.from_pretrained(unique_repo_id("missing"))
