"""Attention mask from token ids: padding, and optionally one isolated segment."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="deepbio")
class SegmentAttentionMask(keras.layers.Layer):
    """Builds the (batch, length, length) bool attention mask of a multi-omic input.

    A segment starts at a modality tag (``<protein>``, ``<DNA>``, ``<RNA>``)
    and runs to the next tag. Every query may attend every non-padding key,
    except that, when ``isolated_token_id`` is set, the tokens of the segment
    opened by that tag (e.g. the protein) attend only to their own segment.
    The isolated segment's hidden states then do not depend on the rest of
    the input, so they can be computed once and shared by every input that
    contains the same segment (see ``MultiomicBackbone.encode_shared_prefix``).
    With ``isolated_token_id=None`` the mask is the plain padding mask
    (OmniBioTE's full bidirectional attention).

    Args:
        segment_token_ids: sequence of int, the token ids that open a
            segment.
        isolated_token_id: int or None, the tag whose segment is isolated
            (at most one such tag per input is expected).
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        token_ids: int tensor (batch, length).
        padding_mask: bool or int tensor (batch, length), true for real
            tokens.

    Returns:
        bool tensor (batch, length, length): True where query i may attend
        key j.
    """

    def __init__(self, segment_token_ids=(), isolated_token_id=None, **kwargs):
        super().__init__(**kwargs)
        self.segment_token_ids = tuple(int(t) for t in segment_token_ids)
        self.isolated_token_id = None if isolated_token_id is None else int(isolated_token_id)
        if self.isolated_token_id is not None and self.isolated_token_id not in self.segment_token_ids:
            raise ValueError(f"isolated_token_id {isolated_token_id} must be one of "
                             f"segment_token_ids {self.segment_token_ids}")

    def call(self, token_ids, padding_mask):
        keys = ops.cast(padding_mask, "bool")[:, None, :]
        length = ops.shape(token_ids)[1]
        if self.isolated_token_id is None:
            return ops.broadcast_to(keys, (ops.shape(token_ids)[0], length, length))
        token_ids = ops.cast(token_ids, "int32")
        is_tag = ops.zeros_like(token_ids)
        for tag in self.segment_token_ids:
            is_tag = is_tag + ops.cast(ops.equal(token_ids, tag), "int32")
        segment = ops.cumsum(is_tag, axis=1)
        is_isolated_tag = ops.cast(ops.equal(token_ids, self.isolated_token_id), "int32")
        isolated_segment = ops.sum(segment * is_isolated_tag, axis=1, keepdims=True)
        inside = ops.logical_and(ops.equal(segment, isolated_segment),
                                 ops.greater(ops.sum(is_isolated_tag, axis=1, keepdims=True), 0))
        allowed = ops.logical_or(ops.logical_not(inside[:, :, None]), inside[:, None, :])
        return ops.logical_and(allowed, keys)

    def compute_output_shape(self, token_ids_shape, padding_mask_shape=None):
        return (token_ids_shape[0], token_ids_shape[1], token_ids_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update({"segment_token_ids": list(self.segment_token_ids),
                       "isolated_token_id": self.isolated_token_id})
        return config
