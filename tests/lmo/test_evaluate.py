"""wbvla-eval-lmo: confidence-interval math, episodes that are the same for every policy and every slot, metrics
that can fail (the PD stance falls when pushed hard, stands when left alone), latents from the policy's own LAM,
the output files, and one-line errors on bad input. Tiny settings: a few envs, 1.5-3 s episodes."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from lerobot_wbvla.lmo import eval_metrics as M
from lerobot_wbvla.lmo.clips import ClipLibrary
from lerobot_wbvla.lmo.env.config_env import DomainRandConfig
from lerobot_wbvla.lmo.evaluate import (
    EvalEnvConfig,
    EvalLMOConfig,
    LocomotionConfig,
    PerturbationConfig,
    SwayConfig,
    evaluate,
    main,
)
from lerobot_wbvla.lmo.layout import LayoutMismatchError, ObservationLayout

sys.path.insert(0, str(Path(__file__).parent))
from lmo_export_helpers import make_export  # noqa: E402


@pytest.fixture(scope="module")
def none_export(tmp_path_factory) -> Path:
    """A random-weight actor exported with the decoupled (`none`) layout: a policy with real observations."""
    return make_export(tmp_path_factory.mktemp("lmo_none") / "export", ObservationLayout("none"), seed=3)


@pytest.fixture(scope="module")
def latent_export(tmp_path_factory) -> Path:
    layout = ObservationLayout("latent", latent_dim=8, lam="wbvla-tests/lam", lam_revision="v1")
    return make_export(tmp_path_factory.mktemp("lmo_latent") / "export", layout, seed=4)


def _cfg(tmp_path: Path, policies: list[str], **kw) -> EvalLMOConfig:
    base = dict(
        policies=policies,
        output_dir=tmp_path / "eval",
        scenarios=["perturbation"],
        env=EvalEnvConfig(num_envs=4, terrain=False),
        perturbation=PerturbationConfig(episodes=4, episode_s=2.0, clips=3),
        videos=0,
        progress=False,
    )
    base.update(kw)
    return EvalLMOConfig(**base)


def _per_episode(results: dict, label: str) -> list[dict]:
    return results["perturbation"]["per_policy"][label]["per_episode"]


# ---------------------------------------------------------------------------------------------- statistics
def test_wilson_and_newcombe_intervals_match_published_values():
    lo, hi = M.wilson_ci(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)  # z^2 / (n + z^2)
    assert M.wilson_ci(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert M.wilson_ci(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    # Newcombe (1998), Stat. Med. 17:873, example (a): 56/70 vs 48/80 -> 0.2000 [0.0524, 0.3339] (method 10)
    d, lo, hi = M.newcombe_diff_ci(56, 70, 48, 80)
    assert (d, lo, hi) == pytest.approx((0.2, 0.0524, 0.3339), abs=1e-4)
    m, lo, hi = M.mean_ci(np.array([1.0, 2.0, 3.0, np.nan]))
    assert m == 2.0 and hi - m == pytest.approx(1.959964 * 1.0 / np.sqrt(3), rel=1e-5)
    with pytest.raises(ValueError):
        M.wilson_ci(3, 2)


def test_commanded_path_and_sway_math():
    dt, steps = 0.02, 100
    loco = np.zeros((2, steps, 4))
    loco[0, :, 0] = 0.5  # straight ahead from yaw 90 deg: +y in the world
    loco[1, :, 2] = 1.0  # turn in place
    pos, yaw = M.commanded_path(loco, np.zeros((2, 2)), np.array([np.pi / 2, 0.0]), dt)
    np.testing.assert_allclose(pos[0, -1], [0.0, 1.0], atol=1e-9)
    assert yaw[1, -1] == pytest.approx(2.0)
    com = np.zeros((1, 4, 2))
    com[0, :, 0] = [0.01, -0.01, 0.01, -0.01]
    assert M.com_sway(com, np.ones((1, 4), bool))[0] == pytest.approx(0.01)


# ---------------------------------------------------------------------------------------------- episodes
def test_same_seeds_give_identical_results_and_episodes_do_not_depend_on_their_slot(tmp_path, none_export):
    a = evaluate(_cfg(tmp_path / "a", [f"rand={none_export}", "pd_stand", f"again={none_export}"]))
    b = evaluate(_cfg(tmp_path / "b", [f"rand={none_export}", "pd_stand"]))
    assert _per_episode(a, "rand") == _per_episode(b, "rand") == _per_episode(a, "again")
    pooled = a["perturbation"]["pooled"]["none"]  # exports of one conditioning pooled (seeds of a training)
    assert pooled["policies"] == ["rand", "again"] and pooled["episodes"] == 8
    assert pooled["falls"] == 2 * a["perturbation"]["per_policy"]["rand"]["falls"]
    assert _per_episode(a, "pd_stand") == _per_episode(b, "pd_stand")
    # every policy faced the same robots, payloads and first clips
    assert a["perturbation"]["same_episodes"]
    payloads = [e["payload_kg"] for e in _per_episode(a, "rand")]
    assert len({tuple(p) for p in payloads}) == 4 and all(min(p) >= 0 and sum(p) <= 3 for p in payloads)
    # 3 envs: episode 3 runs in a second wave, in a used slot, next to other episodes -- same result
    c = evaluate(_cfg(tmp_path / "c", ["pd_stand"], env=EvalEnvConfig(num_envs=3, terrain=False)))
    assert _per_episode(c, "pd_stand") == _per_episode(a, "pd_stand")


def _pushes(force: tuple[float, float]) -> DomainRandConfig:
    return dataclasses.replace(
        DomainRandConfig().off(),
        enabled=True,
        push_force_n=force,
        push_interval_s=(0.2, 0.4),
        push_duration_s=0.4,
    )


def test_pd_stand_falls_under_heavy_pushes_and_stands_without_perturbation(tmp_path):
    quiet = PerturbationConfig(
        episodes=4, episode_s=3.0, arms="stance", domain_rand=DomainRandConfig(enabled=False)
    )
    stands = evaluate(_cfg(tmp_path / "quiet", ["pd_stand"], perturbation=quiet))["perturbation"][
        "per_policy"
    ]
    m = stands["pd_stand"]
    assert m["fall_rate"] == 0.0 and m["fall_rate_ci"][0] == 0.0 and m["com_margin_min"] > 0.01
    pushed = dataclasses.replace(quiet, domain_rand=_pushes((350.0, 450.0)))
    falls = evaluate(_cfg(tmp_path / "pushed", ["pd_stand"], perturbation=pushed))["perturbation"][
        "per_policy"
    ]
    m = falls["pd_stand"]
    assert m["fall_rate"] == 1.0 and m["com_margin_worst"] < 0.0
    assert all(e["pushes"] and e["pushes"][0][1] >= 350 for e in m["per_episode"])


# ---------------------------------------------------------------------------------------------- latents
def _fake_attach(calls: list, dim: int):
    """Stands in for lmo.latents.attach_latents (no LAM here): random z_t of `dim` per clip step."""

    def attach(library, lam, lam_revision=None, progress=False, **kw):
        calls.append((lam, lam_revision))
        rng = np.random.default_rng(0)
        clips = [dataclasses.replace(c, latent=rng.standard_normal((c.num_steps, dim))) for c in library]
        return ClipLibrary(clips, {"lam": lam, "lam_revision": lam_revision, "latent_dim": dim})

    return attach


def test_latent_policies_get_the_latents_of_their_own_lam(tmp_path, latent_export):
    calls: list = []
    res = evaluate(_cfg(tmp_path, [f"z={latent_export}", "untrained"]), attach=_fake_attach(calls, 8))
    assert calls == [("wbvla-tests/lam", "v1")]  # once per scenario and LAM, shared with `untrained`
    untrained = next(p for p in res["policies"] if p["label"] == "untrained")
    assert untrained["layout"]["latent_dim"] == 8 and untrained["conditioning"] == "latent"
    with pytest.raises(LayoutMismatchError, match="latent_dim=8"):  # a LAM with another latent size
        evaluate(_cfg(tmp_path / "dim", [str(latent_export)]), attach=_fake_attach([], 16))
    with pytest.raises(LayoutMismatchError, match="other/lam"):  # --lam naming another LAM
        evaluate(_cfg(tmp_path / "lam", [str(latent_export)], lam="other/lam"), attach=_fake_attach([], 8))


def test_latent_policy_with_a_real_lam(tmp_path, tiny_lam_dir):
    """The real path: lmo.latents.attach_latents renders the evaluation clip and labels it with the policy's LAM."""
    from lerobot_wbvla.lam.modeling_lam import load_lam_config
    from lerobot_wbvla.lmo.latents import lam_latent_dim

    dim = lam_latent_dim(load_lam_config(tiny_lam_dir))
    layout = ObservationLayout("latent", latent_dim=dim, lam=str(tiny_lam_dir))
    export = make_export(tmp_path / "export", layout, seed=5)
    cfg = _cfg(
        tmp_path,
        [f"z={export}"],
        perturbation=PerturbationConfig(episodes=2, episode_s=1.0, arms="stance"),
        env=EvalEnvConfig(num_envs=2, terrain=False),
        latent_cache_dir=tmp_path / "cache",
    )
    res = evaluate(cfg)
    assert res["perturbation"]["per_policy"]["z"]["episodes"] == 2
    assert any((tmp_path / "cache").rglob("*"))  # the clip's latents were computed and cached


# ---------------------------------------------------------------------------------------------- outputs
def test_outputs_table_plots_and_videos(tmp_path, none_export):
    cfg = _cfg(
        tmp_path,
        [f"rand={none_export}", "pd_stand", "untrained"],
        scenarios=["perturbation", "locomotion", "sway"],
        perturbation=PerturbationConfig(episodes=2, episode_s=1.5, clips=2),
        locomotion=LocomotionConfig(
            episodes=1,
            episode_s=1.5,
            settle_s=0.5,
            commands={"forward_0.3": [0.3, 0, 0], "turn_0.5": [0, 0, 0.5]},
        ),
        sway=SwayConfig(episodes=1, episode_s=1.5, settle_s=0.5),
        env=EvalEnvConfig(num_envs=2, terrain=False),
        videos=1,
        video_size=(48, 64),
    )
    res = evaluate(cfg)
    out = cfg.output_dir
    for name in ("results.json", "results.md", "fall_rates.png", "com_margin.png", "velocity_tracking.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "results.json").read_text())["policies"] == res["policies"]
    lines = (out / "results.md").read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("| policy | conditioning |"))
    rows = []
    for line in lines[first + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    assert [r.split("|")[1].strip() for r in rows] == ["`rand`", "`pd_stand`", "`untrained`"]
    assert "fall rate [95% CI]" in lines[first] and "forward_0.3 vel err (m/s)" in lines[first]
    videos = res["files"]["videos"]
    assert len(videos) == 3 and all(Path(v).suffix == ".mp4" for v in videos)
    import av

    with av.open(videos[1]) as container:  # pd_stand stands through its 1.5 s: 25 fps -> ~37 frames
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and sum(1 for _ in container.decode(stream)) >= 30
    loco = res["locomotion"]["per_policy"]["pd_stand"]
    assert loco["forward_0.3"]["position_error_m"] == pytest.approx(0.45, abs=0.05)  # it does not walk
    assert loco["turn_0.5"]["heading_error_rad"] == pytest.approx(0.75, abs=0.05)
    sway = res["sway"]["per_policy"]["pd_stand"]
    assert 0 <= sway["stand"]["com_sway_m"] < 0.02 and sway["squat"]["height_target_m"] == 0.58


# ---------------------------------------------------------------------------------------------- CLI
@pytest.mark.parametrize(
    "args, message",
    [
        (["--policies=[/nonexistent/lmo/export, pd_stand]"], "No such directory"),
        (["--policies=[pd_stand]", "--scenarios=[juggling]"], "juggling"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path, args, message):
    monkeypatch.setattr(sys, "argv", ["wbvla-eval-lmo", f"--output_dir={tmp_path / 'out'}", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    errors = [line for line in err if line.startswith("wbvla-eval-lmo: error:")]
    assert len(errors) == 1 and message in errors[0] and not any("Traceback" in line for line in err)


def test_a_cli_flag_on_a_scenario_randomization_keeps_the_scenario_ranges():
    # draccus builds a nested config from its declared class's defaults when any of its fields is given: the
    # perturbation's 0-3 kg / 0-60 N must survive `--perturbation.domain_rand.friction=...` (they used to fall
    # back to the training's 0-5 kg / 0-50 N), and the quiet scenarios keep their no-payload, no-push ranges.
    import draccus

    args = ["--policies=[pd_stand]", "--perturbation.domain_rand.friction=[1.0,1.0]"]
    args += ["--sway.domain_rand.friction=[1.0,1.0]", "--locomotion.domain_rand.payload_split=equal"]
    cfg = draccus.parse(EvalLMOConfig, args=args)
    p = cfg.perturbation.domain_rand
    assert (p.friction, p.payload_kg, p.push_force_n) == ((1.0, 1.0), (0.0, 3.0), (0.0, 60.0))
    for quiet in (cfg.sway.domain_rand, cfg.locomotion.domain_rand):
        assert (quiet.payload_kg, quiet.push_force_n) == ((0.0, 0.0), (0.0, 0.0))
    assert cfg.locomotion.domain_rand.payload_split == "equal" and cfg.sway.domain_rand.friction == (1.0, 1.0)
