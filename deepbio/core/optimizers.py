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
        A `keras.optimizers.AdamW`, wrapped in a `keras.optimizers.LossScaleOptimizer`
        (dynamic loss scaling) when the global policy is ``mixed_float16``, so that
        float16 gradients do not underflow in the custom training loops.
    """
    warmup = max(1, int(round(warmup_fraction * steps)))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, max(1, steps - warmup), alpha=0.0, warmup_target=learning_rate, warmup_steps=warmup)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay)
    if keras.mixed_precision.global_policy().name == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
