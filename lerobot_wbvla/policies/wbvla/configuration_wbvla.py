"""Configuration of the `wbvla` policy (`--policy.type=wbvla`): the WholeBodyVLA vision-language-action model.

A Hugging Face vision-language model reads the head camera and the task instruction; a latent projector turns its
last hidden state into `num_action_tokens` latent-action tokens of the LAM's latent size (z_t = their mean), and an
action decoder turns the tokens and the robot state into a chunk of arm joint targets and gripper commands. The
frozen LAM is the teacher of the tokens (article, Layer 2). Sizes of the latent come from the LAM's own
`config.json` (`lam`, `lam_revision`): they are never typed by the user, and a mismatch is an error.

Defaults follow the article (Qwen2-VL-2B backbone, 8 action tokens, L1 action loss); the paper's variants are
options: cross-entropy over the LAM's discrete codes (`code_loss_weight`) and a locomotion head (`loco_head`) that
also drives `loco.vx, loco.vy, loco.yaw_rate, loco.height` of the X2 whole-body action.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.configs.policies import PreTrainedConfig
from lerobot.configs.types import NormalizationMode
from lerobot.optim.optimizers import AdamWConfig
from lerobot.optim.schedulers import CosineDecayWithWarmupSchedulerConfig
from lerobot.utils.constants import ACTION, OBS_STATE

VLM_TRAINING_MODES = ("full", "freeze_vision", "lora", "frozen")
TEACHER_LABEL_MODES = ("auto", "sidecar", "on_the_fly")
AUTOCAST_DTYPES = ("bf16", "fp16", "none")
STATE_ENTRIES = ("pos_vel", "all")
# The state entries `lerobot-rollout` gives a policy: LeRobot 0.6.1 builds observation.state from a robot's float
# features whose names end in these suffixes only (lerobot/rollout/context.py), which leaves out the X2's imu.* and
# foot_contact.* entries.
ROLLOUT_STATE_SUFFIXES = (".pos", ".vel")
# The camera rate the X2 records at: used only to turn a LAM's frame_gap="auto" into frames (checked against the
# dataset's fps when training starts).
X2_FPS = 30


@PreTrainedConfig.register_subclass("wbvla")
@dataclass
class WbvlaConfig(PreTrainedConfig):
    # ------------------------------------------------------------------ inputs / outputs
    n_obs_steps: int = 1
    # Camera keys the VLM sees (None = every image feature of the dataset/env).
    image_keys: list[str] | None = None
    # Camera the LAM teacher reads (its labels describe the motion seen by this camera).
    lam_camera_key: str = "observation.images.head"
    # Frames of the action chunk predicted per inference, and how many of them are executed before predicting again.
    chunk_size: int = 16
    n_action_steps: int = 8
    # ACT's temporal ensembling of overlapping chunks (None = off; needs n_action_steps=1, a query every step).
    temporal_ensemble_coeff: float | None = None
    # Names of the action vector's entries (filled from the dataset when training starts; saved with the policy).
    action_names: list[str] | None = None
    # Which entries of observation.state the policy reads. "pos_vel": the joint positions and velocities (names
    # ending in .pos/.vel), the only ones `lerobot-rollout` passes to a policy; "all": every entry, IMU and foot
    # contacts too (such a policy runs offline and in lerobot-eval, but not under lerobot-rollout).
    state_entries: str = "pos_vel"
    # Names of the dataset's observation.state entries (filled from the dataset when training starts; saved with
    # the policy). Unknown names (None) -> every entry is read.
    state_names: list[str] | None = None

    normalization_mapping: dict[str, NormalizationMode] = field(
        default_factory=lambda: {
            # The VLM's own processor normalises images; the LAM teacher reads raw [0, 1] frames.
            "VISUAL": NormalizationMode.IDENTITY,
            # The policy normalises the state entries it reads itself (mean/std of the dataset, kept with its
            # weights): `lerobot-rollout` passes a policy only the robot's .pos/.vel entries (66 of the X2's 80),
            # which LeRobot's normaliser, built on the dataset's 80, would refuse.
            "STATE": NormalizationMode.IDENTITY,
            "ACTION": NormalizationMode.MEAN_STD,
        }
    )

    # ------------------------------------------------------------------ backbone
    # Hugging Face repo id or local folder of the vision-language model (the article's Qwen2-VL-2B by default).
    # Supported families: Qwen2-VL, Qwen2.5-VL, SmolVLM/SmolVLM2 (Idefics3), PaliGemma.
    vlm_model_name: str = "Qwen/Qwen2-VL-2B-Instruct"
    vlm_revision: str | None = None
    # False: build the backbone from its config with random weights (tests, benchmarks, or weights loaded later).
    load_vlm_weights: bool = True
    # full = train everything; freeze_vision = freeze the vision tower; lora = LoRA adapters on the language
    # model (peft), the rest frozen; frozen = the backbone is a fixed feature extractor.
    vlm_training: str = "freeze_vision"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    # Module names LoRA wraps (None = the attention and MLP projections of the language model).
    lora_target_modules: list[str] | None = None
    # Side the camera frames are resized to before the VLM's processor (None = the processor's own size).
    vlm_image_size: int | None = 224
    # Tokens of the task instruction (longer ones are truncated).
    max_text_tokens: int = 48
    # Mixed precision of the backbone on CUDA (ignored on CPU).
    autocast_dtype: str = "bf16"

    # ------------------------------------------------------------------ latent action teacher (LAM)
    # LAM repo id or local folder (None = no latent loss: the policy learns actions only).
    lam: str | None = None
    lam_revision: str | None = None
    # Read from the LAM's config.json when the config is created; a value given here must match it.
    latent_dim: int | None = None
    lam_num_codes: int | None = None
    lam_codebook_size: int | None = None
    # Frames between o_t and o_t+k of the LAM's pairs (from its config; "auto" gaps resolved at X2_FPS).
    lam_frame_gap: int | None = None
    # Where the teacher's labels come from: "sidecar" = the `wbvla-lam-label` file beside the dataset for this LAM
    # and revision (error if missing); "on_the_fly" = run the frozen LAM on frames t and t+k of each batch; "auto" =
    # the sidecar when there is one, else on the fly. Frame t+k is loaded either way: the first batch checks the
    # sidecar's codes against the teacher's own labels, so codes from another LAM are refused.
    teacher_labels: str = "auto"

    # ------------------------------------------------------------------ head
    num_action_tokens: int = 8
    # Width of the latent projector's queries and of the action decoder. 128 (~0.7M parameters with 2 decoder
    # layers) rather than 256 (~2.8M): with a small backbone the head was most of a training step, and at 128 wbvla
    # trains as fast as SmolVLA on the same backbone (bench/vla_latency.py) while its held-out arm error stays far
    # under the mean-action baseline (bench/vla_eval.py).
    head_dim: int = 128
    head_heads: int = 4
    decoder_layers: int = 2
    head_dropout: float = 0.1
    # The action decoder also reads the robot state (observation.state).
    use_state: bool = True
    # Paper variant: also decode the locomotion command (loco.*) of the X2 whole-body action. Off: the loco.*
    # entries of the action are 0 (stand in place at the nominal height).
    loco_head: bool = False

    # ------------------------------------------------------------------ objective
    action_loss_weight: float = 1.0
    loco_loss_weight: float = 1.0
    # MSE between z_t (mean of the tokens) and the LAM's quantised latent z_q: the z_t the LMO consumes.
    latent_loss_weight: float = 1.0
    # Cross-entropy over the LAM's code indices (the paper's discrete tokens); used when the LAM is a VQ model.
    code_loss_weight: float = 1.0
    # Camera noise and lighting (the project's CameraNoiseLighting) on training frames the VLM sees.
    camera_augment: bool = True

    # ------------------------------------------------------------------ optimisation
    optimizer_lr: float = 1e-4
    # Learning rate of the backbone's trainable parameters (None = optimizer_lr).
    optimizer_lr_vlm: float | None = 2e-5
    optimizer_betas: tuple[float, float] = (0.9, 0.95)
    optimizer_eps: float = 1e-8
    optimizer_weight_decay: float = 1e-4
    optimizer_grad_clip_norm: float = 1.0
    # torch's fused AdamW kernel (the same update; one kernel instead of a Python loop over the parameters: ~6x
    # faster optimiser steps on CPU). Used where torch has it (CPU, CUDA; float parameters), the loop elsewhere.
    optimizer_fused: bool = True
    scheduler_warmup_steps: int = 500
    scheduler_decay_steps: int = 30_000
    scheduler_decay_lr: float = 2.5e-6

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, value, allowed in (
            ("vlm_training", self.vlm_training, VLM_TRAINING_MODES),
            ("teacher_labels", self.teacher_labels, TEACHER_LABEL_MODES),
            ("autocast_dtype", self.autocast_dtype, AUTOCAST_DTYPES),
            ("state_entries", self.state_entries, STATE_ENTRIES),
        ):
            if value not in allowed:
                raise ValueError(f"--policy.{name}={value!r} is not one of {', '.join(allowed)}.")
        if self.n_action_steps > self.chunk_size:
            raise ValueError(
                f"--policy.n_action_steps={self.n_action_steps} is larger than --policy.chunk_size="
                f"{self.chunk_size}: the policy cannot execute more actions than it predicts."
            )
        if self.temporal_ensemble_coeff is not None and self.n_action_steps > 1:
            raise ValueError(
                "--policy.temporal_ensemble_coeff needs --policy.n_action_steps=1 (a new chunk every step)."
            )
        if self.num_action_tokens < 1 or self.chunk_size < 1:
            raise ValueError("--policy.num_action_tokens and --policy.chunk_size must be >= 1.")
        if self.lam is not None:
            self._fill_latent_sizes_from_lam()

    def _fill_latent_sizes_from_lam(self) -> None:
        """Take the latent sizes from the LAM's config.json; a value already set must agree with it.

        A config loaded from a checkpoint already holds the sizes: then the LAM is not read here (evaluation and
        inference never need the LAM); the teacher checks them again when training loads it.
        """
        if None not in (self.latent_dim, self.lam_num_codes, self.lam_codebook_size, self.lam_frame_gap):
            return
        from lerobot_wbvla.datasets import resolve_frame_gap
        from lerobot_wbvla.policies.wbvla.lam_teacher import LAMMismatchError, lam_summary

        summary = lam_summary(self.lam, self.lam_revision)
        gap = resolve_frame_gap(summary["frame_gap"], X2_FPS, summary["target_offset_s"])
        wanted = {
            "latent_dim": summary["latent_dim"] * summary["num_codes"],
            "lam_num_codes": summary["num_codes"],
            "lam_codebook_size": summary["codebook_size"],
            "lam_frame_gap": gap,
        }
        for name, value in wanted.items():
            given = getattr(self, name)
            if given is not None and given != value:
                raise LAMMismatchError(
                    f"--policy.{name}={given} does not match the LAM {self.lam}@{self.lam_revision or 'main'} "
                    f"({value}): leave --policy.{name} unset (it is read from the LAM) or pass the LAM it came from."
                )
            setattr(self, name, value)

    # ------------------------------------------------------------------ LeRobot's config protocol
    @property
    def uses_latent_teacher(self) -> bool:
        return self.lam is not None and (self.latent_loss_weight > 0 or self.code_loss_weight > 0)

    @property
    def observation_delta_indices(self) -> list[int] | None:
        # Frame t+k labels on the fly, and checks a sidecar against the teacher on the first batch.
        if self.uses_latent_teacher:
            return [0, int(self.lam_frame_gap)]
        return None

    @property
    def action_delta_indices(self) -> list[int]:
        return list(range(self.chunk_size))

    @property
    def reward_delta_indices(self) -> None:
        return None

    @property
    def vlm_image_keys(self) -> list[str]:
        return list(self.image_keys) if self.image_keys is not None else list(self.image_features)

    def validate_features(self) -> None:
        """Called by the policy: names the missing input and what to pass."""
        available = list(self.image_features)
        if not available:
            raise ValueError(
                "wbvla needs at least one camera (observation.images.<name>) in the dataset or env; found "
                f"features {sorted(self.input_features)}."
            )
        for key in self.vlm_image_keys:
            if key not in self.image_features:
                raise ValueError(
                    f"--policy.image_keys names {key!r}, which the dataset does not have (cameras: {available}): "
                    "pass --policy.image_keys with existing keys (or leave it unset to use every camera)."
                )
        if self.uses_latent_teacher and self.lam_camera_key not in self.image_features:
            raise ValueError(
                f"the LAM teacher reads --policy.lam_camera_key={self.lam_camera_key!r}, which the dataset does not "
                f"have (cameras: {available}): pass --policy.lam_camera_key=<one of them>."
            )
        if self.action_feature is None and not self.uses_latent_teacher:
            raise ValueError(
                "the dataset has no 'action' and no LAM teacher is set: nothing to learn. Pass --policy.lam=<LAM "
                "repo id or folder> for latent pretraining, or train on a dataset with actions."
            )

    @property
    def state_size(self) -> int:
        """Entries of the dataset's observation.state (0 when the policy has no state input)."""
        state = self.input_features.get(OBS_STATE)
        return int(state.shape[0]) if state is not None else 0

    @property
    def state_indices(self) -> list[int]:
        """Positions in observation.state of the entries the policy reads (`state_entries`)."""
        if not self.use_state:
            return []
        every = list(range(self.state_size))
        names = self.state_names
        if self.state_entries == "all" or names is None:
            return every
        if len(names) != self.state_size:
            raise ValueError(
                f"--policy.state_names has {len(names)} names but observation.state has {self.state_size} entries: "
                "leave --policy.state_names unset (it is read from the dataset)."
            )
        picked = [i for i, n in enumerate(names) if n.endswith(ROLLOUT_STATE_SUFFIXES)]
        return picked or every  # names without .pos/.vel: nothing to select by

    @property
    def state_dim(self) -> int:
        return len(self.state_indices)

    @property
    def action_dim(self) -> int:
        action = self.output_features.get(ACTION)
        return int(action.shape[0]) if action is not None else 0

    def get_optimizer_preset(self) -> AdamWConfig:
        return AdamWConfig(
            lr=self.optimizer_lr,
            betas=self.optimizer_betas,
            eps=self.optimizer_eps,
            weight_decay=self.optimizer_weight_decay,
            grad_clip_norm=self.optimizer_grad_clip_norm,
        )

    def get_scheduler_preset(self) -> CosineDecayWithWarmupSchedulerConfig:
        return CosineDecayWithWarmupSchedulerConfig(
            peak_lr=self.optimizer_lr,
            decay_lr=self.scheduler_decay_lr,
            num_warmup_steps=self.scheduler_warmup_steps,
            num_decay_steps=self.scheduler_decay_steps,
        )
