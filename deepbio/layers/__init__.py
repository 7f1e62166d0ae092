"""Custom Keras 3 layers (backend-agnostic, registered under package "deepbio")."""

from deepbio.layers.cross_attention import CrossAttention
