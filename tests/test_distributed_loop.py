"""The multi-replica training loop trains as Model.fit does, batch for batch."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from token_reviews import VOCABULARY, dataset_fn, reviews
from trainer import callbacks, distributed_loop, models
from trainer.config import TrainerConfig

def _twin_models(variant: str, **settings):
    config = TrainerConfig(variant=variant, embedding_dim=4, lstm_units=4, dense_units=4,
                           dropout=0.0, learning_rate=0.01, **settings)
    keras.utils.set_random_seed(1)
    first, second = (models.build(config, VOCABULARY) for _ in range(2))
    second.set_weights(first.get_weights())
    return config, first, second


# 30 and 13 reviews: the last batch of each epoch and of the evaluation is partial.
@pytest.mark.parametrize("variant, weight_averaging", [
    ("basic", None),
    ("regularized", None),  # + model.losses
    ("basic", 0.9),  # eval, and the weights kept, are the averages
])
def test_loop_matches_model_fit_on_one_replica(variant, weight_averaging):
    train, evaluation = reviews(30, seed=2), reviews(13, seed=3)
    config, by_fit, by_loop = _twin_models(variant, weight_averaging=weight_averaging)
    fit_history = by_fit.fit(dataset_fn(train)(), validation_data=dataset_fn(evaluation)(),
                             epochs=3, verbose=0,
                             callbacks=callbacks.keep_best_epoch(config, "loss"))
    loop_history = distributed_loop.fit(by_loop, tf.distribute.get_strategy(), dataset_fn(train),
                                        dataset_fn(evaluation), epochs=3,
                                        callbacks=callbacks.keep_best_epoch(config, "loss"))
    assert set(loop_history.history) == set(fit_history.history)
    for key, values in fit_history.history.items():
        np.testing.assert_allclose(loop_history.history[key], values, rtol=1e-4, err_msg=key)
    for fitted, looped in zip(by_fit.get_weights(), by_loop.get_weights()):
        np.testing.assert_allclose(looped, fitted, rtol=1e-4, atol=1e-6)


def test_loop_drives_keras_callbacks_early_stopping_included():
    train, evaluation = reviews(30, seed=2), reviews(13, seed=3)
    _, _, model = _twin_models("basic")
    model.optimizer.learning_rate.assign(0.5)  # diverges: validation loss rises at once
    stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1,
                                             restore_best_weights=True)
    history = distributed_loop.fit(model, tf.distribute.get_strategy(), dataset_fn(train),
                                   dataset_fn(evaluation), epochs=20, callbacks=[stopping])
    epochs_run = len(history.history["val_loss"])
    assert epochs_run < 20 and stopping.stopped_epoch == epochs_run - 1
    best = int(np.argmin(history.history["val_loss"]))
    assert model.evaluate(dataset_fn(evaluation)(), verbose=0, return_dict=True)["loss"] == \
        pytest.approx(history.history["val_loss"][best], rel=1e-4)


def test_loop_trains_under_mixed_precision():
    config = TrainerConfig(embedding_dim=4, lstm_units=4, dense_units=4, learning_rate=0.01,
                           precision="mixed_float16")
    model = models.build(config, VOCABULARY)
    before = [w.copy() for w in model.get_weights()]
    train, evaluation = reviews(30, seed=2), reviews(13, seed=3)
    history = distributed_loop.fit(model, tf.distribute.get_strategy(), dataset_fn(train),
                                   dataset_fn(evaluation), epochs=2, callbacks=[])
    assert np.isfinite(history.history["loss"]).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert any(not np.allclose(b, a) for b, a in zip(before, model.get_weights()))
    assert model.optimizer.iterations.numpy() == 2 * 4  # every step applied, none skipped


@pytest.mark.parametrize("loop", ["model.fit", "distributed_loop"])
def test_epoch_log_reports_how_far_a_long_epoch_got(loop, caplog):
    train, evaluation = reviews(30, seed=2), reviews(13, seed=3)  # 4 batches an epoch
    _, _, model = _twin_models("basic")
    epoch_log = callbacks.EpochLog(epochs=2, progress_seconds=0)  # every batch counts as long
    with caplog.at_level("INFO", logger=callbacks.__name__):
        if loop == "model.fit":
            model.fit(dataset_fn(train)(), validation_data=dataset_fn(evaluation)(), epochs=2,
                      verbose=0, callbacks=[epoch_log])
        else:
            distributed_loop.fit(model, tf.distribute.get_strategy(), dataset_fn(train),
                                 dataset_fn(evaluation), epochs=2, callbacks=[epoch_log])
    progress = [m for m in caplog.messages if ": batch " in m]
    # The first epoch does not know its length yet; the second counts against the first's.
    assert [m.split(" (")[0] for m in progress] == (
        [f"epoch 1/2: batch {b}" for b in range(1, 5)]
        + [f"epoch 2/2: batch {b} of 4" for b in range(1, 5)])
    assert all(", loss=" in m for m in progress)
