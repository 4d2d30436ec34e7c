"""The committed benchmark results keep the layout the issues specify, meet the acceptance they were run for, and
still describe the code.

The figures come from long runs (`bench/*.py`, minutes to an hour) that the test suite does not repeat (it runs
each script on tiny settings only, test_bench_smoke.py); these tests check that what is committed is complete,
self-consistent and good enough, so a regenerated result that breaks the contract (a renamed key, a LAM that no
longer carries the motion) fails CI instead of slipping through; and that it is fresh: stamped with a commit after
which none of the code it measures changed (`bench/_results.py: stale_reason`), so old figures cannot stay in the
README unnoticed. A stale result fails with the benchmark to re-run.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest
from _results import stale_reason  # bench/_results.py (tests/bench/conftest.py puts bench/ on the path)

BENCH = Path(__file__).resolve().parents[2] / "bench"
RESULTS = BENCH / "results"
# Design sweeps: run once to choose a design, kept as a dated record in results/exploration/ (stamped, not smoke,
# not dirty) rather than re-run whenever the code they compared changes; the chosen design's own benchmark (e.g.
# lam_probe for lam_design) is the one kept fresh.
EXPLORATION = {"lam_design"}
SCRIPTS = sorted(
    p.stem for p in BENCH.glob("*.py") if not p.name.startswith("_") and p.stem not in EXPLORATION
)
# Results the issues ask for; their scripts are listed here too so that a missing script is noticed.
REQUIRED = sorted(
    {
        *SCRIPTS,
        "lam_probe",
        "lam_throughput",
        "sim_step",
        "scripted_success",
        "stand_balance",
        "record_throughput",
        "vla_latency",
        "vla_eval",
        "lmo_env_throughput",
        "lmo_export",
    }
)


def _load(name: str) -> dict:
    path = RESULTS / name
    assert path.is_file(), f"missing: run bench/{name.replace('.json', '.py')} (no {path})"
    return json.loads(path.read_text())


# Scripts that write a block of another script's result file instead of their own file.
WRITES_INTO = {"lmo_gpu": "lmo_backends"}  # the `gpu` block of lmo_backends.json, measured on a GPU


@pytest.mark.parametrize("name", REQUIRED)
def test_every_benchmark_has_a_committed_result(name: str):
    assert (BENCH / f"{name}.py").is_file(), f"missing: bench/{name}.py (its result {name}.json is required)"
    result = WRITES_INTO.get(name, name)
    assert (RESULTS / f"{result}.json").is_file(), (
        f"missing: run bench/{result}.py (no bench/results/{result}.json)"
    )


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*.json")), ids=lambda p: p.name)
def test_committed_result_is_stamped_and_fresh(path: Path):
    reason = stale_reason(path)
    assert reason is None, reason


@pytest.mark.parametrize("name", sorted(EXPLORATION))
def test_design_sweeps_have_a_stamped_record(name: str):
    assert (BENCH / f"{name}.py").is_file(), f"missing: bench/{name}.py"
    path = RESULTS / "exploration" / f"{name}.json"
    assert path.is_file(), f"missing: run bench/{name}.py --output={path}"
    for record in sorted(path.parent.glob(f"{name}*.json")):  # later sweeps of the same script, too
        source = json.loads(record.read_text())["source"]
        assert source["commit"] and source["dirty"] is False and not source.get("smoke"), (
            record.name,
            source,
        )


def _number(x) -> float:
    assert isinstance(x, (int, float)) and math.isfinite(x), x
    return float(x)


def _untrained_far_below(trained: dict, untrained: dict) -> None:
    """The untrained model of the same config carries little of the motion, and training adds most of it.

    Issue 2 set the untrained bar at 0.4 for the MLP preset of the time (0.21 / 0.19); issue 10 moved it to 0.5 for
    both domains when the `cpu` preset became the conv LAM: its untrained inverse net already maps the change image
    x_t+k - x_t through 512 random conv features, which a linear probe partly separates (z 0.41, codes 0.21).
    The gain from training is asserted too, so a reference creeping up cannot hide behind the looser bar."""
    for key in ("z_probe_accuracy", "code_probe_accuracy"):
        assert untrained[key] < 0.5, (key, untrained[key])
        assert trained[key] - untrained[key] >= 0.4, (key, trained[key], untrained[key])


def test_lam_probe_layout_and_acceptance():
    r = _load("lam_probe.json")
    for side in ("trained", "untrained"):
        for key in ("z_probe_accuracy", "code_probe_accuracy"):
            assert 0.0 <= _number(r[side][key]) <= 1.0, (side, key)
    # Issue 2: a LAM trained <= 30 min on 2 CPU cores carries the motion; an untrained one does not.
    assert _number(r["train_minutes"]) <= 30.0 + 0.1
    assert r["threads"] == 2
    assert r["trained"]["z_probe_accuracy"] >= 0.8
    assert r["trained"]["code_probe_accuracy"] >= 0.6
    _untrained_far_below(r["trained"], r["untrained"])
    assert _number(r["controllability_gap"]) > 0
    assert r["controllability_gap"] == r["trained"]["heldout"]["controllability_gap"]
    assert 1.0 <= _number(r["perplexity"]) <= r["lam"]["model"]["codebook_size"]
    # Probed on held-out clips only, against a stated chance level.
    assert r["probe"]["heldout_pairs"] == sum(r["probe"]["heldout_class_counts"]) > 0
    assert r["trained"]["z_probe_accuracy"] > r["trained"]["majority_class_accuracy"] + 0.3
    # The frame gap, decoder and clip count were tuned on the held-out figures; the final test (clips of seeds nothing
    # was tuned on, probe still fit on train pairs) says how much that tuning overstates them. Issue 2's bar is on the
    # held-out clips (above); on the final test the figures must be far above chance and within 0.05 of the held-out
    # ones (measured: z 0.817 held-out vs 0.796 final, codes 0.763 vs 0.746), so a tuning that only fits the held-out
    # seed fails here.
    assert "final_test" in r, "lam_probe.json has no final_test figures: re-run bench/lam_probe.py"
    final = r["final_test"]
    assert final["video"]["seed"] != r["video"]["seed"] and final["video"]["num_clips"] > 0
    assert final["pairs"] == sum(final["class_counts"]) > 0
    for side in ("trained", "untrained"):
        for key in ("z_probe_accuracy", "code_probe_accuracy", "majority_class_accuracy"):
            assert 0.0 <= _number(final[side][key]) <= 1.0, ("final_test", side, key)
    for key in ("z_probe_accuracy", "code_probe_accuracy"):
        assert abs(final["trained"][key] - r["trained"][key]) <= 0.05, (
            "final_test overstated by tuning",
            key,
        )
    assert final["trained"]["z_probe_accuracy"] >= 0.75
    assert final["trained"]["code_probe_accuracy"] >= 0.6
    _untrained_far_below(final["trained"], final["untrained"])
    assert final["trained"]["z_probe_accuracy"] > final["trained"]["majority_class_accuracy"] + 0.3
    assert _number(final["trained"]["controllability_gap"]) > 0
    assert 1.0 <= _number(final["trained"]["perplexity"]) <= r["lam"]["model"]["codebook_size"]


def _probe_block(block: dict, where: str) -> None:
    for key in ("z_probe_accuracy", "code_probe_accuracy"):
        assert 0.0 <= _number(block[key]) <= 1.0, (where, key)
    recall = block["per_class_recall"]["z_probe"]
    assert recall and all(0.0 <= _number(v) <= 1.0 for v in recall.values()), where


def test_lam_probe_cross_domain_and_baseline_layout():
    """Issue 10's keys: the second domain (never trained on) and the conv baseline trained in the same run."""
    r = _load("lam_probe.json")
    assert "cross_domain" in r and "baseline" in r, (
        "lam_probe.json predates issue 10: re-run bench/lam_probe.py"
    )
    cross = r["cross_domain"]
    assert cross["video"]["generator"] == "lerobot_wbvla.datasets.raycast_egovideo"
    assert cross["pairs"] == sum(cross["class_counts"]) > 0
    for side in ("trained", "untrained"):
        _probe_block(cross[side], f"cross_domain.{side}")
        _probe_block(cross[side]["transfer"], f"cross_domain.{side}.transfer")
        _probe_block(r[side], side)
    base = r["baseline"]
    assert base["lam"]["model"]["type"] == "conv"
    for where in ("in_domain", "cross_domain"):
        _probe_block(base[where], f"baseline.{where}")
    # Same budget: both trained for the same wall-clock minutes on the same threads.
    assert abs(_number(base["train_minutes"]) - _number(r["train_minutes"])) <= 0.5
    assert _number(r["train_minutes"]) <= 30.0 + 0.1


def test_lam_probe_issue10_acceptance():
    # Issue 10: trained on the project's generator, probed on held-out clips of the ray-cast domain it never saw.
    r = _load("lam_probe.json")
    cross, base = r["cross_domain"], r["baseline"]
    z, code = cross["trained"]["z_probe_accuracy"], cross["trained"]["code_probe_accuracy"]
    assert z >= 0.85 and code >= 0.75, (z, code)
    assert (
        z >= base["cross_domain"]["z_probe_accuracy"] and code >= base["cross_domain"]["code_probe_accuracy"]
    )
    assert min(cross["trained"]["per_class_recall"]["z_probe"].values()) >= 0.6
    # In-domain figures do not drop below issue 2's (0.82 / 0.81), the untrained reference stays below 0.5.
    assert r["trained"]["z_probe_accuracy"] >= 0.82 and r["trained"]["code_probe_accuracy"] >= 0.81
    for block in (r["untrained"], cross["untrained"]):
        assert block["z_probe_accuracy"] < 0.5 and block["code_probe_accuracy"] < 0.5


def test_lam_throughput_layout_and_acceptance():
    r = _load("lam_throughput.json")
    cache, fly = _number(r["cache_samples_per_s"]), _number(r["on_the_fly_samples_per_s"])
    assert cache > 0 and fly > 0
    assert r["speedup_ratio"] == pytest.approx(cache / fly, rel=1e-6)
    assert r["speedup_ratio"] >= 10


def test_sim_step_layout():
    r = _load("sim_step.json")
    for key in ("env_steps_per_s", "raw_steps_per_s", "render_fps_224", "physics_steps_per_env_step"):
        assert _number(r[key]) > 0, key
    assert 0.0 <= _number(r["wrapper_overhead"]) < 1.0
    assert r["render_resolution"] == [224, 224]
    assert all(0.0 <= _number(v) < 1.0 for v in r["wrapper_overhead_by_control_fps"].values())


def test_scripted_success_layout():
    r = _load("scripted_success.json")
    tasks = [k for k, v in r.items() if isinstance(v, dict) and "failed_seeds" in v]
    assert tasks, "no task results"
    for task in tasks:
        assert 0.0 <= _number(r[task]["success"]) <= 1.0 and r[task]["seeds"] > 0, task
    assert 0.0 <= _number(r["random_policy"]["success"]) <= 1.0 and r["random_policy"]["episodes"] > 0
    assert set(r["random_policy"]["per_task"]) == set(tasks)


def test_stand_balance_layout_and_acceptance():
    # Issue 7: the standing controller holds both arms forward horizontally with 2 kg in each hand (10 s), and
    # is compared with today's stiff PD stance on the largest payload at full reach and the largest push survived.
    r = _load("stand_balance.json")
    keys = ("max_payload_kg_forward_reach", "max_push_n")
    for controller in ("balance", "pd_stance"):
        for key in keys:
            value = r[controller][key]
            assert value is None or _number(value) >= 0, (controller, key, value)  # None: not even 0 held
    balance, pd = r["balance"], r["pd_stance"]
    assert _number(balance["max_payload_kg_forward_reach"]) >= 2.0
    assert _number(balance["max_push_n"]) > 0
    assert balance["max_payload_kg_forward_reach"] > (pd["max_payload_kg_forward_reach"] or 0.0)
    assert balance["max_push_n"] >= (pd["max_push_n"] or 0.0)


def test_record_throughput_layout():
    # Issue 7: demos per minute of the sim-time-paced recorder and of lerobot-record, same task and episodes.
    r = _load("record_throughput.json")
    sim, lerobot = r["wbvla_record_sim"], r["lerobot_record"]
    assert _number(sim["demos_per_minute"]) > 0 and _number(lerobot["demos_per_minute"]) > 0
    assert sim["demos_per_minute"] > lerobot["demos_per_minute"]  # the point of a path paced by sim time


def test_vla_latency_layout_and_acceptance():
    # Issue 8: select_action p50/p99 on CPU for the tiny model and a ~250M-parameter backbone; training samples/s
    # against LeRobot's smolvla on a backbone of the same size and the same data, in one run (goal >= 1.0x).
    r = _load("vla_latency.json")
    assert r["threads"] == 2
    models = r["latency_models"]
    params = {m: _number(r[m]["params_m"]) for m in models}
    for m in models:
        p50, p99 = _number(r[m]["p50_ms"]), _number(r[m]["p99_ms"])
        assert 0 < p50 <= p99, m
        assert r[m]["timed_calls"] >= 30 and r[m]["n_action_steps"] == 1, m  # every timed call runs the model
        assert 0 < _number(r[m]["chunked_amortised_ms_per_call"]) < p99, m
    assert any(p < 10 for p in params.values()), f"no tiny model among {params}"
    assert any(200 <= p <= 400 for p in params.values()), f"no ~250M-parameter model among {params}"
    # Training: interleaved repetitions, the ratio of the medians, both on the same backbone, batch and images.
    train = r["train"]
    policies = train["policies"]
    for name in ("wbvla", "smolvla_vlm_trained", "wbvla_frozen_vlm", "smolvla"):
        side = policies[name]
        reps = side["per_rep"]
        assert len(reps) == train["reps"] >= 5
        assert side["median_samples_per_s"] == pytest.approx(
            statistics.median(x["samples_per_s"] for x in reps)
        )
        assert 0 < _number(side["trainable_params_m"]) <= _number(side["params_m"])
    # matched regimes: the same parts of the same backbone train (its language model, or nothing)
    assert policies["wbvla_frozen_vlm"]["trainable_params_m"] < policies["wbvla"]["trainable_params_m"]
    assert policies["smolvla"]["trainable_params_m"] < policies["smolvla_vlm_trained"]["trainable_params_m"]
    assert len(train["loadavg_1_5_15_before_each_rep"]) == train["reps"] + 1

    def of(a: str, b: str) -> float:
        return policies[a]["median_samples_per_s"] / policies[b]["median_samples_per_s"]

    matched = [of("wbvla", "smolvla_vlm_trained"), of("wbvla_frozen_vlm", "smolvla")]
    ratio = _number(r["train_samples_per_s_ratio_vs_smolvla"])
    assert ratio == pytest.approx(min(matched), rel=1e-6)


def test_vla_latency_training_speed_goal():
    ratio = _number(_load("vla_latency.json")["train_samples_per_s_ratio_vs_smolvla"])
    assert ratio >= 1.0, (
        f"wbvla trains at {ratio:.2f}x SmolVLA's samples/s on the same backbone in the slower matched regime "
        "(issue 8's goal: >= 1.0x)"
    )


def test_vla_eval_layout_and_acceptance():
    # Issue 8: on held-out episodes of 50 scripted pick_place demos, the arm-action L1 of a tiny-backbone wbvla
    # trained <= 20 CPU-minutes is <= 0.5x that of predicting the mean action; ACT and SmolVLA trained with the
    # same steps, batch and data, all three scored the same way, with their sim success over 20 seeds; latent
    # pretraining on video vs from scratch (same fine-tuning budget, >= 3 seeds), whatever the outcome.
    r = _load("vla_eval.json")
    base = r["mean_action_baseline"]
    base_l1 = _number(base["arm_l1"])
    assert base_l1 > 0 and base["frames_scored"] > 0
    ds = r["dataset"]
    assert ds["episodes"] == 50 and ds["task"] == "pick_place"
    train, heldout = set(ds["train_episodes"]), set(ds["heldout_episodes"])
    assert len(train) == 40 and len(heldout) == 10 and not train & heldout
    training = r["training"]
    for name in ("wbvla", "act", "smolvla"):
        p = r[name]
        assert isinstance(p, dict), f"vla_eval.json has no {name} entry: re-run bench/vla_eval.py"
        l1 = _number(p["arm_l1"])
        assert p["arm_error_ratio_vs_mean"] == pytest.approx(l1 / base_l1, rel=1e-3, abs=1e-4), name
        assert p["frames_scored"] == base["frames_scored"], name  # the same held-out frames
        assert len(p["per_dim_l1"]) == 16, name  # 14 arm joints + 2 grippers
        assert 0.0 <= _number(p["sim_success"]) <= 1.0 and p["episodes"] == 20, name
        assert p["eval_dir"], name
        # same steps, seed and data for the three
        assert (p["steps"], p["seed"]) == (training["steps"], training["seed"]), name
        assert _number(p["cpu_minutes"]) > 0, name
    wbvla = r["wbvla"]
    assert wbvla["cpu_minutes"] <= 20.0, f"wbvla trained {wbvla['cpu_minutes']} CPU-minutes (issue 8: <= 20)"
    assert wbvla["arm_error_ratio_vs_mean"] <= 0.5, (
        f"wbvla's held-out arm L1 is {wbvla['arm_error_ratio_vs_mean']:.2f}x the mean action's (issue 8: <= 0.5)"
    )
    pre = r["pretraining"]
    seeds = pre["seeds"]
    assert len(set(seeds)) == len(seeds) >= 3
    for arm in ("with_video", "from_scratch"):
        per_seed = [_number(x) for x in pre["per_seed"][arm]]
        assert len(per_seed) == len(seeds), arm
        assert _number(pre[arm]) == pytest.approx(statistics.mean(per_seed), rel=1e-3, abs=1e-5), arm
    assert pre["helps"] == (pre["with_video"] < pre["from_scratch"])
    assert len(pre["finetune_episodes"]) == 10 and set(pre["finetune_episodes"]) <= train


def test_lmo_env_throughput_layout_and_goal():
    # Issue 9: env control steps/s vs raw mj_step of the same model in one run (goal >= 0.85); PPO env-steps/s.
    r = _load("lmo_env_throughput.json")
    env, raw = _number(r["env_steps_per_s"]), _number(r["raw_steps_per_s"])
    assert 0 < env <= raw
    assert r["ratio"] == pytest.approx(statistics.median(r["ratio_per_rep"]), rel=1e-9)
    assert r["ratio"] >= 0.85, f"the LMO env runs at {r['ratio']:.2f}x raw mj_step (issue 9's goal: >= 0.85)"
    assert _number(r["ppo_env_steps_per_s"]) > 0 and r["num_envs"] >= 16
    # The env groups stepped on 2 threads (the same rollout): faster than one thread on the 2 cores.
    assert r["physics_threads"] == 2
    speedups = [x["threaded_env_steps_per_s"] / x["env_steps_per_s"] for x in r["per_rep"]]
    assert r["thread_speedup"] == pytest.approx(statistics.median(speedups), rel=1e-9)
    assert r["thread_speedup"] > 1.2, f"2 physics threads give only {r['thread_speedup']:.2f}x one thread"


def test_lmo_export_layout_and_goals():
    # Issue 9: ONNX matches torch within 1e-5 on 1000 random observations; exported step p99 <= 0.2 ms on one core.
    r = _load("lmo_export.json")
    assert r["verify_observations"] == 1000
    assert 0 <= _number(r["onnx_max_abs_diff"]) <= 1e-5
    assert 0 < _number(r["step_latency_p99_ms"]) <= 0.2
    assert r["step_latency_onnx"]["n"] >= 10000


def _lmo_train() -> dict:
    r = _load("lmo_train.json")
    for name in ("latent", "none", "command"):
        row = r[name]
        lo, hi = row["fall_rate_ci"]
        assert 0 <= lo <= _number(row["fall_rate"]) <= hi <= 1, name
        assert row["seeds"] == len(row["per_seed"]) >= 1, name
        assert row["episodes"] >= row["seeds"], name
        _number(row["com_margin"])
    for name in ("pd_stand", "untrained"):
        assert 0 <= _number(r[name]["fall_rate"]) <= 1, name
    for other, diff in r["latent_vs"].items():
        d = _number(diff["fall_rate_diff"])
        base = r[other]["fall_rate"]
        assert d == pytest.approx(r["latent"]["fall_rate"] - base, abs=1e-9), other
        lo, hi = diff["fall_rate_diff_ci"]
        assert lo <= d <= hi, other
    assert _number(r["train_minutes"]) > 0
    return r


def test_lmo_train_layout():
    # Issue 9's result file: latent / none / command (pooled seeds, fall rate with its CI, CoM margin), the two
    # baselines, latent minus each baseline with a CI, and walking; the settings it was measured with.
    r = _lmo_train()
    assert {"minutes", "seeds", "num_envs", "episodes", "episode_s", "acceptance_minutes"} <= set(
        r["settings"]
    )
    # The acceptance run: one latent run alone on the machine's 2 threads, in the same perturbation episodes.
    a = r["acceptance"]
    assert a["threads"] == 2 and a["episodes"] == r["settings"]["episodes"]
    assert 0 <= _number(a["fall_rate"]) <= 1 and a["goal_fall_rate"] == 0.05
    assert a["meets_goal"] == (a["fall_rate"] <= 0.05)
    assert a["train_minutes"] <= r["settings"]["acceptance_minutes"] + 0.5 and a["iterations"] > 0
    if r["walking"] is not None:
        w = r["walking"]
        assert {"vx_error_0.3", "fall_rate", "train_minutes"} <= set(w)
        assert 0 <= _number(w["fall_rate"]) <= 1 and _number(w["vx_error_0.3"]) >= 0
    # The scripted operator's pick_place in base_mode=physical, LMO vs the standing controller on the same seeds.
    pp = r["pick_place_physical"]
    assert pp["seeds"] >= 20
    for controller in ("stand", "lmo"):
        assert 0 <= _number(pp[controller]["success"]) <= 1


@pytest.mark.xfail(
    strict=True,
    reason="issue 9's acceptance is not met by the committed run (see its settings: a reduced budget on 2 cores): "
    "the latent LMO does not keep the X2 up under full-range arm clips, 0-3 kg and 0-60 N pushes. Strict: remove "
    "the mark once a run meets it.",
)
def test_lmo_train_acceptance():
    # Issue 9: within 30 minutes of training the latent LMO falls in <= 5% of 200 x 10 s perturbation episodes,
    # while the standing PD controller and the untrained policy fall in nearly every episode; >= 3 seeds each.
    r = _lmo_train()
    a = r["acceptance"]  # one latent run of <= 30 minutes alone on the 2 cores
    assert a["train_minutes"] <= 30.5 and a["episodes"] >= 200 and r["settings"]["episode_s"] >= 10
    assert a["fall_rate"] <= 0.05
    assert r["latent"]["seeds"] >= 3 and r["none"]["seeds"] >= 3 and r["command"]["seeds"] >= 3
    assert r["pd_stand"]["fall_rate"] >= 0.8 and r["untrained"]["fall_rate"] >= 0.8
    # With the LMO as the lower-body controller the scripted operator does no worse than with the standing one.
    pp = r["pick_place_physical"]
    assert pp["lmo"]["success"] >= pp["stand"]["success"]
