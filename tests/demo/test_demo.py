"""The README's main job (`wbvla-demo`) runs end to end as a CLI on tiny settings and leaves what it promises:
a loadable LAM, training curves, a held-out evaluation report and plot, and a summary naming them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch


def test_demo_generates_trains_evaluates_and_reports(tmp_path, subprocess_env):
    out = tmp_path / "demo"
    cmd = [
        str(Path(sys.executable).with_name("wbvla-demo")),
        f"--output_dir={out}",
        "--num_clips=16",
        "--video_size=48",
        "--heldout_fraction=0.25",
        "--num_workers=1",
        "--train_steps=30",
        "--train_minutes=2",
        "--batch_size=16",
    ]
    proc = subprocess.run(cmd, env=subprocess_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads((out / "demo_summary.json").read_text())
    assert summary["steps"] == 30
    model_dir = Path(summary["model"])
    assert (model_dir / "config.json").is_file() and (model_dir / "model.safetensors").is_file()
    assert str(model_dir) in proc.stdout  # the job says where the model went
    report = json.loads(Path(summary["eval_report"]).read_text())
    assert report["eval_split"] == "heldout" and report["eval"]["n_pairs"] > 0
    assert 0.0 <= report["probes"]["z_probe"]["accuracy"] <= 1.0
    assert Path(summary["eval_plot"]).stat().st_size > 1000

    from lerobot_wbvla.lam.modeling_lam import LatentActionModel

    lam = LatentActionModel.from_pretrained(str(model_dir))
    assert sum(p.numel() for p in lam.parameters()) > 0 and all(
        torch.isfinite(p).all() for p in lam.parameters()
    )

    # A second run into the same folder refuses instead of mixing two runs.
    again = subprocess.run(cmd, env=subprocess_env, capture_output=True, text=True, timeout=600)
    assert again.returncode != 0 and "--overwrite=true" in again.stderr
