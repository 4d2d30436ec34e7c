"""The `wbvla` policy: a Hugging Face VLM, latent-action tokens taught by a frozen LAM, and an action decoder.

Training (`lerobot-train --policy.type=wbvla`): the batch holds the camera frames (frame t, and frame t+k when the
teacher labels on the fly), the task strings, the state and an action chunk. Losses, each logged:
- `loss_latent_mse`: z_t (mean of the tokens) against the LAM's quantised latent z_q of (o_t, o_t+k);
- `loss_code_ce`: cross-entropy of the code head against the LAM's code indices (VQ LAMs), with `code_accuracy`;
- `loss_action_l1` (arms and grippers) and `loss_loco_l1` (loco head): L1 over the chunk, padded steps masked.
A dataset without actions (latent pretraining on video) trains the tokens only; fine-tuning from such a checkpoint
adds the decoder.

Inference: `select_action` pops a queue of `n_action_steps` actions from each predicted chunk (or ensembles
chunks, ACT's temporal ensembling); `predict_latent()` returns the latest z_t and the `time.monotonic()` instant it
was computed: the dual-rate runtime hands it to the LMO between VLA calls.

Checkpoints are self-contained: `vlm/` beside `model.safetensors` holds the backbone's config and processor, so a
checkpoint loads on a machine with neither the backbone folder nor its Hub id.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from lerobot.policies.act.modeling_act import ACTTemporalEnsembler
from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.utils.constants import ACTION, OBS_STATE
from torch import Tensor

from lerobot_wbvla.policies.wbvla.backbone import VLMBackbone
from lerobot_wbvla.policies.wbvla.configuration_wbvla import WbvlaConfig
from lerobot_wbvla.policies.wbvla.heads import ActionDecoder, CodeHead, LatentProjector
from lerobot_wbvla.robots.agibot_x2.joints import LOCO_KEYS

logger = logging.getLogger(__name__)

VLM_ASSETS_DIR = "vlm"
STATE_CLIP = 10.0
# Latent width when no LAM is configured (the article's z_t is 256-d).
DEFAULT_LATENT_DIM = 256


class WbvlaPolicy(PreTrainedPolicy):
    config_class = WbvlaConfig
    name = "wbvla"

    def __init__(
        self,
        config: WbvlaConfig,
        dataset_stats: dict | None = None,
        dataset_meta=None,
        vlm_assets_dir: str | Path | None = None,
        **kwargs,
    ):
        super().__init__(config)
        _adopt_dataset_state(config, dataset_meta)
        config.validate_features()
        self.config = config
        if config.action_names is None:
            config.action_names = _feature_names(dataset_meta, ACTION)
        if config.state_names is None:
            config.state_names = _feature_names(dataset_meta, OBS_STATE)
        self._dataset_meta = dataset_meta

        if vlm_assets_dir is not None:
            self.vlm = VLMBackbone.from_assets(
                Path(vlm_assets_dir), image_size=config.vlm_image_size, max_text_tokens=config.max_text_tokens
            )
        else:
            self.vlm = VLMBackbone(
                config.vlm_model_name,
                revision=config.vlm_revision,
                load_weights=config.load_vlm_weights,
                image_size=config.vlm_image_size,
                max_text_tokens=config.max_text_tokens,
            )
        self._apply_vlm_training_mode()
        if config.autocast_dtype != "none":
            self.vlm.autocast_dtype = torch.bfloat16 if config.autocast_dtype == "bf16" else torch.float16

        latent_dim = config.latent_dim or DEFAULT_LATENT_DIM
        self.projector = LatentProjector(
            self.vlm.hidden_size,
            config.num_action_tokens,
            latent_dim,
            config.head_dim,
            config.head_heads,
            config.head_dropout,
        )
        self.code_head = (
            CodeHead(
                latent_dim,
                config.num_action_tokens,
                config.lam_num_codes,
                config.lam_codebook_size,
                config.head_dim,
            )
            if config.lam is not None and config.code_loss_weight > 0
            else None
        )

        # Which action entries the decoder predicts: all but loco.* unless the loco head is on. The others are
        # filled with the normalised value of 0 (stand in place at the nominal height).
        self.decoder = None
        if config.action_dim > 0:
            names = config.action_names or [f"action_{i}" for i in range(config.action_dim)]
            if len(names) != config.action_dim:
                raise ValueError(
                    f"--policy.action_names has {len(names)} names but the dataset's action has {config.action_dim} "
                    "entries: leave --policy.action_names unset (it is read from the dataset)."
                )
            is_loco = torch.tensor([n in LOCO_KEYS for n in names])
            predicted = ~is_loco if not config.loco_head else torch.ones_like(is_loco)
            self.register_buffer("predicted_idx", torch.nonzero(predicted).flatten(), persistent=False)
            self.register_buffer("loco_in_pred", is_loco[predicted], persistent=False)
            self.register_buffer("action_fill", self._normalised_zero(dataset_stats, config.action_dim))
            self.decoder = ActionDecoder(
                latent_dim,
                config.state_dim,
                int(predicted.sum()),
                config.chunk_size,
                config.head_dim,
                config.head_heads,
                config.decoder_layers,
                config.head_dropout,
            )

        # The state entries the decoder reads (config.state_entries; the others never reach the model), and their
        # mean/std (the dataset's), saved with the weights: the policy normalises them itself.
        self.register_buffer(
            "state_idx", torch.tensor(config.state_indices, dtype=torch.long), persistent=False
        )
        if (
            config.state_dim > 0
        ):  # (none without a state: a checkpoint fine-tuned later on demos gets them then)
            mean, std = _state_stats(dataset_stats, config.state_indices)
            self.register_buffer("state_mean", mean)
            self.register_buffer("state_std", std)

        self._teacher = None
        self._sidecar = None
        self._augment = None
        self._latest_z: Tensor | None = None
        self._latest_z_time: float | None = None
        self.last_train_metrics: dict[str, float] = {}
        if dataset_meta is not None and config.uses_latent_teacher:
            self._load_teacher()  # fail now, not after the first batch, on a bad LAM or sidecar
        self.reset()

    # ------------------------------------------------------------------ construction helpers
    def _apply_vlm_training_mode(self) -> None:
        mode = self.config.vlm_training
        if mode == "freeze_vision":
            self.vlm.freeze_vision()
        elif mode == "lora":
            self.vlm.apply_lora(
                self.config.lora_r,
                self.config.lora_alpha,
                self.config.lora_dropout,
                self.config.lora_target_modules,
            )
        elif mode == "frozen":
            for p in self.vlm.parameters():
                p.requires_grad_(False)

    @staticmethod
    def _normalised_zero(dataset_stats: dict | None, action_dim: int) -> Tensor:
        """The normalised value of a raw 0 under MEAN_STD (LeRobot's normaliser: (x - mean) / (std + 1e-8))."""
        stats = (dataset_stats or {}).get(ACTION)
        if not stats or "mean" not in stats or "std" not in stats:
            return torch.zeros(action_dim)
        mean = torch.as_tensor(stats["mean"], dtype=torch.float32).flatten()
        std = torch.as_tensor(stats["std"], dtype=torch.float32).flatten()
        return -mean / (std + 1e-8)

    def _load_teacher(self) -> None:
        """Load the frozen LAM (never part of the state dict) and, when there is one, its codes sidecar."""
        from lerobot_wbvla.policies.wbvla.lam_teacher import CodesSidecar, LAMMismatchError, LAMTeacher

        cfg = self.config
        teacher = LAMTeacher.load(cfg.lam, cfg.lam_revision, device=str(cfg.device or "cpu"))
        teacher.check_compatible(
            cfg.latent_dim // cfg.lam_num_codes, cfg.lam_num_codes, cfg.lam_codebook_size
        )
        meta = self._dataset_meta
        if meta is not None:
            gap = teacher.frame_gap(meta.fps)
            if cfg.observation_delta_indices is not None and gap != cfg.lam_frame_gap:
                raise LAMMismatchError(
                    f"the LAM pairs frames {gap} apart at the dataset's {meta.fps} fps but the policy loads frame "
                    f"t+{cfg.lam_frame_gap}: pass --policy.lam_frame_gap={gap}."
                )
        sidecar = None
        if cfg.teacher_labels != "on_the_fly" and meta is not None:
            sidecar = CodesSidecar.find(Path(meta.root), cfg.lam, cfg.lam_revision)
            if sidecar is not None and (sidecar.num_codes, sidecar.latent_dim) != (
                teacher.num_codes,
                teacher.latent_dim,
            ):
                raise LAMMismatchError(
                    f"codes in {sidecar.path} have {sidecar.num_codes} codes x {sidecar.latent_dim}, the LAM "
                    f"{teacher.name} {teacher.num_codes} x {teacher.latent_dim}: they come from another LAM; re-run "
                    f"wbvla-lam-label --lam={cfg.lam} or pass --policy.teacher_labels=on_the_fly."
                )
            if sidecar is None and cfg.teacher_labels == "sidecar":
                others = [p.name for p in CodesSidecar.others(meta.root, cfg.lam, cfg.lam_revision)]
                raise LAMMismatchError(
                    f"--policy.teacher_labels=sidecar but {meta.root}/lam_codes has no codes of LAM {teacher.name}"
                    + (f" (only {', '.join(others)}: another LAM or revision)" if others else "")
                    + f": run wbvla-lam-label --lam={cfg.lam}"
                    + (f" --lam_revision={cfg.lam_revision}" if cfg.lam_revision else "")
                    + f" --dataset_root={meta.root}, or pass --policy.teacher_labels=auto."
                )
        self._teacher, self._sidecar, self._sidecar_verified = teacher, sidecar, False
        logger.info("wbvla: LAM teacher %s, labels from %s", cfg.lam, "sidecar" if sidecar else "the LAM")

    # ------------------------------------------------------------------ LeRobot's policy protocol
    def get_optim_params(self) -> list[dict]:
        head = [p for n, p in self.named_parameters() if p.requires_grad and not n.startswith("vlm.")]
        vlm = [p for p in self.vlm.parameters() if p.requires_grad]
        groups = [{"params": head}]
        if vlm:
            lr = self.config.optimizer_lr_vlm
            groups.append({"params": vlm} if lr is None else {"params": vlm, "lr": lr})
        if self.config.optimizer_fused and _fused_adamw_supported(head + vlm):
            # Per group, so that LeRobot's plain "adamw" optimizer config (which has no such field) builds it.
            for group in groups:
                group["fused"] = True
        return groups

    def reset(self) -> None:
        self._action_queue: deque[Tensor] = deque([], maxlen=self.config.n_action_steps)
        self._ensembler = (
            ACTTemporalEnsembler(self.config.temporal_ensemble_coeff, self.config.chunk_size)
            if self.config.temporal_ensemble_coeff is not None
            else None
        )

    def _frames(self, batch: dict, key: str) -> tuple[Tensor, Tensor]:
        """(frame t, frame t+k) of a camera; the same frame twice when the batch has no time axis."""
        x = batch[key]
        if x.dim() == 5:
            return x[:, 0], x[:, -1]
        return x, x

    @staticmethod
    def _tasks(batch: dict, n: int) -> list[str]:
        task = batch.get("task")
        if task is None:
            raise ValueError(
                "wbvla needs a task instruction per sample (batch key 'task'): record the dataset with "
                "--dataset.single_task, or give the env/robot loop a task string."
            )
        tasks = [task] * n if isinstance(task, str) else list(task)
        if len(tasks) != n:
            raise ValueError(f"the batch has {n} samples but {len(tasks)} task strings")
        return tasks

    def _state(self, batch: dict) -> Tensor | None:
        if self.config.state_dim == 0:
            return None
        state = batch.get(OBS_STATE)
        if state is None:
            raise ValueError(
                "this wbvla policy reads observation.state but the batch has none: pass --policy.use_state=false "
                "to train without it."
            )
        state = state[:, 0] if state.dim() == 3 else state
        width, read = state.shape[-1], len(self.state_idx)
        if width == self.config.state_size:
            state = state[:, self.state_idx]
        elif width != read:  # lerobot-rollout's state holds only the entries the policy reads, in their order
            raise ValueError(
                f"observation.state has {width} entries; this wbvla policy was trained on {self.config.state_size} "
                f"and reads {read} of them. lerobot-rollout passes only the robot's .pos/.vel entries: train the "
                "policy with --policy.state_entries=pos_vel (the default) to run it there."
            )
        state = (state - self.state_mean) / (self.state_std + 1e-8)
        # Entries that barely move in the dataset (std ~1e-6) become huge after normalisation; clipping keeps one
        # noisy sensor from dominating the decoder's input.
        return state.clamp(-STATE_CLIP, STATE_CLIP)

    def _augment_frames(self, images: list[Tensor]) -> list[Tensor]:
        if not (self.training and self.config.camera_augment):
            return images
        if self._augment is None:
            from lerobot_wbvla.datasets.augment import CameraNoiseLighting

            self._augment = CameraNoiseLighting()
        return [torch.stack([self._augment(img) for img in batch_imgs]) for batch_imgs in images]

    def encode(self, batch: dict) -> Tensor:
        """Latent-action tokens (B, num_action_tokens, latent_dim) of the current frames and tasks."""
        images = [self._frames(batch, k)[0] for k in self.config.vlm_image_keys]
        tasks = self._tasks(batch, images[0].shape[0])
        images = self._augment_frames(images)
        device = next(self.projector.parameters()).device
        inputs = {
            k: (v.to(device) if isinstance(v, Tensor) else v)
            for k, v in self.vlm.prepare(images, tasks).items()
        }
        hidden, mask = self.vlm(inputs)
        return self.projector(hidden.float(), mask.to(device))

    def _decode(self, tokens: Tensor, batch: dict) -> Tensor:
        """Tokens -> the full normalised action chunk (B, chunk, action_dim), undecoded entries filled."""
        if self.decoder is None:
            raise RuntimeError(
                "this wbvla policy was trained without actions (latent pretraining): fine-tune it on robot demos "
                "(lerobot-train --policy.path=<this checkpoint> --dataset.repo_id=<demos>) before running it."
            )
        pred = self.decoder(tokens, self._state(batch))
        full = self.action_fill.to(pred.dtype).expand(pred.shape[0], pred.shape[1], -1).clone()
        full[:, :, self.predicted_idx] = pred
        return full

    def _record_latent(self, tokens: Tensor) -> None:
        self._latest_z = tokens.mean(dim=1).detach()
        self._latest_z_time = time.monotonic()

    # ------------------------------------------------------------------ training
    def forward(self, batch: dict, reduction: str = "mean") -> tuple[Tensor, dict]:
        tokens = self.encode(batch)
        per_sample: dict[str, Tensor] = {}
        logs: dict[str, float] = {}
        cfg = self.config
        if self.decoder is not None and batch.get(ACTION) is not None:
            pred = self.decoder(tokens, self._state(batch))
            target = batch[ACTION][:, :, self.predicted_idx]
            valid = (
                ~batch["action_is_pad"]
                if "action_is_pad" in batch
                else torch.ones(pred.shape[:2], dtype=bool)
            )
            err = (pred - target).abs() * valid.unsqueeze(-1).to(pred.dtype)
            steps = valid.sum(1).clamp_min(1).to(pred.dtype)
            arm = ~self.loco_in_pred
            per_sample["loss_action_l1"] = err[:, :, arm].sum((1, 2)) / (steps * int(arm.sum()))
            if cfg.loco_head and bool(self.loco_in_pred.any()):
                loco = self.loco_in_pred
                per_sample["loss_loco_l1"] = err[:, :, loco].sum((1, 2)) / (steps * int(loco.sum()))
        if cfg.uses_latent_teacher:
            codes, z_q = self._teacher_labels(batch)
            z_t = tokens.mean(dim=1)
            per_sample["loss_latent_mse"] = (z_t - z_q.flatten(1).to(z_t)).pow(2).mean(1)
            if self.code_head is not None:
                logits = self.code_head(tokens)
                codes = codes.to(logits.device)
                per_sample["loss_code_ce"] = (
                    F.cross_entropy(logits.flatten(0, 1), codes.flatten(), reduction="none")
                    .view(codes.shape)
                    .mean(1)
                )
                logs["code_accuracy"] = float((logits.argmax(-1) == codes).float().mean())
        if not per_sample:
            raise ValueError(
                "nothing to learn from this batch: it has no 'action' and the policy has no LAM teacher "
                "(--policy.lam)."
            )
        weights = {
            "loss_action_l1": cfg.action_loss_weight,
            "loss_loco_l1": cfg.loco_loss_weight,
            "loss_latent_mse": cfg.latent_loss_weight,
            "loss_code_ce": cfg.code_loss_weight,
        }
        total = sum(weights[k] * v for k, v in per_sample.items())
        logs.update({k: float(v.detach().mean()) for k, v in per_sample.items()})
        self.last_train_metrics = dict(logs)
        if reduction == "none":
            return total, logs
        return total.mean(), logs

    def _teacher_labels(self, batch: dict) -> tuple[Tensor, Tensor]:
        if self._teacher is None:
            self._load_teacher()
        frame_t, frame_tk = self._frames(batch, self.config.lam_camera_key)
        if self._sidecar is not None and "index" in batch:
            if not self._sidecar_verified and frame_t is not frame_tk:
                agreement = self._sidecar.verify(self._teacher, batch["index"], frame_t, frame_tk)
                logger.info(
                    "wbvla: %s agrees with the LAM on %.0f%% of a batch's codes",
                    self._sidecar.path,
                    100 * agreement,
                )
                self._sidecar_verified = True
            return self._sidecar.lookup(batch["index"].cpu())
        if frame_t is frame_tk:
            raise ValueError(
                f"labelling on the fly needs frame t+{self.config.lam_frame_gap} of {self.config.lam_camera_key} "
                "in the batch: train through lerobot-train (it loads it from the policy's delta indices), or label "
                "the dataset with wbvla-lam-label and pass --policy.teacher_labels=sidecar."
            )
        return self._teacher.labels(frame_t, frame_tk)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict_action_chunk(self, batch: dict, **kwargs) -> Tensor:
        tokens = self.encode(batch)
        self._record_latent(tokens)
        return self._decode(tokens, batch)

    @torch.no_grad()
    def select_action(self, batch: dict, **kwargs) -> Tensor:
        if self._ensembler is not None:
            return self._ensembler.update(self.predict_action_chunk(batch))
        if not self._action_queue:
            chunk = self.predict_action_chunk(batch)[:, : self.config.n_action_steps]
            self._action_queue.extend(chunk.transpose(0, 1))
        return self._action_queue.popleft()

    @torch.no_grad()
    def predict_latent(self, batch: dict | None = None) -> tuple[Tensor, float]:
        """The latest latent action z_t (B, latent_dim) and the `time.monotonic()` instant it was computed.

        With a (preprocessed) batch, computes it from that observation now; without, returns the one from the last
        `select_action` chunk or `predict_action_chunk` call: the dual-rate runtime's VLA side refreshes it at
        10-20 Hz while the LMO reads it at 50 Hz.
        """
        if batch is not None:
            self._record_latent(self.encode(batch))
        if self._latest_z is None:
            raise RuntimeError("no latent yet: call select_action(batch) or predict_latent(batch) first")
        return self._latest_z, self._latest_z_time

    # ------------------------------------------------------------------ saving and loading
    def _save_pretrained(self, save_directory: Path, state_dict: dict[str, Tensor] | None = None) -> None:
        super()._save_pretrained(save_directory, state_dict=state_dict)
        self.vlm.save_assets(Path(save_directory) / VLM_ASSETS_DIR)

    @classmethod
    def from_pretrained(
        cls, pretrained_name_or_path: str | Path, *, config: WbvlaConfig | None = None, **kwargs
    ):
        """LeRobot's loading, with the backbone rebuilt from the checkpoint's own `vlm/` folder."""
        from lerobot.configs.policies import PreTrainedConfig

        hub_kwargs = {
            k: kwargs[k]
            for k in ("force_download", "proxies", "token", "cache_dir", "local_files_only", "revision")
            if k in kwargs
        }
        if config is None:
            config = PreTrainedConfig.from_pretrained(pretrained_name_or_path, **hub_kwargs)
        assets = resolve_vlm_assets(pretrained_name_or_path, **hub_kwargs)
        return super().from_pretrained(
            pretrained_name_or_path, config=config, vlm_assets_dir=assets, **kwargs
        )

    def generate_model_card(
        self, dataset_repo_id: str, model_type: str, license, tags, cfg=None, dataset_meta=None
    ):
        from lerobot_wbvla.policies.wbvla.hub_card import wbvla_card_section

        card = super().generate_model_card(
            dataset_repo_id, model_type, license, tags, cfg=cfg, dataset_meta=dataset_meta
        )
        card.text = card.text + "\n" + wbvla_card_section(self, cfg, dataset_repo_id)
        return card


def _fused_adamw_supported(params: list[Tensor]) -> bool:
    """torch's fused AdamW runs on CPU and CUDA tensors of floating types, all on one device type."""
    if not params:
        return False
    kinds = {p.device.type for p in params}
    return len(kinds) == 1 and kinds <= {"cpu", "cuda"} and all(p.is_floating_point() for p in params)


def _adopt_dataset_state(config: WbvlaConfig, dataset_meta) -> None:
    """Fine-tuning a checkpoint that had no state (latent pretraining on video) on demos that have one: LeRobot's
    make_policy keeps a checkpoint's input features, so the robot state is added here, or the action decoder would
    never see it."""
    if dataset_meta is None or OBS_STATE in config.input_features or not config.use_state:
        return
    from lerobot.utils.feature_utils import dataset_to_policy_features

    state = dataset_to_policy_features(dataset_meta.features).get(OBS_STATE)
    if state is not None:
        config.input_features = {**config.input_features, OBS_STATE: state}


def _state_stats(dataset_stats: dict | None, indices: list[int]) -> tuple[Tensor, Tensor]:
    """Mean and std of the state entries the policy reads (0 and 1 when the dataset's stats are unknown: a
    checkpoint's own values are loaded over them)."""
    stats = (dataset_stats or {}).get(OBS_STATE) or {}
    if "mean" not in stats or "std" not in stats:
        return torch.zeros(len(indices)), torch.ones(len(indices))
    idx = torch.tensor(indices, dtype=torch.long)
    mean = torch.as_tensor(stats["mean"], dtype=torch.float32).flatten()[idx]
    std = torch.as_tensor(stats["std"], dtype=torch.float32).flatten()[idx]
    return mean, std


def _feature_names(dataset_meta, key: str) -> list[str] | None:
    """Names of a dataset feature's entries (None when the dataset or the names are unknown)."""
    if dataset_meta is None or key not in dataset_meta.features:
        return None
    names = dataset_meta.features[key].get("names")
    if isinstance(names, dict):  # LeRobot's {"motors": [...]} form
        names = next(iter(names.values()))
    return list(names) if names else None


def resolve_vlm_assets(pretrained_name_or_path: str | Path, **hub_kwargs) -> Path:
    """The checkpoint's `vlm/` folder: local, or downloaded with the rest of the checkpoint from the Hub."""
    path = Path(pretrained_name_or_path)
    if path.is_dir():
        assets = path / VLM_ASSETS_DIR
    else:
        from huggingface_hub import snapshot_download

        allowed = {k: v for k, v in hub_kwargs.items() if k != "proxies"}
        assets = (
            Path(
                snapshot_download(
                    str(pretrained_name_or_path), allow_patterns=[f"{VLM_ASSETS_DIR}/*"], **allowed
                )
            )
            / VLM_ASSETS_DIR
        )
    if not (assets / "config.json").is_file():
        raise FileNotFoundError(
            f"{pretrained_name_or_path} has no {VLM_ASSETS_DIR}/config.json: it is not a wbvla checkpoint saved by "
            "this plugin (or it was copied without its vlm/ folder); copy the whole checkpoint folder."
        )
    return assets
