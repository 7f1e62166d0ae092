"""Optimizers of the multi-omic transformer training loops (after OmniBioTE, arXiv:2408.16245)."""

import keras


def warmup_cosine_adamw(learning_rate, steps, warmup_fraction, weight_decay):
    """AdamW with a linear warm-up to ``learning_rate`` then a cosine decay to 0.

    Args:
        learning_rate: float, peak learning rate.
        steps: int, total optimizer steps.
        warmup_fraction: float of ``steps`` spent warming up (at least one step).
        weight_decay: float.

    Returns:
        A `keras.optimizers.AdamW`.
    """
    warmup = max(1, int(round(warmup_fraction * steps)))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, max(1, steps - warmup), alpha=0.0, warmup_target=learning_rate, warmup_steps=warmup)
    return keras.optimizers.AdamW(schedule, weight_decay=weight_decay)
