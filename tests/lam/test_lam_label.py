"""wbvla-lam-label on a tiny LeRobot dataset: one row per frame, codes = the LAM's codes of (t, t+k), push."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lerobot_wbvla.lam.configuration_lam import LAMConfig, PixelEncoderConfig, STTransformerLAMConfig
from lerobot_wbvla.lam.data import encoder_transform
from lerobot_wbvla.lam.label import codes_file_name
from lerobot_wbvla.lam.modeling_lam import LatentActionModel

EPISODES = [9, 6]
CAMERA = "observation.images.head"


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = tmp_path_factory.mktemp("lerobot") / "tiny"
    features = {
        "observation.state": {"dtype": "float32", "shape": (1,), "names": ["x"]},
        CAMERA: {"dtype": "image", "shape": (32, 32, 3), "names": ["height", "width", "channels"]},
    }
    ds = LeRobotDataset.create(
        "wbvla-tests/tiny-label", fps=10, features=features, root=root, use_videos=False
    )
    rng = np.random.default_rng(0)
    frames = []
    for n in EPISODES:
        ep = []
        for i in range(n):
            img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            ep.append(img)
            ds.add_frame({"observation.state": np.array([i], np.float32), CAMERA: img, "task": "walk"})
        ds.save_episode()
        frames.append(np.stack(ep))
    ds.finalize()
    return root, frames


@pytest.fixture(scope="module")
def tiny_lam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    cfg = LAMConfig(
        encoder=PixelEncoderConfig(image_size=16, patch_size=8),
        model=STTransformerLAMConfig(
            dim=16, heads=2, encoder_depth=1, decoder_depth=1, latent_dim=4, num_codes=2, codebook_size=8
        ),
        frame_gap=2,
    )
    lam = LatentActionModel(cfg)
    tok = torch.randn(64, 4, 192)
    lam.fit_normalizer(tok[:32], tok[32:])
    with torch.no_grad():
        lam.quantizer.codebook.weight.normal_(
            0, 0.3
        )  # spread codes so that different pairs get different codes
    path = tmp_path_factory.mktemp("lam") / "tiny_lam"
    lam.save_pretrained(path)
    return path


def test_label_writes_one_row_per_frame_with_the_lams_codes(tiny_dataset, tiny_lam: Path) -> None:
    import pyarrow.parquet as pq

    root, frames = tiny_dataset
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "lerobot_wbvla.lam.label", f"--lam={tiny_lam}", f"--dataset_root={root}"]
    cmd += ["--dataset_repo_id=wbvla-tests/tiny-label", "--num_threads=1"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    path = Path(json.loads(res.stdout.strip().splitlines()[-1])["codes_file"])
    assert path == root / "lam_codes" / codes_file_name(str(tiny_lam), None)
    assert path.name.endswith("@local.parquet")
    table = pq.read_table(path).to_pydict()
    assert list(table) == ["episode_index", "frame_index", "index", "codes", "z"]
    assert table["episode_index"] == [0] * 9 + [1] * 6
    assert table["frame_index"] == list(range(9)) + list(range(6))
    assert table["index"] == list(range(15))
    # Row t of an episode = the LAM's codes for frames (t, min(t + 2, last)).
    lam = LatentActionModel.from_pretrained(tiny_lam)
    transform = encoder_transform(lam.config.encoder)
    row = 0
    for ep in frames:
        tok = lam.encode_frames(transform(torch.from_numpy(ep), layout="HWC"))
        nxt = torch.clamp(torch.arange(len(ep)) + 2, max=len(ep) - 1)
        act = lam.encode_action(tok, tok[nxt])
        assert table["codes"][row : row + len(ep)] == act.indices.tolist()
        z = np.array(table["z"][row : row + len(ep)], dtype=np.float32)
        assert z.shape == (len(ep), 2 * 4)
        np.testing.assert_allclose(z, act.z_q.detach().flatten(1).numpy(), atol=1e-6)
        row += len(ep)
    assert len({tuple(c) for c in table["codes"]}) > 1  # not one constant code


def test_label_pushes_the_sidecar_into_the_dataset_repo(
    tiny_dataset, tiny_lam: Path, hub_api, unique_repo_id
):
    from lerobot_wbvla.lam.label import LabelConfig, label_dataset

    root, _ = tiny_dataset
    repo_id = unique_repo_id("tiny-label")
    hub_api.create_repo(repo_id, repo_type="dataset")
    hub_api.upload_file(
        path_or_fileobj=b"keep me", path_in_repo="meta/keep.txt", repo_id=repo_id, repo_type="dataset"
    )
    out = label_dataset(
        LabelConfig(
            lam=str(tiny_lam), dataset_repo_id=repo_id, dataset_root=root, push_to_hub=True, num_threads=1
        )
    )
    files = set(hub_api.list_repo_files(repo_id, repo_type="dataset"))
    assert f"lam_codes/{out.name}" in files and "meta/keep.txt" in files
    pulled = hub_api.hf_hub_download(repo_id, f"lam_codes/{out.name}", repo_type="dataset")
    assert Path(pulled).read_bytes() == out.read_bytes()


def test_label_names_a_missing_lam_folder(tiny_dataset, tmp_path: Path) -> None:
    from lerobot_wbvla.lam.label import LabelConfig, label_dataset

    root, _ = tiny_dataset
    missing = tmp_path / "no_lam_here"
    with pytest.raises(FileNotFoundError, match="no_lam_here"):
        label_dataset(LabelConfig(lam=str(missing), dataset_root=root))


def test_training_reads_frames_from_a_lerobot_camera(tiny_dataset, tmp_path: Path) -> None:
    from lerobot_wbvla.lam.data import LAMDataConfig
    from lerobot_wbvla.lam.presets import cpu_lam_config
    from lerobot_wbvla.lam.train import TrainLAMConfig, train

    root, _ = tiny_dataset
    cfg = TrainLAMConfig(
        data=LAMDataConfig(dataset_root=root, camera_keys=[CAMERA], frame_gap="auto", target_offset_s=0.2),
        lam=cpu_lam_config(),
        output_dir=tmp_path / "run",
        steps=3,
        batch_size=4,
        log_every=1,
        num_threads=1,
        progress=False,
    )
    result = train(cfg)
    assert result.step == 3
    assert result.model.config.frame_gap == "auto"  # the LAM remembers how its pairs were made
    caches = list((tmp_path / "run" / "feature_cache").iterdir())
    assert [c.name.split("-")[0] for c in caches] == ["observation.images.head"]
    index = json.loads((caches[0] / "index.json").read_text())
    assert [c["n_frames"] for c in index["clips"]] == EPISODES  # one clip per episode, never crossed
