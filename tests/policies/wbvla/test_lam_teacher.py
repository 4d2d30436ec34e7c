"""The LAM teacher of the wbvla policy: sizes from config.json, labels = wbvla-lam-label's, the codes sidecar.

A tiny pixel-encoder LAM (random weights, codebook spread so that different pairs get different codes) labels a
small LeRobot dataset whose head camera is a video: the sidecar the labeller writes must hold exactly the labels
the teacher computes on the frames LeRobot itself loads for the policy (frame t and t+k through delta_timestamps).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lerobot_wbvla.lam.label import LabelConfig, codes_file_name, label_dataset
from lerobot_wbvla.policies.wbvla.lam_teacher import (
    CodesSidecar,
    LAMMismatchError,
    LAMTeacher,
    MissingCodesError,
    lam_summary,
)

CAMERA = "observation.images.head"
REPO_ID = "wbvla-tests/teacher-video"
EPISODES = [9, 6]
FPS = 10
LATENT_DIM, NUM_CODES, CODEBOOK = 4, 2, 8


def _save_lam(path: Path, seed: int) -> Path:
    from lerobot_wbvla.lam.configuration_lam import LAMConfig, PixelEncoderConfig, STTransformerLAMConfig
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel

    torch.manual_seed(seed)
    cfg = LAMConfig(
        encoder=PixelEncoderConfig(image_size=16, patch_size=8),
        model=STTransformerLAMConfig(
            dim=16,
            heads=2,
            encoder_depth=1,
            decoder_depth=1,
            latent_dim=LATENT_DIM,
            num_codes=NUM_CODES,
            codebook_size=CODEBOOK,
        ),
        frame_gap=2,
    )
    lam = LatentActionModel(cfg)
    tok = torch.randn(64, 4, 192)
    lam.fit_normalizer(tok[:32], tok[32:])
    with torch.no_grad():  # spread the codes so that different pairs get different codes
        lam.quantizer.codebook.weight.normal_(0, 0.3)
    return lam.save_pretrained(path)


@pytest.fixture(scope="module")
def lams(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two LAMs of the same sizes and different weights."""
    root = tmp_path_factory.mktemp("lams")
    return {"a": _save_lam(root / "lam_a", seed=0), "b": _save_lam(root / "lam_b", seed=1)}


@pytest.fixture(scope="module")
def video_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two episodes (9 and 6 frames, 10 fps) with a 64x64 head-camera video: a bright square moving on noise."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = tmp_path_factory.mktemp("lerobot") / "teacher_video"
    features = {
        "observation.state": {"dtype": "float32", "shape": (1,), "names": ["x"]},
        CAMERA: {"dtype": "video", "shape": (64, 64, 3), "names": ["height", "width", "channels"]},
    }
    ds = LeRobotDataset.create(REPO_ID, fps=FPS, features=features, root=root, use_videos=True)
    rng = np.random.default_rng(0)
    for ep, n in enumerate(EPISODES):
        for i in range(n):
            img = rng.integers(0, 96, (64, 64, 3), dtype=np.uint8)
            x, y = 4 + 5 * i, 8 + 24 * ep
            img[y : y + 16, x : x + 16] = 230
            ds.add_frame({"observation.state": np.array([i], np.float32), CAMERA: img, "task": "walk"})
        ds.save_episode()
    ds.finalize()
    return root


@pytest.fixture(scope="module")
def labelled(video_dataset: Path, lams: dict[str, Path]) -> Path:
    """The dataset labelled by LAM a with wbvla-lam-label (in-process); returns the codes file."""
    return label_dataset(
        LabelConfig(lam=str(lams["a"]), dataset_repo_id=REPO_ID, dataset_root=video_dataset, num_threads=1)
    )


@pytest.fixture(scope="module")
def teacher_a(lams: dict[str, Path]) -> LAMTeacher:
    return LAMTeacher.load(str(lams["a"]), None)


EXPECTED_SUMMARY = {
    "latent_dim": LATENT_DIM,
    "num_codes": NUM_CODES,
    "codebook_size": CODEBOOK,
    "is_vq": True,
    "frame_gap": 2,
    "target_offset_s": pytest.approx(2 / 30),
}


def test_lam_summary_reads_sizes_from_a_local_folder(lams: dict[str, Path]) -> None:
    assert lam_summary(str(lams["a"]), None) == EXPECTED_SUMMARY


def test_lam_summary_and_teacher_from_a_hub_repo(
    lams: dict[str, Path], hub_server, unique_repo_id, tmp_path: Path
) -> None:
    from huggingface_hub import try_to_load_from_cache

    from lerobot_wbvla.hub import push_folder_to_hub

    repo_id = unique_repo_id("teacher-lam")
    push_folder_to_hub(lams["a"], repo_id, tag="v1")
    assert lam_summary(repo_id, "v1") == EXPECTED_SUMMARY
    # Only config.json was fetched: the policy config reads its sizes without the weights.
    assert not isinstance(try_to_load_from_cache(repo_id, "model.safetensors", revision="v1"), str)
    teacher = LAMTeacher.load(repo_id, "v1")
    assert isinstance(try_to_load_from_cache(repo_id, "model.safetensors", revision="v1"), str)
    assert (teacher.latent_dim, teacher.num_codes, teacher.codebook_size) == (LATENT_DIM, NUM_CODES, CODEBOOK)
    assert teacher.is_vq and teacher.name == f"{repo_id}@v1"
    # Same weights wherever they were loaded from: the same labels.
    frames = torch.rand(4, 3, 32, 32)
    local = LAMTeacher.load(str(lams["a"]))
    assert torch.equal(teacher.labels(frames, frames.flip(-1))[0], local.labels(frames, frames.flip(-1))[0])


def test_teacher_labels_equal_what_wbvla_lam_label_writes(
    video_dataset: Path, labelled: Path, teacher_a: LAMTeacher, lams: dict[str, Path]
) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    assert labelled == video_dataset / "lam_codes" / codes_file_name(str(lams["a"]), None)
    k = teacher_a.frame_gap(FPS)
    assert k == 2
    # The frames the policy gets: t and t+k through LeRobot's delta_timestamps (t+k clamped at the episode end).
    ds = LeRobotDataset(
        REPO_ID, root=video_dataset, delta_timestamps={CAMERA: [0.0, k / FPS]}, video_backend="pyav"
    )
    items = [ds[i] for i in range(len(ds))]
    frames = torch.stack([item[CAMERA] for item in items])  # (N, 2, 3, 64, 64) float in [0, 1]
    index = torch.stack([item["index"] for item in items])
    assert frames.dtype == torch.float32 and frames.shape == (sum(EPISODES), 2, 3, 64, 64)
    codes, z_q = teacher_a.labels(frames[:, 0], frames[:, 1])
    assert codes.dtype == torch.long and codes.shape == (len(ds), NUM_CODES)
    assert z_q.dtype == torch.float32 and z_q.shape == (len(ds), NUM_CODES, LATENT_DIM)

    sidecar = CodesSidecar.find(video_dataset, str(lams["a"]), None)
    assert sidecar is not None and sidecar.path == labelled
    assert (sidecar.num_codes, sidecar.latent_dim, len(sidecar)) == (NUM_CODES, LATENT_DIM, len(ds))
    side_codes, side_z = sidecar.lookup(index)
    assert torch.equal(codes, side_codes)
    torch.testing.assert_close(z_q, side_z, rtol=0, atol=1e-6)
    assert sidecar.verify(teacher_a, index, frames[:, 0], frames[:, 1]) == 1.0
    assert len({tuple(c) for c in codes.tolist()}) > 1  # not one constant code
    # A batch of one gives the same label as its row of the batch: the same codes, and z_q equal up to float
    # rounding (z_q is the straight-through z + (e - z), and CPU matmul kernels round differently per batch size).
    one_codes, one_z = teacher_a.labels(frames[3:4, 0], frames[3:4, 1])
    assert torch.equal(one_codes, codes[3:4])
    torch.testing.assert_close(one_z, z_q[3:4], rtol=0, atol=1e-6)


def test_teacher_reads_any_frame_size_and_refuses_normalised_frames(teacher_a: LAMTeacher) -> None:
    frames = torch.rand(3, 3, 48, 40)
    codes, z_q = teacher_a.labels(frames, frames.flip(-1))
    assert codes.shape == (3, NUM_CODES) and z_q.shape == (3, NUM_CODES, LATENT_DIM)
    with pytest.raises(ValueError, match=r"\[0, 1\].*before any normalisation"):
        teacher_a.labels(frames * 4 - 2, frames)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        teacher_a.labels(frames[0], frames[0])


def test_sidecar_find_returns_none_when_absent(
    tmp_path: Path, video_dataset: Path, labelled: Path, lams: dict[str, Path]
) -> None:
    assert CodesSidecar.find(tmp_path, str(lams["a"]), None) is None
    # The dataset has codes of LAM a only: none for LAM b, none for another revision of a Hub LAM.
    assert CodesSidecar.find(video_dataset, str(lams["b"]), None) is None
    assert CodesSidecar.find(video_dataset, "me/lam", "v2") is None


def test_sidecar_lookup_by_global_index(labelled: Path, teacher_a: LAMTeacher, lams: dict[str, Path]) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(labelled).to_pydict()
    sidecar = CodesSidecar.find(labelled.parent.parent, str(lams["a"]), None)
    assert sidecar is not None
    wanted = [14, 0, 9, 3, 9]  # any order, repeats allowed, across both episodes
    codes, z_q = sidecar.lookup(torch.tensor(wanted))
    rows = [table["index"].index(i) for i in wanted]
    assert codes.tolist() == [table["codes"][r] for r in rows]
    np.testing.assert_array_equal(
        z_q.flatten(1).numpy(), np.array([table["z"][r] for r in rows], dtype=np.float32)
    )
    with pytest.raises(MissingCodesError, match=r"index \[15\].*0\.\.14.*wbvla-lam-label") as err:
        sidecar.lookup(torch.tensor([2, 15]))
    assert "on_the_fly" in str(err.value)


def test_sidecar_written_by_another_lam_is_refused(
    tmp_path: Path, video_dataset: Path, labelled: Path, lams: dict[str, Path], teacher_a: LAMTeacher
) -> None:
    # LAM b's codes under the file name of LAM a (as when the folder of a is retrained in place).
    out = tmp_path / "lam_codes" / codes_file_name(str(lams["a"]), None)
    label_dataset(
        LabelConfig(
            lam=str(lams["b"]),
            dataset_repo_id=REPO_ID,
            dataset_root=video_dataset,
            output=out,
            num_threads=1,
        )
    )
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset(
        REPO_ID, root=video_dataset, delta_timestamps={CAMERA: [0.0, 2 / FPS]}, video_backend="pyav"
    )
    items = [ds[i] for i in range(len(ds))]
    frames = torch.stack([item[CAMERA] for item in items])
    index = torch.stack([item["index"] for item in items])
    sidecar = CodesSidecar.find(tmp_path, str(lams["a"]), None)
    assert sidecar is not None  # found by its name...
    with pytest.raises(LAMMismatchError) as err:  # ...refused by its content
        sidecar.verify(teacher_a, index, frames[:, 0], frames[:, 1])
    msg = str(err.value)
    assert str(out) in msg and f"{lams['a']}@local" in msg and "another LAM or revision" in msg
    assert f"wbvla-lam-label --lam={lams['a']} --lam_revision=local" in msg
    assert "--policy.teacher_labels=on_the_fly" in msg and "\n" not in msg
    assert CodesSidecar.others(tmp_path, str(lams["b"]), None) == [out]


def test_check_compatible_names_the_sizes_and_the_fix(teacher_a: LAMTeacher) -> None:
    teacher_a.check_compatible(LATENT_DIM, NUM_CODES, CODEBOOK)  # its own sizes pass
    with pytest.raises(LAMMismatchError) as err:
        teacher_a.check_compatible(8, NUM_CODES, CODEBOOK)
    msg = str(err.value)
    assert "latent_dim 8 (policy) vs 4 (LAM)" in msg and teacher_a.name in msg
    assert "num_codes" not in msg and "Use the LAM" in msg
    with pytest.raises(
        LAMMismatchError, match=r"num_codes 1 \(policy\) vs 2.*codebook_size 16 \(policy\) vs 8"
    ):
        teacher_a.check_compatible(LATENT_DIM, 1, 16)
