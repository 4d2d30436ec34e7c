"""Validation during wbvla-train-lmo (lmo/validation.py): the run exports the checkpoint that fell least in its own
seeded perturbation episodes, keeps that choice across a resume, and its validation is the same measurement
wbvla-eval-lmo makes on those episodes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib: the test beside us

from test_train_cli import TINY  # noqa: E402  (wbvla-train-lmo's tiny run, one definition)

from lerobot_wbvla.lmo.validation import (  # noqa: E402
    ValidationConfig,
    ValidationHistory,
    ValidationRecord,
)

BIN = Path(sys.executable).parent


def test_the_best_record_falls_least_then_keeps_the_larger_margin_then_the_later_iteration():
    h = ValidationHistory()
    assert h.best() is None
    h.add(ValidationRecord(100, 0.40, 0.02, 1.0))
    h.add(ValidationRecord(200, 0.30, 0.01, 1.0))
    h.add(ValidationRecord(300, 0.30, 0.03, 1.0))
    h.add(ValidationRecord(400, 0.50, 0.09, 1.0))
    assert h.best().iteration == 300  # ties on falls: the larger CoM margin
    h.add(ValidationRecord(500, 0.30, 0.03, 1.0))
    assert h.best().iteration == 500  # full tie: the later one
    h.add(ValidationRecord(500, 0.90, 0.03, 1.0))  # a redone iteration (after a resume) replaces its record
    assert h.best().iteration == 300 and len(h.records) == 5
    h.add(
        ValidationRecord(600, 0.30, float("nan"), 1.0)
    )  # no margin (every episode fell at once): ranks last
    assert h.best().iteration == 300
    assert ValidationHistory.from_state(h.state_dict()).records == h.records
    assert [r.iteration for r in h.until(300).records] == [100, 200, 300]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"every": -1}, "validation.every must be >= 0"),
        ({"episodes": 0}, "validation.episodes and validation.clips must be >= 1"),
        ({"loco": "walk"}, "validation.loco='walk'"),
    ],
)
def test_bad_validation_settings_are_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        ValidationConfig(**kwargs).validate()
    assert not ValidationConfig(every=0, episodes=0).due(100)  # off: never due, other settings unchecked


def _tiny_cfg(out: Path, iterations: int, every: int):
    from lerobot_wbvla.lmo.config_train import TrainLMOConfig

    cfg = TrainLMOConfig(
        output_dir=out, iterations=iterations, progress=False, threads=1, save_every=5, seed=2
    )
    cfg.env.num_envs, cfg.env.conditioning, cfg.env.episode_s = 4, "none", 1.0
    cfg.ppo.num_steps_per_env, cfg.ppo.num_mini_batches, cfg.clips.procedural = 8, 2, 2
    cfg.validation = ValidationConfig(every=every, episodes=3, episode_s=1.0, clips=2)
    return cfg


def _actor_of_checkpoint(path: Path, layout_size: int):
    """The deterministic actor of an RSL-RL checkpoint, through the project's own inference module."""
    from rsl_rl.models import MLPModel
    from tensordict import TensorDict

    from lerobot_wbvla.lmo.config_train import PPOConfig

    actor_cfg = dict(PPOConfig().runner_cfg()["actor"])
    actor_cfg.pop("class_name", None)
    obs = TensorDict({"policy": torch.zeros(2, layout_size)}, batch_size=[2])
    model = MLPModel(obs, {"actor": ["policy"]}, "actor", 12, **actor_cfg)
    model.load_state_dict(torch.load(path, weights_only=False)["actor_state_dict"])
    return model.as_jit().eval()


def test_training_exports_the_checkpoint_that_fell_least_and_keeps_the_choice_across_a_resume(
    tmp_path, monkeypatch
):
    from lerobot_wbvla.lmo import train as train_mod
    from lerobot_wbvla.lmo.policy import LMOPolicy

    # Scripted validation outcomes (the real episodes are tested below): iteration 4 falls least.
    falls = {2: 0.6, 4: 0.1, 6: 0.5, 8: 0.3}
    seen = []

    def fake_run(self, actor, iteration):
        seen.append(iteration)
        return ValidationRecord(iteration, falls[iteration], 0.01, 0.0)

    monkeypatch.setattr(train_mod.Validator, "run", fake_run)
    out = tmp_path / "run"
    first = train_mod.train(_tiny_cfg(out, iterations=4, every=2))
    assert seen == [2, 4]
    # A resumed run continues the history: iteration 4 (validated before the resume) still wins at the end.
    cfg = _tiny_cfg(out, iterations=8, every=2)
    cfg.resume = True
    result = train_mod.train(cfg)
    assert seen == [2, 4, 6, 8] and result.iterations == 8 and first.iterations == 4

    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows if "val/fall_rate" in r] == [2, 4, 6, 8]
    # Validated iterations are checkpointed even off the save_every grid (5), so the choice can be exported.
    for it in (2, 4, 6, 8):
        assert (out / "checkpoints" / f"model_{it:06d}.pt").is_file()

    meta = json.loads((out / "export" / "lmo.json").read_text())["training"]
    assert meta["selected_by"] == "validation" and meta["exported_iteration"] == 4
    assert meta["iterations"] == 8 and meta["validation_fall_rate"] == pytest.approx(0.1)
    assert [r["iteration"] for r in meta["validation"]] == [2, 4, 6, 8]
    assert "Iteration 4 of 8" in (out / "export" / "README.md").read_text()

    policy = LMOPolicy.from_pretrained(out / "export", backend="torch")
    obs = np.random.default_rng(0).standard_normal((32, policy.obs_size)).astype(np.float32)
    with torch.inference_mode():
        want4 = _actor_of_checkpoint(out / "checkpoints" / "model_000004.pt", policy.obs_size)(
            torch.from_numpy(obs)
        ).numpy()
        want8 = _actor_of_checkpoint(out / "checkpoints" / "model_000008.pt", policy.obs_size)(
            torch.from_numpy(obs)
        ).numpy()
        runner_now = result.runner.alg.get_policy().as_jit().eval()(torch.from_numpy(obs)).numpy()
    assert np.abs(want4 - want8).max() > 1e-6  # the two checkpoints differ, so the check below can fail
    np.testing.assert_allclose(policy.act(obs), want4, atol=1e-5)
    np.testing.assert_allclose(runner_now, want8, atol=1e-6)  # the runner keeps its last weights


def test_without_selection_the_last_iteration_is_exported(tmp_path, monkeypatch):
    from lerobot_wbvla.lmo import train as train_mod

    monkeypatch.setattr(
        train_mod.Validator,
        "run",
        lambda self, actor, it: ValidationRecord(it, 1.0 if it == 4 else 0.0, 0.0, 0.0),
    )
    cfg = _tiny_cfg(tmp_path / "run", iterations=4, every=2)
    cfg.validation.select_best = False
    train_mod.train(cfg)
    meta = json.loads((tmp_path / "run" / "export" / "lmo.json").read_text())["training"]
    assert meta["selected_by"] == "last" and meta["exported_iteration"] == 4


def test_the_validation_is_wbvla_eval_lmo_on_the_validation_episodes(tmp_path, subprocess_env):
    # The figure a run records for a checkpoint is what wbvla-eval-lmo measures for that checkpoint's export on the
    # validation's seeds and clips: a real measurement, not a proxy.
    out = tmp_path / "run"
    v = [
        "--validation.every=2",
        "--validation.episodes=3",
        "--validation.episode_s=1.5",
        "--validation.clips=2",
    ]
    train = subprocess.run(
        [
            str(BIN / "wbvla-train-lmo"),
            f"--output_dir={out}",
            "--env.conditioning=none",
            "--iterations=2",
            *TINY,
            *v,
        ],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    meta = json.loads((out / "export" / "lmo.json").read_text())["training"]
    assert meta["exported_iteration"] == 2
    record = meta["validation"][0]
    ev = subprocess.run(
        [
            str(BIN / "wbvla-eval-lmo"),
            f"--policies=[{out / 'export'}]",
            "--scenarios=[perturbation]",
            "--perturbation.episodes=3",
            "--perturbation.episode_s=1.5",
            "--perturbation.clips=2",
            "--seed=17",
            "--clip_seed=2000",
            "--backend=torch",
            "--videos=0",
            "--progress=false",
            f"--output_dir={tmp_path / 'eval'}",
        ],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ev.returncode == 0, ev.stderr[-3000:]
    got = json.loads((tmp_path / "eval" / "results.json").read_text())["perturbation"]["per_policy"]
    (figures,) = got.values()
    assert figures["fall_rate"] == pytest.approx(record["fall_rate"])
    assert figures["com_margin_mean"] == pytest.approx(record["com_margin"], abs=1e-6)
