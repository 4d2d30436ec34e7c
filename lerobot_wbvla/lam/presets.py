"""Named LAM configurations shared by the CLIs (`--lam.preset=NAME`), the demo and the benchmarks (one
definition, several users). A preset is a function returning a fresh `LAMConfig`; `LAM_PRESETS` is the registry
the CLI reads, so adding or changing a preset is one function here."""

from __future__ import annotations

from collections.abc import Callable

from lerobot_wbvla.lam.configuration_lam import (
    ConvLAMConfig,
    HFVisionEncoderConfig,
    LAMConfig,
    MLPLAMConfig,
    PixelEncoderConfig,
    STTransformerLAMConfig,
)


def cpu_lam_config() -> LAMConfig:
    """The `cpu_mlp` preset (the `cpu` preset before issue 10; still the demo's, the VLA and LMO benchmarks' LAM):
    a LAM small enough to learn on a CPU in minutes with no pretrained weights.

    - pixel encoder at 32 px in 8 px patches (16 tokens per frame): no pretrained weights are needed, and the
      model runs ~15-25 optimisation steps/s on one contended CPU core;
    - the article's MLP heads, with the frame difference and a factored product of both frames as extra inputs of
      the inverse head (motion is a relation between frames), and the warping forward decoder (an 8 x 8 flow field
      that moves frame t, plus an additive correction), predicting the normalised change;
    - 4 codes of 32 dims from a 16-entry codebook per transition (UniVLA's layout).
    Measured on generated video (1080 train clips, held-out clips probed): the warping decoder took the held-out
    linear probe from z to the motion class from ~0.45 (direct decoder) to ~0.73 after ~8k steps; the
    spatio-temporal transformer runs ~6x fewer steps per second on a CPU. With frame gap 10 and 30 minutes on
    2 threads (bench/lam_probe.py): z-probe 0.82, code-probe 0.81.
    """
    return LAMConfig(
        preset="cpu_mlp",
        encoder=PixelEncoderConfig(image_size=32, patch_size=8),
        model=MLPLAMConfig(
            token_dim=32,
            inverse_hidden=[512, 256],
            forward_hidden=[512, 512],
            latent_dim=32,
            num_codes=4,
            codebook_size=16,
            decoder="warp",
            flow_grid=8,
        ),
    )


def cpu_conv_lam_config() -> LAMConfig:
    """The `cpu` preset: a conv LAM on 64 px frames whose codes mean motions on video it has never seen (issue 10).

    The reviewer's conv design (`conv_baseline_config`: inverse on (x_t, x_t+k, x_t+k - x_t), forward
    x_t + deconv(x_t, z), MSE weighted per pixel by how much it changed, cosine codes) with 16 code groups from a
    16-entry codebook instead of one code of 32. Train it with `--augment=true` (both frames of a pair
    mirrored/recoloured alike: the colours of a room say nothing about the motion).
    Why 16 groups: the codes (the VLA's labels) carried less than z. With few groups the codes hold the dominant
    camera motion (turns, sidesteps, squats) and lose the arms, which move in a corner of the image: with 4 groups
    the in-domain code recall of the four reaches was 0.14-0.36 while z had 0.76-0.85. More groups give each a
    share of z to quantise.
    Measured (bench/lam_design.py, 1,080 MuJoCo-generated train clips, probes on held-out clips; cross = the
    ray-cast domain, never trained on, probe fit on its train clips), 12 min on one thread each:
    | design | steps | in-domain z / codes | cross z / codes | min class recall (cross, z) |
    | 4 x 16 (+ augment) | 3,929 | 0.88 / 0.64 | 0.85 / 0.70 | 0.67 |
    | same, no augment | 3,841 | 0.84 / 0.61 | 0.79 / 0.64 | 0.63 |
    | baseline, 1 x 32 codes (+ augment) | 3,971 | 0.83 / 0.62 | 0.85 / 0.65 | 0.65 |
    | baseline, no augment (*) | 1,973 | 0.70 / 0.47 | 0.68 / 0.48 | 0.42 |
    | `cpu_mlp` (32 px MLP, warping decoder) | 8,466 | 0.81 / 0.77 | 0.79 / 0.74 | 0.53 |
    | twice the channels | 1,802 | 0.72 / 0.53 | 0.66 / 0.52 | 0.46 |
    and in a later sweep on a loaded machine (hence about half the steps; exploration/lam_design_groups*.json):
    | this preset, 16 x 16 (+ augment), 12 min | 1,981 | 0.86 / 0.70 | 0.82 / 0.70 | 0.61 |
    | 8 x 16 (+ augment), 12 min | 2,024 | 0.83 / 0.54 | 0.79 / 0.62 | 0.61 |
    | 32 x 16 codes of 8 dims (+ augment), 10 min | 1,229 | 0.82 / 0.69 | 0.75 / 0.64 | 0.61 |
    | 16 x 16 codes of 8 dims (+ augment), 10 min | 1,246 | 0.71 / 0.58 | 0.66 / 0.56 | 0.40 |
    (*) shared the CPU with a test run for most of its 12 minutes, hence half the steps.
    """
    cfg = conv_baseline_config()
    cfg.preset = "cpu"
    cfg.model.num_codes = 16
    cfg.model.codebook_size = 16
    return cfg


def conv_baseline_config() -> LAMConfig:
    """The reviewer's baseline of issue 10, as the project's ``conv`` model: "small conv LAM, inverse on (x_t,
    x_t+k, x_t+k - x_t), forward x_t + deconv(x_t, z), loss = MSE weighted per pixel by mean_c |x_t+k - x_t| +
    0.01, 32 cosine codes", at 64 px with frame gap 10 (0.33 s at 30 fps).

    - pixel encoder at 64 px (8 px patches: only the layout of the feature cache; the conv model folds them back
      into the image);
    - inverse: four stride-2 4x4 convs (16, 32, 64, 64 channels) on the 9-channel stack, flattened, linear to z;
    - forward: three stride-2 convs encode x_t (16, 32, 64), the action is broadcast over the 8 x 8 map, three
      transposed convs write the change image;
    - one 32-dim code from a 32-entry cosine codebook; motion-weighted MSE (eps 0.01).
    Reported by the review (another renderer, 15 min at ~1/3 of a core, 1,379 steps): held-out z-probe 0.86,
    code-probe 0.70.
    """
    return LAMConfig(
        encoder=PixelEncoderConfig(image_size=64, patch_size=8),
        model=ConvLAMConfig(
            latent_dim=32,
            num_codes=1,
            codebook_size=32,
            cosine_codes=True,
            motion_weight="abs_change",
            motion_weight_eps=0.01,
            difference_input=True,
            multiplicative_input=False,
            inverse_channels=[16, 32, 64, 64],
            forward_channels=[16, 32, 64],
        ),
        frame_gap=10,
    )


def article_lam_config() -> LAMConfig:
    """The article's LAM: the frozen DINOv2 ViT-B/14 class token (one 768-d feature per frame), inverse and
    forward MLP heads of 1024 and 512 units, z in R^256, one code per transition from a 512-entry codebook, frame
    gap 2.

    Each frame's 768-d feature enters the heads at full width (token_dim 768). The heads keep this project's fixes
    that make them learn motion (normalised-change target, difference and product inputs; see
    `LAMModelConfig`); needs the `facebook/dinov2-base` weights (Hub or local cache) and is meant for a GPU.
    """
    return LAMConfig(
        preset="article",
        encoder=HFVisionEncoderConfig(pretrained="facebook/dinov2-base", tokens="cls", pool_grid=0),
        model=MLPLAMConfig(
            latent_dim=256,
            num_codes=1,
            codebook_size=512,
            token_dim=768,
            inverse_hidden=[1024, 512],
            forward_hidden=[1024, 512],
        ),
        frame_gap=2,
    )


def univla_lam_config() -> LAMConfig:
    """UniVLA's LAM: frozen DINOv2 ViT-B/14 with registers, all 16 x 16 patch tokens at 224 px, a
    spatio-temporal transformer (width 768, 12 heads, 12 encoder and 12 decoder blocks) that predicts the next
    frame's DINOv2 features, and 4 codes of 128 dims per transition from a 16-entry codebook.

    Needs the `facebook/dinov2-with-registers-base` weights and a GPU.
    """
    return LAMConfig(
        preset="univla",
        encoder=HFVisionEncoderConfig(
            pretrained="facebook/dinov2-with-registers-base", tokens="patch", pool_grid=0
        ),
        model=STTransformerLAMConfig(
            latent_dim=128,
            num_codes=4,
            codebook_size=16,
            dim=768,
            heads=12,
            encoder_depth=12,
            decoder_depth=12,
        ),
    )


# Every preset by its --lam.preset name.
LAM_PRESETS: dict[str, Callable[[], LAMConfig]] = {
    "cpu": cpu_conv_lam_config,
    "cpu_mlp": cpu_lam_config,
    "article": article_lam_config,
    "univla": univla_lam_config,
}


def lam_preset(name: str) -> LAMConfig:
    """A fresh `LAMConfig` of preset `name`; ValueError (one line, listing the choices) for an unknown name."""
    if name not in LAM_PRESETS:
        raise ValueError(f"unknown LAM preset {name!r}; choose one of {', '.join(LAM_PRESETS)}")
    return LAM_PRESETS[name]()
