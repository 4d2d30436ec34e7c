"""The WholeBodyVLA section of a `wbvla` model card: what a user needs to reproduce or run the checkpoint."""

from __future__ import annotations

from typing import Any


def wbvla_card_section(policy: Any, train_cfg: Any | None, dataset_repo_id: str | None) -> str:
    """Markdown naming the backbone, the LAM teacher (id and revision), the dataset(s) and the last metrics."""
    cfg = policy.config
    datasets = [dataset_repo_id] if dataset_repo_id else []
    if train_cfg is not None and getattr(train_cfg, "dataset", None) is not None:
        repo = getattr(train_cfg.dataset, "repo_id", None)
        if repo and repo not in datasets:
            datasets.append(repo)
    params = sum(p.numel() for p in policy.parameters())
    trainable = sum(p.numel() for p in policy.parameters() if p.requires_grad)
    lines = [
        "## WholeBodyVLA (`wbvla`)",
        "",
        "| | |",
        "|---|---|",
        f"| backbone | `{cfg.vlm_model_name}`"
        + (f" @ `{cfg.vlm_revision}`" if cfg.vlm_revision else "")
        + f" ({policy.vlm.family}, saved with the checkpoint in `vlm/`) |",
        f"| backbone training | {cfg.vlm_training} |",
        f"| LAM teacher | `{cfg.lam or 'none'}` @ `{cfg.lam_revision or 'main'}` |",
        f"| latent | {cfg.num_action_tokens} tokens x {cfg.latent_dim}, codes {cfg.lam_num_codes} x "
        f"{cfg.lam_codebook_size}, frame gap {cfg.lam_frame_gap} |",
        f"| action chunk | {cfg.chunk_size} (execute {cfg.n_action_steps}), loco head {cfg.loco_head} |",
        f"| dataset(s) | {', '.join(f'`{d}`' for d in datasets) or 'unknown'} |",
        f"| parameters | {params / 1e6:.2f} M ({trainable / 1e6:.2f} M trainable) |",
    ]
    metrics = getattr(policy, "last_train_metrics", {}) or {}
    if metrics:
        lines += ["", "Last training batch: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))]
    lines += [
        "",
        "Run it: `lerobot-eval --policy.path=<this repo> --env.type=agibot_x2` (sim), or `lerobot-rollout "
        '--robot.type=agibot_x2 --policy.path=<this repo> --task="<instruction>" --inference.type=sync` (the '
        "robot); install `lerobot_policy_wbvla` first.",
        "",
    ]
    return "\n".join(lines)
