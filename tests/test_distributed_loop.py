"""The multi-replica training loop trains as Model.fit does, batch for batch."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer import distributed_loop, models, training
from trainer.config import TrainerConfig

VOCABULARY = 30
BATCH = 8


def _reviews(count: int, seed: int):
    """Right-padded token ids of random lengths, labelled by whether token 1 occurs."""
    rng = np.random.default_rng(seed)
    tokens = np.zeros((count, 12), np.int64)
    for row, length in enumerate(rng.integers(1, 13, count)):
        tokens[row, :length] = rng.integers(1, VOCABULARY, length)
    return tokens, (tokens == 1).any(axis=1).astype(np.int64)


def _dataset(reviews):
    # 30 and 13 reviews: the last batch of each epoch and of the evaluation is partial.
    return lambda input_context=None: tf.data.Dataset.from_tensor_slices(reviews).batch(BATCH)


def _twin_models(variant: str):
    config = TrainerConfig(variant=variant, embedding_dim=4, lstm_units=4, dense_units=4,
                           dropout=0.0, learning_rate=0.01)
    keras.utils.set_random_seed(1)
    first, second = (models.build(config, VOCABULARY) for _ in range(2))
    second.set_weights(first.get_weights())
    return first, second


@pytest.mark.parametrize("variant", ["basic", "regularized"])  # regularized: + model.losses
def test_loop_matches_model_fit_on_one_replica(variant):
    train, evaluation = _reviews(30, seed=2), _reviews(13, seed=3)
    by_fit, by_loop = _twin_models(variant)
    fit_history = by_fit.fit(_dataset(train)(), validation_data=_dataset(evaluation)(),
                             epochs=2, verbose=0)
    loop_history = distributed_loop.fit(by_loop, tf.distribute.get_strategy(), _dataset(train),
                                        _dataset(evaluation), epochs=2, callbacks=[])
    assert set(loop_history.history) == set(fit_history.history)
    for key, values in fit_history.history.items():
        np.testing.assert_allclose(loop_history.history[key], values, rtol=1e-4, err_msg=key)
    for fitted, looped in zip(by_fit.get_weights(), by_loop.get_weights()):
        np.testing.assert_allclose(looped, fitted, rtol=1e-4, atol=1e-6)


def test_loop_drives_keras_callbacks_early_stopping_included():
    train, evaluation = _reviews(30, seed=2), _reviews(13, seed=3)
    _, model = _twin_models("basic")
    model.optimizer.learning_rate.assign(0.5)  # diverges: validation loss rises at once
    stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1,
                                             restore_best_weights=True)
    history = distributed_loop.fit(model, tf.distribute.get_strategy(), _dataset(train),
                                   _dataset(evaluation), epochs=20, callbacks=[stopping])
    epochs_run = len(history.history["val_loss"])
    assert epochs_run < 20 and stopping.stopped_epoch == epochs_run - 1
    best = int(np.argmin(history.history["val_loss"]))
    assert model.evaluate(_dataset(evaluation)(), verbose=0, return_dict=True)["loss"] == \
        pytest.approx(history.history["val_loss"][best], rel=1e-4)


def test_loop_trains_under_mixed_precision():
    config = TrainerConfig(embedding_dim=4, lstm_units=4, dense_units=4, learning_rate=0.01,
                           precision="mixed_float16")
    model = models.build(config, VOCABULARY)
    before = [w.copy() for w in model.get_weights()]
    train, evaluation = _reviews(30, seed=2), _reviews(13, seed=3)
    history = distributed_loop.fit(model, tf.distribute.get_strategy(), _dataset(train),
                                   _dataset(evaluation), epochs=2, callbacks=[])
    assert np.isfinite(history.history["loss"]).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert any(not np.allclose(b, a) for b, a in zip(before, model.get_weights()))
    assert model.optimizer.iterations.numpy() == 2 * 4  # every step applied, none skipped


@pytest.mark.parametrize("loop", ["model.fit", "distributed_loop"])
def test_epoch_log_reports_how_far_a_long_epoch_got(loop, caplog):
    train, evaluation = _reviews(30, seed=2), _reviews(13, seed=3)  # 4 batches an epoch
    _, model = _twin_models("basic")
    epoch_log = training.EpochLog(epochs=2, progress_seconds=0)  # every batch counts as long
    with caplog.at_level("INFO", logger=training.__name__):
        if loop == "model.fit":
            model.fit(_dataset(train)(), validation_data=_dataset(evaluation)(), epochs=2,
                      verbose=0, callbacks=[epoch_log])
        else:
            distributed_loop.fit(model, tf.distribute.get_strategy(), _dataset(train),
                                 _dataset(evaluation), epochs=2, callbacks=[epoch_log])
    progress = [m for m in caplog.messages if ": batch " in m]
    # The first epoch does not know its length yet; the second counts against the first's.
    assert [m.split(" (")[0] for m in progress] == (
        [f"epoch 1/2: batch {b}" for b in range(1, 5)]
        + [f"epoch 2/2: batch {b} of 4" for b in range(1, 5)])
    assert all(", loss=" in m for m in progress)
