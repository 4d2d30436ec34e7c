"""The LAM CLIs are easy to drive: a complete and fast --help, --lam.preset, --progress=false, str paths.

The --help and error-line cases run the commands as subprocesses (what a user sees); the preset semantics are
checked in-process through `run_cli` with a stand-in for the training function.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
import typing
from pathlib import Path

import draccus
import pytest

from lerobot_wbvla.lam.cli import _doc, run_cli
from lerobot_wbvla.lam.configuration_lam import (
    HFVisionEncoderConfig,
    LAMConfig,
    MLPLAMConfig,
    PixelEncoderConfig,
    STTransformerLAMConfig,
)
from lerobot_wbvla.lam.data import LAMDataConfig
from lerobot_wbvla.lam.evaluate import EvalLAMConfig
from lerobot_wbvla.lam.label import LabelConfig
from lerobot_wbvla.lam.presets import LAM_PRESETS, lam_preset
from lerobot_wbvla.lam.train import TrainLAMConfig

CLIS = {
    "lerobot_wbvla.lam.train": TrainLAMConfig,
    "lerobot_wbvla.lam.evaluate": EvalLAMConfig,
    "lerobot_wbvla.lam.label": LabelConfig,
}
HEAVY = ("torch", "transformers", "lerobot", "accelerate", "sklearn", "matplotlib", "datasets")
# A tqdm bar as it reaches a captured stderr: "... 40%|####      | 2/5 [00:01<00:02, 1.5it/s]".
TQDM_BAR = re.compile(r"\d+%\||\| *\d+/\d+ \[|it/s\]|s/it\]")


def _run(module: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", module, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _leaf_flags(cls: type, prefix: str = "") -> dict[str, tuple[type, str]]:
    """Every flag of a config class, the fields of every choice class included: flag -> (class, field)."""
    out: dict[str, tuple[type, str]] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if isinstance(tp, type) and issubclass(tp, draccus.ChoiceRegistry):
            out[f"--{prefix}{f.name}.type"] = (tp, "type")
            for choice in tp.get_known_choices().values():
                out.update(_leaf_flags(choice, f"{prefix}{f.name}."))
        elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
            out.update(_leaf_flags(tp, f"{prefix}{f.name}."))
        else:
            out[f"--{prefix}{f.name}"] = (cls, f.name)
    return out


@pytest.mark.parametrize("module", list(CLIS))
def test_help_shows_every_nested_field_with_its_doc_quickly(module: str) -> None:
    start = time.perf_counter()
    proc = _run(module, "--help")
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert seconds < 5.0, f"{module} --help took {seconds:.1f} s"
    text = proc.stdout
    flat = " ".join(text.split())
    flags = _leaf_flags(CLIS[module])
    assert len(flags) > 10
    for flag, (cls, name) in flags.items():
        assert re.search(rf"^\s*{re.escape(flag)} ", text, re.M), f"{flag} missing from {module} --help"
        if name != "type":
            doc = _doc(cls, name)
            assert doc, f"{cls.__name__}.{name} has no doc comment"
            assert doc[:40] in flat, f"the doc of {flag} is missing from {module} --help"
    if module.endswith("train"):
        # the fields LeRobot's scoped help hid, under their choice's heading, and the presets
        for needle in (
            "when --lam.encoder.type=pixel:",
            "--lam.encoder.image_size int",
            "--lam.model.decoder str",
        ):
            assert needle in text
        for name in LAM_PRESETS:
            assert re.search(rf"^  {name}$", text, re.M)


def test_cli_modules_import_nothing_heavy() -> None:
    """What makes --help fast: importing the three CLI modules pulls in none of the heavy libraries."""
    code = (
        "import sys, lerobot_wbvla.lam.train, lerobot_wbvla.lam.evaluate, lerobot_wbvla.lam.label; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_help_with_a_preset_shows_the_preset_values_as_defaults() -> None:
    proc = _run("lerobot_wbvla.lam.train", "--lam.preset=cpu", "--help")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"--lam.encoder.type \{hf_vision,pixel\}\s+Which type. \(default: pixel\)", proc.stdout)
    assert "when --lam.encoder.type=pixel (default):" in proc.stdout


def test_presets_registry() -> None:
    assert list(LAM_PRESETS) == ["cpu", "cpu_mlp", "article", "univla"]
    article = lam_preset("article")
    assert isinstance(article.encoder, HFVisionEncoderConfig) and article.encoder.tokens == "cls"
    assert isinstance(article.model, MLPLAMConfig)
    m = article.model
    assert (m.latent_dim, m.num_codes, m.codebook_size, m.token_dim) == (256, 1, 512, 768)
    assert m.inverse_hidden == m.forward_hidden == [1024, 512] and article.frame_gap == 2
    univla = lam_preset("univla")
    assert isinstance(univla.encoder, HFVisionEncoderConfig) and univla.encoder.tokens == "patch"
    assert isinstance(univla.model, STTransformerLAMConfig)
    assert (univla.model.num_codes, univla.model.codebook_size) == (4, 16)
    cpu = lam_preset("cpu")
    assert isinstance(cpu.encoder, PixelEncoderConfig) and cpu.model.type == "conv"
    assert (cpu.model.num_codes, cpu.model.codebook_size, cpu.frame_gap) == (16, 16, 10)
    assert lam_preset("cpu_mlp").model.type == "mlp"
    for name in LAM_PRESETS:
        assert lam_preset(name).preset == name
    assert lam_preset("cpu") is not lam_preset("cpu")  # fresh objects: callers may change them
    with pytest.raises(ValueError, match="choose one of cpu, cpu_mlp, article, univla") as err:
        lam_preset("gpu")
    assert "\n" not in str(err.value)


def _parse_train(args: list[str], monkeypatch: pytest.MonkeyPatch) -> TrainLAMConfig:
    monkeypatch.setattr(sys, "argv", ["wbvla-train-lam"])
    got: list[TrainLAMConfig] = []
    run_cli("wbvla-train-lam", TrainLAMConfig, got.append, args=args, presets=True)
    return got[0]


def test_preset_sets_defaults_and_flags_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = _parse_train(["--lam.preset=cpu", "--lam.model.latent_dim=64", "--steps=7"], monkeypatch)
    expected = lam_preset("cpu")
    expected.model.latent_dim = 64
    assert cfg.lam == expected and cfg.steps == 7 and cfg.lam.preset == "cpu"
    # no preset: the LAMConfig defaults, nothing recorded
    assert _parse_train([], monkeypatch).lam == LAMConfig()
    # another model type than the preset's: that part starts from the chosen type's defaults
    cfg = _parse_train(["--lam.preset", "cpu", "--lam.model.type=st_transformer"], monkeypatch)
    assert cfg.lam.model == STTransformerLAMConfig() and cfg.lam.encoder == lam_preset("cpu").encoder
    # a --config_path file overrides the preset, flags override both
    user = tmp_path / "user.yaml"
    user.write_text("steps: 11\nlam:\n  encoder:\n    image_size: 48\n  model:\n    num_codes: 2\n")
    cfg = _parse_train(["--lam.preset=cpu", f"--config_path={user}", "--lam.model.num_codes=3"], monkeypatch)
    assert (cfg.steps, cfg.lam.encoder.image_size, cfg.lam.model.num_codes) == (11, 48, 3)
    assert cfg.lam.model.codebook_size == 16  # still the preset's


def test_unknown_preset_is_one_error_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _run("lerobot_wbvla.lam.train", "--lam.preset=gpu", f"--output_dir={out}", "--data.video_root=x")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert (
        lines[0].startswith("wbvla-train-lam: error: --lam.preset='gpu'")
        and "cpu, cpu_mlp, article, univla" in lines[0]
    )
    assert not out.exists()


def test_str_paths_are_coerced_and_work(
    lam_ego_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from lerobot_wbvla.lam.data import build_caches, make_sources
    from lerobot_wbvla.lam.encoders import make_encoder

    data = LAMDataConfig(video_root=str(lam_ego_root), cache_dir=str(tmp_path / "cache"), dataset_root="d")
    assert all(isinstance(p, Path) for p in (data.video_root, data.cache_dir, data.dataset_root))
    assert isinstance(TrainLAMConfig(output_dir="o").output_dir, Path)
    assert isinstance(EvalLAMConfig(output_dir="o").output_dir, Path)
    label = LabelConfig(dataset_root="d", output="x.parquet")
    assert isinstance(label.dataset_root, Path) and isinstance(label.output, Path)
    # the case that broke: a str cache_dir handed on as the cache root
    data = LAMDataConfig(video_root=str(lam_ego_root), cache_dir=str(tmp_path / "cache"))
    enc_cfg = PixelEncoderConfig(image_size=16, patch_size=8)
    caches = build_caches(
        data, make_encoder(enc_cfg), enc_cfg, data.cache_dir, make_sources(data), progress=True
    )
    assert caches and all(c.cache_dir.is_relative_to(tmp_path / "cache") for c in caches.values())
    # progress=True shows the cache bar (the positive control of the no-bar checks below)
    assert TQDM_BAR.search(capsys.readouterr().err)


def test_default_target_offset_matches_the_datasets_constant() -> None:
    from lerobot_wbvla.datasets import DEFAULT_TARGET_OFFSET_S
    from lerobot_wbvla.lam.data import DEFAULT_TARGET_OFFSET_S as DATA_DEFAULT

    assert DATA_DEFAULT == DEFAULT_TARGET_OFFSET_S == LAMDataConfig().target_offset_s


TINY_CPU = [
    "--lam.preset=cpu",
    "--lam.encoder.image_size=16",
    "--lam.model.inverse_channels=[4,8]",
    "--lam.model.forward_channels=[4,8]",
    "--lam.model.action_channels=4",
    "--data.frame_gap=2",
    "--steps=3",
    "--batch_size=8",
    "--normalizer_pairs=64",
    "--log_every=1",
    "--num_threads=1",
]


def test_progress_false_prints_no_bar_and_the_preset_is_recorded(lam_ego_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = _run(
        "lerobot_wbvla.lam.train",
        f"--data.video_root={lam_ego_root}",
        f"--output_dir={run}",
        "--progress=false",
        *TINY_CPU,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not TQDM_BAR.search(proc.stderr), proc.stderr[-3000:]
    saved = json.loads((run / "pretrained_model" / "config.json").read_text())
    assert (
        saved["preset"] == "cpu"
        and saved["model"]["inverse_channels"] == [4, 8]
        and saved["model"]["type"] == "conv"
        and saved["encoder"]["type"] == "pixel"
    )
    assert "Preset `cpu`" in (run / "pretrained_model" / "README.md").read_text()

    # the evaluation builds its own feature cache (test_str_paths_are_coerced_and_work shows the bar when asked)
    quiet = _run(
        "lerobot_wbvla.lam.evaluate",
        f"--lam={run / 'pretrained_model'}",
        f"--data.video_root={lam_ego_root}",
        "--max_pairs=64",
        "--num_threads=1",
        f"--output_dir={tmp_path / 'eval'}",
        "--progress=false",
    )
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert not TQDM_BAR.search(quiet.stderr), quiet.stderr[-3000:]


def test_demo_and_benchmark_read_the_preset_flag_too() -> None:
    from lerobot_wbvla.demo import DemoConfig
    from lerobot_wbvla.lam.cli import parse_with_preset

    cfg = parse_with_preset("wbvla-demo", DemoConfig, ["--lam.preset=article", "--lam.model.num_codes=2"])
    assert cfg.lam.preset == "article" and cfg.lam.encoder.tokens == "cls" and cfg.lam.model.num_codes == 2
