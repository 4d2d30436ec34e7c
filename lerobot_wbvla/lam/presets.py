"""Named LAM configurations shared by the CLIs, the demo and the benchmarks (one definition, several users)."""

from __future__ import annotations

from lerobot_wbvla.lam.configuration_lam import LAMConfig, PixelEncoderConfig, STTransformerLAMConfig


def cpu_lam_config() -> LAMConfig:
    """A LAM small enough to learn on a CPU in minutes with no pretrained weights: 32 px frames in 8 px patches
    (16 tokens) from the pixel encoder, the spatio-temporal transformer variant with 4 codes from a 16-entry
    codebook (UniVLA's layout)."""
    return LAMConfig(
        encoder=PixelEncoderConfig(image_size=32, patch_size=8),
        model=STTransformerLAMConfig(
            dim=128, heads=4, encoder_depth=2, decoder_depth=2, latent_dim=32, num_codes=4, codebook_size=16
        ),
    )
