"""Turn an Isaac Lab RSL-RL checkpoint of the LMO task into the project's LMO export folder.

The folder is the one `wbvla-train-lmo` writes (`lmo/export.py`'s `export_lmo`, called here, not copied), so the
robot's `lmo` controller (`--robot.lower_body_controller=lmo --robot.lmo_path=<folder>`), `LMOPolicy.from_pretrained`
and `wbvla-eval-lmo` run a policy trained in Isaac Lab as they run one trained by the CPU or warp backend:
```bash
python -m lerobot_wbvla.lmo.isaaclab.export --checkpoint <run>/model_1500.pt --out outputs/lmo_isaaclab/export
```
Runs in either venv: it needs torch, rsl-rl-lib and the ONNX exporter (onnx, onnxscript, onnxruntime), not Isaac
Lab. What it needs to know about the task the checkpoint was trained on comes from a task spec, `TASK_SPEC_FILE`
beside the checkpoint, written during training by `write_task_spec(env, agent_cfg, folder)` from the live env's
managers (not from its config, so a user's edits of the task are what is recorded); `scripts/isaaclab_smoke.py
--save_dir` does this.

Why a spec and a conversion rather than exporting the actor as it is: the export's contract is the project's
(`lmo.json`: leg joints in `joints.LEG_JOINTS` order, targets = stance + action_scale * clip(action), clipped to
the joints' ranges; `layout.json`: the observation blocks of `ObservationLayout`), and the Isaac Lab actor is only
that policy if the task's joint orders, scale, offsets and clips are those. Isaac Lab orders an articulation's
joints its own way (the USD's breadth-first order), so the spec records, by name, the joints of the observation's
`joint_pos` / `joint_vel` blocks and of the action term, and the conversion permutes the actor's weights to the
project's order (the normaliser's statistics and the first layer's columns for the observation; the last layer's
rows and the action std for the action): the exported network computes the same function in the project's joint
order. It refuses a spec it cannot map exactly: observation blocks other than the layout's, joints other than the
12 legs, offsets other than the stance, target clips narrower than the joint ranges, unequal per-joint scales
wider than the export can say.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_wbvla.lmo.export import NUM_ACTIONS, ExportError, export_lmo
from lerobot_wbvla.lmo.isaaclab import TASK_ID
from lerobot_wbvla.lmo.layout import ObservationLayout
from lerobot_wbvla.lmo.mdp.observations import STANCE
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS, mjcf_joint_name
from lerobot_wbvla.robots.agibot_x2.mjcf import joint_range

TASK_SPEC_FILE = "wbvla_lmo_task.json"
TASK_SPEC_FORMAT = "lerobot_wbvla.lmo.isaaclab.task_spec/1"
# The observation blocks that carry one value per leg joint, in the spec's `observation_leg_joints` order.
LEG_BLOCKS = ("joint_pos", "joint_vel")
# How far the task's action offset may be from the stance (rad): the export's targets are offsets from STANCE.
OFFSET_ATOL = 1e-5
_MJCF_TO_LEG = {mjcf_joint_name(j): j for j in LEG_JOINTS}


# ---------------------------------------------------------------------------------------------------- the spec
def task_spec(env: Any, agent_cfg: Any = None) -> dict[str, Any]:
    """The task spec of a live `WBVLA-LMO-X2-v0` env (Isaac Lab's ManagerBasedRLEnv, wrapped or not) and its RSL-RL
    runner config: the policy observation's blocks, the joints of its leg blocks and of the action term (Isaac Lab
    names, in the order the actor sees / gives them), the action term's scale, offset and clip, the raw-action clip
    of RSL-RL's env wrapper and the actor's architecture. Runs in the Isaac Lab venv (it reads the env's managers)."""
    from lerobot_wbvla.lmo.isaaclab import mdp as wmdp

    base = env.unwrapped
    robot = base.scene["robot"]
    obs = base.observation_manager
    names = list(obs.active_terms["policy"])
    dims = [int(np.prod(d)) for d in obs.group_obs_term_dim["policy"]]
    if len(base.action_manager.active_terms) != 1:
        raise ExportError(
            f"the task has action terms {base.action_manager.active_terms}; the LMO has one (legs)"
        )
    term = base.action_manager.get_term(base.action_manager.active_terms[0])
    n = int(term._num_joints)
    action_joints = list(term._joint_names)
    clip = getattr(term, "_clip", None)
    spec: dict[str, Any] = {
        "format": TASK_SPEC_FORMAT,
        "task": getattr(getattr(env, "spec", None), "id", None) or TASK_ID,
        "conditioning": getattr(base.cfg, "conditioning", None),
        "policy_observation": [[name, dim] for name, dim in zip(names, dims, strict=True)],
        "observation_leg_joints": [robot.joint_names[i] for i in wmdp._index(base).leg],
        "action_joints": action_joints,
        "action_term": type(term).__name__,
        "action_scale": _per_joint(term._scale, n),
        "action_offset": _per_joint(term._offset, n),
        # Isaac Lab clips the processed action (the joint targets), not the raw one.
        "action_target_clip": None if clip is None else _t(clip)[0].reshape(n, 2).tolist(),
        "clip_actions": None if agent_cfg is None else agent_cfg.clip_actions,
        "control_hz": round(1.0 / float(base.step_dt)),
        "articulation_joints": list(robot.joint_names),
    }
    player = wmdp.clip_player(base)
    if spec["conditioning"] == "latent" and player is not None:
        info = base.command_manager.get_term("loco").latent_info or {}
        spec["latent_dim"] = player.latent_dim
        spec["lam"] = info.get("lam")
        spec["lam_revision"] = info.get("lam_revision")
    if agent_cfg is not None:
        actor = agent_cfg.actor
        spec["actor"] = {
            "class_name": getattr(actor, "class_name", "MLPModel"),
            "hidden_dims": list(actor.hidden_dims),
            "activation": actor.activation,
            "obs_normalization": bool(actor.obs_normalization),
        }
    return spec


def write_task_spec(env: Any, agent_cfg: Any, folder: str | Path) -> Path:
    """Write `task_spec(env, agent_cfg)` to `folder/TASK_SPEC_FILE` (beside the run's checkpoints)."""
    path = Path(folder) / TASK_SPEC_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(task_spec(env, agent_cfg), indent=2) + "\n")
    return path


def _t(x: Any):
    return x.torch if hasattr(x, "torch") else x


def _per_joint(value: Any, n: int) -> list[float]:
    """A float or an (N envs, n) / (n,) tensor of the action term as n floats (the first env's row)."""
    if isinstance(value, int | float):
        return [float(value)] * n
    arr = np.asarray(_t(value).detach().cpu().numpy(), dtype=np.float64)
    return (arr.reshape(-1, n)[0] if arr.size != n else arr.reshape(n)).tolist()


def load_task_spec(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the conversion needs the task spec of the run (write_task_spec(env, agent_cfg, "
            f"log_dir) during training, as scripts/isaaclab_smoke.py --save_dir does); pass --spec <file>"
        )
    spec = json.loads(path.read_text())
    if spec.get("format") != TASK_SPEC_FORMAT:
        raise ExportError(f"{path}: format {spec.get('format')!r}, this code reads {TASK_SPEC_FORMAT!r}")
    return spec


# ---------------------------------------------------------------------------------------------------- the mapping
class JointMap:
    """The spec's joint orders and action mapping in the project's terms.

    `obs_index`: (layout.size,) for each input of the Isaac Lab actor, the index of the project observation value it
    reads (so actor_in = project_obs[:, obs_index]); `action_index`: (12,) for each LEG_JOINTS joint, the actor
    output that drives it (project_action = actor_out[:, action_index]); `action_scale`: (12,) in LEG_JOINTS order;
    `clip_actions`: the raw-action clip (None = none)."""

    def __init__(self, spec: Mapping[str, Any], layout: ObservationLayout) -> None:
        blocks = [(str(n), int(s)) for n, s in spec["policy_observation"]]
        if blocks != layout.blocks:
            raise ExportError(
                f"the task's policy observation is {blocks}; the LMO layout ({layout.conditioning}) is "
                f"{layout.blocks}: the checkpoint was not trained on the LMO's observation"
            )
        obs_legs = _leg_names(spec["observation_leg_joints"], "observation_leg_joints")
        act_legs = _leg_names(spec["action_joints"], "action_joints")
        slices = layout.slices()
        obs_index = np.arange(layout.size)
        for block in LEG_BLOCKS:
            start = slices[block].start
            obs_index[start : start + NUM_ACTIONS] = [start + LEG_JOINTS.index(j) for j in obs_legs]
        self.obs_index = obs_index
        self.action_index = np.array([act_legs.index(j) for j in LEG_JOINTS])
        scale = np.asarray(spec["action_scale"], dtype=np.float64)[self.action_index]
        offset = np.asarray(spec["action_offset"], dtype=np.float64)[self.action_index]
        if not np.allclose(offset, STANCE, atol=OFFSET_ATOL, rtol=0):
            worst = int(np.argmax(np.abs(offset - STANCE)))
            raise ExportError(
                f"the task's action offset of {LEG_JOINTS[worst]} is {offset[worst]:.6f} rad, the stance "
                f"{STANCE[worst]:.6f}: the export's targets are stance + scale * action (use_default_offset=True "
                "with the stance as the articulation's default joint positions)"
            )
        self.action_scale = scale
        self._check_target_clip(spec.get("action_target_clip"))
        clip = spec.get("clip_actions")
        self.clip_actions = None if clip is None else float(clip)

    def _check_target_clip(self, clip: Any) -> None:
        """The export clips targets to the joint ranges (as the CPU env does); Isaac Lab's clip of the processed
        action must be those ranges or wider (then the joint stops it anyway), never narrower."""
        if clip is None:
            return
        lo_hi = np.asarray(clip, dtype=np.float64).reshape(NUM_ACTIONS, 2)[self.action_index]
        for j, (lo, hi) in zip(LEG_JOINTS, lo_hi, strict=True):
            jlo, jhi = joint_range(j)
            if lo > jlo + OFFSET_ATOL or hi < jhi - OFFSET_ATOL:
                raise ExportError(
                    f"the task clips the target of {j} to [{lo:.4f}, {hi:.4f}], inside its joint range "
                    f"[{jlo:.4f}, {jhi:.4f}]: the export clips targets to the joint range and cannot say this"
                )


def _leg_names(names: list[str], what: str) -> list[str]:
    """Isaac Lab (MJCF) joint names -> LeRobot leg joint names; exactly the 12 legs."""
    legs = [_MJCF_TO_LEG.get(n) for n in names]
    if None in legs or sorted(legs) != sorted(LEG_JOINTS):
        raise ExportError(
            f"spec[{what!r}] = {names}: expected the 12 leg joints {[mjcf_joint_name(j) for j in LEG_JOINTS]} "
            "in any order"
        )
    return legs


def permute_actor_state(state: Mapping[str, Any], joints: JointMap) -> dict[str, Any]:
    """An RSL-RL MLPModel actor state dict whose inputs and outputs are in the project's order.

    With x the project observation and u = x[obs_index] the Isaac Lab actor's input, the normaliser is elementwise
    and the first layer a sum over inputs, so scattering their per-input entries (mean[obs_index] := mean, W[:,
    obs_index] := W) makes the network read x directly; the last layer's rows and the action std are gathered by
    action_index. Exact up to the order of the first layer's float sums."""
    import torch

    out = dict(state)
    linear = _linear_keys(state)
    inv = np.empty_like(joints.obs_index)
    inv[joints.obs_index] = np.arange(len(inv))
    inv_t = torch.as_tensor(inv)
    act_t = torch.as_tensor(joints.action_index)
    for key in ("obs_normalizer._mean", "obs_normalizer._var", "obs_normalizer._std"):
        if key in state:
            out[key] = state[key][..., inv_t]
    first, last = linear[0], linear[-1]
    out[f"{first}.weight"] = state[f"{first}.weight"][:, inv_t]
    out[f"{last}.weight"] = state[f"{last}.weight"][act_t]
    out[f"{last}.bias"] = state[f"{last}.bias"][act_t]
    for key in ("distribution.std_param", "distribution.log_std_param"):
        if key in state:
            out[key] = state[key][act_t]
    return out


def _linear_keys(state: Mapping[str, Any]) -> list[str]:
    """The MLP's linear layers (`mlp.<i>`) in order."""
    keys = sorted(
        {k[: -len(".weight")] for k in state if re.fullmatch(r"mlp\.\d+\.weight", k)},
        key=lambda k: int(k.split(".")[1]),
    )
    if not keys:
        raise ExportError("the checkpoint's actor has no mlp.<i>.weight: not an RSL-RL MLPModel actor")
    return keys


def build_actor(state: Mapping[str, Any], obs_size: int, actor_spec: Mapping[str, Any] | None = None):
    """The RSL-RL MLPModel (the one wbvla-train-lmo trains and exports) with `state` loaded: hidden sizes from the
    weights, activation and normalisation from the spec's actor (defaults: the LMO's ELU, normalised)."""
    import torch
    from rsl_rl.models import MLPModel
    from tensordict import TensorDict

    actor_spec = dict(actor_spec or {})
    if actor_spec.get("class_name", "MLPModel") != "MLPModel":
        raise ExportError(f"actor class {actor_spec['class_name']}: the LMO export takes RSL-RL's MLPModel")
    linear = _linear_keys(state)
    shapes = [tuple(state[f"{k}.weight"].shape) for k in linear]
    if shapes[0][1] != obs_size:
        raise ExportError(f"the actor reads {shapes[0][1]} observation values, the layout has {obs_size}")
    if shapes[-1][0] != NUM_ACTIONS:
        raise ExportError(
            f"the actor's last layer gives {shapes[-1][0]} values; the LMO export takes a Gaussian actor with "
            f"{NUM_ACTIONS} means (a state-independent std)"
        )
    std_type = "log" if "distribution.log_std_param" in state else "scalar"
    obs = TensorDict({"policy": torch.zeros(2, obs_size)}, batch_size=[2])
    actor = MLPModel(
        obs,
        {"actor": ["policy"]},
        "actor",
        NUM_ACTIONS,
        hidden_dims=[s[0] for s in shapes[:-1]],
        activation=actor_spec.get("activation", "elu"),
        obs_normalization=bool(actor_spec.get("obs_normalization", "obs_normalizer._mean" in state)),
        distribution_cfg={"class_name": "GaussianDistribution", "init_std": 1.0, "std_type": std_type},
    )
    actor.load_state_dict(dict(state), strict=True)
    return actor.eval()


# ---------------------------------------------------------------------------------------------------- conversion
def _layout(spec: Mapping[str, Any], privileged: Any) -> ObservationLayout:
    """The LMO layout the task spec's conditioning names (latent: the clips' latent_dim and LAM)."""
    conditioning = spec.get("conditioning")
    if conditioning not in ("none", "command", "latent"):
        raise ExportError(
            f"the task's conditioning is {conditioning!r}; the Isaac Lab task trains none, command or latent"
        )
    if conditioning != "latent":
        return ObservationLayout(conditioning=conditioning, privileged=privileged)
    dim = int(spec.get("latent_dim") or 0)
    if dim <= 0 or not spec.get("lam"):
        raise ExportError(
            "the task spec is latent-conditioned but names no latent_dim or LAM: write it with write_task_spec "
            "from an env built with clips=<library with latents>"
        )
    return ObservationLayout(
        conditioning="latent",
        latent_dim=dim,
        lam=spec["lam"],
        lam_revision=spec.get("lam_revision"),
        privileged=privileged,
    )


def export_isaaclab_checkpoint(
    checkpoint: str | Path,
    out_dir: str | Path,
    spec: str | Path | Mapping[str, Any] | None = None,
    *,
    verify: bool = True,
) -> Path:
    """Export the actor of an Isaac Lab RSL-RL checkpoint (`OnPolicyRunner.save`'s model_<it>.pt) of the LMO task
    to `out_dir` in the project's LMO export format; returns `out_dir`. `spec`: the task spec (dict or file;
    default `TASK_SPEC_FILE` beside the checkpoint)."""
    import torch

    from lerobot_wbvla.lmo.env.x2_vec_env import PRIVILEGED_BLOCKS

    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(
            f"{checkpoint} not found: pass the model_<iteration>.pt of an Isaac Lab RSL-RL run"
        )
    if spec is None:
        spec = checkpoint.parent / TASK_SPEC_FILE
    spec = dict(spec) if isinstance(spec, Mapping) else load_task_spec(spec)
    layout = _layout(spec, PRIVILEGED_BLOCKS)
    joints = JointMap(spec, layout)
    # RSL-RL's checkpoint is a pickled dict of state dicts and counters; loaded as OnPolicyRunner.load does.
    saved = torch.load(str(checkpoint), map_location="cpu", weights_only=False)
    if not isinstance(saved, dict) or "actor_state_dict" not in saved:
        raise ExportError(
            f"{checkpoint} holds no actor_state_dict: not an RSL-RL (>= 5) OnPolicyRunner checkpoint"
        )
    state = permute_actor_state(saved["actor_state_dict"], joints)
    actor = build_actor(state, layout.size, spec.get("actor"))
    scale = joints.action_scale
    meta = {
        "backend": "isaaclab",
        "task": spec.get("task"),
        "action_scale": float(scale[0])
        if np.allclose(scale, scale[0], rtol=0, atol=1e-12)
        else scale.tolist(),
        "clip_actions": joints.clip_actions,
        "control_hz": int(spec.get("control_hz", 50)),
        "rsl_rl_iter": saved.get("iter"),  # the runner's counter (OnPolicyRunner.current_learning_iteration)
        "checkpoint": str(checkpoint),
        "isaaclab_observation_leg_joints": spec["observation_leg_joints"],
        "isaaclab_action_joints": spec["action_joints"],
        "isaaclab_action_target_clip": spec.get("action_target_clip"),
    }
    return export_lmo(actor, layout, out_dir, meta, verify=verify)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m lerobot_wbvla.lmo.isaaclab.export",
        description="Export an Isaac Lab RSL-RL checkpoint of WBVLA-LMO-X2-v0 as an LMO export folder.",
    )
    parser.add_argument("--checkpoint", type=Path, required=True, help="the run's model_<iteration>.pt")
    parser.add_argument(
        "--out", type=Path, required=True, help="export folder (new, empty or an earlier export)"
    )
    parser.add_argument(
        "--spec", type=Path, default=None, help=f"task spec (default: {TASK_SPEC_FILE} beside the checkpoint)"
    )
    args = parser.parse_args(argv)
    try:
        out = export_isaaclab_checkpoint(args.checkpoint, args.out, args.spec)
    except (ExportError, FileNotFoundError, FileExistsError, ValueError) as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    print(out)


if __name__ == "__main__":
    main(sys.argv[1:])
