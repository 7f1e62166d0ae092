"""The training engine: the step-function driver resumes exactly, reports progress, drives
callbacks; `fit` picks ``model.fit`` or the step loop by strategy.

The toy loop is the shape of the masked-LM and ΔG loops: batches drawn from a NumPy generator
the checkpoint saves, a `compile_step` around `minimize`, dropout (seed-generator state).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from deepbio.core import engine
from deepbio.core.checkpoint import LoopCheckpoint, checkpoint_directory, read_state, write_state
from deepbio.core.engine import Progress, compile_step, minimize, run_loop

EPOCHS = 4


class Interrupted(Exception):
    """Stands for a kill: raised by the toy step at the first batch of an epoch."""


class CountingStop(keras.callbacks.Callback):
    """Logs the epochs it saw; stops the training after ``stop_after`` of them (a stateful callback)."""

    def __init__(self, stop_after):
        super().__init__()
        self.stop_after, self.seen = stop_after, 0

    def get_state(self):
        return {"seen": self.seen}

    def set_state(self, state):
        self.seen = state["seen"]

    def on_epoch_end(self, epoch, logs=None):
        self.seen += 1
        logs["seen"] = self.seen
        if self.seen >= self.stop_after:
            self.model.stop_training = True


def _toy_training(folder, epochs=EPOCHS, interrupt_at=None, callbacks=(), verbose=0):
    """Trains a small dropout MLP with the driver; ``interrupt_at``: raise at that epoch's start."""
    keras.utils.set_random_seed(0)
    data = np.random.default_rng(1)
    x = data.normal(size=(37, 5)).astype("float32")
    y = (x @ data.normal(size=(5, 1))).astype("float32")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(1)])
    optimizer = keras.optimizers.AdamW(0.01)
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(2)  # the loop's generator: order and batch sizes

    def replica_step(xb, yb):
        return minimize(lambda: keras.ops.mean(keras.ops.square(model(xb, training=True) - yb)),
                        [(optimizer, model.trainable_variables)])

    spec = [tf.TensorSpec((None, 5), tf.float32), tf.TensorSpec((None, 1), tf.float32)]
    train_step = compile_step(replica_step, spec)

    def batches(epoch):
        if epoch == interrupt_at:
            raise Interrupted(epoch)
        order = rng.permutation(len(x))
        size = int(rng.integers(6, 12))
        return [order[i:i + size] for i in range(0, len(x), size)]

    def step(rows):
        return float(train_step(x[rows], y[rows]))

    with checkpoint_directory(folder):
        history = run_loop(step, batches, epochs, checkpoint=LoopCheckpoint(model, [optimizer], rng),
                           model=model, callbacks=callbacks,
                           progress=Progress("toy", "batch", verbose))
    return history, [np.asarray(v) for v in model.variables], rng.random()


def test_an_interrupted_loop_resumes_to_the_uninterrupted_result(tmp_path):
    """Killed at the start of epoch 3, rerun: the same history, weights (the dropout seed state
    included) and generator state as one uninterrupted run."""
    history, variables, draw = _toy_training(tmp_path / "whole")
    assert len(history["loss"]) == EPOCHS and history["loss"][-1] < history["loss"][0]
    with pytest.raises(Interrupted):
        _toy_training(tmp_path / "killed", interrupt_at=2)
    saved = read_state(tmp_path / "killed" / "fit1" / "state.zip")
    assert saved["epoch"] == 2 and saved["history"]["loss"] == history["loss"][:2]
    resumed, resumed_variables, resumed_draw = _toy_training(tmp_path / "killed")
    assert resumed == history
    assert len(resumed_variables) == len(variables) == 5  # 2 kernels, 2 biases, the seed state
    for a, b in zip(variables, resumed_variables):
        np.testing.assert_array_equal(a, b)
    assert resumed_draw == draw  # the loop's generator continued where it stood


def test_without_a_unit_nothing_is_saved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint = LoopCheckpoint(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]), [])
    assert checkpoint.path is None and checkpoint.restore() == (0, None, None)
    checkpoint.save(1, {"loss": [1.0]})
    assert list(tmp_path.iterdir()) == []


def test_callbacks_are_driven_and_their_state_survives_a_resume(tmp_path):
    """A callback that stops the training after 3 epochs: its log joins the history, its count
    is restored after an interruption, and the resumed run stops at the same epoch."""
    history, variables, _ = _toy_training(tmp_path / "whole", epochs=10,
                                          callbacks=[CountingStop(3)])
    assert history["seen"] == [1.0, 2.0, 3.0] and len(history["loss"]) == 3
    with pytest.raises(Interrupted):
        _toy_training(tmp_path / "killed", epochs=10, interrupt_at=2, callbacks=[CountingStop(3)])
    saved = read_state(tmp_path / "killed" / "fit1" / "state.zip")
    assert saved["loop"] == {"callbacks": [{"seen": 2}], "stopped": False}
    resumed, resumed_variables, _ = _toy_training(tmp_path / "killed", epochs=10,
                                                  callbacks=[CountingStop(3)])
    assert resumed == history
    for a, b in zip(variables, resumed_variables):
        np.testing.assert_array_equal(a, b)


def test_progress_is_reported_once_per_epoch(tmp_path, capsys):
    history, _, _ = _toy_training(tmp_path / "run", epochs=2, verbose=1)
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["toy epoch 1/2", "toy epoch 2/2"]
    assert f"loss={history['loss'][1]:.4f}" in lines[1]
    assert "toy epoch 1/2" in err and "batch" in err  # the bar, on stderr
    _toy_training(tmp_path / "quiet", epochs=2, verbose=0)
    assert capsys.readouterr() == ("", "")


def test_epoch_loss_is_the_mean_or_the_row_weighted_mean():
    plain = run_loop(lambda loss: loss, lambda epoch: [1.0, 2.0, 6.0], 2,
                     progress=Progress(verbose=0))
    assert plain == {"loss": [3.0, 3.0]}
    weighted = run_loop(lambda batch: batch, lambda epoch: [(1.0, 16), (4.0, 4)], 1,
                        end_epoch=lambda epoch: {"val_loss": 0.5}, progress=Progress(verbose=0))
    assert weighted == {"loss": [(1.0 * 16 + 4.0 * 4) / 20], "val_loss": [0.5]}


def test_a_state_of_the_loops_before_the_engine_still_resumes(tmp_path):
    """Older masked-LM / ΔG states held the history as a list of losses and no loop state."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    rng = np.random.default_rng(0)
    write_state({"epoch": 1, "history": [0.25], "variables": [np.ones((2, 1)), np.zeros(1)],
                 "optimizers": [], "rng": np.random.default_rng(5).bit_generator.state},
                tmp_path / "state.zip")
    done, history, loop = LoopCheckpoint(model, [], rng, tmp_path).restore()
    assert (done, history, loop) == (1, {"loss": [0.25]}, None)
    np.testing.assert_array_equal(model.get_weights()[0], np.ones((2, 1)))
    assert rng.random() == np.random.default_rng(5).random()


@pytest.mark.parametrize("multi_worker", [False, True])
def test_fit_chooses_model_fit_or_the_step_loop(multi_worker, monkeypatch):
    """The one place that looks at the strategy: model.fit (resumable) on one process, the step
    loop under MultiWorkerMirroredStrategy, each with the caller's callbacks and loss."""
    calls = []
    monkeypatch.setattr(engine, "is_multi_worker", lambda: multi_worker)
    monkeypatch.setattr(engine, "resumable_fit",
                        lambda *args, **kwargs: calls.append(("fit", kwargs)) or {"loss": [1.0]})
    monkeypatch.setattr(engine, "fit_distributed",
                        lambda *args, **kwargs: calls.append(("loop", kwargs)) or {"loss": [2.0]})
    stop = keras.callbacks.EarlyStopping()
    history = engine.fit("model", "x", "y", batch_size=8, epochs=3, seed=4, callbacks=[stop],
                         stateful=[stop], loss="mse", verbose=0)
    (name, kwargs), = calls
    assert name == ("loop" if multi_worker else "fit")
    assert history == {"loss": [2.0 if multi_worker else 1.0]}
    assert kwargs["callbacks"] == [stop] and kwargs["epochs"] == 3 and kwargs["seed"] == 4
    assert kwargs.get("loss") == ("mse" if multi_worker else None)
    assert kwargs.get("stateful") == (None if multi_worker else [stop])
