"""The arm clips and z_t of the Isaac Lab task (lmo/isaaclab/clip_player.py, commands.py, clip_library.py).

The first tests run in CI (main venv, no Isaac Lab): the clip library file the task loads is the one
`wbvla-train-lmo` builds, and the player's cursors move as the CPU env's (`X2LMOVecEnv`: a reset env starts a
clip at row 0 and is observed there, every other env moves one row per control step, an ended clip gives way to
another at row 0) with the latent noise only on the policy's z_t. The last test needs `.venv-isaaclab`
(scripts/setup_isaaclab.sh; skipped without it, like test_isaaclab_task.py): the clip library written by the CLI's
function with a tiny random LAM (procedural clips rendered and labelled by `attach_latents`, as for training), 3
PPO iterations of the task with `conditioning=latent` on it, its z_t block and arm joints checked against the
library, then the checkpoint exported and loaded as an LMO.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from lerobot_wbvla.lmo.clips import ClipLibrary
from lerobot_wbvla.lmo.config_train import ClipsConfig
from lerobot_wbvla.lmo.env.x2_vec_env import PRIVILEGED_BLOCKS
from lerobot_wbvla.lmo.isaaclab.clip_library import IsaacLabClipsConfig, write_clip_library
from lerobot_wbvla.lmo.isaaclab.clip_player import ClipPlayer, load_library
from lerobot_wbvla.lmo.latents import CAMERA_FPS, vla_rate_to_control_rate
from lerobot_wbvla.lmo.layout import ObservationLayout
from lerobot_wbvla.lmo.procedural import procedural_clips
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS

ROOT = Path(__file__).resolve().parents[2]
ISAACLAB_PYTHON = ROOT / ".venv-isaaclab" / "bin" / "python"
LAM = "synthetic/test-lam"


def synthetic_latent_library(folder: Path, num_clips: int = 4, latent_dim: int = 8) -> Path:
    """Procedural clips with random per-camera-frame z (no LAM here) put through the LAM labelling's 20 Hz hold and
    50 Hz interpolation (`vla_rate_to_control_rate`, what `attach_latents` stores), saved as a library folder."""
    rng = np.random.default_rng(0)
    clips = []
    for clip in procedural_clips(num_clips, seed=0, progress=False):
        frames = int(np.floor((clip.num_steps - 1) * CAMERA_FPS / 50)) + 1
        z = rng.normal(0.0, 3.0, (frames, latent_dim)).astype(np.float32)
        latent = vla_rate_to_control_rate(z, CAMERA_FPS, n_out=clip.num_steps)
        clips.append(dataclasses.replace(clip, latent=latent))
    info = {"lam": LAM, "lam_revision": None, "latent_dim": latent_dim}
    return ClipLibrary(clips, info).save(folder)


def _stacked(lengths: list[int], latent_dim: int = 3) -> dict:
    """A library whose rows say where they are: arm[c, t] = 100 c + t, latent[c, t] = -(100 c + t)."""
    t_max = max(lengths)
    code = np.array([[100.0 * c + min(t, n - 1) for t in range(t_max)] for c, n in enumerate(lengths)])
    return {
        "arm": np.repeat(code[..., None], 16, axis=2),
        "loco": np.repeat(code[..., None], 4, axis=2),
        "latent": -np.repeat(code[..., None], latent_dim, axis=2),
        "lengths": np.array(lengths),
    }


def test_clip_library_file_is_the_training_library(tmp_path: Path) -> None:
    """The CLI's folder holds wbvla-train-lmo's clips (build_clip_library), and the task's loader reads them."""
    out = write_clip_library(
        IsaacLabClipsConfig(out=tmp_path / "clips", clips=ClipsConfig(procedural=2, seed=3), progress=False)
    )
    direct = procedural_clips(2, seed=3, progress=False).stack()
    loaded = load_library(str(out)).stack()
    for key in ("arm", "loco", "lengths"):
        np.testing.assert_array_equal(loaded[key], direct[key])
    assert loaded["latent"] is None
    player = ClipPlayer(loaded, num_envs=3)
    assert player.latent_dim == 0 and player.clean_latent() is None
    assert torch.allclose(player.arm_targets(), torch.as_tensor(direct["arm"][0, 0]).expand(3, -1))


def test_synthetic_latent_library_round_trip(tmp_path: Path) -> None:
    folder = synthetic_latent_library(tmp_path / "lib", num_clips=2, latent_dim=5)
    library = ClipLibrary.load(folder)
    assert library.latent_dim == 5 and library.latent_info["lam"] == LAM
    stacked = library.stack()
    assert stacked["latent"].shape[:2] == stacked["arm"].shape[:2]
    assert np.abs(stacked["latent"]).mean() > 0.5


def test_cursor_moves_as_the_cpu_env(tmp_path: Path) -> None:
    """Reset envs are observed at row 0, others advance one row per step, ended clips restart at row 0; the arm,
    loco and z rows are the cursor's."""
    player = ClipPlayer(_stacked([3, 5]), num_envs=6, seed=1)
    player.start(torch.arange(6), step=0)  # env.reset()
    assert (player.clip_t == 0).all()
    seen = [player.clip_t.clone()]
    ids = [player.clip_id.clone()]
    for step in range(1, 12):
        if step == 4:
            player.start(torch.tensor([0, 1]), step)  # reset in this step (after its rewards)
        player.advance(step)
        seen.append(player.clip_t.clone())
        ids.append(player.clip_id.clone())
        code = 100.0 * player.clip_id + player.clip_t
        assert torch.equal(player.arm_targets()[:, 0], code.float())
        assert torch.equal(player.loco_command()[:, 3], code.float())
        assert torch.equal(player.clean_latent()[:, 0], -code.float())
    seen, ids = torch.stack(seen), torch.stack(ids)
    lengths = torch.tensor([3, 5])[ids]
    for step in range(1, 12):
        for env in range(6):
            t, t0 = int(seen[step, env]), int(seen[step - 1, env])
            if step == 4 and env in (0, 1):
                assert t == 0, "a reset env is observed at row 0"
            elif t0 + 1 >= int(lengths[step - 1, env]):
                assert t == 0, "an ended clip gives way to another at row 0"
            else:
                assert t == t0 + 1 and ids[step, env] == ids[step - 1, env]
    assert len(set(ids.flatten().tolist())) == 2  # both clips are drawn


def test_latent_noise_only_on_the_policy_z() -> None:
    player = ClipPlayer(_stacked([50], latent_dim=64), num_envs=32, latent_noise_std=0.05, seed=0)
    player.start(torch.arange(32), step=0)
    first = player.noisy_latent() - player.clean_latent()
    player.advance(1)
    noise = player.noisy_latent() - player.clean_latent()
    assert abs(float(noise.std()) - 0.05) < 0.005 and abs(float(noise.mean())) < 0.005
    assert not torch.allclose(noise, first)  # drawn afresh each control step
    quiet = ClipPlayer(_stacked([50]), num_envs=2, latent_noise_std=0.0)
    quiet.start(torch.arange(2), step=0)
    assert torch.equal(quiet.noisy_latent(), quiet.clean_latent())


@pytest.mark.slow
@pytest.mark.timeout(1500)
@pytest.mark.skipif(
    not ISAACLAB_PYTHON.is_file(),
    reason=f"{ISAACLAB_PYTHON.parent.parent} is absent: the Isaac Lab task needs its own venv "
    "(scripts/setup_isaaclab.sh)",
)
def test_isaaclab_latent_task_plays_the_clips_and_exports(tmp_path: Path, tiny_lam_dir: Path) -> None:
    """conditioning=latent in Isaac Lab on the training clip library with the LAM's z_t: the observation is the CPU
    env's latent layout, its z_t block is the library's z at each env's clip and row (noise off: the nominal robot),
    the arm joints follow the clip targets, and the 3-iteration checkpoint exports (isaaclab/export.py) as an LMO
    that gives the Isaac Lab actor's actions."""
    from lerobot_wbvla.lmo.isaaclab.export import TASK_SPEC_FILE, export_isaaclab_checkpoint, load_task_spec
    from lerobot_wbvla.lmo.policy import LMOPolicy

    clips = ClipsConfig(procedural=4, latent_cache_dir=tmp_path / "latent_cache")
    cfg = IsaacLabClipsConfig(out=tmp_path / "clips", clips=clips, lam=str(tiny_lam_dir), progress=False)
    library = write_clip_library(cfg)
    stacked = ClipLibrary.load(library).stack()
    dim = stacked["latent"].shape[2]
    out, save_dir = tmp_path / "smoke.json", tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(ISAACLAB_PYTHON), str(ROOT / "scripts" / "isaaclab_smoke.py"), "--num_envs", "16", "--iterations",
         "3", "--conditioning", "latent", "--clips", str(library), "--out", str(out), "--save_dir", str(save_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1400,
    )  # fmt: skip
    assert proc.returncode == 0, f"isaaclab_smoke.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    result = json.loads(out.read_text())
    lam = str(tiny_lam_dir)
    layout = ObservationLayout(conditioning="latent", latent_dim=dim, lam=lam, privileged=PRIVILEGED_BLOCKS)
    assert result["observation_names"]["policy"] == [name for name, _ in layout.blocks]
    assert [d[0] for d in result["observation_dims"]["policy"]] == [size for _, size in layout.blocks]
    critic = layout.blocks + list(layout.privileged)
    assert [d[0] for d in result["observation_dims"]["critic"]] == [size for _, size in critic]
    clips = result["clips"]
    assert clips["num_clips"] == 4 and clips["latent_noise_std"] == 0.0
    assert clips["z_mean_abs"] > 0.3 * np.abs(stacked["latent"]).mean() > 0, clips
    assert clips["z_max_abs_error"] < 1e-6, clips
    assert clips["cursor_advances_by_one"] and clips["arm_target_max_error"] < 1e-6, clips
    assert clips["loco_max_abs_error"] < 1e-6, clips  # the command is the clip's schedule, as the CPU env's
    # The arms follow the clip: the tracking error is a fraction of how far the targets moved from the start.
    assert clips["arm_target_distance_rad"] > 0.01, clips
    assert clips["arm_tracking_error_rad"] < 0.5 * clips["arm_target_distance_rad"], clips
    assert result["state_check"]["falls_per_env_step"] < 0.05, result["state_check"]

    spec = load_task_spec(save_dir / TASK_SPEC_FILE)
    assert (spec["latent_dim"], spec["lam"]) == (dim, lam)
    export = export_isaaclab_checkpoint(save_dir / "model_3.pt", tmp_path / "export")
    policy = LMOPolicy.from_pretrained(export)
    policy.check_layout(ObservationLayout(conditioning="latent", latent_dim=dim, lam=lam))
    ref = np.load(save_dir / "reference.npz")
    act_legs = [n.removesuffix("_joint") for n in spec["action_joints"]]
    assert act_legs == list(LEG_JOINTS)  # identity map for this task (permutations: test_isaaclab_export.py)
    assert np.abs(policy.act(ref["obs"]) - ref["actions"]).max() < 1e-5
