"""wbvla-train-lam end to end on generated video: cache, curves, checkpoints, kill + resume, push, eval."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

TINY_ARGS = [
    "--data.split=train",
    "--data.frame_gap=2",
    "--lam.encoder.type=pixel",
    "--lam.encoder.image_size=16",
    "--lam.encoder.patch_size=8",
    "--lam.model.type=st_transformer",
    "--lam.model.dim=32",
    "--lam.model.heads=2",
    "--lam.model.encoder_depth=1",
    "--lam.model.decoder_depth=1",
    "--lam.model.latent_dim=8",
    "--lam.model.num_codes=2",
    "--lam.model.codebook_size=8",
    "--lam.model.restart_every=7",
    "--batch_size=16",
    "--log_every=5",
    "--num_threads=1",
    "--progress=false",
]
STEPS = 300


def _cmd(ego: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lerobot_wbvla.lam.train",
        f"--data.video_root={ego}",
        f"--data.cache_dir={cache}",
        f"--output_dir={out}",
        f"--steps={STEPS}",
        *TINY_ARGS,
        *extra,
    ]


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


PUSH_REPO = f"wbvla-tests/lam-train-{os.getpid()}"


@pytest.fixture(scope="module")
def killed_and_resumed(lam_ego_root: Path, tmp_path_factory: pytest.TempPathFactory, hub_server):
    """Start a run, kill it right after its first checkpoint, resume it to the end and push it (tag v1)."""
    tmp = tmp_path_factory.mktemp("lam_train")
    out, cache = tmp / "run", tmp / "cache"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        _cmd(lam_ego_root, out, cache, "--save_every=20"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pointer = out / "checkpoints" / "last"
    deadline = time.monotonic() + 120
    while not pointer.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    log = proc.communicate()[0].decode()
    assert pointer.exists(), f"no checkpoint before the kill:\n{log[-3000:]}"
    killed_at = json.loads(
        (out / "checkpoints" / pointer.read_text().strip() / "train_state.json").read_text()
    )
    assert killed_at["step"] < STEPS, "the run ended before it could be killed"
    assert not (out / "pretrained_model").exists()
    # Without --resume the half run is protected.
    refused = subprocess.run(_cmd(lam_ego_root, out, cache), env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "--resume=true" in refused.stderr
    resumed = subprocess.run(
        _cmd(
            lam_ego_root,
            out,
            cache,
            "--save_every=20",
            "--resume=true",
            "--hub.push_to_hub=true",
            f"--hub.repo_id={PUSH_REPO}",
            "--hub.tag=v1",
        ),
        env={**os.environ, "HF_HUB_OFFLINE": "0"},
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return out, cache, killed_at["step"], json.loads(resumed.stdout.strip().splitlines()[-1])


def test_killed_run_resumes_to_the_same_step_count_and_weights(
    killed_and_resumed, lam_ego_root: Path, tmp_path
):
    out, cache, killed_step, summary = killed_and_resumed
    assert summary["step"] == STEPS
    final = json.loads(
        (
            out / "checkpoints" / (out / "checkpoints" / "last").read_text().strip() / "train_state.json"
        ).read_text()
    )
    assert final["step"] == STEPS
    # One row per logged step, no duplicates from the killed run, up to the end.
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps)) and steps[-1] == STEPS and steps[0] == 5
    assert (out / "metrics.csv").read_text().splitlines()[0].startswith("loss,")
    assert (out / "metrics.png").stat().st_size > 1000
    for key in ("forward_loss", "commitment_loss", "codebook_usage", "perplexity", "copy_baseline_loss"):
        assert key in rows[-1]
    # The same run without the kill ends with bit-identical weights: batches, code restarts and the optimiser
    # state all continue exactly where the checkpoint left them.
    import draccus

    from lerobot_wbvla.lam.train import TrainLAMConfig, train

    cfg = draccus.parse(
        TrainLAMConfig, args=_cmd(lam_ego_root, tmp_path / "straight", cache, "--save_every=1000")[3:]
    )
    straight = train(cfg)
    a, b = _weights(out / "pretrained_model"), _weights(straight.pretrained_dir)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed run diverged from the uninterrupted one"


def test_training_lowers_the_forward_loss_below_copying(killed_and_resumed) -> None:
    out, _, _, _ = killed_and_resumed
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    first = sum(r["relative_forward_loss"] for r in rows[:3]) / 3
    last = sum(r["relative_forward_loss"] for r in rows[-5:]) / 5
    assert last < first and last < 1.0, (first, last)


def test_pushed_lam_pulls_back_by_repo_id_and_revision_with_identical_codes(
    killed_and_resumed, hub_api
) -> None:
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel

    out, _, _, _ = killed_and_resumed
    assert {"config.json", "model.safetensors", "README.md"} <= set(
        hub_api.list_repo_files(PUSH_REPO, revision="v1")
    )
    card = hub_api.hf_hub_download(PUSH_REPO, "README.md", revision="v1")
    assert "latent-action-model" in Path(card).read_text() and "perplexity" in Path(card).read_text()
    local = LatentActionModel.from_pretrained(out / "pretrained_model")
    # Overwrite main with another model: only the tag still names the trained one.
    other = LatentActionModel(local.config)
    other.normalizer.load_state_dict(local.normalizer.state_dict())
    other.save_pretrained(out / "other")
    from lerobot_wbvla.hub import push_folder_to_hub

    push_folder_to_hub(out / "other", PUSH_REPO)
    pulled = LatentActionModel.from_pretrained(PUSH_REPO, revision="v1")
    pulled_main = LatentActionModel.from_pretrained(PUSH_REPO)
    torch.manual_seed(1)
    a, b = (
        torch.randn(64, local.num_tokens, local.token_dim),
        torch.randn(64, local.num_tokens, local.token_dim),
    )
    x, y = local.encode_action(a, b), pulled.encode_action(a, b)
    assert torch.equal(x.indices, y.indices) and torch.equal(x.z, y.z)
    assert not torch.equal(pulled_main.encode_action(a, b).z, x.z)


def test_eval_reports_errors_controllability_and_probes(
    killed_and_resumed, lam_ego_root: Path, tmp_path
) -> None:
    from lerobot_wbvla.lam.data import LAMDataConfig
    from lerobot_wbvla.lam.evaluate import EvalLAMConfig, evaluate

    out, cache, _, _ = killed_and_resumed
    cfg = EvalLAMConfig(
        lam=str(out / "pretrained_model"),
        data=LAMDataConfig(video_root=lam_ego_root, cache_dir=cache),
        output_dir=tmp_path / "eval",
        num_threads=1,
    )
    report = evaluate(cfg)  # held-out clips, probes fit on the train clips
    saved = json.loads((tmp_path / "eval" / "eval_report.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert (tmp_path / "eval" / "eval_report.png").stat().st_size > 1000
    ev = report["eval"]
    assert report["frame_gap"] == 2  # taken from the LAM
    assert ev["n_pairs"] > 0 and 0 < ev["codebook_usage"] <= 1 and 1 <= ev["perplexity"] <= 8
    assert sum(ev["code_counts"]) == ev["n_pairs"] * 2  # 2 codes per pair
    probes = report["probes"]
    assert probes["z_probe"]["n_test"] == probes["code_probe"]["n_test"] > 0
    assert 0 <= probes["z_probe"]["accuracy"] <= 1
    # On the clips it was trained on, this 300-step LAM beats copying the current frame and its codes matter
    # (random codes predict worse): the numbers measure what they claim.
    cfg.eval_split, cfg.output_dir = "train", tmp_path / "eval_train"
    ev = evaluate(cfg)["eval"]
    assert ev["relative_forward_error"] < 1.0 and ev["controllability_gap"] > 0, ev


def test_cli_names_a_missing_encoder_folder(lam_ego_root: Path, tmp_path: Path) -> None:
    missing = tmp_path / "dinov2-that-is-not-here"
    cmd = [
        sys.executable,
        "-m",
        "lerobot_wbvla.lam.train",
        f"--data.video_root={lam_ego_root}",
        f"--output_dir={tmp_path / 'run'}",
        "--lam.encoder.type=hf_vision",
        f"--lam.encoder.pretrained={missing}",
    ]
    res = subprocess.run(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)
    assert res.returncode == 2
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("wbvla-train-lam: error:") and str(missing) in last and "does not exist" in last
    assert not (tmp_path / "run" / "pretrained_model").exists()
