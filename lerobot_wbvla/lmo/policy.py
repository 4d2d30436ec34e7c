"""LMOPolicy: an exported LMO (export.py) run from numpy, at the robot's 50 Hz, without RSL-RL.

`LMOPolicy.from_pretrained(folder or Hub repo id)` loads `policy.onnx` into an onnxruntime session (or `policy.pt`
with torch) and the export's `layout.json` / `lmo.json`. `act(obs)` gives the policy's mean actions and
`leg_targets(obs)` the 12 leg joint position targets exactly as the training env made them: actions clipped to
+-clip_actions, stance + action_scale * action, then clipped to each joint's published range.

Why onnxruntime by default: the controller calls the policy once per 20 ms tick for one robot, so the cost is
per-call overhead, not FLOPs. The session runs on one thread (no thread-pool wake-ups, no competition with the
physics or a VLA in the same process) and a single observation goes through buffers bound once (IO binding), so
a step allocates nothing on the ONNX side: ~10-20 us on these CPUs (issue goal p99 <= 0.2 ms). The torch backend
uses torch's global intra-op thread setting, which this module does not touch.

The export is checked at load: the layout it was trained on must be the one its files describe, the leg joint
order and stance the ones this code builds observations with (`lmo/mdp/observations.py`); `check_layout(layout)`
lets a caller with its own layout (the runtime, with its LAM) fail with `LayoutMismatchError` before the first tick.
An `LMOPolicy` reuses its buffers: use one per thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_wbvla.lmo.export import (
    EXPORT_FORMAT,
    INPUT_NAME,
    LMO_FILE,
    NUM_ACTIONS,
    OUTPUT_NAME,
    POLICY_ONNX,
    POLICY_PT,
    quiet_torchscript,
)
from lerobot_wbvla.lmo.layout import LAYOUT_FILE, LayoutMismatchError, ObservationLayout
from lerobot_wbvla.lmo.mdp.observations import STANCE
from lerobot_wbvla.robots.agibot_x2.joints import LEG_JOINTS
from lerobot_wbvla.robots.agibot_x2.mjcf import joint_range

BACKENDS = ("onnx", "torch")
_MODEL_FILE = {"onnx": POLICY_ONNX, "torch": POLICY_PT}
# Files fetched from a Hub repo (a repo may hold more: training checkpoints are not downloaded).
_HUB_PATTERNS = [POLICY_ONNX, POLICY_PT, LAYOUT_FILE, LMO_FILE, "README.md"]
# A stance that differs by more than this from the one observations are built around is a different robot model.
_STANCE_ATOL = 1e-6


class LMOPolicy:
    """An exported LMO policy. Build it with `from_pretrained`; see the module docstring."""

    def __init__(self, folder: str | Path, backend: str = "onnx") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r}: choose one of {', '.join(BACKENDS)}")
        self.path = Path(folder)
        self.backend = backend
        self.meta: dict[str, Any] = _read_meta(self.path)
        self.layout = ObservationLayout.load(self.path)
        _check_export(self.meta, self.layout, self.path)
        self.obs_size = self.layout.size
        self.num_actions = NUM_ACTIONS
        self.control_hz = int(self.meta["control_hz"])
        self.action_scale = np.asarray(self.meta["action_scale"], dtype=np.float64)
        clip = self.meta.get("clip_actions")
        self.clip_actions: float | None = None if clip is None else float(clip)
        self.stance = np.asarray(self.meta["stance"], dtype=np.float64)
        self.joint_low = np.array([joint_range(j)[0] for j in LEG_JOINTS])
        self.joint_high = np.array([joint_range(j)[1] for j in LEG_JOINTS])
        # One-observation buffers, bound once: the per-tick path allocates nothing on the model side.
        self._in1 = np.zeros((1, self.obs_size), dtype=np.float32)
        self._out1 = np.zeros((1, NUM_ACTIONS), dtype=np.float32)
        self._run1: Callable[[], None]
        self._run: Callable[[np.ndarray], np.ndarray]
        if backend == "onnx":
            self._init_onnx()
        else:
            self._init_torch()

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        repo_id_or_path: str | Path,
        revision: str | None = None,
        backend: str = "onnx",
        *,
        local_files_only: bool = False,
        cache_dir: str | Path | None = None,
        token: str | None = None,
    ) -> LMOPolicy:
        """Load an export from a folder, or from a Hub repo id at `revision` (branch, tag or commit; None = main;
        ignored for a folder). Only the export's files are downloaded; offline (HF_HUB_OFFLINE=1 or
        `local_files_only`) the cache is used. A missing or incomplete export is an `ArtifactNotFoundError` /
        FileNotFoundError naming what is missing."""
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r}: choose one of {', '.join(BACKENDS)}")
        folder = resolve_export_dir(
            repo_id_or_path,
            revision=revision,
            backend=backend,
            local_files_only=local_files_only,
            cache_dir=cache_dir,
            token=token,
        )
        return cls(folder, backend=backend)

    def _init_onnx(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        session = ort.InferenceSession(
            str(self.path / POLICY_ONNX), options, providers=["CPUExecutionProvider"]
        )
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if [i.name for i in inputs] != [INPUT_NAME] or inputs[0].shape[-1] != self.obs_size:
            shapes = [(i.name, i.shape) for i in inputs]
            raise LayoutMismatchError(
                f"{self.path / POLICY_ONNX} takes inputs {shapes}; its {LAYOUT_FILE} says ({INPUT_NAME!r}, "
                f"[N, {self.obs_size}]): the folder mixes files of different exports"
            )
        if OUTPUT_NAME not in [o.name for o in outputs]:
            raise ValueError(f"{self.path / POLICY_ONNX} has no output {OUTPUT_NAME!r}")
        binding = session.io_binding()
        binding.bind_ortvalue_input(INPUT_NAME, ort.OrtValue.ortvalue_from_numpy(self._in1))
        binding.bind_ortvalue_output(OUTPUT_NAME, ort.OrtValue.ortvalue_from_numpy(self._out1))
        self._session = session

        def run1() -> None:
            session.run_with_iobinding(binding)

        def run(obs: np.ndarray) -> np.ndarray:
            return session.run([OUTPUT_NAME], {INPUT_NAME: obs})[0]

        self._run1, self._run = run1, run

    def _init_torch(self) -> None:
        import torch

        with quiet_torchscript():
            module = torch.jit.load(str(self.path / POLICY_PT), map_location="cpu").eval()
        in1 = torch.from_numpy(self._in1)  # shares memory with the numpy buffer
        out1 = self._out1

        def run1() -> None:
            with torch.inference_mode():
                out1[...] = module(in1).numpy()

        def run(obs: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return module(torch.from_numpy(obs)).numpy()

        self._module = module
        self._run1, self._run = run1, run

    # ------------------------------------------------------------------ inference
    def act(self, obs: np.ndarray) -> np.ndarray:
        """(N, 12) float32 mean actions for (N, obs_size) observations (a single (obs_size,) vector is N=1)."""
        x = np.asarray(obs)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.obs_size:
            raise LayoutMismatchError(
                f"observation of shape {np.shape(obs)}; this LMO takes (N, {self.obs_size}) "
                f"(conditioning={self.layout.conditioning}, latent_dim={self.layout.latent_dim}, "
                f"history={self.layout.history})"
            )
        if x.shape[0] == 1:
            np.copyto(self._in1, x, casting="same_kind")
            self._run1()
            return self._out1.copy()
        return np.asarray(self._run(np.ascontiguousarray(x, dtype=np.float32)))

    def leg_targets(self, obs: np.ndarray) -> np.ndarray:
        """(N, 12) float64 leg joint position targets (rad, joints.LEG_JOINTS order) for (N, obs_size)
        observations."""
        return self.targets_from_actions(self.act(obs))

    def targets_from_actions(self, actions: np.ndarray) -> np.ndarray:
        """The training env's action -> target map: clip to +-clip_actions, stance + action_scale * action, clip
        to the joints' published ranges."""
        a = np.asarray(actions, dtype=np.float64)
        if self.clip_actions is not None:
            a = np.clip(a, -self.clip_actions, self.clip_actions)
        return np.clip(self.stance + self.action_scale * a, self.joint_low, self.joint_high)

    def check_layout(self, layout: ObservationLayout) -> None:
        """Raise LayoutMismatchError unless observations built for `layout` fit this policy (size, conditioning,
        history, and the LAM for latent conditioning)."""
        self.layout.check(layout, what=f"observation (policy {self.path})")

    def __repr__(self) -> str:
        return (
            f"LMOPolicy({str(self.path)!r}, backend={self.backend!r}, conditioning={self.layout.conditioning!r}, "
            f"obs_size={self.obs_size})"
        )


# ---------------------------------------------------------------------------------------------------- helpers
def resolve_export_dir(
    repo_id_or_path: str | Path,
    *,
    revision: str | None = None,
    backend: str = "onnx",
    local_files_only: bool = False,
    cache_dir: str | Path | None = None,
    token: str | None = None,
) -> Path:
    """The local folder of an export: the folder itself, or a Hub snapshot of its files (hub/artifacts.py)."""
    from lerobot_wbvla.hub.artifacts import resolve_pretrained_dir

    required = (_MODEL_FILE[backend], LAYOUT_FILE, LMO_FILE)
    candidate = Path(repo_id_or_path).expanduser()
    if candidate.is_dir():
        missing = [f for f in required if not (candidate / f).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{candidate} is not an LMO export for backend={backend!r}: it lacks {', '.join(missing)}. Pass a "
                "folder written by lerobot_wbvla.lmo.export.export_lmo (wbvla-train-lmo), or a Hub repo id"
            )
        return candidate
    return resolve_pretrained_dir(
        repo_id_or_path,
        revision=revision,
        local_files_only=local_files_only,
        cache_dir=cache_dir,
        token=token,
        allow_patterns=list(_HUB_PATTERNS),
        required_files=required,
        kind="lmo",
    )


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / LMO_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not an LMO export (export.py writes {LMO_FILE})")
    meta = json.loads(path.read_text())
    if meta.get("format") != EXPORT_FORMAT:
        raise ValueError(
            f"{path}: format {meta.get('format')!r}, this code reads {EXPORT_FORMAT!r}; re-export the policy"
        )
    return meta


def _check_export(meta: dict[str, Any], layout: ObservationLayout, folder: Path) -> None:
    """The export's own files agree, and it was trained on the robot model this code builds observations for."""
    problems = []
    if int(meta["input"]["size"]) != layout.size:
        problems.append(
            f"{LMO_FILE} says {meta['input']['size']} observation values, {LAYOUT_FILE} {layout.size}"
        )
    if (meta.get("conditioning"), int(meta.get("latent_dim", 0))) != (layout.conditioning, layout.latent_dim):
        problems.append(
            f"{LMO_FILE} says conditioning={meta.get('conditioning')} latent_dim={meta.get('latent_dim')}, "
            f"{LAYOUT_FILE} conditioning={layout.conditioning} latent_dim={layout.latent_dim}"
        )
    if list(meta.get("leg_joints", [])) != list(LEG_JOINTS):
        problems.append(f"leg joint order {meta.get('leg_joints')} differs from joints.LEG_JOINTS")
    stance = np.asarray(meta.get("stance", []), dtype=np.float64)
    if stance.shape != STANCE.shape or not np.allclose(stance, STANCE, atol=_STANCE_ATOL, rtol=0):
        problems.append(
            "the stance it was trained around differs from params.STANCE_LEG of this code (observations and "
            "targets are offsets from it)"
        )
    if len(meta.get("action_scale", [])) != NUM_ACTIONS:
        problems.append(f"action_scale must hold {NUM_ACTIONS} values")
    if problems:
        raise LayoutMismatchError(f"LMO export {folder} cannot be used here: {'; '.join(problems)}")


def step_latency(
    policy: LMOPolicy, n: int = 2000, warmup: int = 200, seed: int = 0, obs: np.ndarray | None = None
) -> dict[str, float]:
    """Single-robot step latency of `policy.leg_targets` (observation in, 12 targets out), in ms: p50, p99,
    mean and max over `n` timed calls after `warmup` untimed ones, cycling through 64 random observations (or
    `obs`, (M, obs_size))."""
    if obs is None:
        obs = np.random.default_rng(seed).standard_normal((64, policy.obs_size)).astype(np.float32)
    rows = [obs[i : i + 1] for i in range(len(obs))]
    for i in range(warmup):
        policy.leg_targets(rows[i % len(rows)])
    times = np.empty(n)
    clock = time.perf_counter
    for i in range(n):
        row = rows[i % len(rows)]
        t0 = clock()
        policy.leg_targets(row)
        times[i] = clock() - t0
    times *= 1e3
    return {
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
        "mean_ms": float(times.mean()),
        "max_ms": float(times.max()),
        "n": n,
    }
