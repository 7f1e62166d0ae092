"""The backbone sizes by name (NumPy-free, Keras-free: the command line lists them at start-up)."""


def _preset(num_layers, num_heads, description):
    hidden = 128 * num_layers
    return {"num_layers": num_layers, "num_heads": num_heads, "hidden_dim": hidden,
            "intermediate_dim": 2 * hidden, "description": description}


# Width = 128 × depth, OmniBioTE's aspect ratio; 10·depth·width² non-embedding parameters
# (attention 4d², SwiGLU 6d² per block). "small" is the 8 × 1024 model of OmniBioTE's README;
# "xl" (24 × 3072, 2.26 B) matches OmniBioTE-XL's 2.3 B parameters.
BACKBONE_PRESETS = {
    "tiny": _preset(1, 2, "1 layer × 128 (0.16 M), CPU-sized: deepbio's default for CPU runs"),
    "mini": _preset(2, 4, "2 layers × 256 (1.3 M), CPU-sized"),
    "base": _preset(4, 4, "4 layers × 512 (10.5 M)"),
    "small": _preset(8, 8, "8 layers × 1024 (84 M)"),
    "medium": _preset(16, 16, "16 layers × 2048 (0.67 B)"),
    "large": _preset(20, 20, "20 layers × 2560 (1.31 B)"),
    "xl": _preset(24, 24, "24 layers × 3072 (2.26 B), OmniBioTE-XL's size"),
}
