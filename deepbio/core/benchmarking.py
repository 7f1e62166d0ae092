"""Timed training of a task's model on synthetic inputs: the machinery of the benchmark hooks.

Each task that can be benchmarked names a workload (`Task.benchmark`,
``"module:function"``): ``workload(config, rng, seconds)`` builds its model
from the run config, trains it for ``seconds`` after one warm-up step and
returns a `Measurement`. ``benchmarks/gpu_check.py`` runs them (one per task,
on a GPU or the CPU); nothing here is imported by a training run.
"""

import dataclasses
import time
from unittest import mock

import keras
import numpy as np
import tensorflow as tf

PROTEIN = "ACDEFGHIKLMNPQRSTVWY"


class TimeUp(Exception):
    """Raised by the clocked step of a custom loop when the time is up."""


def random_sequences(rng, n, length, alphabet):
    """``n`` random strings of ``length`` letters of ``alphabet`` (a `numpy.random.Generator`)."""
    letters = np.array(list(alphabet))
    return ["".join(row) for row in letters[rng.integers(0, len(letters), (n, length))]]


def examples(batch_size):
    """Synthetic examples per workload: four distinct batches (at least 64 examples)."""
    return max(4 * batch_size, 64)


@dataclasses.dataclass
class Measurement:
    """What a workload measured: ``steps`` timed steps in ``seconds`` after the warm-up step."""

    model: object
    steps: int
    seconds: float
    warmup_seconds: float
    loss: float
    output_device: str
    inputs: dict


class FitClock:
    """A Keras callback that times the steps of ``model.fit`` after the first (the warm-up)."""

    def __init__(self, seconds):
        clock = self

        class Callback(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                clock.t0 = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                loss = float((logs or {}).get("loss", np.nan))  # waits for the step
                now = time.perf_counter()
                if clock.start is None:
                    clock.warmup, clock.start = now - clock.t0, now
                    return
                clock.steps, clock.loss = clock.steps + 1, loss
                if now - clock.start >= clock.seconds:
                    clock.end = now
                    self.model.stop_training = True

        self.seconds, self.t0, self.start, self.end = seconds, None, None, None
        self.steps, self.warmup, self.loss = 0, None, np.nan
        self.callback = Callback()


def fit_for(model, x, y, batch_size, seconds, inputs):
    """Trains ``model`` with ``model.fit`` on repeated batches of ``(x, y)`` for ``seconds``."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(
        batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    clock = FitClock(seconds)
    model.fit(dataset, epochs=1, steps_per_epoch=10 ** 9, verbose=0, shuffle=False,
              callbacks=[clock.callback])
    first = tf.nest.map_structure(lambda a: a[:batch_size], x)
    output = tf.nest.flatten(model(first, training=False))[0]
    return Measurement(model, clock.steps, (clock.end or time.perf_counter()) - clock.start,
                        clock.warmup, clock.loss, output.device, inputs)


def clocked_loop(module, builder, seconds, run, config):
    """Runs a task's own custom loop with its step builder ``module.builder`` clocked.

    ``builder`` returns ``(train_step, other_step)`` from ``(model, ..., jit_compile)``; the
    loop (``run(config with endless epochs)``) stops when the clock's time is up.

    Returns:
        The `StepClock`.
    """
    clock = StepClock(seconds)
    real = getattr(module, builder)

    def clocked(step_model, *args, **kwargs):
        train_step, other_step = real(step_model, *args, **kwargs)
        clock.model = step_model
        return clock.wrap(train_step), other_step

    clock.t0 = time.perf_counter()
    with mock.patch.object(module, builder, clocked):
        try:
            run(dataclasses.replace(config, epochs=10 ** 6))
        except TimeUp:
            pass
    return clock


class StepClock:
    """Wraps a compiled train step of a custom loop: times it, stops the loop after ``seconds``."""

    def __init__(self, seconds):
        self.seconds, self.t0, self.start, self.end = seconds, time.perf_counter(), None, None
        self.steps, self.warmup, self.loss, self.device, self.model = 0, None, np.nan, None, None

    def wrap(self, train_step):
        def clocked(*args):
            output = train_step(*args)
            loss = float(output)  # waits for the step (the loops do the same)
            now = time.perf_counter()
            if self.start is None:
                self.warmup, self.start, self.device = now - self.t0, now, output.device
                return output
            self.steps, self.loss = self.steps + 1, loss
            if now - self.start >= self.seconds:
                self.end = now
                raise TimeUp
            return output

        return clocked

    def measurement(self, inputs):
        return Measurement(self.model, self.steps, self.end - self.start, self.warmup, self.loss,
                            self.device, inputs)
