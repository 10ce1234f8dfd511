"""The Trainer's per-epoch backups survive a kill at any moment: each file is renamed into place
whole, a run started again resumes from the last one with the state it saved (weights and
optimizer), and a backup that cannot be read is set aside while training starts over."""
import dataclasses
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from token_reviews import VOCABULARY, dataset_fn, reviews
from trainer import callbacks, models, training
from trainer.config import TrainerConfig

EPOCHS = 3
TRAIN, EVALUATION = reviews(30, seed=2), reviews(13, seed=3)


CONFIG = TrainerConfig(embedding_dim=4, lstm_units=4, dense_units=4, dropout=0.0,
                       learning_rate=0.01, epochs=EPOCHS, early_stopping_patience=EPOCHS)


def run_dir(run_root) -> str:
    return str(run_root / "Trainer" / "model_run" / "1")


def fit(run_root):
    keras.utils.set_random_seed(1)
    model = models.build(CONFIG, VOCABULARY)
    return training.fit(model, tf.distribute.get_strategy(), CONFIG, EPOCHS, dataset_fn(TRAIN),
                        dataset_fn(EVALUATION), run_dir(run_root), ["inputs"], "loss")


class Killed(BaseException):
    pass


def kill_in_second_backup_write(monkeypatch, after_weights_bytes: int):
    """The second epoch's backup dies after writing `after_weights_bytes` of the weights file."""
    save_weights = keras.Model.save_weights
    calls = []

    def dying_save(self, filepath, overwrite=True):
        calls.append(filepath)
        save_weights(self, filepath, overwrite=overwrite)
        if len(calls) == 2:
            with open(filepath, "r+b") as f:
                f.truncate(after_weights_bytes)
            raise Killed()
    monkeypatch.setattr(keras.Model, "save_weights", dying_save)


def test_a_kill_mid_backup_leaves_the_previous_epochs_backup_to_resume_from(tmp_path,
                                                                         monkeypatch, caplog):
    kill_in_second_backup_write(monkeypatch, after_weights_bytes=1000)
    with pytest.raises(Killed):
        fit(tmp_path / "killed")
    monkeypatch.undo()
    history = fit(tmp_path / "killed")
    assert "resuming after epoch 1 from the backup" in caplog.text
    assert len(history["loss"]) == EPOCHS


def test_an_unreadable_backup_is_set_aside_and_training_starts_over(tmp_path, caplog):
    whole = fit(tmp_path / "whole")
    backup = callbacks.backup_dir(run_dir(tmp_path / "damaged"), CONFIG, ["inputs"])
    os.makedirs(backup)
    with open(os.path.join(backup, "latest.weights.h5"), "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # an HDF5 signature, then nothing
    with open(os.path.join(backup, "training_metadata.json"), "w") as f:
        f.write('{"epoch": 2, "batch": 0}')
    again = fit(tmp_path / "damaged")
    assert f"the backup in {backup} cannot be read" in caplog.text
    assert "training starts over" in caplog.text
    assert [name for name in os.listdir(os.path.dirname(backup)) if ".unreadable-" in name]
    assert again["loss"] == pytest.approx(whole["loss"], rel=1e-5)  # from epoch 1, as if new


def test_training_that_diverges_stops_before_the_epoch_is_backed_up(tmp_path):
    diverging = dataclasses.replace(CONFIG, learning_rate=1e38, clipnorm=None)
    keras.utils.set_random_seed(1)
    model = models.build(diverging, VOCABULARY)
    with pytest.raises(callbacks.TrainingDiverged,
                       match=r"^training diverged: loss is nan after epoch 1; lower "
                             r"trainer.learning_rate \(1e\+38\) or set trainer.clipnorm$"):
        training.fit(model, tf.distribute.get_strategy(), diverging, EPOCHS, dataset_fn(TRAIN),
                     dataset_fn(EVALUATION), run_dir(tmp_path), ["inputs"], "loss")
    backup = callbacks.backup_dir(run_dir(tmp_path), diverging, ["inputs"])
    assert not os.path.exists(os.path.join(backup, "latest.weights.h5"))


def test_a_resumed_run_trains_only_the_epochs_after_its_backup_from_their_state(tmp_path,
                                                                              monkeypatch):
    """Killed as its third epoch begins, then run again: the new run starts at the third epoch,
    with the weights and the optimizer's state (its step count and Adam's moments) exactly as the
    killed run had them after the second."""
    began, states = [], []
    log_epoch_begin = callbacks.EpochLog.on_epoch_begin

    def observed(kill_at):
        def on_epoch_begin(self, epoch, logs=None):
            began.append(epoch)
            states.append([v.numpy().copy() for v in
                           self.model.weights + self.model.optimizer.variables])
            if epoch == kill_at:
                raise Killed()
            return log_epoch_begin(self, epoch, logs)
        return on_epoch_begin

    monkeypatch.setattr(callbacks.EpochLog, "on_epoch_begin", observed(kill_at=2))
    with pytest.raises(Killed):
        fit(tmp_path)
    assert began == [0, 1, 2]
    after_second_epoch = states[-1]
    began.clear()
    states.clear()
    monkeypatch.setattr(callbacks.EpochLog, "on_epoch_begin", observed(kill_at=None))
    history = fit(tmp_path)
    assert began == [2]  # the first two epochs are not trained again
    assert len(history["loss"]) == EPOCHS
    [resumed] = states
    assert len(resumed) == len(after_second_epoch)
    for restored, saved in zip(resumed, after_second_epoch):
        np.testing.assert_array_equal(restored, saved)
