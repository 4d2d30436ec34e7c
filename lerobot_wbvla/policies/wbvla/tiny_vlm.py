"""Offline builders of small, randomly initialised VLMs of each supported family.

No pretrained VLM weights can be downloaded on the machines this project is developed and tested on, so the
policy's tests and CPU benchmarks run on backbones built here from config: same transformers classes, same
processors and the same `from_pretrained` path as a real checkpoint, only tiny and random. Each build writes a
folder with `save_pretrained` (model + processor) that `VLMBackbone(<folder>)` and SmolVLA's
`--policy.vlm_model_name=<folder> --policy.load_vlm_weights=false` load like a Hub model.

The tokenizer is a byte-level BPE trained with `tokenizers` on a small built-in corpus (the AgiBot X2 task
strings and the motion-primitive phrases, so those tokenise into few tokens) plus the family's special tokens.

CLI: `wbvla-make-vlm --family=qwen2_vl --size=tiny --out_dir=<folder>`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import torch

FAMILIES = ("qwen2_vl", "qwen2_5_vl", "idefics3", "smolvlm", "paligemma")
SIZES = ("tiny", "small", "250m")

# Words the tiny tokenizers must know well: the X2 task strings, the clip primitives' instructions and the motion
# classes as phrases. Anything else still tokenises (byte-level BPE), only into more pieces.
_CORPUS_LINES = (
    "pick up the box",
    "stand still",
    "pick up the red box and place it on the green square",
    "pick up the red box, carry it to the other table and place it on the green square",
    "pick up the red box, walk to the shelf and put the box on the middle shelf",
    "grab the cart's handles and push the cart forward",
    "walk forward",
    "walk backward",
    "sidestep left",
    "sidestep right",
    "step to the left",
    "step to the right",
    "turn left",
    "turn right",
    "squat down",
    "squat up",
    "stand up",
    "squat",
    "reach out with the left arm",
    "reach out with the right arm",
    "bring the left arm back",
    "bring the right arm back",
    "reach left",
    "reach right",
    "walk forward then turn left and squat down",
    "the robot walks to the table, picks up the object and places it on the target",
    "move the object from the table to the shelf",
    "open the drawer and close the door",
    "a humanoid robot in a room with a table, a shelf, a cart and a box",
    "what should the robot do next? describe the image.",
    "yes no one two three four five six seven eight nine ten",
    "user: assistant: User: Assistant: system",
    "blue yellow white black orange purple small large top bottom front back",
)

_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-_()[]{}<>/\\|@#$%^&*+=~`\n"


@dataclass(frozen=True)
class _Dims:
    """Sizes of one build; the vision tower is kept about as small as the language model."""

    vocab: int  # upper bound: the small built-in corpus yields ~600 BPE tokens before it runs out of merges
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    v_hidden: int
    v_layers: int
    v_heads: int
    v_intermediate: int


_DIMS = {
    "tiny": _Dims(512, 64, 2, 2, 1, 128, 32, 1, 2, 64),
    "small": _Dims(1024, 256, 6, 4, 2, 640, 128, 3, 4, 512),
    "250m": _Dims(8192, 1024, 16, 16, 4, 2816, 768, 8, 12, 3072),
}


def _corpus() -> list[str]:
    # Repeat the task lines so their merges win over the single-character filler line.
    return [line for line in _CORPUS_LINES for _ in range(20)] + [_CHARS]


def _train_tokenizer(vocab_size: int, special: list[str]):
    """Byte-level BPE wrapped as a transformers fast tokenizer (unsaved)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    return tok


def _fast_tokenizer(tok, **kwargs):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, padding_side="right", **kwargs)


def _rope(head_dim: int, mrope: bool) -> dict:
    params: dict = {"rope_type": "default", "rope_theta": 10000.0}
    if mrope:
        # Multimodal RoPE splits head_dim/2 frequencies over (time, height, width).
        half = head_dim // 2
        t = half // 4
        h = (half - t) // 2
        params["mrope_section"] = [t, h, half - t - h]
    return params


def _text_config(d: _Dims, vocab_size: int, bos: int, eos: int, pad: int, **extra) -> dict:
    """The language model's config, shared by every family (each adds its model_type, head_dim or RoPE)."""
    return dict(
        vocab_size=vocab_size,
        hidden_size=d.hidden,
        intermediate_size=d.intermediate,
        num_hidden_layers=d.layers,
        num_attention_heads=d.heads,
        num_key_value_heads=d.kv_heads,
        max_position_embeddings=4096,
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
        **extra,
    )


def _siglip_vision_config(d: _Dims, image_size: int, patch: int, **extra) -> dict:
    """The SigLIP-style vision tower of Idefics3/SmolVLM and PaliGemma."""
    return dict(
        hidden_size=d.v_hidden,
        intermediate_size=d.v_intermediate,
        num_hidden_layers=d.v_layers,
        num_attention_heads=d.v_heads,
        image_size=image_size,
        patch_size=patch,
        **extra,
    )


# ---------------------------------------------------------------------------------------------- Qwen2(.5)-VL
_QWEN_SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# A minimal chat template in Qwen's layout (a user turn with the images first, then the text).
_QWEN_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _build_qwen(family: str, d: _Dims, image_size: int):
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    tok = _fast_tokenizer(
        _train_tokenizer(d.vocab, _QWEN_SPECIAL),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={
            "image_token": "<|image_pad|>",
            "video_token": "<|video_pad|>",
            "vision_bos_token": "<|vision_start|>",
            "vision_eos_token": "<|vision_end|>",
        },
    )
    patch, merge = 14, 2
    # Qwen's own pixel bounds (56x56 up to 28*28*1280 pixels): like the real models, the image size the caller
    # picks (VLMBackbone's image_size) sets the number of image tokens; image_size here plays no part.
    pixels = {"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 1280}
    image_processor = Qwen2VLImageProcessor(
        size=dict(pixels),
        patch_size=patch,
        temporal_patch_size=2,
        merge_size=merge,
    )
    # The processors require a video processor even though wbvla feeds still images only.
    video_processor = Qwen2VLVideoProcessor(
        size=dict(pixels),
        patch_size=patch,
        temporal_patch_size=2,
        merge_size=merge,
    )
    parts = dict(
        image_processor=image_processor,
        tokenizer=tok,
        video_processor=video_processor,
        chat_template=_QWEN_TEMPLATE,
    )
    ids = {t: tok.convert_tokens_to_ids(t) for t in _QWEN_SPECIAL}
    head_dim = d.hidden // d.heads
    text = _text_config(
        d,
        len(tok),
        bos=ids["<|endoftext|>"],
        eos=ids["<|im_end|>"],
        pad=ids["<|endoftext|>"],
        rope_parameters=_rope(head_dim, mrope=True),
    )
    common = dict(
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    if family == "qwen2_vl":
        vision = dict(
            depth=d.v_layers,
            embed_dim=d.v_hidden,
            hidden_size=d.hidden,
            mlp_ratio=max(1, d.v_intermediate // d.v_hidden),
            num_heads=d.v_heads,
            patch_size=patch,
            spatial_merge_size=merge,
            temporal_patch_size=2,
        )
        config = Qwen2VLConfig(text_config=text, vision_config=vision, **common)
        model = Qwen2VLForConditionalGeneration(config)
        processor = Qwen2VLProcessor(**parts)
    else:
        vision = dict(
            depth=d.v_layers,
            hidden_size=d.v_hidden,
            intermediate_size=d.v_intermediate,
            num_heads=d.v_heads,
            out_hidden_size=d.hidden,
            patch_size=patch,
            spatial_merge_size=merge,
            temporal_patch_size=2,
            window_size=patch * merge * 4,
            fullatt_block_indexes=[d.v_layers - 1],
        )
        config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **common)
        model = Qwen2_5_VLForConditionalGeneration(config)
        processor = Qwen2_5_VLProcessor(**parts)
    return model, processor


# ---------------------------------------------------------------------------------------------- Idefics3 / SmolVLM
_IDEFICS_NAMED = {
    "fake_image_token": "<fake_token_around_image>",
    "image_token": "<image>",
    "global_image_token": "<global-img>",
    "end_of_utterance_token": "<end_of_utterance>",
}
_IDEFICS_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}:"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)


def _build_idefics(family: str, d: _Dims, image_size: int):
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
        SmolVLMImageProcessor,
        SmolVLMProcessor,
        SmolVLMVideoProcessor,
    )

    rows = [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]
    special = ["<|endoftext|>", "<|im_start|>", *_IDEFICS_NAMED.values(), *rows]
    tok = _fast_tokenizer(
        _train_tokenizer(d.vocab, special),
        bos_token="<|im_start|>",
        eos_token="<end_of_utterance>",
        pad_token="<|endoftext|>",
        extra_special_tokens=dict(_IDEFICS_NAMED),
    )
    patch = 8 if image_size <= 128 else 16
    scale = 2
    if image_size % (patch * scale):
        raise ValueError(f"image_size={image_size} must be a multiple of {patch * scale} for {family}")
    image_seq_len = (image_size // patch) ** 2 // scale**2
    ip_kwargs = dict(
        do_image_splitting=False,
        size={"longest_edge": image_size},
        max_image_size={"longest_edge": image_size},
    )
    head_dim = d.hidden // d.heads
    text = _text_config(
        d,
        len(tok),
        bos=tok.bos_token_id,
        eos=tok.eos_token_id,
        pad=tok.pad_token_id,
        model_type="llama",
        head_dim=head_dim,
        rope_parameters=_rope(head_dim, mrope=False),
    )
    vision = _siglip_vision_config(d, image_size, patch)
    common = dict(
        text_config=text,
        vision_config=vision,
        scale_factor=scale,
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        pad_token_id=tok.pad_token_id,
        # An lm_head of its own, as the released SmolVLM checkpoints: LeRobot's SmolVLA freezes it by name when it
        # trains the VLM (train_expert_only=False) and refuses a backbone where that name matches nothing.
        tie_word_embeddings=False,
    )
    if family == "smolvlm":
        config = SmolVLMConfig(**common)
        model = SmolVLMForConditionalGeneration(config)
        processor = SmolVLMProcessor(
            image_processor=SmolVLMImageProcessor(**ip_kwargs),
            tokenizer=tok,
            video_processor=SmolVLMVideoProcessor(**ip_kwargs),
            image_seq_len=image_seq_len,
            chat_template=_IDEFICS_TEMPLATE,
        )
    else:
        config = Idefics3Config(**common)
        model = Idefics3ForConditionalGeneration(config)
        processor = Idefics3Processor(
            image_processor=Idefics3ImageProcessor(**ip_kwargs),
            tokenizer=tok,
            image_seq_len=image_seq_len,
            chat_template=_IDEFICS_TEMPLATE,
        )
    return model, processor


# ---------------------------------------------------------------------------------------------- PaliGemma
def _build_paligemma(d: _Dims, image_size: int):
    from transformers import (
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        SiglipImageProcessor,
    )

    special = ["<pad>", "<eos>", "<bos>", "<image>"]
    tok = _fast_tokenizer(
        _train_tokenizer(d.vocab, special),
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
    )
    patch = 16 if image_size <= 128 else 14
    if image_size % patch:
        raise ValueError(f"image_size={image_size} must be a multiple of {patch} for paligemma")
    seq = (image_size // patch) ** 2
    image_processor = SiglipImageProcessor(
        size={"height": image_size, "width": image_size},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    image_processor.image_seq_length = seq
    # The processor adds its 1024 <loc> and 128 <seg> tokens: size the vocabulary after building it.
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tok)
    head_dim = d.hidden // d.heads
    text = _text_config(
        d,
        len(tok),
        bos=tok.bos_token_id,
        eos=tok.eos_token_id,
        pad=tok.pad_token_id,
        model_type="gemma",
        head_dim=head_dim,
    )
    vision = _siglip_vision_config(d, image_size, patch, projection_dim=d.hidden)
    config = PaliGemmaConfig(
        text_config=text,
        vision_config=vision,
        projection_dim=d.hidden,
        hidden_size=d.hidden,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
    )
    model = PaliGemmaForConditionalGeneration(config)
    return model, processor


def make_tiny_vlm(family: str, size: str = "tiny", image_size: int = 64, seed: int = 0):
    """The (model, processor) pair `build_tiny_vlm` saves, in memory; deterministic for its arguments."""
    if family not in FAMILIES:
        raise ValueError(f"family={family!r} is not buildable; choose one of {', '.join(FAMILIES)}")
    if size not in SIZES:
        raise ValueError(f"size={size!r} is unknown; choose one of {', '.join(SIZES)}")
    if image_size < 16:
        raise ValueError(f"image_size={image_size} is too small; use 16 or more (64 is the default)")
    d = _DIMS[size]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if family in ("qwen2_vl", "qwen2_5_vl"):
            return _build_qwen(family, d, image_size)
        if family in ("idefics3", "smolvlm"):
            return _build_idefics(family, d, image_size)
        return _build_paligemma(d, image_size)


def build_tiny_vlm(
    family: str, out_dir: Path, size: str = "tiny", image_size: int = 64, seed: int = 0
) -> Path:
    """Build a random-init VLM of `family` and save model + processor to `out_dir`; returns `out_dir`.

    Deterministic for a given (family, size, image_size, seed). `image_size` is the camera resolution the model
    is sized for: the fixed input size of the Idefics3/SmolVLM and PaliGemma encoders (Qwen2(.5)-VL take any
    size, as their real checkpoints do)."""
    model, processor = make_tiny_vlm(family, size=size, image_size=image_size, seed=seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    n_params = sum(p.numel() for p in model.parameters())
    info = {
        "family": family,
        "size": size,
        "image_size": image_size,
        "seed": seed,
        "num_parameters": n_params,
    }
    (out_dir / "wbvla_tiny_vlm.json").write_text(json.dumps(info, indent=2) + "\n")
    return out_dir


def main(argv: list[str] | None = None) -> None:
    """`wbvla-make-vlm`: build a random VLM folder usable offline as `--policy.vlm=<out_dir>`."""
    p = argparse.ArgumentParser(prog="wbvla-make-vlm", description=main.__doc__)
    p.add_argument("--family", choices=FAMILIES, default="qwen2_vl")
    p.add_argument("--size", choices=SIZES, default="tiny")
    p.add_argument("--out_dir", type=Path, required=True)
    p.add_argument("--image_size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    out = build_tiny_vlm(a.family, a.out_dir, size=a.size, image_size=a.image_size, seed=a.seed)
    info = json.loads((out / "wbvla_tiny_vlm.json").read_text())
    print(f"wrote {a.family} ({a.size}, {info['num_parameters'] / 1e6:.2f}M parameters) to {out}")


if __name__ == "__main__":
    main()
