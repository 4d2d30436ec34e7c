"""The Isaac Lab checkpoint -> LMO export conversion (lmo/isaaclab/export.py), without Isaac Lab.

A synthetic RSL-RL checkpoint stands for an Isaac Lab run whose articulation orders the legs its own way: the
actor reads the joint_pos / joint_vel blocks and gives its actions in two different permutations of the 12 legs
(by MJCF name, as the task spec records them). The export must be the same policy in the project's joint order:
`LMOPolicy` on a project observation gives, joint by joint, the action the Isaac Lab actor gives that joint on the
same observation in its own order (within 1e-5), and the leg targets Isaac Lab's action term would set (offset +
scale * clipped action, clipped to the joint range). Specs the export cannot express are refused with one line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tensordict import TensorDict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lmo_export_helpers import random_actor  # noqa: E402

from lerobot_wbvla.lmo.export import ExportError  # noqa: E402
from lerobot_wbvla.lmo.isaaclab.export import (  # noqa: E402
    TASK_SPEC_FILE,
    TASK_SPEC_FORMAT,
    export_isaaclab_checkpoint,
    main,
)
from lerobot_wbvla.lmo.layout import ObservationLayout  # noqa: E402
from lerobot_wbvla.lmo.mdp.observations import STANCE  # noqa: E402
from lerobot_wbvla.lmo.policy import LMOPolicy  # noqa: E402
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS, mjcf_joint_name  # noqa: E402
from lerobot_wbvla.robots.agibot_x2.mjcf import joint_range  # noqa: E402

LAYOUT = ObservationLayout("none")
RNG = np.random.default_rng(7)
OBS_LEGS = [LEG_JOINTS[i] for i in RNG.permutation(12)]  # the actor's joint_pos / joint_vel order
ACT_LEGS = [LEG_JOINTS[i] for i in RNG.permutation(12)]  # the actor's action order
CLIP = 10.0


def _spec(**over) -> dict:
    spec = {
        "format": TASK_SPEC_FORMAT,
        "task": "WBVLA-LMO-X2-v0",
        "conditioning": "none",
        "policy_observation": [list(b) for b in LAYOUT.blocks],
        "observation_leg_joints": [mjcf_joint_name(j) for j in OBS_LEGS],
        "action_joints": [mjcf_joint_name(j) for j in ACT_LEGS],
        "action_scale": [0.25] * 12,
        "action_offset": [float(STANCE[LEG_JOINTS.index(j)]) for j in ACT_LEGS],
        "action_target_clip": [list(joint_range(j)) for j in ACT_LEGS],
        "clip_actions": CLIP,
        "control_hz": 50,
        "actor": {
            "class_name": "MLPModel",
            "hidden_dims": [64, 32],
            "activation": "elu",
            "obs_normalization": True,
        },
    }
    return {**spec, **over}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    """An 'Isaac Lab run' folder: model_3.pt (the actor, in the Isaac order) and the task spec beside it."""
    folder = tmp_path_factory.mktemp("isaaclab_run")
    actor = random_actor(LAYOUT, seed=5, hidden=(64, 32))
    torch.save({"actor_state_dict": actor.state_dict(), "critic_state_dict": {}, "iter": 3, "infos": None},
               folder / "model_3.pt")  # fmt: skip
    (folder / TASK_SPEC_FILE).write_text(json.dumps(_spec()))
    return folder, actor


@pytest.fixture(scope="module")
def export(run, tmp_path_factory) -> Path:
    folder, _ = run
    out = tmp_path_factory.mktemp("export") / "export"
    main(["--checkpoint", str(folder / "model_3.pt"), "--out", str(out)])
    return out


def _isaac_input(x: np.ndarray) -> np.ndarray:
    """The Isaac Lab actor's input for project observations x: the leg blocks re-ordered by name."""
    u = x.copy()
    for block in ("joint_pos", "joint_vel"):
        start = LAYOUT.slices()[block].start
        for k, joint in enumerate(OBS_LEGS):
            u[:, start + k] = x[:, start + LEG_JOINTS.index(joint)]
    return u


def _act(actor, obs: np.ndarray) -> np.ndarray:
    """The actor as Isaac Lab's play loop calls it (runner.get_inference_policy()(obs))."""
    with torch.inference_mode():
        return actor(TensorDict({"policy": torch.from_numpy(obs)}, batch_size=[len(obs)])).numpy()


def _observations(actor, n: int = 256) -> np.ndarray:
    mean = actor.obs_normalizer._mean.reshape(-1).numpy()
    std = actor.obs_normalizer._std.reshape(-1).numpy()
    return (mean + std * RNG.standard_normal((n, LAYOUT.size))).astype(np.float32)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_export_is_the_isaaclab_actor_in_the_project_joint_order(run, export, backend):
    _, actor = run
    policy = LMOPolicy.from_pretrained(export, backend=backend)
    policy.check_layout(LAYOUT)  # the observation-layout check of every consumer
    x = _observations(actor)
    isaac = _act(actor, _isaac_input(x))  # deterministic mean, Isaac Lab's action order
    unpermuted = _act(actor, x)
    want = np.stack([isaac[:, ACT_LEGS.index(j)] for j in LEG_JOINTS], axis=1)
    got = policy.act(x)
    assert np.abs(got - want).max() < 1e-5
    assert np.abs(unpermuted - want).max() > 1e-2  # the joint orders matter: this test can fail
    assert np.abs(policy.act(x[:1]) - want[:1]).max() < 1e-5  # the controller's one-robot path


def test_targets_are_isaaclab_action_term_targets(export):
    """Isaac Lab: RSL-RL's wrapper clips raw actions to +-clip_actions, the action term sets offset + scale * a,
    clipped to the (joint-range) target clip, on the joint it names; the export gives the same targets by name."""
    policy = LMOPolicy.from_pretrained(export)
    spec = _spec()
    raw = RNG.uniform(-15, 15, size=(64, 12))  # beyond the raw clip and the joint ranges
    lo_hi = np.asarray(spec["action_target_clip"])
    isaac = np.clip(
        np.asarray(spec["action_offset"]) + 0.25 * np.clip(raw, -CLIP, CLIP), lo_hi[:, 0], lo_hi[:, 1]
    )
    project_actions = np.stack([raw[:, ACT_LEGS.index(j)] for j in LEG_JOINTS], axis=1)
    want = np.stack([isaac[:, ACT_LEGS.index(j)] for j in LEG_JOINTS], axis=1)
    np.testing.assert_allclose(policy.targets_from_actions(project_actions), want, atol=1e-12)
    meta = json.loads((export / "lmo.json").read_text())
    assert meta["leg_joints"] == list(LEG_JOINTS) and meta["action_scale"] == [0.25] * 12
    assert meta["clip_actions"] == CLIP and meta["conditioning"] == "none"
    assert meta["training"]["backend"] == "isaaclab" and meta["training"]["rsl_rl_iter"] == 3
    assert meta["training"]["isaaclab_action_joints"] == spec["action_joints"]


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"action_offset": [0.0] * 12}, "action offset of left_knee"),
        (
            {"action_joints": [mjcf_joint_name(j) for j in ACT_LEGS[:11]] + ["waist_yaw_joint"]},
            "12 leg joints",
        ),
        ({"policy_observation": [["joint_pos", 12]]}, "policy observation"),
        ({"conditioning": "other"}, "conditioning"),
        ({"conditioning": "latent"}, "names no latent_dim or LAM"),
        ({"conditioning": "latent", "latent_dim": 8, "lam": "some/lam"}, "policy observation"),
        ({"action_target_clip": [[-0.1, 0.1]] * 12}, "inside its joint range"),
        ({"format": "other/1"}, "format"),
    ],
)
def test_specs_the_export_cannot_express_are_refused(run, tmp_path, over, message):
    folder, _ = run
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(_spec(**over)))
    with pytest.raises(ExportError, match=message):
        export_isaaclab_checkpoint(folder / "model_3.pt", tmp_path / "out", spec_file, verify=False)
    assert not (tmp_path / "out").exists()


def test_cli_without_a_spec_is_one_line_and_exit_2(tmp_path, capsys):
    ckpt = tmp_path / "model_0.pt"
    torch.save({"actor_state_dict": {}}, ckpt)
    with pytest.raises(SystemExit) as e:
        main(["--checkpoint", str(ckpt), "--out", str(tmp_path / "out")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and TASK_SPEC_FILE in err and "--spec" in err
