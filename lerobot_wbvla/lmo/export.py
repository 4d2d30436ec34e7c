"""Export a trained LMO actor to a self-contained folder the robot runs without the trainer.

The folder (`export_lmo`) holds everything a deployment needs and nothing of RSL-RL:
- `policy.onnx`: the deterministic mean action with RSL-RL's empirical observation normaliser inside, input `obs`
  (N, layout.size) float32, output `actions` (N, 12) float32 (onnxruntime runs it at 50 Hz on one core);
- `policy.pt`: the same module as TorchScript (the `torch` backend, and the reference `verify_onnx` compares with);
- `layout.json`: the `ObservationLayout` the policy was trained on (checked by whoever builds its observation);
- `lmo.json`: how to turn actions into leg targets (action_scale, clip_actions, stance, leg joint order, control
  rate), the conditioning and LAM, the ONNX-vs-torch agreement measured at export and the training metadata.

The export is atomic: it is written to a hidden temporary folder beside `out_dir`, checked (ONNX against
TorchScript), and only then renamed into place, so a crash or an exception mid-export never leaves a folder that
looks like a policy but is half of one.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lerobot_wbvla.lmo.layout import LAYOUT_FILE, ObservationLayout
from lerobot_wbvla.lmo.mdp.observations import STANCE
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS

if TYPE_CHECKING:
    import torch

EXPORT_FORMAT = "lerobot_wbvla.lmo.export/1"
POLICY_ONNX = "policy.onnx"
POLICY_PT = "policy.pt"
LMO_FILE = "lmo.json"
EXPORT_FILES = (POLICY_ONNX, POLICY_PT, LAYOUT_FILE, LMO_FILE)
NUM_ACTIONS = len(LEG_JOINTS)
CONTROL_HZ = 50
INPUT_NAME = "obs"
OUTPUT_NAME = "actions"
# The bound on |ONNX - torch| over random observations; an export that misses it is refused.
ONNX_TOLERANCE = 1e-5
ONNX_OPSET = 18
# Keys of `meta` that describe the action mapping (stored at the top of lmo.json); the rest is training metadata.
_ACTION_KEYS = ("action_scale", "clip_actions", "control_hz")


class ExportError(RuntimeError):
    """The actor cannot be exported as an LMO policy, or its export does not reproduce it."""


def export_lmo(
    actor: torch.nn.Module,
    layout: ObservationLayout,
    out_dir: str | Path,
    meta: Mapping[str, Any],
    *,
    verify: bool = True,
) -> Path:
    """Export `actor` (the RSL-RL actor model as the runner holds it, `runner.alg.get_policy()`, or any module
    mapping (N, layout.size) observations to (N, 12) actions) to `out_dir`; returns `out_dir`.

    `meta` must hold `action_scale` (float, or 12 floats in joints.LEG_JOINTS order); optional `clip_actions` (the
    env's +-clip applied to actions before scaling) and `control_hz` (default 50). Every other entry (iteration,
    seed, reward weights, ...) is stored as training metadata. An existing `out_dir` is replaced only if it is
    empty or an earlier LMO export. With `verify` (default) the ONNX file is compared with the TorchScript module
    on 1000 random observations and the export is refused beyond `ONNX_TOLERANCE`.
    """
    import torch

    out_dir = Path(out_dir)
    _check_target(out_dir)
    module = inference_module(actor, layout)
    lmo = _lmo_json(layout, meta)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        with quiet_torchscript():
            scripted = torch.jit.script(module)
        scripted.save(str(tmp / POLICY_PT))
        _export_onnx(module, layout.size, tmp / POLICY_ONNX)
        layout.save(tmp)
        if verify:
            diff = verify_onnx(tmp)
            if not diff <= ONNX_TOLERANCE:
                raise ExportError(
                    f"the ONNX export differs from the torch policy by {diff:.3g} (> {ONNX_TOLERANCE:g}) on random "
                    "observations; nothing was written"
                )
            lmo["onnx_max_abs_diff"] = diff
        (tmp / LMO_FILE).write_text(json.dumps(lmo, indent=2) + "\n")
        _fsync_dir(tmp)
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def verify_onnx(out_dir: str | Path, n: int = 1000, seed: int = 0) -> float:
    """Max |onnxruntime(policy.onnx) - torch(policy.pt)| over `n` random observations.

    The observations are drawn around what the policy saw in training, mean + std * N(0, 1) of the normaliser
    inside the model (plain N(0, 1) when it has none): a block that barely varied in training (std ~ 0, the
    normaliser's eps keeps it finite) fed N(0, 1) would sit 100 sigma out and measure float rounding of absurd
    activations rather than the export."""
    import onnxruntime as ort
    import torch

    out_dir = Path(out_dir)
    with quiet_torchscript():
        module = torch.jit.load(str(out_dir / POLICY_PT), map_location="cpu")
    size = ObservationLayout.load(out_dir).size
    mean, std = _normaliser_stats(module, size)
    rng = np.random.default_rng(seed)
    obs = (mean + std * rng.standard_normal((n, size))).astype(np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(out_dir / POLICY_ONNX), options, providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: obs})[0]
    with torch.inference_mode():
        want = module(torch.from_numpy(obs)).numpy()
    if got.shape != want.shape:
        raise ExportError(f"ONNX gives actions of shape {got.shape}, torch {want.shape}")
    return float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))


# ---------------------------------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def quiet_torchscript() -> Iterator[None]:
    """torch >= 2.10 deprecates TorchScript; the issue asks for a TorchScript file (robot-side C++ runtimes load
    it), so the warning is expected here and silenced here only."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit\..* is deprecated", category=DeprecationWarning
        )
        yield


def inference_module(actor: torch.nn.Module, layout: ObservationLayout) -> torch.nn.Module:
    """A CPU, eval-mode copy of the actor's deterministic path (normaliser -> MLP -> mean), checked on a dummy
    batch. RSL-RL models give it through `as_jit()` (the same module their own exporters use)."""
    import torch

    if getattr(actor, "is_recurrent", False):
        raise ExportError("the LMO export takes feed-forward actors (MLPModel); this one is recurrent")
    obs_dim = getattr(actor, "obs_dim", None)
    if obs_dim is not None and int(obs_dim) != layout.size:
        raise ExportError(
            f"the actor reads {obs_dim} observation values, the layout has {layout.size} "
            f"({layout.conditioning}, latent_dim={layout.latent_dim}, history={layout.history})"
        )
    module = actor.as_jit() if hasattr(actor, "as_jit") else copy.deepcopy(actor)
    module = module.to("cpu").eval()
    with torch.inference_mode():
        out = module(torch.zeros(2, layout.size))
    if tuple(out.shape) != (2, NUM_ACTIONS):
        raise ExportError(
            f"the actor maps (2, {layout.size}) observations to {tuple(out.shape)}; an LMO gives (N, {NUM_ACTIONS}) "
            "leg actions"
        )
    return module


def _export_onnx(module: torch.nn.Module, size: int, path: Path) -> None:
    """One self-contained ONNX file (no external weight file) with a dynamic batch axis."""
    import torch

    batch = torch.export.Dim("batch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation chatter about its own internals
        torch.onnx.export(
            module,
            (torch.zeros(2, size),),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=ONNX_OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
            dynamic_shapes=({0: batch},),
        )
    if not path.is_file():
        raise ExportError(f"torch.onnx.export wrote no {path.name}")


def _normaliser_stats(module: torch.nn.Module, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of the empirical observation normaliser inside an exported module ((0, 1) without one)."""
    buffers = dict(module.named_buffers())
    mean = buffers.get("obs_normalizer._mean")
    std = buffers.get("obs_normalizer._std")
    if mean is None or std is None:
        return np.zeros(size), np.ones(size)
    return mean.reshape(-1).double().numpy(), std.reshape(-1).double().numpy()


def _floats(name: str, value: Any, n: int) -> list[float]:
    """A positive finite scalar or n of them, as a list of n floats."""
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, n)
    if arr.size != n or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise ValueError(f"meta[{name!r}] must be a positive number or {n} of them, got {value!r}")
    return arr.tolist()


def _lmo_json(layout: ObservationLayout, meta: Mapping[str, Any]) -> dict[str, Any]:
    if "action_scale" not in meta:
        raise ValueError(
            "meta needs 'action_scale' (the env's leg targets = stance + action_scale * action): without it the "
            "exported actions cannot be turned into joint targets"
        )
    control_hz = int(meta.get("control_hz", CONTROL_HZ))
    if control_hz <= 0:
        raise ValueError(f"meta['control_hz'] must be > 0, got {control_hz}")
    clip = meta.get("clip_actions")
    if clip is not None and not (math.isfinite(float(clip)) and float(clip) > 0):
        raise ValueError(f"meta['clip_actions'] must be a positive number or None, got {clip!r}")
    training = {k: v for k, v in meta.items() if k not in _ACTION_KEYS}
    return {
        "format": EXPORT_FORMAT,
        "files": {"onnx": POLICY_ONNX, "torchscript": POLICY_PT, "layout": LAYOUT_FILE},
        "input": {"name": INPUT_NAME, "size": layout.size, "dtype": "float32"},
        "output": {"name": OUTPUT_NAME, "size": NUM_ACTIONS, "dtype": "float32"},
        "action_scale": _floats("action_scale", meta["action_scale"], NUM_ACTIONS),
        "clip_actions": None if clip is None else float(clip),
        "control_hz": control_hz,
        "leg_joints": list(LEG_JOINTS),
        "stance": STANCE.tolist(),
        "conditioning": layout.conditioning,
        "latent_dim": layout.latent_dim,
        "history": layout.history,
        "lam": layout.lam,
        "lam_revision": layout.lam_revision,
        "training": json.loads(json.dumps(training, default=str)),  # JSON-safe copy (paths, numpy scalars)
    }


def _check_target(out_dir: Path) -> None:
    """Refuse to replace anything but an empty folder or an earlier export (a run folder, a dataset...)."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder; choose another export folder")
    if any(out_dir.iterdir()) and not (out_dir / LMO_FILE).is_file():
        raise FileExistsError(
            f"{out_dir} holds files but no {LMO_FILE}: it is not an earlier LMO export, so it is not replaced; "
            "choose an empty or new export folder"
        )


def _replace_dir(src: Path, dst: Path) -> None:
    """Move the finished export into place: a rename, with an earlier export set aside first and removed after
    (restored if the rename fails)."""
    if not dst.exists():
        os.replace(src, dst)
        return
    old = dst.parent / f".{dst.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(dst, old)
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(old, dst)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    """Flush the files' data before the rename publishes them (a power cut must not leave a renamed folder of
    empty files)."""
    for f in path.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
