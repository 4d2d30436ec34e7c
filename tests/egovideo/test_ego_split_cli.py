"""Train/held-out split by seed, config errors, the CLI and atomic output."""

from __future__ import annotations

from pathlib import Path

import pytest

from lerobot_wbvla.datasets.egovideo import EgoVideoConfig, read_labels
from lerobot_wbvla.datasets.egovideo.generate import main
from lerobot_wbvla.datasets.egovideo.palettes import HELDOUT_PALETTES, TRAIN_PALETTES
from lerobot_wbvla.datasets.egovideo.render import plan
from lerobot_wbvla.datasets.egovideo.split import assign_seeds, split_of_seed


def test_heldout_split_is_disjoint_and_fixed_per_seed(ego_root: Path, ego_cfg: EgoVideoConfig) -> None:
    records = read_labels(ego_root)
    train = {r.seed for r in records if r.split == "train"}
    heldout = {r.seed for r in records if r.split == "heldout"}
    assert len(heldout) == 3 and len(train) == 12 and not train & heldout
    for r in records:
        assert split_of_seed(r.seed, ego_cfg.heldout_fraction, 12) == r.split

    small = assign_seeds(0, 40, 0.2, 12)
    large = assign_seeds(0, 400, 0.2, 12)
    assert sum(s == "heldout" for _, s in small) == 8 and sum(s == "heldout" for _, s in large) == 80
    large_split = dict(large)
    assert all(large_split.get(seed, split) == split for seed, split in small)  # a seed never changes split
    assert len({seed for seed, _ in large}) == 400
    other_base = {seed for seed, _ in assign_seeds(1, 400, 0.2, 12)}
    assert not other_base & set(large_split)


def test_heldout_palettes_are_never_used_by_train_clips() -> None:
    cfg = EgoVideoConfig(height=32, width=32, clip_seconds=1.0, heldout_palettes=True)
    held = {p.name for p in HELDOUT_PALETTES}
    train = {p.name for p in TRAIN_PALETTES}
    for seed, split in assign_seeds(0, 12, 0.25, 12):
        assert plan(seed, split, cfg).palette in (held if split == "heldout" else train)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"width": 63}, "even"),
        ({"primitives": ["walk_forward", "moonwalk"]}, "moonwalk"),
        ({"heldout_fraction": 1.0}, "heldout_fraction"),
        ({"clip_seconds": 0.1}, "clip_seconds"),
    ],
)
def test_bad_config_is_refused_with_the_field_name(change: dict, message: str, tmp_path: Path) -> None:
    from lerobot_wbvla.datasets.egovideo import generate

    with pytest.raises(ValueError, match=message):
        generate(EgoVideoConfig(out_dir=tmp_path / "x", **change))
    assert not (tmp_path / "x").exists()


def test_cli_writes_dataset_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cli"
    args = [
        f"--out_dir={out}",
        "--num_clips=2",
        "--height=32",
        "--width=32",
        "--clip_seconds=0.5",
        "--fps=16",
        "--heldout_fraction=0.5",
        "--primitives=[turn_left,squat]",
    ]
    main(args)  # the console script's entry point, in-process (a subprocess would re-import torch)
    records = read_labels(out)
    assert [r.primitive for r in records] == ["turn_left", "turn_left"]  # seed 0 (train) and a held-out seed
    assert sorted(r.split for r in records) == ["heldout", "train"] and all(r.n_frames == 8 for r in records)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind

    capsys.readouterr()  # the first run's progress bars
    with pytest.raises(SystemExit) as exc:  # bad input: one error line, exit 2, the dataset kept
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wbvla-gen-egovideo: error:") and "--overwrite=true" in err[0]
    assert len(read_labels(out)) == 2
    main([*args, "--overwrite=true", "--primitives=[squat]"])
    assert {r.primitive for r in read_labels(out)} == {"squat"}

    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert "held-out seeds" in help_text and "squat_depth" in help_text
