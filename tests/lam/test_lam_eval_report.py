"""wbvla-lam-eval's report: per-class recall and confusion matrices, code use by class, the untrained twin as a
reference, every pair by default, and probing on a second video folder (lam/report.py, lam/reference.py,
lam/probe_domain.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from lerobot_wbvla.lam.configuration_lam import LAMConfig, MLPLAMConfig, PixelEncoderConfig


def _tiny_config(seed_frame_gap: int = 2) -> LAMConfig:
    return LAMConfig(
        encoder=PixelEncoderConfig(image_size=16, patch_size=8),
        model=MLPLAMConfig(
            latent_dim=8,
            num_codes=2,
            codebook_size=8,
            token_dim=8,
            inverse_hidden=[32],
            forward_hidden=[32],
        ),
        frame_gap=seed_frame_gap,
    )


# ---- pure functions: fast, no video


def test_probe_recall_and_confusion_agree_and_name_the_classes() -> None:
    from lerobot_wbvla.lam.probes import linear_probe

    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    train_y = np.repeat([0, 1, 2], 30)
    train_x = centers[train_y] + rng.normal(0, 0.3, (len(train_y), 2))
    # Test: classes 0 and 1 are where they were; class 2 sits on class 0's centre (must be confused with it), and
    # class 3 was never trained on (recall 0).
    test_y = np.repeat([0, 1, 2, 3], [10, 10, 5, 4])
    test_x = np.concatenate([centers[[0] * 10 + [1] * 10 + [0] * 5], np.full((4, 2), 5.0)])
    names = ["stand", "walk", "turn", "squat"]
    res = linear_probe(train_x, train_y, test_x, test_y, class_names=names)
    assert res.confusion_classes == names
    conf = np.asarray(res.confusion)
    assert conf.sum() == len(test_y) and conf.sum(1).tolist() == [10, 10, 5, 4]
    assert res.per_class_recall == {"stand": 1.0, "walk": 1.0, "turn": 0.0, "squat": 0.0}
    assert conf[2, 0] == 5  # turn predicted as stand
    for i, name in enumerate(names):
        assert res.per_class_recall[name] == pytest.approx(conf[i, i] / conf[i].sum())
    assert res.balanced_accuracy == pytest.approx(np.mean(list(res.per_class_recall.values())))
    assert res.accuracy == pytest.approx(np.trace(conf) / conf.sum())


def test_code_use_by_class_overlap_is_the_histogram_intersection() -> None:
    from lerobot_wbvla.lam.report import code_use_by_class

    # 2 code slots. Slot 0: a uses codes 0/1 half-half, b only 1, c only 2. Slot 1: a and b use 3, c uses 4.
    codes = np.array([[0, 3], [1, 3], [1, 3], [1, 3], [2, 4], [2, 4], [5, 5]])
    labels = np.array([0, 0, 1, 1, 2, 2, -1])  # the last pair has no label: left out
    out = code_use_by_class(codes, labels, codebook_size=8, class_names=["a", "b", "c"])
    assert out["classes"] == ["a", "b", "c"] and out["n_pairs"] == {"a": 2, "b": 2, "c": 2}
    ov = np.asarray(out["overlap"])
    assert np.allclose(np.diag(ov), 1.0)
    assert ov[0, 1] == pytest.approx((0.5 + 1.0) / 2) and ov[0, 2] == 0 and ov[1, 2] == 0
    assert np.allclose(ov, ov.T)
    assert out["most_shared"][0] == {"classes": ["a", "b"], "overlap": 0.75}
    assert out["top_codes"]["b"][0] == {"slot": 0, "code": 1, "share": 1.0}
    assert code_use_by_class(codes[-1:], labels[-1:], 8, ["a"]) is None


def test_untrained_twin_is_the_initial_model_with_the_trained_normaliser() -> None:
    from lerobot_wbvla.lam.modeling_lam import LatentActionModel
    from lerobot_wbvla.lam.reference import untrained_twin

    torch.manual_seed(3)
    initial = LatentActionModel(_tiny_config())
    torch.manual_seed(3)
    trained = LatentActionModel(_tiny_config())
    tok = torch.randn(64, trained.num_tokens, trained.token_dim)
    trained.fit_normalizer(tok, tok + 0.1 * torch.randn_like(tok))
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(0.05)  # "training"
    state = torch.random.get_rng_state()
    twin = untrained_twin(trained, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state), "the global RNG must be left as it was"
    init_sd, twin_sd, trained_sd = initial.state_dict(), twin.state_dict(), trained.state_dict()
    for key, value in twin_sd.items():
        if key.startswith("normalizer."):
            assert torch.equal(value, trained_sd[key]), key
        else:
            assert torch.equal(value, init_sd[key]), key
    assert bool(twin.normalizer.fitted) and not twin.training
    other = untrained_twin(trained, seed=4)
    assert not torch.equal(next(other.dynamics.parameters()), next(twin.dynamics.parameters()))


# ---- end to end on generated video


@pytest.fixture(scope="module")
def trained_lam(lam_ego_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny LAM trained 40 steps with seed 5 on the train clips (run folder with train_config.json)."""
    from lerobot_wbvla.lam.data import LAMDataConfig
    from lerobot_wbvla.lam.train import TrainLAMConfig, train

    tmp = tmp_path_factory.mktemp("lam_eval_report")
    cfg = TrainLAMConfig(
        data=LAMDataConfig(video_root=lam_ego_root, cache_dir=tmp / "cache", split="train", frame_gap=2),
        lam=_tiny_config(),
        output_dir=tmp / "run",
        steps=40,
        batch_size=16,
        seed=5,
        log_every=20,
        save_every=40,
        num_threads=1,
        progress=False,
    )
    result = train(cfg)
    return result.pretrained_dir, tmp / "cache"


@pytest.fixture(scope="module")
def unsplit_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second folder (other seed, other size and frame rate) whose labels.jsonl has no held-out clip."""
    from lerobot_wbvla.datasets.egovideo import EgoVideoConfig, generate

    return generate(
        EgoVideoConfig(
            out_dir=tmp_path_factory.mktemp("lam_ego_other") / "ego",
            num_clips=6,
            height=40,
            width=40,
            fps=20,
            clip_seconds=1.5,
            heldout_fraction=0.0,
            seed=11,
            contact_sheet=False,
        )
    )


def test_eval_reports_recall_confusion_reference_and_every_pair(
    trained_lam, lam_ego_root: Path, tmp_path: Path, caplog
) -> None:
    from lerobot_wbvla.datasets import NO_LABEL, FeatureCache, FeaturePairDataset
    from lerobot_wbvla.lam.data import LAMDataConfig
    from lerobot_wbvla.lam.evaluate import EvalLAMConfig, evaluate

    lam_dir, cache = trained_lam
    out = tmp_path / "eval"
    cfg = EvalLAMConfig(
        lam=str(lam_dir),
        data=LAMDataConfig(video_root=lam_ego_root, cache_dir=cache),
        # the same folder as the second domain: its transfer and refit probes must equal the main probes
        probe_data=LAMDataConfig(video_root=lam_ego_root, cache_dir=cache),
        output_dir=out,
        num_threads=1,
    )
    with caplog.at_level(logging.INFO, logger="lerobot_wbvla.lam.evaluate"):
        report = evaluate(cfg)
    assert json.loads((out / "eval_report.json").read_text()) == json.loads(json.dumps(report))
    for png in (
        "eval_report.png",
        "eval_confusion.png",
        "eval_confusion_transfer.png",
        "eval_confusion_refit.png",
    ):
        assert (out / png).read_bytes()[:4] == b"\x89PNG", png

    # Every pair by default: as many as the pair index has (held-out for eval, labelled train pairs for the probe).
    (cache_dir,) = [p for p in cache.iterdir() if p.is_dir()]
    held = FeaturePairDataset(FeatureCache(cache_dir), frame_gap=2, split="heldout")
    train = FeaturePairDataset(FeatureCache(cache_dir), frame_gap=2, split="train")
    held_labels, train_labels = np.asarray(held.labels), np.asarray(train.labels)
    assert report["eval"]["n_pairs"] == len(held)
    z, codes = report["probes"]["z_probe"], report["probes"]["code_probe"]
    assert z["n_test"] == codes["n_test"] == int((held_labels != NO_LABEL).sum())
    assert z["n_train"] == int((train_labels != NO_LABEL).sum())

    names = report["class_names"]
    present = {names[i] for i in np.unique(held_labels[held_labels != NO_LABEL])}
    for probe in (z, codes):
        assert set(probe["per_class_recall"]) == present
        conf = np.asarray(probe["confusion"])
        assert conf.sum() == probe["n_test"]
        for name, recall in probe["per_class_recall"].items():
            i = probe["confusion_classes"].index(name)
            assert 0.0 <= recall <= 1.0 and recall == pytest.approx(conf[i, i] / conf[i].sum())
        assert probe["accuracy"] == pytest.approx(np.trace(conf) / conf.sum())
    use = report["code_use_by_class"]
    assert set(use["classes"]) == present and sum(use["n_pairs"].values()) == z["n_test"]

    # The untrained twin: seed read from the run's train_config.json, same pairs, other figures.
    ref = report["reference_untrained"]
    assert ref["seed"] == 5
    assert ref["eval"]["n_pairs"] == report["eval"]["n_pairs"]
    assert ref["probes"]["z_probe"]["n_test"] == z["n_test"]
    assert ref["eval"]["forward_error"] != report["eval"]["forward_error"]

    # Same folder as --probe_data: transfer = refit = the main probes; both models reported.
    domain = report["probe_domain"]
    assert domain["split"].startswith("the train and heldout clips")
    for kind in ("transfer", "refit"):
        assert domain[kind]["method"]
        assert domain[kind]["trained"] == report["probes"]
        assert domain[kind]["untrained"] == ref["probes"]
    assert domain["eval"]["trained"] == report["eval"]

    log = caplog.text
    assert "per-class recall" in log and "z:trained" in log and "codes:untrained" in log
    for name in present:
        assert name in log


def test_eval_probes_a_second_folder_without_splits_and_samples_on_request(
    trained_lam, lam_ego_root: Path, unsplit_video: Path, tmp_path: Path
) -> None:
    from lerobot_wbvla.lam.data import LAMDataConfig
    from lerobot_wbvla.lam.evaluate import EvalLAMConfig, evaluate

    lam_dir, cache = trained_lam
    cfg = EvalLAMConfig(
        lam=str(lam_dir),
        data=LAMDataConfig(video_root=lam_ego_root, cache_dir=cache),
        probe_data=LAMDataConfig(video_root=unsplit_video),
        output_dir=tmp_path / "eval",
        max_pairs=30,
        reference_untrained=False,
        num_threads=1,
    )
    report = evaluate(cfg)
    assert "reference_untrained" not in report
    assert report["eval"]["n_pairs"] == 30 and report["probes"]["z_probe"]["n_train"] == 30
    domain = report["probe_domain"]
    assert domain["split"].startswith("2 of 6 clips held out")  # round(0.25 * 6) = 2
    assert domain["n_test_pairs"] <= 30 and domain["n_train_pairs"] <= 30
    assert (tmp_path / "eval" / "probe_feature_cache").is_dir()  # the second folder is cached apart
    for kind in ("transfer", "refit"):
        probes = domain[kind]["trained"]
        assert set(probes) == {"z_probe", "code_probe"} and "untrained" not in domain[kind]
        for probe in probes.values():
            assert probe["n_test"] == domain["n_test_labelled_pairs"] > 0
            assert all(0.0 <= r <= 1.0 for r in probe["per_class_recall"].values())
    # the transfer probe was fit on --data's train pairs, the refit one on the second folder's
    assert domain["transfer"]["trained"]["z_probe"]["n_train"] == 30
    assert domain["refit"]["trained"]["z_probe"]["n_train"] == domain["n_train_pairs"]
