"""Configuration of the latent action model (LAM): which encoder turns frames into tokens, which dynamics model
turns token pairs into latent action codes, and every size of both.

Two encoder choices (``--lam.encoder.type``):
- ``hf_vision``: a frozen Hugging Face vision backbone by repo id or local path. Default ``facebook/dinov2-base``
  (DINOv2 ViT-B/14), the encoder of the WholeBodyVLA paper and UniVLA.
- ``pixel``: no pretrained weights; frames are resized to a low resolution and cut into patches, and the LAM's
  own (trainable) patch embedding is the encoder, trained end to end as in Genie and LAPA.

Three model choices (``--lam.model.type``):
- ``mlp``: the article's model (inverse head on a frame-feature pair -> z in R^256, a 512-code VQ, forward head
  (feat_t, z_q) -> feat_t+k), with the fixes that make it learn motion (see ``modeling_lam``).
- ``st_transformer``: after UniVLA and Genie, a spatio-temporal transformer over the encoder's patch tokens with
  learnable action-query tokens, several codes per transition (default 4 codes from a 16-entry codebook).
- ``conv``: pixel encoder only; a small strided conv net reads the image stack (x_t, x_t+k, x_t+k - x_t) into z,
  and a conv encoder-decoder writes the change image from (x_t, z_q), trained with a motion-weighted pixel loss
  (see ``lam/conv_dynamics.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import draccus


@dataclass
class EncoderConfig(draccus.ChoiceRegistry):
    """Turns a normalised frame (3, H, W) (ImageNet mean/std, see ``lerobot_wbvla.datasets``) into tokens."""

    @property
    def type(self) -> str:
        return self.get_choice_name(self.__class__)


@EncoderConfig.register_subclass("hf_vision")
@dataclass
class HFVisionEncoderConfig(EncoderConfig):
    # Hugging Face repo id or local folder of a vision model loadable with transformers' AutoModel
    # (DINOv2 with or without registers, ViT, ...). The LAM keeps it frozen.
    pretrained: str = "facebook/dinov2-base"
    # Branch, tag or commit of `pretrained` on the Hub (ignored for a local folder).
    revision: str | None = None
    # Which tokens represent a frame: "patch" = the patch tokens (UniVLA/paper), "cls" = the single class token
    # (the article's 768-d frame feature).
    tokens: str = "patch"
    # Average-pool the patch grid to pool_grid x pool_grid tokens before caching (0 = keep the full grid,
    # 16x16 for ViT-B/14 at 224 px, as UniVLA). Pooling shrinks the feature cache (16 instead of 256 tokens of 768
    # values per frame) and the LAM's input; the motion of whole regions stays visible.
    pool_grid: int = 4


@EncoderConfig.register_subclass("pixel")
@dataclass
class PixelEncoderConfig(EncoderConfig):
    # Frames are area-resized to image_size x image_size before patching. Low resolution keeps the motion
    # visible in every patch and the model small enough to train on CPU.
    image_size: int = 64
    # Side of the square patches; image_size must be divisible by it. Each token holds 3 * patch_size**2 pixels.
    patch_size: int = 8


@dataclass
class LAMModelConfig(draccus.ChoiceRegistry):
    """Inverse dynamics (frames -> latent action) + VQ + forward dynamics (frame, code -> next frame)."""

    # Size of one latent action token z (the VQ code size). The article's z_t is 256-d.
    latent_dim: int = 256
    # Codes per transition (tokens of z quantised independently against one codebook).
    num_codes: int = 1
    # Number of entries in the codebook.
    codebook_size: int = 512
    # Weight of ||z - sg[e]||^2 (the article's 0.25).
    commitment_weight: float = 0.25
    # Weight of ||sg[z] - e||^2, the term that trains the codebook (left out by the article's snippet).
    codebook_weight: float = 1.0
    # A code whose usage EMA (picks per batch) falls below this is restarted onto a recent latent.
    dead_code_threshold: float = 0.01
    # Check for dead codes every this many optimisation steps (0 = never restart).
    restart_every: int = 100
    # Forward dynamics predicts the change feat_t+k - feat_t instead of feat_t+k itself, so copying the current
    # frame is worth nothing and the code has to carry the motion.
    predict_residual: bool = True
    # Divide the residual target by its per-channel standard deviation (measured on the training data), so that
    # small changes weigh as much as large ones and the loss reads as "fraction of the change not explained".
    normalize_target: bool = True
    # Give the inverse dynamics the difference feat_t+k - feat_t besides both frames, so motion is explicit.
    difference_input: bool = True
    # Forward dynamics: "direct" writes the change token by token; "warp" predicts a flow field that moves the
    # tokens of frame t (plus a small additive correction), see lam/warp.py for why.
    decoder: str = "direct"
    # Side of the predicted flow field for decoder="warp" (mlp; the st_transformer predicts one flow vector per
    # token).
    flow_grid: int = 8
    # Pixel encoder only: predict the change averaged over target_pool x target_pool pixel blocks (1 = every
    # pixel). A coarser target keeps the part of the change that motion explains (the shift of edges and regions)
    # and drops pixel-level texture noise no code can predict.
    target_pool: int = 1
    # Also give the inverse dynamics products of two learned projections of the frames, token by token
    # (a factored gated/bilinear layer, Memisevic 2013 "Learning to relate images"): motion is a relation between
    # the frames (to first order change = -gradient . motion), which sums of features cannot express and
    # products can; measured on shifted textures it speeds up learning the motion several-fold.
    multiplicative_input: bool = True
    # Number of factors of that product, as a multiple of the model's token width.
    multiplicative_factors: int = 4
    # Extra weight on tokens that changed: weight = 1 + change_weight * |residual| / mean |residual|.
    change_weight: float = 0.0
    # Per-element weight of the forward MSE: "none", or "abs_change" = mean over colour channels of
    # |x_t+k - x_t| (pixel encoder: per pixel, in [0, 1] pixel units; other encoders: mean over the token's
    # features, per token) + motion_weight_eps, so the loss is spent where the frames changed. The weighted loss
    # is sum(w * err) / sum(w), in target units; copy_baseline_loss is weighted alike (it exceeds 1: the weight
    # sits on the large changes), so relative_forward_loss still reads as the share of the change not explained.
    motion_weight: str = "none"
    # Weight of an unchanged element under motion_weight="abs_change" (a pixel that moved by a full step of
    # brightness weighs ~1).
    motion_weight_eps: float = 0.01
    # Cosine-similarity codes: l2-normalise z and the codebook entries, pick the code of highest cosine, and
    # measure the VQ losses between unit vectors (the latent's length carries nothing, only its direction).
    cosine_codes: bool = False

    @property
    def type(self) -> str:
        return self.get_choice_name(self.__class__)


@LAMModelConfig.register_subclass("mlp")
@dataclass
class MLPLAMConfig(LAMModelConfig):
    # Each input token is first projected to token_dim channels (shared linear), then the tokens are
    # flattened; this is the "pooled token" route that keeps the MLP small for patch grids.
    token_dim: int = 64
    # Hidden sizes of the inverse head (the article: 1024, 512).
    inverse_hidden: list[int] = field(default_factory=lambda: [1024, 512])
    # Hidden sizes of the forward head (the article: 1024, 512).
    forward_hidden: list[int] = field(default_factory=lambda: [1024, 512])


@LAMModelConfig.register_subclass("st_transformer")
@dataclass
class STTransformerLAMConfig(LAMModelConfig):
    # UniVLA's VQ layout: 4 codes of 128 dims per transition from a 16-entry codebook.
    latent_dim: int = 128
    num_codes: int = 4
    codebook_size: int = 16
    # Width of the transformer.
    dim: int = 256
    # Spatio-temporal blocks of the inverse-dynamics encoder (each: spatial attention within a frame, then
    # causal temporal attention across the two frames).
    encoder_depth: int = 4
    # Spatial blocks of the forward-dynamics decoder (patch tokens of frame t + the action tokens).
    decoder_depth: int = 4
    # Attention heads per block (dim must be divisible by it).
    heads: int = 8
    # Hidden width of each block's MLP, as a multiple of dim.
    mlp_ratio: float = 4.0
    # Dropout in attention and MLP layers.
    dropout: float = 0.0


@LAMModelConfig.register_subclass("conv")
@dataclass
class ConvLAMConfig(LAMModelConfig):
    # Size of one latent action token z.
    latent_dim: int = 32
    # Number of entries in the codebook.
    codebook_size: int = 32
    # Cosine-similarity codes (see LAMModelConfig.cosine_codes).
    cosine_codes: bool = True
    # Motion-weighted pixel loss (see LAMModelConfig.motion_weight).
    motion_weight: str = "abs_change"
    # The conv model has no product stream by default (the reviewer's baseline); true adds a local factored
    # product of both frames to the inverse net's first layer (see conv_dynamics.py).
    multiplicative_input: bool = False
    # Output channels of the stride-2 conv layers of the inverse net (one layer per entry: the image shrinks by
    # 2 ** len); the last feature map is flattened into a linear layer to num_codes x latent_dim.
    inverse_channels: list[int] = field(default_factory=lambda: [16, 32, 64, 64])
    # Output channels of the stride-2 conv layers that encode x_t for the forward net; the transposed convs
    # that decode the change image mirror them.
    forward_channels: list[int] = field(default_factory=lambda: [16, 32, 64])
    # Channels of the quantised action broadcast over the forward net's smallest feature map.
    action_channels: int = 32
    # Also scale and shift every decoder layer of the forward net by the action (FiLM), besides concatenating it.
    film: bool = False
    # Add the forward encoder's feature maps of x_t to the decoder's of the same size (U-Net style skips).
    skip_connections: bool = False


@dataclass
class LAMConfig:
    """Everything needed to rebuild a LAM; saved as the model repo's ``config.json``."""

    encoder: EncoderConfig = field(default_factory=HFVisionEncoderConfig)
    model: LAMModelConfig = field(default_factory=MLPLAMConfig)
    # The frame gap the LAM was trained with: frames between o_t and o_t+k, or "auto" (k = round(fps *
    # target_offset_s) per clip). Labelling and evaluation pair frames the same way.
    frame_gap: int | str = 2
    # Time between the two frames of a pair when frame_gap="auto" (s).
    target_offset_s: float = 2 / 30
    # Named preset this config started from (cpu, cpu_mlp, article or univla; see lam/presets.py), recorded in the saved
    # config and model card. On the command line (wbvla-train-lam, wbvla-demo, bench/lam_probe.py)
    # --lam.preset=NAME makes the preset's values the defaults of every --lam.* flag; setting this field from
    # Python changes nothing else (use presets.lam_preset(NAME)).
    preset: str | None = None
