"""The frozen LAM's latents per arm clip: the runtime's 20 Hz hold + 50 Hz interpolation, the labeller's z on the
twin's rendered head camera (procedural clips) or the dataset's own frames, and the on-disk cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lerobot_wbvla.lam.label import label_episode
from lerobot_wbvla.lam.modeling_lam import load_lam_config
from lerobot_wbvla.lmo import latents
from lerobot_wbvla.lmo.clips import ClipLibrary, clips_from_dataset, procedural_clips
from lerobot_wbvla.lmo.latents import (
    attach_latents,
    frame_latents,
    lam_latent_dim,
    load_teacher,
    vla_rate_to_control_rate,
)


@pytest.fixture(scope="module")
def short_clips() -> ClipLibrary:
    """Two 1.5-2 s reach clips (a few dozen frames each: fast to render and label)."""
    return procedural_clips(2, seed=5, duration_s=(1.5, 2.0), kinds={"reach": 1.0})


def test_vla_rate_holds_at_20hz_and_interpolates_to_50hz():
    z = np.arange(31, dtype=np.float32)[:, None] * np.array(
        [[1.0, -2.0]], np.float32
    )  # 1 s at 30 fps, z = frame
    ahead = vla_rate_to_control_rate(z, 30, causal=False)
    assert ahead.shape == (51, 2)
    # VLA tick j (t = j / 20) reads frame floor(1.5 j): ticks fall on control steps 0, 2.5, 5, ... -> every 5th
    # step is a tick, and it shows that tick's frame.
    np.testing.assert_allclose(ahead[::5, 0], np.floor(1.5 * np.arange(0, 21, 2)))
    # Step 1 (t = 0.02 s) is 0.4 of the way from tick 0 (frame 0) to tick 1 (frame 1).
    np.testing.assert_allclose(ahead[1], 0.4 * z[1], rtol=1e-6)
    # Step 3 (t = 0.06 s): 0.2 of the way from tick 1 (frame 1) to tick 2 (frame 3).
    np.testing.assert_allclose(ahead[3], z[1] + 0.2 * (z[3] - z[1]), rtol=1e-6)
    causal = vla_rate_to_control_rate(z, 30)
    # The runtime cannot look ahead: it reaches each tick's output one VLA period (2.5 steps) later.
    assert causal.shape == ahead.shape
    np.testing.assert_allclose(causal[0], z[0])
    np.testing.assert_allclose(
        causal[5::5, 0], np.floor(1.5 * (2 * np.arange(1, 11) - 1))
    )  # tick 2m shows 2m-1
    np.testing.assert_allclose(causal[5], z[1])  # t = 0.1 s (tick 2): still tick 1's value, the ramp starts
    np.testing.assert_allclose(causal[6], z[1] + 0.4 * (z[3] - z[1]), rtol=1e-6)
    # A constant latent stays constant; n_out pads past the input by holding its end.
    flat = vla_rate_to_control_rate(np.ones((4, 3)), 30, n_out=20)
    assert flat.shape == (20, 3) and (flat == 1).all()
    with pytest.raises(ValueError, match="z must be"):
        vla_rate_to_control_rate(np.zeros(5), 30)


def test_frame_latents_hold_the_last_full_pair_at_the_clip_end(tiny_lam_dir):
    teacher = load_teacher(str(tiny_lam_dir))
    frames = torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8)
    k = teacher.frame_gap(30)
    z = frame_latents(teacher, frames, 30)
    _, raw = label_episode(teacher.model, frames, k, teacher.transform, 64)
    assert z.shape == (12, teacher.latent_dim)
    np.testing.assert_array_equal(z[: 12 - k], raw[: 12 - k])
    assert (z[12 - k :] == raw[12 - k - 1]).all()


def test_attach_latents_renders_labels_and_caches(tiny_lam_dir, short_clips, tmp_path, monkeypatch):
    renders = []
    real_render = latents.render_clip_frames

    def counting_render(sim, clip, fps=latents.CAMERA_FPS, seed=0):
        frames = real_render(sim, clip, fps, seed)
        renders.append((clip.name, frames))
        return frames

    monkeypatch.setattr(latents, "render_clip_frames", counting_render)
    cache = tmp_path / "cache"
    out = attach_latents(short_clips, str(tiny_lam_dir), cache_dir=cache, progress=False)
    dim = lam_latent_dim(load_lam_config(tiny_lam_dir))
    assert out.latent_dim == dim and out.latent_info["latent_dim"] == dim
    assert out.latent_info["camera"] == [32, 32]  # the tiny LAM's pixel encoder size
    assert len(renders) == len(short_clips)
    for clip, (name, frames) in zip(out, renders, strict=True):
        assert (
            clip.name == name
            and clip.latent.shape == (clip.num_steps, dim)
            and clip.latent.dtype == np.float32
        )
        assert frames.shape == (latents.camera_frame_count(clip), 3, 32, 32) and frames.dtype == torch.uint8
        assert frames.float().std() > 1.0  # a real image, not a blank buffer
        # The attached latent is the labeller's z of these frames at the runtime's rates.
        teacher = load_teacher(str(tiny_lam_dir))
        expected = vla_rate_to_control_rate(frame_latents(teacher, frames, 30), 30, n_out=clip.num_steps)
        np.testing.assert_allclose(clip.latent, expected, atol=1e-6)
    assert short_clips[0].latent is None  # the input library is left as it was
    assert len(list(cache.rglob("*.npz"))) == len(short_clips)

    again = attach_latents(short_clips, str(tiny_lam_dir), cache_dir=cache, progress=False)
    assert len(renders) == len(short_clips), "second call must come from the cache"
    for a, b in zip(out, again, strict=True):
        np.testing.assert_array_equal(a.latent, b.latent)
    # A new clip misses the cache (and only it is rendered).
    bigger = short_clips + procedural_clips(3, seed=6, duration_s=(1.5, 1.6), kinds={"reach": 1.0})
    attach_latents(ClipLibrary(bigger.clips[:3]), str(tiny_lam_dir), cache_dir=cache, progress=False)
    assert len(renders) == len(short_clips) + 1


def test_missing_lam_is_one_clear_error(tmp_path, short_clips):
    with pytest.raises(FileNotFoundError, match="LAM folder .* does not exist"):
        attach_latents(short_clips, str(tmp_path / "no" / "lam"), cache_dir=tmp_path, progress=False)
    with pytest.raises(
        FileNotFoundError, match="no such repo"
    ):  # a Hub id the (local test) Hub does not have
        attach_latents(short_clips, "wbvla-tests/no-such-lam", cache_dir=tmp_path, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not a LAM"):
        attach_latents(short_clips, str(tmp_path / "empty"), cache_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="no clips"):
        attach_latents(ClipLibrary(), str(tmp_path / "empty"), cache_dir=tmp_path, progress=False)


def test_dataset_clips_use_the_datasets_own_head_frames(tiny_lam_dir, x2_record_dataset, tmp_path):
    from lerobot_wbvla.datasets import LeRobotCameraSource

    lib = clips_from_dataset(root=x2_record_dataset, episodes=[0], progress=False)
    out = attach_latents(lib, str(tiny_lam_dir), cache_dir=tmp_path, progress=False)
    clip = out[0]
    source = LeRobotCameraSource(root=x2_record_dataset, episodes=[0])
    frames = source.read_clip(0)
    teacher = load_teacher(str(tiny_lam_dir))
    expected = vla_rate_to_control_rate(frame_latents(teacher, frames, 30), 30, n_out=clip.num_steps)
    assert clip.latent.shape == (clip.num_steps, teacher.latent_dim)
    np.testing.assert_allclose(clip.latent, expected, atol=1e-6)
