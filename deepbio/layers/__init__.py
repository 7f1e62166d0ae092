"""Custom Keras 3 layers (backend-agnostic, registered under package "deepbio")."""

from deepbio.layers.cross_attention import CrossAttention
from deepbio.layers.multiomic_attention import MultiomicAttention
from deepbio.layers.multiomic_transformer_layer import MultiomicTransformerLayer
from deepbio.layers.omnibiote_norm import OmniBioTENorm
from deepbio.layers.rotary_embedding import RotaryEmbedding
from deepbio.layers.segment_attention_mask import SegmentAttentionMask
from deepbio.layers.transformer_encoder import TransformerEncoder
from deepbio.layers.vector_quantizer import VectorQuantizer
