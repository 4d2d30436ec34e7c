"""The vision-language backbone of the wbvla policy: a Hugging Face VLM reduced to "images + task -> hidden states".

Why a wrapper: the policy only needs the VLM's last hidden state (its heads read the action/latent query tokens
from it), but each family (Qwen2-VL, Qwen2.5-VL, SmolVLM/Idefics3, PaliGemma) wants its own prompt layout, image
resolution rules and processor arguments, names its vision tower differently, and ships an `lm_head` the policy
never uses. This module hides those differences behind one interface:

- `prepare()` turns LeRobot camera tensors + task strings into model inputs with the VLM's own processor, with a
  fixed sequence length (image tokens + template + `max_text_tokens`), right-padded, so that the inputs and
  outputs of row i of a batch equal those of the batch of one (training and inference see the same tokens);
- `forward()` returns the last hidden state and its mask;
- `freeze_vision()` / `apply_lora()` implement the policy's backbone-training modes;
- `save_assets()` / `from_assets()` make checkpoints self-contained: the config and processor files go next to
  the policy's weights, so a checkpoint loads offline without the original folder or Hub id.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)

SUPPORTED_FAMILIES = ("qwen2_vl", "qwen2_5_vl", "idefics3", "paligemma")
# model_type values served by a supported family's code path (SmolVLM/SmolVLM2 reuse Idefics3's architecture).
FAMILY_OF_MODEL_TYPE = {
    "qwen2_vl": "qwen2_vl",
    "qwen2_5_vl": "qwen2_5_vl",
    "idefics3": "idefics3",
    "smolvlm": "idefics3",
    "paligemma": "paligemma",
}
# Attribute names of the vision tower and language model inside each family's base model (`<X>Model`).
_VISION_ATTR = {
    "qwen2_vl": "visual",
    "qwen2_5_vl": "visual",
    "idefics3": "vision_model",
    "paligemma": "vision_tower",
}
_LM_ATTR = {
    "qwen2_vl": "language_model",
    "qwen2_5_vl": "language_model",
    "idefics3": "text_model",
    "paligemma": "language_model",
}
# Qwen's `visual` module contains its patch merger (the projector into the LM): that part is not "the tower".
_VISION_NOT_TOWER = ("merger.",)
# File types LeRobot's PreTrainedPolicy.push_model_to_hub uploads (its allow_patterns).
PUSHED_SUFFIXES = (".json", ".safetensors", ".yaml", ".md")
DEFAULT_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Keys of prepare()'s output that are per-token sequences (padded/truncated to the fixed length).
_SEQ_KEYS = ("input_ids", "attention_mask", "token_type_ids", "mm_token_type_ids")
# Distinct (task, camera sizes) token rows prepare() keeps (oldest dropped first): datasets have a few tasks.
_TEXT_CACHE_SIZE = 4096


class VLMUnavailableError(RuntimeError):
    """The backbone's folder / Hub id cannot be loaded (missing locally and not downloadable)."""


def _unavailable(name: str, revision: str | None, err: BaseException) -> VLMUnavailableError:
    rev = f" (revision {revision})" if revision else ""
    reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
    return VLMUnavailableError(
        f"VLM {name!r}{rev} is neither a local folder with config.json nor reachable on the Hub ({reason}); "
        f"without network access nothing can be downloaded: pass a local folder instead (download it elsewhere "
        f"with `hf download {name}`, or build a random one with `wbvla-make-vlm --family=qwen2_vl --out_dir=<dir>`)"
    )


def _load_config(name_or_path: str, revision: str | None):
    from transformers import AutoConfig

    path = Path(name_or_path).expanduser()
    if path.is_dir() and not (path / "config.json").is_file():
        raise VLMUnavailableError(
            f"VLM folder {str(path)!r} has no config.json: pass a folder written by save_pretrained "
            f"(or `wbvla-make-vlm --out_dir=<dir>`)"
        )
    try:
        config = AutoConfig.from_pretrained(name_or_path, revision=revision)
    except (OSError, ValueError) as err:
        if path.is_dir():
            raise
        raise _unavailable(name_or_path, revision, err) from err
    model_type = getattr(config, "model_type", None)
    if model_type not in FAMILY_OF_MODEL_TYPE:
        raise ValueError(
            f"VLM {name_or_path!r} has model_type {model_type!r}, which wbvla does not support; use a "
            f"{', '.join(sorted(FAMILY_OF_MODEL_TYPE))} model"
        )
    return config


class VLMBackbone(nn.Module):
    """A VLM reduced to its base model (no lm_head), with its processor; see the module docstring."""

    def __init__(
        self,
        name_or_path: str,
        revision: str | None = None,
        load_weights: bool = True,
        image_size: int | None = None,
        max_text_tokens: int = 48,
    ) -> None:
        super().__init__()
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if max_text_tokens < 1:
            raise ValueError(f"max_text_tokens={max_text_tokens} must be at least 1")
        if image_size is not None and image_size < 8:
            raise ValueError(
                f"image_size={image_size} is too small; pass None (the processor's size) or >= 8"
            )
        name_or_path = str(name_or_path)
        config = _load_config(name_or_path, revision)
        self.model_type: str = config.model_type
        self.family: str = FAMILY_OF_MODEL_TYPE[config.model_type]
        self.name_or_path = name_or_path
        self.revision = revision
        self.max_text_tokens = int(max_text_tokens)
        self.autocast_dtype: torch.dtype | None = None
        try:
            self.processor = AutoProcessor.from_pretrained(name_or_path, revision=revision)
        except OSError as err:
            raise _unavailable(name_or_path, revision, err) from err
        if load_weights:
            try:
                full = AutoModelForImageTextToText.from_pretrained(
                    name_or_path, revision=revision, dtype=torch.float32
                )
            except OSError as err:
                raise _unavailable(name_or_path, revision, err) from err
        else:
            full = AutoModelForImageTextToText.from_config(config, dtype=torch.float32)
        self.config = full.config
        # The base model (vision tower + projector + LM without lm_head): all the policy needs.
        self.vlm: nn.Module = full.model
        del full
        self.hidden_size: int = int(self.config.text_config.hidden_size)
        self.image_size = image_size
        self.lora_settings: dict | None = None
        self._fixed_len: dict[tuple[tuple[int, int], ...], int] = {}
        # prepare()'s fast path: per camera setup whether it matched the processor; token rows per (task, sizes).
        self._fast_ok: dict[tuple[tuple[int, int], ...], bool] = {}
        self._text_rows: dict[tuple[str, tuple[tuple[int, int], ...]], dict[str, torch.Tensor]] = {}
        self._check_processor()

    # ------------------------------------------------------------------ introspection
    @property
    def vision_tower(self) -> nn.Module:
        return getattr(self.vlm, _VISION_ATTR[self.family])

    @property
    def language_model(self) -> nn.Module:
        return getattr(self.vlm, _LM_ATTR[self.family])

    def param_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _check_processor(self) -> None:
        tok = self.processor.tokenizer
        if tok.pad_token_id is None:
            # Right padding only needs some id: the attention mask hides it.
            tok.pad_token = tok.eos_token
        ip = self.processor.image_processor
        if self.family in ("idefics3", "paligemma"):
            native = self._native_size()
            if self.image_size is not None and self.image_size != native:
                logger.info(
                    "%s encodes images at its fixed %dx%d: image_size=%d is not used",
                    self.name_or_path,
                    native,
                    native,
                    self.image_size,
                )
        elif not hasattr(ip, "patch_size"):
            raise ValueError(f"{self.name_or_path}: image processor {type(ip).__name__} has no patch_size")

    def _native_size(self) -> int:
        ip = self.processor.image_processor
        if self.family == "idefics3":
            return int(ip.max_image_size["longest_edge"])
        size = ip.size
        return int(size["height"] if isinstance(size, dict) else size.height)

    # ------------------------------------------------------------------ inputs
    def image_hw(self, height: int, width: int) -> tuple[int, int]:
        """Pixel size a (height, width) camera is resized to before the processor (which then keeps it as is)."""
        if self.family in ("idefics3", "paligemma"):
            s = self._native_size()
            return s, s
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

        ip = self.processor.image_processor
        if self.image_size is not None:
            height = width = self.image_size
        size = ip.size
        get = size.get if isinstance(size, dict) else lambda k: getattr(size, k)
        factor = int(ip.patch_size) * int(ip.merge_size)
        return smart_resize(
            height, width, factor=factor, min_pixels=get("shortest_edge"), max_pixels=get("longest_edge")
        )

    def _prompt(self, task: str, n_images: int) -> str:
        if self.family == "paligemma":
            # A prefix LM without chat template: the processor expands <image> and adds <bos> after the images.
            return self.processor.image_token * n_images + task
        content = [{"type": "image"} for _ in range(n_images)] + [{"type": "text", "text": task}]
        messages = [{"role": "user", "content": content}]
        if getattr(self.processor, "chat_template", None):
            # processor_kwargs given explicitly: SmolVLM's override otherwise routes video defaults through
            # **kwargs and transformers warns on every call.
            return self.processor.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=False, processor_kwargs={"padding": False}
            )
        image_token = self.processor.image_token
        if self.family in ("qwen2_vl", "qwen2_5_vl"):
            image_token = f"<|vision_start|>{image_token}<|vision_end|>"
        return image_token * n_images + task

    def _truncate_task(self, task: str) -> str:
        tok = self.processor.tokenizer
        ids = tok(task, add_special_tokens=False)["input_ids"]
        if len(ids) <= self.max_text_tokens:
            return task
        return tok.decode(ids[: self.max_text_tokens], skip_special_tokens=True)

    def _call_processor(self, texts: list[str], images: list[list[torch.Tensor]]) -> dict[str, torch.Tensor]:
        kwargs: dict = {"do_rescale": False, "padding": True, "padding_side": "right"}
        if self.family == "idefics3":
            # One tile per camera at the encoder's size (which prepare() already resized to): no upscaling to
            # the processor's larger "size" and back, no extra tiles.
            native = self._native_size()
            kwargs.update(do_image_splitting=False, size={"longest_edge": native})
        if self.family == "paligemma":
            kwargs["images"] = images
        else:
            kwargs["images"] = images if any(images) else None
        out = self.processor(text=texts, return_tensors="pt", **kwargs)
        # PaliGemma also returns training `labels`: the policy has its own targets.
        return {k: v for k, v in out.items() if isinstance(v, torch.Tensor) and k != "labels"}

    def _length(self, hw: list[tuple[int, int]]) -> int:
        """Longest sequence for this camera setup: the prompt with an empty task + max_text_tokens."""
        key = tuple(hw)
        if key not in self._fixed_len:
            blank = [torch.zeros(3, *size) for size in hw]
            out = self._call_processor([self._prompt("", len(hw))], [blank])
            self._fixed_len[key] = int(out["input_ids"].shape[1]) + self.max_text_tokens
        return self._fixed_len[key]

    @torch.no_grad()
    def prepare(self, images: list[torch.Tensor], tasks: list[str]) -> dict[str, torch.Tensor]:
        """Camera tensors (each (B, 3, H, W) float in [0, 1]) + B task strings -> model inputs on CPU.

        Deterministic and batch-consistent: tasks are cut to max_text_tokens tokens and rows are right-padded to
        the batch's longest (never beyond the prompt + max_text_tokens): under the language model's causal
        attention a row's real tokens do not see the padding after them, so a row's hidden states (where the mask
        is set) are those of its batch of one, and short instructions cost no padded tokens.

        Why two paths: the processor call costs more than a small backbone's forward on CPU (keyword merging,
        per-image Python, tokenizing the same few instructions every step). The fast path tokenizes each (task,
        camera sizes) once and builds the pixels in torch with the processor's own mean/std/patch settings; it is
        checked against the processor's output on the first batch of every camera setup and replaced by the
        processor, with a warning, if they differ (an unknown processor version or image rule)."""
        if isinstance(tasks, str):
            raise TypeError("tasks must be a list of strings (one per batch row), not a single string")
        b = len(tasks)
        for i, cam in enumerate(images):
            if cam.ndim != 4 or cam.shape[0] != b or cam.shape[1] != 3:
                raise ValueError(
                    f"images[{i}] has shape {tuple(cam.shape)}; expected ({b}, 3, H, W) for {b} task(s)"
                )
        hw = tuple(self.image_hw(int(c.shape[-2]), int(c.shape[-1])) for c in images)
        cams = []
        for cam, size in zip(images, hw, strict=True):
            cam = cam.detach().to("cpu", torch.float32)
            if tuple(cam.shape[-2:]) != size:
                cam = F.interpolate(cam, size=size, mode="bilinear", antialias=True, align_corners=False)
            cams.append(cam.clamp(0.0, 1.0))
        tasks = [str(t) for t in tasks]
        fast_ok = self._fast_ok.get(hw)
        if fast_ok is None:
            reference = self._processor_inputs(cams, tasks)
            fast_ok = self._fast_matches(reference, cams, tasks, hw)
            self._fast_ok[hw] = fast_ok
            out = reference
        elif fast_ok:
            out = self._fast_inputs(cams, tasks, hw)
        else:
            out = self._processor_inputs(cams, tasks)
        return self._cut(out, hw)

    def _cut(self, out: dict[str, torch.Tensor], hw: tuple[tuple[int, int], ...]) -> dict[str, torch.Tensor]:
        length = self._length(list(hw))
        for key in _SEQ_KEYS:
            if key in out and out[key].shape[1] > length:
                # Only trailing text can be cut: images and template come first in every family's prompt.
                out[key] = out[key][:, :length]
        return out

    def _processor_inputs(self, cams: list[torch.Tensor], tasks: list[str]) -> dict[str, torch.Tensor]:
        per_row = [[cam[i] for cam in cams] for i in range(len(tasks))]
        texts = [self._prompt(self._truncate_task(t), len(cams)) for t in tasks]
        return self._call_processor(texts, per_row)

    # ------------------------------------------------------------------ fast inputs
    def _fast_matches(
        self, reference: dict[str, torch.Tensor], cams: list[torch.Tensor], tasks: list[str], hw: tuple
    ) -> bool:
        """Whether the fast path reproduces the processor on this batch (same keys, ids equal, pixels to 1e-5)."""
        try:
            fast = self._fast_inputs(cams, tasks, hw)
        except Exception as err:  # noqa: BLE001 - any failure means "use the processor"
            problem = f"{type(err).__name__}: {err}"
        else:
            problem = _first_difference(reference, fast)
        if problem is None:
            return True
        logger.warning(
            "%s: the fast input path differs from the processor (%s); using the processor for cameras %s "
            "(slower, same results)",
            self.name_or_path,
            problem,
            list(hw),
        )
        return False

    def _fast_inputs(self, cams: list[torch.Tensor], tasks: list[str], hw: tuple) -> dict[str, torch.Tensor]:
        if not cams:
            raise ValueError("no cameras")
        rows = [self._text_row(t, hw) for t in tasks]
        longest = max(int(r["input_ids"].shape[0]) for r in rows)
        pad_id = int(self.processor.tokenizer.pad_token_id)
        out: dict[str, torch.Tensor] = {}
        for key in rows[0]:
            fill = pad_id if key == "input_ids" else 0
            batch = torch.full((len(rows), longest), fill, dtype=rows[0][key].dtype)
            for i, row in enumerate(rows):
                batch[i, : row[key].shape[0]] = row[key]
            out[key] = batch
        out.update(self._fast_pixels(cams))
        return out

    def _text_row(self, task: str, hw: tuple) -> dict[str, torch.Tensor]:
        """The processor's token sequences for one row (blank images of the right sizes), cached per (task, hw)."""
        key = (task, hw)
        row = self._text_rows.get(key)
        if row is None:
            blank = [torch.zeros(3, *size) for size in hw]
            out = self._call_processor([self._prompt(self._truncate_task(task), len(hw))], [blank])
            row = {k: out[k][0].clone() for k in _SEQ_KEYS if k in out}
            if len(self._text_rows) >= _TEXT_CACHE_SIZE:
                self._text_rows.pop(next(iter(self._text_rows)))
            self._text_rows[key] = row
        return row

    def _fast_pixels(self, cams: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """The image processor's outputs computed in torch, for images already at their encoder size in [0, 1]."""
        ip = self.processor.image_processor
        mean = torch.tensor(ip.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(ip.image_std, dtype=torch.float32).view(1, 3, 1, 1)
        if _is_pil_backend(ip):
            # PIL-backed processors (SmolVLM's default in transformers 5) turn float images into 8-bit PIL
            # images by truncation: do the same so both paths feed the model identical pixels.
            cams = [torch.floor(cam * 255.0) / 255.0 for cam in cams]
        normed = [(cam - mean) / std for cam in cams]
        b = cams[0].shape[0]
        if self.family == "idefics3":
            if len({tuple(c.shape[-2:]) for c in cams}) != 1:
                raise ValueError("cameras of different sizes")
            pixels = torch.stack(normed, dim=1)  # (B, n_cams, 3, S, S)
            mask = torch.ones(pixels.shape[0], pixels.shape[1], *pixels.shape[-2:], dtype=torch.int64)
            return {"pixel_values": pixels, "pixel_attention_mask": mask}
        if self.family == "paligemma":
            # Row-major: row 0's cameras, then row 1's.
            return {"pixel_values": torch.stack(normed, dim=1).flatten(0, 1)}
        # Qwen2-VL / Qwen2.5-VL: each image repeated temporal_patch_size times, cut into patch_size patches in
        # merge_size x merge_size groups, each patch flattened as (channel, time, row, column).
        p, m, t = int(ip.patch_size), int(ip.merge_size), int(ip.temporal_patch_size)
        per_cam, grids = [], []
        for x in normed:
            h, w = x.shape[-2] // p, x.shape[-1] // p
            x = x.unsqueeze(1).expand(b, t, 3, x.shape[-2], x.shape[-1])
            x = x.reshape(b, t, 3, h // m, m, p, w // m, m, p).permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
            per_cam.append(x.reshape(b, h * w, 3 * t * p * p))
            grids.append(torch.tensor([1, h, w], dtype=torch.int64))
        pixels = torch.cat([per_cam[c][i] for i in range(b) for c in range(len(cams))])
        grid = torch.stack([grids[c] for _ in range(b) for c in range(len(cams))])
        return {"pixel_values": pixels, "image_grid_thw": grid}

    # ------------------------------------------------------------------ model
    def forward(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (last hidden state (B, L, D) float32, attention mask (B, L) bool)."""
        device = next(self.vlm.parameters()).device
        inputs = {k: v.to(device) for k, v in inputs.items()}
        ctx = (
            torch.autocast("cuda", dtype=self.autocast_dtype)
            if self.autocast_dtype is not None and device.type == "cuda"
            else contextlib.nullcontext()
        )
        with ctx:
            out = self.vlm(**inputs, use_cache=False, return_dict=True)
        return out.last_hidden_state.float(), inputs["attention_mask"].bool()

    def freeze_vision(self) -> None:
        """Freeze the vision tower (its projector/merger stays trainable)."""
        for name, p in self.vision_tower.named_parameters():
            if not name.startswith(_VISION_NOT_TOWER):
                p.requires_grad_(False)

    def vision_parameter_names(self) -> list[str]:
        """Names (in this module's state dict) of the vision tower's parameters freeze_vision() freezes."""
        prefix = f"vlm.{_VISION_ATTR[self.family]}."
        return [
            prefix + n for n, _ in self.vision_tower.named_parameters() if not n.startswith(_VISION_NOT_TOWER)
        ]

    def apply_lora(self, r: int, alpha: int, dropout: float, target_modules: list[str] | None = None) -> None:
        """LoRA adapters (peft) on the language model's projections; every other backbone weight is frozen."""
        from peft import LoraConfig, inject_adapter_in_model

        if self.lora_settings is not None:
            raise RuntimeError(
                "apply_lora() was already called on this backbone; build a new one to change it"
            )
        targets = list(target_modules) if target_modules else list(DEFAULT_LORA_TARGETS)
        lm = self.language_model
        present = {n.rsplit(".", 1)[-1] for n, _ in lm.named_modules()}
        missing = [t for t in targets if t not in present]
        if len(missing) == len(targets):
            raise ValueError(
                f"lora target_modules {targets} match no module of the {self.family} language model; "
                f"pick from {sorted(n for n in present if n.endswith('_proj'))}"
            )
        cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, bias="none")
        inject_adapter_in_model(cfg, lm)
        for name, p in self.named_parameters():
            p.requires_grad_("lora_" in name)
        self.lora_settings = {"r": r, "alpha": alpha, "dropout": dropout, "target_modules": targets}

    # ------------------------------------------------------------------ assets
    def save_assets(self, directory: Path) -> None:
        """Write config.json + processor/tokenizer files (not the weights) so the backbone rebuilds offline."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.config.save_pretrained(directory)
        self.processor.save_pretrained(directory)
        # LeRobot's push uploads only *.json / *.safetensors / *.yaml / *.md: a chat template saved as
        # chat_template.jinja would be left behind on the Hub and change the prompt of a reloaded policy. The
        # JSON form is one transformers reads too.
        for jinja in directory.glob("*.jinja"):
            target = jinja.with_suffix(".json")
            key = "chat_template" if jinja.stem == "chat_template" else jinja.stem
            target.write_text(json.dumps({key: jinja.read_text()}))
            jinja.unlink()
        leftovers = [p.name for p in directory.iterdir() if p.suffix not in PUSHED_SUFFIXES]
        if leftovers:
            raise RuntimeError(
                f"the backbone's processor saved files a Hub push of the policy would drop: {leftovers} (only "
                f"{', '.join(PUSHED_SUFFIXES)} files are uploaded by LeRobot's push_model_to_hub)"
            )

    @classmethod
    def from_assets(
        cls, directory: Path, image_size: int | None = None, max_text_tokens: int = 48
    ) -> VLMBackbone:
        """Rebuild from save_assets' folder with random weights (load the policy's state dict afterwards)."""
        directory = Path(directory)
        if not (directory / "config.json").is_file():
            raise VLMUnavailableError(
                f"{str(directory)!r} has no config.json: it is not a folder written by VLMBackbone.save_assets "
                f"(a wbvla checkpoint keeps it in its vlm/ subfolder)"
            )
        return cls(str(directory), load_weights=False, image_size=image_size, max_text_tokens=max_text_tokens)


def _is_pil_backend(image_processor: object) -> bool:
    return any(cls.__name__ == "PilBackend" for cls in type(image_processor).__mro__)


def _first_difference(reference: dict[str, torch.Tensor], fast: dict[str, torch.Tensor]) -> str | None:
    """None when both input dicts agree (integer keys exactly, floats within 1e-5), else what differs."""
    if set(reference) != set(fast):
        return f"keys {sorted(reference)} vs {sorted(fast)}"
    for key, ref in reference.items():
        got = fast[key]
        if tuple(ref.shape) != tuple(got.shape):
            return f"{key} shape {tuple(ref.shape)} vs {tuple(got.shape)}"
        if ref.is_floating_point():
            diff = float((ref.float() - got.float()).abs().max()) if ref.numel() else 0.0
            if diff > 1e-5:
                return f"{key} differs by {diff:.2e}"
        elif not torch.equal(ref.to(got.dtype), got):
            return f"{key} differs"
    return None
