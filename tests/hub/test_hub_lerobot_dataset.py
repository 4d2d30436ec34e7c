"""LeRobot's own dataset push and load against the local Hub (needs the RepoCard.validate fix on hub < 2)."""

from __future__ import annotations

import numpy as np
import torch
from lerobot.datasets.dataset_metadata import CODEBASE_VERSION
from lerobot.datasets.lerobot_dataset import LeRobotDataset

FEATURES = {
    "observation.state": {"dtype": "float32", "shape": (3,), "names": ["x", "y", "z"]},
    "action": {"dtype": "float32", "shape": (2,), "names": ["vx", "vy"]},
    "observation.images.head": {
        "dtype": "image",
        "shape": (8, 8, 3),
        "names": ["height", "width", "channels"],
    },
}


def test_dataset_push_then_load_from_fresh_root(hub_api, unique_repo_id, tmp_path):
    repo = unique_repo_id("dataset")
    rng = np.random.default_rng(0)
    ds = LeRobotDataset.create(repo, fps=10, features=FEATURES, root=tmp_path / "rec", use_videos=False)
    for episode, n_frames in enumerate((4, 3)):
        for _ in range(n_frames):
            ds.add_frame(
                {
                    "observation.state": rng.normal(size=3).astype(np.float32),
                    "action": rng.normal(size=2).astype(np.float32),
                    "observation.images.head": rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8),
                    "task": f"task {episode}",
                }
            )
        ds.save_episode()
    ds.finalize()
    ds.push_to_hub(tags=["wbvla-test"])

    refs = hub_api.list_repo_refs(repo, repo_type="dataset")
    assert CODEBASE_VERSION in [t.name for t in refs.tags]
    files = hub_api.list_repo_files(repo, repo_type="dataset")
    assert "meta/info.json" in files and "README.md" in files
    assert not any(f.startswith("images/") for f in files)

    source = LeRobotDataset(repo, root=tmp_path / "rec")
    pulled = LeRobotDataset(repo, root=tmp_path / "fresh")  # downloads: nothing is under this root yet
    assert (tmp_path / "fresh" / "meta" / "info.json").exists()
    assert (len(pulled), pulled.num_episodes) == (7, 2)
    for i in range(len(source)):
        a, b = source[i], pulled[i]
        assert a["task"] == b["task"]
        for key in FEATURES:
            assert torch.equal(a[key], b[key]), (i, key)
    assert pulled[5]["task"] == "task 1"
