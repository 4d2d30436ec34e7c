"""Test-session setup shared by every area: a local Hub, isolated caches, headless MuJoCo.

At import (before anything imports huggingface_hub, which reads these once) this file starts the project's
Hub-compatible server (`lerobot_wbvla.hub.local_server.LocalHubServer`) on a free port and points the process
at it with `HF_ENDPOINT`; HF_HOME, HF_HUB_CACHE and HF_LEROBOT_HOME go to a temp folder removed at exit. No test
can reach huggingface.co: an id that is not on the local server gives a 404 (RepositoryNotFoundError).

Fixtures (use them by name in a test's arguments):
- `hub_server`: the running `LocalHubServer` (`.url`, `.reset()`, `.fail_next(action, status)` for faults,
  `.hold_next(action)` to freeze a client mid-call).
- `hub_api`: an `HfApi` bound to it.
- `unique_repo_id`: factory, `unique_repo_id("lam")` -> "wbvla-tests/lam-<8 hex>" (a fresh repo id per call).
- `subprocess_env`: env dict for child processes (`lerobot-record`, `python -c ...`): same server, same caches,
  and the RepoCard.validate fix (tests/_sitecustomize) applied in the child.
- `offline_subprocess_env`: as `subprocess_env` but HF_HUB_OFFLINE=1 and HF_ENDPOINT at a closed port.
- `tiny_lam_dir`: a small random LAM (pixel encoder) saved like a Hub model (`save_tiny_lam` makes others).
- `x2_record_dataset`: two pick_place episodes recorded once per session by `lerobot-record --robot.type=agibot_x2
  --teleop.type=x2_scripted` (LeRobot's own CLI, a child process); shared by the policy and LMO tests.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

if "huggingface_hub" in sys.modules:  # its endpoint and cache paths would already be fixed
    raise RuntimeError(
        "huggingface_hub was imported before tests/conftest.py could point it at the local Hub server; "
        "find the plugin or conftest that imports it early"
    )

from lerobot_wbvla.hub.local_server import LocalHubServer  # noqa: E402 (stdlib-only, no huggingface_hub)

TESTS_DIR = Path(__file__).resolve().parent
SITECUSTOMIZE_DIR = TESTS_DIR / "_sitecustomize"

_HUB = LocalHubServer().start()
_HF_TMP = Path(tempfile.mkdtemp(prefix="wbvla-tests-hf-"))
atexit.register(shutil.rmtree, _HF_TMP, ignore_errors=True)
atexit.register(_HUB.stop)

os.environ.update(
    HF_ENDPOINT=_HUB.url,
    HF_HOME=str(_HF_TMP / "home"),
    HF_HUB_CACHE=str(_HF_TMP / "hub"),
    HF_LEROBOT_HOME=str(_HF_TMP / "lerobot"),
    HF_HUB_DISABLE_TELEMETRY="1",
    HF_HUB_DISABLE_XET="1",
    HF_HUB_OFFLINE="0",
    HF_TOKEN="dummy",
    MUJOCO_GL=os.environ.get("WBVLA_TEST_MUJOCO_GL", "egl"),
)
os.environ.pop("HF_HUB_ENABLE_HF_TRANSFER", None)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def hub_server() -> LocalHubServer:
    """The local Hub every test talks to (already running; `HF_ENDPOINT` points at it)."""
    return _HUB


@pytest.fixture(scope="session", autouse=True)
def _repocard_validate_uses_endpoint() -> None:
    """huggingface_hub < 2 validates cards at a hard-coded huggingface.co URL; send it to HF_ENDPOINT."""
    from lerobot_wbvla.hub.compat import patch_repocard_validate

    patch_repocard_validate()


@pytest.fixture
def hub_api(hub_server: LocalHubServer):
    """`huggingface_hub.HfApi` bound to the local server."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub_server.url, token="dummy")


@pytest.fixture
def unique_repo_id():
    """Factory for repo ids no other test uses: `unique_repo_id("lam")` -> "wbvla-tests/lam-1a2b3c4d"."""

    def make(prefix: str = "repo", namespace: str = "wbvla-tests") -> str:
        return f"{namespace}/{prefix}-{uuid.uuid4().hex[:8]}"

    return make


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SITECUSTOMIZE_DIR), env.get("PYTHONPATH")) if p)
    env["WBVLA_TEST_HUB_PATCH"] = "1"
    return env


@pytest.fixture
def subprocess_env(hub_server: LocalHubServer) -> dict[str, str]:
    """Environment for child processes: same Hub server and caches, RepoCard.validate fixed in the child."""
    return _child_env()


@pytest.fixture(scope="session")
def subprocess_env_session(hub_server: LocalHubServer) -> dict[str, str]:
    """`subprocess_env` for session-scoped fixtures (e.g. a dataset recorded once and shared by several tests)."""
    return _child_env()


@pytest.fixture
def offline_subprocess_env(subprocess_env: dict[str, str]) -> dict[str, str]:
    """`subprocess_env` with HF_HUB_OFFLINE=1 and HF_ENDPOINT at a port nothing listens on (a dead Hub)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    return {**subprocess_env, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": f"http://127.0.0.1:{dead_port}"}


@pytest.fixture(autouse=True)
def _no_realtime_threads_leak_between_tests():
    """Put this process's threads back on the normal scheduler after every test.

    Run as root, SVT-AV1 (LeRobot's AV1 encoder) moves a thread that encodes video on SCHED_FIFO 99, and every
    process forked afterwards inherits it: one test that encodes in-process would make the children of all later
    tests (lerobot-record, CPU burners) real-time, and two real-time burners freeze a 2-core machine for good."""
    from lerobot_wbvla.teleoperators.x2_scripted.realtime import demote_realtime_threads

    demote_realtime_threads()
    yield
    demote_realtime_threads()


@pytest.fixture(scope="session")
def lam_ego_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 short generated clips (train + held-out, 48 px, 24 fps, 1.5 s): rendered once per session."""
    from lerobot_wbvla.datasets.egovideo import EgoVideoConfig, generate

    cfg = EgoVideoConfig(
        out_dir=tmp_path_factory.mktemp("lam_ego") / "ego",
        num_clips=12,
        height=48,
        width=48,
        fps=24,
        clip_seconds=1.5,
        heldout_fraction=0.25,
        seed=0,
        contact_sheet=False,
    )
    return generate(cfg)


# ---- data fixtures shared by the policy and LMO tests: a tiny LAM and an agibot_x2 dataset recorded by LeRobot's CLI
LEROBOT_RECORD = str(Path(sys.executable).with_name("lerobot-record"))
RECORD_CAMERA = (48, 64)  # small frames: the VLM resizes them anyway


def save_tiny_lam(path: Path, seed: int = 0, latent_dim: int = 16, codebook_size: int = 32) -> Path:
    """A random (untrained) LAM with the pixel encoder: fast, and a valid frozen teacher of fixed labels."""
    import torch

    from lerobot_wbvla.lam.configuration_lam import LAMConfig, MLPLAMConfig, PixelEncoderConfig
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel

    torch.manual_seed(seed)
    config = LAMConfig(
        encoder=PixelEncoderConfig(image_size=32, patch_size=8),
        model=MLPLAMConfig(
            latent_dim=latent_dim,
            codebook_size=codebook_size,
            token_dim=8,
            inverse_hidden=[64],
            forward_hidden=[64],
        ),
        frame_gap=2,
    )
    return LatentActionModel(config).save_pretrained(path)


@pytest.fixture(scope="session")
def tiny_lam_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_lam(tmp_path_factory.mktemp("tiny_lam") / "lam")


def record_x2_dataset(
    root: Path, env: dict, episodes: int = 2, seed: int = 3, task: str = "pick_place"
) -> Path:
    """Record `episodes` scripted episodes of `task` with lerobot-record (sim-time episodes, any machine load)."""
    from lerobot_wbvla.robots.agibot_x2.mjcf import build_spec
    from lerobot_wbvla.robots.agibot_x2.scenes import get_scene

    task_string = get_scene(task)(build_spec()).task
    h, w = RECORD_CAMERA
    args = [
        LEROBOT_RECORD,
        "--robot.type=agibot_x2",
        f"--robot.scene={task}",
        f"--robot.head_camera=[{h},{w}]",
        "--teleop.type=x2_scripted",
        f"--teleop.seed={seed}",
        f"--dataset.repo_id=wbvla-tests/x2-{task}-{uuid.uuid4().hex[:8]}",
        f"--dataset.root={root}",
        "--dataset.no_stamp=true",
        "--dataset.push_to_hub=false",
        f"--dataset.single_task={task_string}",
        "--dataset.fps=30",
        f"--dataset.num_episodes={episodes}",
        "--dataset.episode_time_s=400",
        "--dataset.reset_time_s=30",
        "--dataset.num_image_writer_threads_per_camera=1",
        "--play_sounds=false",
    ]
    proc = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=1200, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return root


@pytest.fixture(scope="session")
def x2_record_dataset(tmp_path_factory: pytest.TempPathFactory, subprocess_env_session: dict) -> Path:
    """Two pick_place episodes recorded by lerobot-record (shared by the policy CLI tests of a session)."""
    return record_x2_dataset(tmp_path_factory.mktemp("x2_rec") / "ds", subprocess_env_session)
