"""The LMO's acceptance (issue 9) in one run of the project's CLIs: does a `latent` LMO trained for `minutes` keep
the X2 up under arm motion, payloads and pushes, and does z_t help against the same legs without it?

1. LAM (latent conditioning's teacher): `--lam` given, or `wbvla-gen-egovideo` clips -> `wbvla-train-lam` (the CPU
   preset for `lam_minutes`), as bench/vla_eval.py builds its teacher.
2. Acceptance run (issue 9's first criterion as written): one `latent` run alone on all the threads for
   `acceptance_minutes` (30), seed = the first of `seeds`, tested in the same perturbation episodes as the rest.
   Training: `wbvla-train-lmo` for every conditioning (`latent`, `none`, `command`) x seed, each with the same time
   budget (`--max_minutes`), envs, threads and flags; `parallel` runs at once (each with threads // parallel
   threads: the budget is wall time, so runs in parallel get the same share of the machine). Every run's curves,
   metrics and export stay in the work folder.
3. Perturbation test: one `wbvla-eval-lmo` over every export plus `pd_stand` and `untrained`, on the same seeded
   episodes (`episodes` x `episode_s`): held-out procedural reach / carry / push clips over the arms' full range,
   0-3 kg in the hands (one load, random split), 0-60 N pushes, the training randomization of the robot. Per conditioning the seeds' episodes
   are pooled (fall rate with its Wilson interval, CoM margin with its normal interval); `latent` minus each
   baseline with Newcombe intervals.
4. Walking: one `walking_conditioning` run for `walking_minutes`, then the `locomotion` scenario (constant forward
   0.2 / 0.3 / 0.4 m/s, lateral, turn commands): velocity tracking errors and falls, against `pd_stand`.
5. pick_place in base_mode=physical: the scripted operator with the first latent run's LMO as the lower-body
   controller vs the standing controller, same seeds.

Every stage writes `<work_dir>/<stage>/stage.json` when it completes; a re-run with the same settings reuses it.

Writes bench/results/lmo_train.json:
    {"latent": {"fall_rate", "fall_rate_ci", "com_margin", "com_margin_ci", "seeds", "per_seed"}, "none": {...},
     "command": {...}, "untrained": {"fall_rate", ...}, "pd_stand": {"fall_rate", ...},
     "latent_vs": {"none": {"fall_rate_diff", "fall_rate_diff_ci"}, ...},
     "acceptance": {"fall_rate", "fall_rate_ci", "meets_goal", "train_minutes", "iterations", "threads", ...},
     "walking": {"vx_error_0.3", "fall_rate", "train_minutes", ...},
     "pick_place_physical": {"stand": {"success", ...}, "lmo": {"success", ...}, "seeds"}, "train_minutes", "settings"}

Usage (the issue's budget, ~6 h on 2 cores): python bench/lmo_train.py
Smoke (the test suite; the figures mean nothing): python bench/lmo_train.py --smoke=true --output=/tmp/x.json
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import draccus
from _results import LMO_CPU, REPO, RESULTS, machine_description, write_result  # bench/_results.py
from _stages import BIN, Stages, finish_cli, run_cli, start_cli  # bench/_stages.py

TAG = "lmo_train"
CONDITIONINGS = ("latent", "none", "command")
ACCEPTANCE_LABEL = "acceptance_latent"  # the acceptance run's name in the perturbation eval
ACCEPTANCE_GOAL = 0.05  # issue 9: fall rate <= 5% over 200 episodes of 10 s


@dataclass
class LMOTrainBenchConfig:
    # Training time of every run (minutes of PPO, wbvla-train-lmo --max_minutes).
    minutes: float = 30.0
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    conditionings: list[str] = field(default_factory=lambda: list(CONDITIONINGS))
    num_envs: int = 64
    # CPU threads in all; runs started together share them.
    threads: int = 2
    parallel: int = 1
    # Extra wbvla-train-lmo flags for every run (e.g. "--ppo.entropy_coef=0.001").
    train_flags: list[str] = field(default_factory=list)
    # Issue 9's first acceptance as written: one latent run alone on all `threads` for this long (0 = skip), then the
    # same perturbation test.
    acceptance_minutes: float = 30.0
    # Perturbation test.
    episodes: int = 200
    episode_s: float = 10.0
    # Held-out procedural clips the arms replay in the test (wbvla-eval-lmo --perturbation.clips).
    eval_clips: int = 64
    # Walking: one run of this conditioning for walking_minutes (0 = skip), then the locomotion scenario.
    walking_minutes: float = 60.0
    walking_conditioning: str = "latent"
    locomotion_episodes: int = 20
    locomotion_episode_s: float = 5.0
    # The scripted operator's pick_place in base_mode=physical with the first latent run's LMO as the lower-body
    # controller vs the standing controller, on the same seeds (0 = skip).
    pick_place_seeds: int = 20
    # The LAM of latent conditioning (repo id or folder); None = train one here.
    lam: str | None = None
    lam_minutes: float = 5.0
    ego_clips: int = 200
    work_dir: Path = REPO / "outputs" / "lmo_train_bench"
    reuse: bool = True
    output: Path = RESULTS / "lmo_train.json"
    smoke: bool = False


def _smoke(cfg: LMOTrainBenchConfig) -> LMOTrainBenchConfig:
    cfg.minutes, cfg.seeds, cfg.num_envs, cfg.threads, cfg.parallel = 0.05, [1], 2, 1, 1
    cfg.eval_clips, cfg.conditionings, cfg.locomotion_episode_s = 2, ["latent", "none"], 1.5
    cfg.episodes, cfg.episode_s, cfg.walking_minutes, cfg.locomotion_episodes = 2, 1.0, 0.05, 1
    cfg.acceptance_minutes = 0.05
    cfg.pick_place_seeds = 1
    cfg.train_flags = [
        *cfg.train_flags,
        "--iterations=2",
        "--ppo.num_steps_per_env=4",
        "--clips.procedural=2",
    ]
    return cfg


# ---------------------------------------------------------------------------------------------- stages
def _lam(cfg: LMOTrainBenchConfig, folder: Path) -> dict:
    if cfg.smoke:
        from lerobot_wbvla.lam.configuration_lam import LAMConfig, MLPLAMConfig, PixelEncoderConfig
        from lerobot_wbvla.lam.modeling_lam import LatentActionModel

        config = LAMConfig(
            encoder=PixelEncoderConfig(image_size=32, patch_size=8),
            model=MLPLAMConfig(latent_dim=16, codebook_size=32, token_dim=8, inverse_hidden=[64]),
            frame_gap=2,
        )
        return {"path": str(LatentActionModel(config).save_pretrained(folder / "lam")), "trained": False}
    from lerobot_wbvla.lam.data import LAMDataConfig
    from lerobot_wbvla.lam.presets import cpu_lam_config
    from lerobot_wbvla.lam.train import TrainLAMConfig

    video = folder / "clips"
    gen = run_cli(
        TAG,
        [
            str(BIN / "wbvla-gen-egovideo"),
            f"--out_dir={video}",
            f"--num_clips={cfg.ego_clips}",
            "--heldout_fraction=0.0",
            "--seed=0",
            "--contact_sheet=false",
        ],
        folder / "gen_egovideo.log",
        cfg.threads,
    )
    preset = TrainLAMConfig(lam=cpu_lam_config(), data=LAMDataConfig(video_root=video))
    with open(folder / "train_lam.yaml", "w") as f:
        draccus.dump(preset, f)
    out = folder / "train"
    train = run_cli(
        TAG,
        [
            str(BIN / "wbvla-train-lam"),
            f"--config_path={folder / 'train_lam.yaml'}",
            f"--output_dir={out}",
            f"--max_minutes={cfg.lam_minutes}",
            f"--num_threads={cfg.threads}",
            "--progress=false",
            "--seed=0",
        ],
        folder / "train_lam.log",
        cfg.threads,
    )
    return {"path": str(out / "pretrained_model"), "trained": True, "generate": gen, "train": train}


def _train_args(
    cfg: LMOTrainBenchConfig, folder: Path, conditioning: str, seed: int, minutes: float, lam: str
):
    threads = max(1, cfg.threads // max(1, cfg.parallel))
    args = [
        str(BIN / "wbvla-train-lmo"),
        f"--output_dir={folder / 'run'}",
        f"--env.conditioning={conditioning}",
        f"--env.num_envs={cfg.num_envs}",
        f"--seed={seed}",
        f"--max_minutes={minutes}",
        f"--threads={threads}",
        "--progress=false",
    ]
    if conditioning == "latent":
        args.append(f"--lam={lam}")
    if not any(flag.startswith("--iterations") for flag in cfg.train_flags):
        args.append("--iterations=1000000")  # the time budget ends the run
    return args + list(cfg.train_flags), threads


def _run_summary(folder: Path) -> dict:
    rows = [json.loads(x) for x in (folder / "run" / "metrics.jsonl").read_text().splitlines() if x.strip()]
    last = rows[-1]
    keep = ("iteration", "train_minutes", "env_steps", "difficulty", "episode_length_s", "falls_per_min")
    export = folder / "run" / "export"
    training = json.loads((export / "lmo.json").read_text()).get("training", {})
    return {
        "export": str(export),
        "curves": str(folder / "run" / "curves.png"),
        **{k: last.get(k) for k in keep},
        "max_difficulty": max(r.get("difficulty", 0.0) for r in rows),
        # Which checkpoint the run exported (wbvla-train-lmo's validation.select_best) and its validations.
        "selected_by": training.get("selected_by"),
        "exported_iteration": training.get("exported_iteration"),
        "validation": [
            {"iteration": v["iteration"], "fall_rate": v["fall_rate"]} for v in training.get("validation", [])
        ],
    }


def _train_all(cfg: LMOTrainBenchConfig, stages: Stages, lam: str) -> dict[str, dict]:
    """Every (conditioning, seed) run, `parallel` at a time; finished runs are reused."""
    todo, results = [], {}
    # Seed-major: runs started together are of different conditionings, so each sees the same machine share.
    for seed in cfg.seeds:
        for conditioning in cfg.conditionings:
            name = f"train_{conditioning}_seed{seed}"
            settings = _train_settings(cfg, conditioning, seed, cfg.minutes, lam)
            done = stages.done(name, settings)
            if done is not None:
                print(f"[{TAG}] {name}: reusing", flush=True)
                stages.reused.append(name)
                results[name] = done
            else:
                todo.append((name, conditioning, seed, settings))
    while todo:
        batch, todo = todo[: max(1, cfg.parallel)], todo[max(1, cfg.parallel) :]
        procs = []
        for name, conditioning, seed, settings in batch:
            folder = stages.work_dir / name
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            args, threads = _train_args(cfg, folder, conditioning, seed, cfg.minutes, lam)
            procs.append((name, settings, folder, start_cli(TAG, args, folder / "train.log", threads)))
        for name, settings, folder, proc in procs:
            finish_cli(TAG, proc)
            results[name] = _run_summary(folder)
            stages.mark(name, settings, results[name])
    return results


def _train_settings(cfg: LMOTrainBenchConfig, conditioning: str, seed: int, minutes: float, lam: str) -> dict:
    return {
        "conditioning": conditioning,
        "seed": seed,
        "minutes": minutes,
        "num_envs": cfg.num_envs,
        "threads": cfg.threads,
        "parallel": cfg.parallel,
        "train_flags": cfg.train_flags,
        "lam": lam if conditioning == "latent" else None,
        "code": _lmo_code_hash(),
    }


def _lmo_code_hash() -> str:
    """Digest of lerobot_wbvla/lmo and the robot package it simulates: runs are reused only on the same code."""
    import hashlib

    digest = hashlib.sha256()
    for folder in ("lerobot_wbvla/lmo", "lerobot_wbvla/robots/agibot_x2"):
        for path in sorted((REPO / folder).rglob("*.py")):
            digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _evaluate(cfg: LMOTrainBenchConfig, runs: dict[str, dict], acceptance: dict | None, folder: Path) -> dict:
    policies = [f"{name.removeprefix('train_')}={r['export']}" for name, r in runs.items()]
    if acceptance is not None:
        policies.append(f"{ACCEPTANCE_LABEL}={acceptance['export']}")
    policies += ["pd_stand", "untrained"]
    out = folder / "eval"
    run = run_cli(
        TAG,
        [
            str(BIN / "wbvla-eval-lmo"),
            "--policies=[" + ",".join(policies) + "]",
            "--scenarios=[perturbation]",
            f"--perturbation.episodes={cfg.episodes}",
            f"--perturbation.episode_s={cfg.episode_s}",
            f"--perturbation.clips={cfg.eval_clips}",
            f"--output_dir={out}",
            f"--threads={cfg.threads}",
            f"--videos={0 if cfg.smoke else 3}",
            "--progress=false",
        ],
        folder / "eval.log",
        cfg.threads,
    )
    return {"results": str(out / "results.json"), "report": str(out / "results.md"), **run}


def _train_alone(cfg: LMOTrainBenchConfig, folder: Path, conditioning: str, minutes: float, lam: str) -> dict:
    """One run alone on all the threads (the parallel share of _train_args does not apply): torch's and the
    physics' (wbvla-train-lmo steps the envs' physics on --threads threads)."""
    args, _ = _train_args(cfg, folder, conditioning, cfg.seeds[0], minutes, lam)
    args = [a if not a.startswith("--threads=") else f"--threads={cfg.threads}" for a in args]
    run = run_cli(TAG, args, folder / "train.log", cfg.threads)
    return {**_run_summary(folder), **run}


def _acceptance(cfg: LMOTrainBenchConfig, stages: Stages, lam: str) -> dict | None:
    """Issue 9's first criterion as written: a latent run of acceptance_minutes alone on the machine's threads."""
    if cfg.acceptance_minutes <= 0 or "latent" not in cfg.conditionings:
        return None
    settings = {**_train_settings(cfg, "latent", cfg.seeds[0], cfg.acceptance_minutes, lam), "alone": True}
    return stages.run(
        "train_acceptance",
        settings,
        lambda folder: _train_alone(cfg, folder, "latent", cfg.acceptance_minutes, lam),
    )


def _walking(cfg: LMOTrainBenchConfig, stages: Stages, lam: str) -> dict | None:
    if cfg.walking_minutes <= 0:
        return None
    c = cfg.walking_conditioning
    settings = {**_train_settings(cfg, c, cfg.seeds[0], cfg.walking_minutes, lam), "alone": True}
    trained = stages.run(
        "train_walking", settings, lambda folder: _train_alone(cfg, folder, c, cfg.walking_minutes, lam)
    )

    def evaluate(folder: Path) -> dict:
        out = folder / "eval"
        run = run_cli(
            TAG,
            [
                str(BIN / "wbvla-eval-lmo"),
                f"--policies=[walking={trained['export']},pd_stand]",
                "--scenarios=[locomotion]",
                f"--locomotion.episodes={cfg.locomotion_episodes}",
                f"--locomotion.episode_s={cfg.locomotion_episode_s}",
                f"--output_dir={out}",
                f"--threads={cfg.threads}",
                "--videos=0",
                "--progress=false",
            ],
            folder / "eval.log",
            cfg.threads,
        )
        return {"results": str(out / "results.json"), **run}

    eval_settings = {**settings, "episodes": cfg.locomotion_episodes, "episode_s": cfg.locomotion_episode_s}
    evaluated = stages.run("eval_walking", eval_settings, evaluate)
    return {"train": trained, "eval": evaluated}


def _pick_place(cfg: LMOTrainBenchConfig, export: str, folder: Path) -> dict:
    """The scripted operator's pick_place on the agibot_x2 env (the env `lerobot-eval --env.type=agibot_x2` builds)
    in base_mode=physical, once with the standing controller and once with the LMO (z_t neutral: the runtime does
    not feed it yet), on seeds 0..pick_place_seeds-1. The scripted operator reads the simulator's object poses, so it
    is not a LeRobot policy and cannot be passed to the lerobot-eval CLI; it drives the same env class instead."""
    from lerobot_wbvla.envs.agibot_x2 import AgibotX2EnvConfig
    from lerobot_wbvla.envs.agibot_x2.env import AgibotX2Env
    from lerobot_wbvla.lmo import controller  # noqa: F401  (registers the `lmo` lower-body controller)
    from lerobot_wbvla.teleoperators.x2_scripted.operator import scripted_episode

    steps = 30 if cfg.smoke else AgibotX2EnvConfig(task="pick_place").max_episode_steps
    out: dict = {"seeds": cfg.pick_place_seeds, "lmo": export}
    for name, options in (("stand", {}), ("lmo", {"lmo_path": export})):
        env = AgibotX2Env(
            task="pick_place",
            obs_type="agent_pos",
            base_mode="physical",
            lower_body_controller=name,
            **options,
        )
        failed, fell = [], []
        try:
            for seed in range(cfg.pick_place_seeds):
                ok, _ = scripted_episode(env, seed, steps)
                if not ok:
                    failed.append(seed)
                if env.sim.data.qpos[2] < 0.4:  # the pelvis on the floor: the legs let the robot fall
                    fell.append(seed)
        finally:
            env.close()
        out[name] = {
            "success": 1.0 - len(failed) / cfg.pick_place_seeds,
            "failed_seeds": failed,
            "fell_seeds": fell,
        }
        print(f"[{TAG}] pick_place physical, {name}: success {out[name]['success']:.2f}", flush=True)
    (folder / "pick_place.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


# ---------------------------------------------------------------------------------------------- figures
def _perturbation_figures(cfg: LMOTrainBenchConfig, runs: dict[str, dict], results_path: Path) -> dict:
    from lerobot_wbvla.lmo import eval_metrics as M

    per_policy = json.loads(Path(results_path).read_text())["perturbation"]["per_policy"]
    out: dict = {}
    pooled: dict[str, dict] = {}
    for c in cfg.conditionings:
        labels = [f"{c}_seed{s}" for s in cfg.seeds]
        rows = [per_policy[lab] for lab in labels]
        falls = sum(r["falls"] for r in rows)
        n = sum(r["episodes"] for r in rows)
        margins = [e["com_margin_mean"] for r in rows for e in r["per_episode"]]
        m, lo, hi = M.mean_ci(_array(margins))
        pooled[c] = {"falls": falls, "episodes": n}
        out[c] = {
            "fall_rate": falls / n,
            "fall_rate_ci": list(M.wilson_ci(falls, n)),
            "com_margin": m,
            "com_margin_ci": [lo, hi],
            "seeds": len(cfg.seeds),
            "episodes": n,
            "per_seed": {
                str(s): {
                    "fall_rate": per_policy[f"{c}_seed{s}"]["fall_rate"],
                    "com_margin": per_policy[f"{c}_seed{s}"]["com_margin_mean"],
                    "max_difficulty": runs[f"train_{c}_seed{s}"]["max_difficulty"],
                    "final_difficulty": runs[f"train_{c}_seed{s}"]["difficulty"],
                    "iterations": runs[f"train_{c}_seed{s}"]["iteration"],
                    "exported_iteration": runs[f"train_{c}_seed{s}"].get("exported_iteration"),
                    "env_steps": runs[f"train_{c}_seed{s}"]["env_steps"],
                }
                for s in cfg.seeds
            },
        }
    for baseline in ("pd_stand", "untrained"):
        r = per_policy[baseline]
        out[baseline] = {
            "fall_rate": r["fall_rate"],
            "fall_rate_ci": r["fall_rate_ci"],
            "com_margin": r["com_margin_mean"],
            "episodes": r["episodes"],
        }
    if "latent" in pooled:
        out["latent_vs"] = {}
        for other in [c for c in cfg.conditionings if c != "latent"] + ["pd_stand"]:
            ref = pooled.get(other) or {
                "falls": per_policy[other]["falls"],
                "episodes": per_policy[other]["episodes"],
            }
            d, lo, hi = M.newcombe_diff_ci(
                pooled["latent"]["falls"], pooled["latent"]["episodes"], ref["falls"], ref["episodes"]
            )
            out["latent_vs"][other] = {
                "fall_rate_diff": d,
                "fall_rate_diff_ci": [lo, hi],
                "com_margin_diff": out["latent"]["com_margin"]
                - (out.get(other) or {}).get("com_margin", 0.0),
            }
    return out


def _acceptance_figures(cfg: LMOTrainBenchConfig, acceptance: dict, results_path: Path) -> dict:
    r = json.loads(Path(results_path).read_text())["perturbation"]["per_policy"][ACCEPTANCE_LABEL]
    return {
        "fall_rate": r["fall_rate"],
        "fall_rate_ci": r["fall_rate_ci"],
        "com_margin": r["com_margin_mean"],
        "episodes": r["episodes"],
        "goal_fall_rate": ACCEPTANCE_GOAL,
        "meets_goal": r["fall_rate"] <= ACCEPTANCE_GOAL,
        "seed": cfg.seeds[0],
        "threads": cfg.threads,
        "train_minutes": acceptance["train_minutes"],
        "iterations": acceptance["iteration"],
        "exported_iteration": acceptance.get("exported_iteration"),
        "selected_by": acceptance.get("selected_by"),
        "validation": acceptance.get("validation"),
        "env_steps": acceptance["env_steps"],
        "max_difficulty": acceptance["max_difficulty"],
        "final_difficulty": acceptance["difficulty"],
        "export": acceptance["export"],
        "curves": acceptance["curves"],
    }


def _array(values: list[float]):
    import numpy as np

    return np.asarray(values, dtype=float)


def _walking_figures(walking: dict) -> dict:
    per_policy = json.loads(Path(walking["eval"]["results"]).read_text())["locomotion"]["per_policy"]
    w = per_policy["walking"]
    out = {
        "train_minutes": walking["train"]["train_minutes"],
        "env_steps": walking["train"]["env_steps"],
        "max_difficulty": walking["train"]["max_difficulty"],
    }
    falls = episodes = 0
    for name, row in w.items():
        if name.startswith("_"):  # "_all": every command together
            continue
        out[f"vel_error_{name}"] = row["vel_error"]
        out[f"fall_rate_{name}"] = row["fall_rate"]
        falls, episodes = falls + row["falls"], episodes + row["episodes"]
    for speed in ("0.2", "0.3", "0.4"):
        if f"forward_{speed}" in w:
            out[f"vx_error_{speed}"] = w[f"forward_{speed}"]["vel_error"]
    out["fall_rate"] = falls / max(1, episodes)
    out["pd_stand_vx_error_0.3"] = per_policy["pd_stand"].get("forward_0.3", {}).get("vel_error")
    return out


# ---------------------------------------------------------------------------------------------- main
def main(cfg: LMOTrainBenchConfig) -> dict:
    if cfg.smoke:
        cfg = _smoke(cfg)
        import tempfile

        cfg.work_dir = Path(tempfile.mkdtemp(prefix="lmo_train_smoke_"))
    unknown = set(cfg.conditionings) - set(CONDITIONINGS)
    if unknown or not cfg.conditionings or not cfg.seeds:
        raise SystemExit(f"--conditionings must name some of {CONDITIONINGS} and --seeds at least one seed")
    stages = Stages(TAG, cfg.work_dir, cfg.reuse)
    needs_lam = "latent" in cfg.conditionings or (
        cfg.walking_minutes > 0 and cfg.walking_conditioning == "latent"
    )
    lam = cfg.lam
    if needs_lam and lam is None:
        lam = stages.run(
            "lam",
            {"minutes": cfg.lam_minutes, "clips": cfg.ego_clips, "smoke": cfg.smoke},
            lambda f: _lam(cfg, f),
        )["path"]
    acceptance = _acceptance(cfg, stages, lam)
    runs = _train_all(cfg, stages, lam)
    eval_settings = {
        "runs": {
            k: _train_settings(cfg, v["conditioning"], v["seed"], cfg.minutes, lam) for k, v in _jobs(cfg)
        },
        "acceptance": acceptance and acceptance["export"],
        "acceptance_minutes": cfg.acceptance_minutes,
        "episodes": cfg.episodes,
        "episode_s": cfg.episode_s,
        "eval_clips": cfg.eval_clips,
    }
    evaluated = stages.run("eval_perturbation", eval_settings, lambda f: _evaluate(cfg, runs, acceptance, f))
    result = _perturbation_figures(cfg, runs, Path(evaluated["results"]))
    result["acceptance"] = (
        _acceptance_figures(cfg, acceptance, Path(evaluated["results"])) if acceptance else None
    )
    walking = _walking(cfg, stages, lam)
    result["walking"] = _walking_figures(walking) if walking else None
    result["pick_place_physical"] = None
    latent_runs = [runs[f"train_latent_seed{s}"] for s in cfg.seeds if f"train_latent_seed{s}" in runs]
    if cfg.pick_place_seeds > 0 and latent_runs:
        export = latent_runs[0]["export"]
        result["pick_place_physical"] = stages.run(
            "pick_place_physical",
            {"export": export, "seeds": cfg.pick_place_seeds, "smoke": cfg.smoke, "code": _lmo_code_hash()},
            lambda f: _pick_place(cfg, export, f),
        )
    result["train_minutes"] = cfg.minutes
    result["settings"] = {
        "minutes": cfg.minutes,
        "seeds": cfg.seeds,
        "num_envs": cfg.num_envs,
        "threads": cfg.threads,
        "parallel": cfg.parallel,
        "train_flags": cfg.train_flags,
        "episodes": cfg.episodes,
        "episode_s": cfg.episode_s,
        "acceptance_minutes": cfg.acceptance_minutes,
        "walking_minutes": cfg.walking_minutes,
        "walking_conditioning": cfg.walking_conditioning,
        "lam": lam,
    }
    result["runs"] = runs
    result["eval_report"] = evaluated["report"]
    result["work_dir"] = str(cfg.work_dir)
    result["reused_stages"] = stages.reused
    result["machine"] = machine_description(with_torch=True)
    write_result(cfg.output, result, measures=[*LMO_CPU, "lerobot_wbvla/robots"], smoke=cfg.smoke)
    _print_table(result, cfg)
    return result


def _jobs(cfg: LMOTrainBenchConfig):
    for c in cfg.conditionings:
        for s in cfg.seeds:
            yield f"train_{c}_seed{s}", {"conditioning": c, "seed": s}


def _print_table(result: dict, cfg: LMOTrainBenchConfig) -> None:
    print(
        f"\nLMO after {cfg.minutes} min of training, {cfg.episodes} perturbation episodes of {cfg.episode_s} s"
    )
    print(f"{'policy':<10} {'fall rate':>10} {'95% CI':>17} {'CoM margin (m)':>15}")
    for name in [*cfg.conditionings, "pd_stand", "untrained"]:
        r = result[name]
        lo, hi = r["fall_rate_ci"]
        print(f"{name:<10} {r['fall_rate']:>10.3f} {f'[{lo:.3f}, {hi:.3f}]':>17} {r['com_margin']:>15.4f}")
    a = result.get("acceptance")
    if a:
        lo, hi = a["fall_rate_ci"]
        print(
            f"acceptance (latent, {a['train_minutes']:.0f} min alone on {a['threads']} threads, {a['iterations']} "
            f"iterations): fall rate {a['fall_rate']:.3f} [{lo:.3f}, {hi:.3f}], goal <= {ACCEPTANCE_GOAL}"
        )
    if result.get("walking"):
        w = result["walking"]
        print(f"walking: vx error at 0.3 m/s {w.get('vx_error_0.3')}, fall rate {w['fall_rate']:.3f}")
    pp = result.get("pick_place_physical")
    if pp:
        print(
            f"pick_place physical (scripted operator): stand {pp['stand']['success']:.2f}, lmo {pp['lmo']['success']:.2f}"
        )


if __name__ == "__main__":
    main(draccus.parse(LMOTrainBenchConfig))
