"""Weight averaging in the Trainer's fit: eval scores the moving averages of the weights, the
best epoch's averages are what is kept, and training itself, resumed from a backup included,
goes on from the weights as trained."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from token_reviews import VOCABULARY, dataset_fn, reviews
from trainer import callbacks, models, training
from trainer.config import TrainerConfig

EPOCHS = 4
TRAIN, EVALUATION = reviews(30, seed=2), reviews(13, seed=3)


def _fit(tmp_path, weight_averaging):
    """A fresh, seeded model through training.fit; the model and its history."""
    config = TrainerConfig(embedding_dim=4, lstm_units=4, dense_units=4, dropout=0.0,
                           learning_rate=0.01, epochs=EPOCHS, early_stopping_patience=EPOCHS,
                           weight_averaging=weight_averaging)
    keras.utils.set_random_seed(1)
    model = models.build(config, VOCABULARY)
    history = training.fit(model, tf.distribute.get_strategy(), config, EPOCHS,
                           dataset_fn(TRAIN), dataset_fn(EVALUATION),
                           str(tmp_path / "Trainer" / "model_run" / "1"), ["inputs"], "loss")
    return model, history


def _eval_loss(model):
    return model.evaluate(dataset_fn(EVALUATION)(), verbose=0, return_dict=True)["loss"]


def test_eval_scores_the_averages_and_the_best_epochs_averages_are_kept(tmp_path):
    plain_model, plain = _fit(tmp_path / "plain", None)
    averaged_model, averaged = _fit(tmp_path / "averaged", 0.9)
    # The same first epoch of training, scored on other weights.
    assert averaged["loss"][0] == pytest.approx(plain["loss"][0], rel=1e-6)
    assert averaged["val_loss"][0] != pytest.approx(plain["val_loss"][0], rel=1e-3)
    best = int(np.argmin(averaged["val_loss"]))
    assert _eval_loss(averaged_model) == pytest.approx(averaged["val_loss"][best], rel=1e-5)
    assert _eval_loss(plain_model) == pytest.approx(min(plain["val_loss"]), rel=1e-5)


class Interrupted(Exception):
    pass


def test_a_resumed_run_trains_on_from_the_weights_as_trained(tmp_path, monkeypatch):
    _, uninterrupted = _fit(tmp_path / "uninterrupted", 0.9)
    backup_epoch_end = callbacks.EpochBackup.on_epoch_end

    def interrupt_after_second_backup(self, epoch, logs=None):
        backup_epoch_end(self, epoch, logs)
        if epoch == 1:
            raise Interrupted()
    monkeypatch.setattr(callbacks.EpochBackup, "on_epoch_end", interrupt_after_second_backup)
    with pytest.raises(Interrupted):
        _fit(tmp_path / "interrupted", 0.9)
    monkeypatch.undo()
    _, resumed = _fit(tmp_path / "interrupted", 0.9)
    # Resumed from the averages instead, epochs 3 and 4 would train on from other weights.
    np.testing.assert_allclose(resumed["loss"], uninterrupted["loss"], rtol=1e-4)
    np.testing.assert_allclose(resumed["val_loss"], uninterrupted["val_loss"], rtol=1e-4)
