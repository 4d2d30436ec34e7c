"""wbvla-train-lam / wbvla-lam-label on bad input: one `error:` line naming the flag to change, exit 2.

Each case runs the CLI as a subprocess, offline (HF_HUB_OFFLINE=1, the way the project runs), and checks stderr:
no traceback, exactly one line with "error:", the flag named, nothing written to the output folder. Offline, the
encoder message must say that offline mode is on (not "check your internet connection").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CAMERA = "observation.images.head"
UNCACHED_ENCODER = "wbvla-tests/dinov2-never-cached"


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = tmp_path_factory.mktemp("lerobot") / "tiny-cli"
    features = {
        "observation.state": {"dtype": "float32", "shape": (1,), "names": ["x"]},
        CAMERA: {"dtype": "image", "shape": (16, 16, 3), "names": ["height", "width", "channels"]},
    }
    ds = LeRobotDataset.create("wbvla-tests/tiny-cli", fps=10, features=features, root=root, use_videos=False)
    rng = np.random.default_rng(0)
    for _ in range(2):
        for i in range(4):
            img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            ds.add_frame({"observation.state": np.array([i], np.float32), CAMERA: img, "task": "walk"})
        ds.save_episode()
    ds.finalize()
    return root


@pytest.fixture(scope="module")
def lam_with_uncached_encoder(tmp_path_factory: pytest.TempPathFactory, tiny_dinov2_dir: Path) -> Path:
    """A saved LAM whose config.json names a Hub encoder that is in no cache (as one pulled on another machine)."""
    from lerobot_wbvla.lam.configuration_lam import HFVisionEncoderConfig, LAMConfig, STTransformerLAMConfig
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel

    cfg = LAMConfig(
        encoder=HFVisionEncoderConfig(pretrained=str(tiny_dinov2_dir), pool_grid=2),
        model=STTransformerLAMConfig(
            dim=16, heads=2, encoder_depth=1, decoder_depth=1, latent_dim=4, num_codes=1, codebook_size=4
        ),
    )
    path = tmp_path_factory.mktemp("lam") / "lam-hf"
    LatentActionModel(cfg).save_pretrained(path)
    config = json.loads((path / "config.json").read_text())
    config["encoder"]["pretrained"] = UNCACHED_ENCODER
    (path / "config.json").write_text(json.dumps(config))
    return path


def _run(module: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], env=env, capture_output=True, text=True, timeout=300
    )
    return proc.returncode, proc.stderr


def _one_error_line(prog: str, returncode: int, stderr: str) -> str:
    assert "Traceback" not in stderr, stderr[-4000:]
    errors = [line for line in stderr.splitlines() if "error:" in line.lower()]
    assert len(errors) == 1, stderr[-4000:]
    assert errors[0].startswith(f"{prog}: error: "), errors
    assert returncode == 2, (returncode, stderr[-2000:])
    return errors[0]


def test_train_names_the_camera_flag(tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, stderr = _run(
        "lerobot_wbvla.lam.train",
        f"--data.dataset_root={tiny_dataset}",
        "--data.dataset_repo_id=wbvla-tests/tiny-cli",
        "--data.camera_keys=[observation.images.wrist]",
        "--lam.encoder.type=pixel",
        f"--output_dir={out}",
    )
    line = _one_error_line("wbvla-train-lam", code, stderr)
    assert "--data.camera_keys" in line and "observation.images.wrist" in line and CAMERA in line
    assert not out.exists()


def test_label_names_the_camera_flag(tiny_dataset: Path, tmp_path: Path) -> None:
    from lerobot_wbvla.lam.configuration_lam import LAMConfig, PixelEncoderConfig, STTransformerLAMConfig
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel

    lam = tmp_path / "lam"
    cfg = LAMConfig(
        encoder=PixelEncoderConfig(image_size=16, patch_size=8),
        model=STTransformerLAMConfig(
            dim=16, heads=2, encoder_depth=1, decoder_depth=1, latent_dim=4, num_codes=1, codebook_size=4
        ),
    )
    LatentActionModel(cfg).save_pretrained(lam)
    code, stderr = _run(
        "lerobot_wbvla.lam.label", f"--lam={lam}", f"--dataset_root={tiny_dataset}", "--camera_key=wrist"
    )
    line = _one_error_line("wbvla-lam-label", code, stderr)
    assert "--camera_key" in line and "'wrist'" in line and CAMERA in line
    assert not (tiny_dataset / "lam_codes").exists()


def test_train_offline_without_the_encoder_says_offline_mode(tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, stderr = _run(
        "lerobot_wbvla.lam.train",
        f"--data.dataset_root={tiny_dataset}",
        "--data.dataset_repo_id=wbvla-tests/tiny-cli",
        "--lam.encoder.type=hf_vision",
        f"--lam.encoder.pretrained={UNCACHED_ENCODER}",
        f"--output_dir={out}",
    )
    line = _one_error_line("wbvla-train-lam", code, stderr)
    assert UNCACHED_ENCODER in line and "--lam.encoder.pretrained" in line
    assert "offline mode is on" in line and f"hf download {UNCACHED_ENCODER}" in line
    assert "internet" not in stderr.lower()
    assert not out.exists()


def test_label_offline_without_the_lams_encoder_says_offline_mode(
    tiny_dataset: Path, lam_with_uncached_encoder: Path
) -> None:
    code, stderr = _run(
        "lerobot_wbvla.lam.label", f"--lam={lam_with_uncached_encoder}", f"--dataset_root={tiny_dataset}"
    )
    line = _one_error_line("wbvla-lam-label", code, stderr)
    assert f"--lam={lam_with_uncached_encoder}" in line and UNCACHED_ENCODER in line
    assert "offline mode is on" in line and f"hf download {UNCACHED_ENCODER}" in line
    assert "internet" not in stderr.lower()
    assert not (tiny_dataset / "lam_codes").exists()
