"""The Trainer's early stopping: the exported model is the epoch that `early_stopping_metric`
ranks best on eval, whichever way that metric improves."""
import json
import os
import random

import numpy as np
import pytest
import tensorflow_transform as tft

import synthetic_imdb
import transformed_data
from trainer import artifacts, config, training

EPOCHS = 12


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("early_stopping"))
    raw = [{"review": text.encode(), "label": int("/pos/" in path), "rating": 1}
           for path, text in synthetic_imdb.reviews(per_folder=30)
           if "/train/pos/" in path or "/train/neg/" in path]
    random.Random(0).shuffle(raw)
    rows, transform_dir = transformed_data.analyze_and_transform(
        raw, config.TrainerConfig(vocab_size=50, sequence_length=16), workdir)
    train = transformed_data.write_examples(rows[:48], os.path.join(workdir, "train.gz"))
    evaluation = transformed_data.write_examples(rows[48:], os.path.join(workdir, "eval.gz"))
    return workdir, tft.TFTransformOutput(transform_dir), train, evaluation


def _train(prepared, metric):
    workdir, transform_output, train, evaluation = prepared
    trainer_config = config.TrainerConfig(
        epochs=EPOCHS, early_stopping_patience=EPOCHS, early_stopping_metric=metric,
        learning_rate=0.005, batch_size=8, vocab_size=50, sequence_length=16, embedding_dim=8,
        lstm_units=4, dense_units=4,
        # A wide part slow enough that eval loss and accuracy peak at different epochs here.
        wide_learning_rate_scale=10.0)
    serving = os.path.join(workdir, metric, "serving")
    history = training.train(trainer_config, transform_output, [train], [evaluation], serving,
                             os.path.join(workdir, metric, "run"))
    with open(os.path.join(serving, artifacts.CALIBRATION_ASSET)) as f:
        # Measured on eval by the exported model, before the decision threshold moves.
        restored_accuracy = json.load(f)["eval_accuracy_at_0.5"]
    return history, restored_accuracy


def test_the_exported_model_is_the_epoch_best_by_the_chosen_metric(prepared):
    by_loss, by_loss_accuracy = _train(prepared, "loss")
    by_accuracy, by_accuracy_accuracy = _train(prepared, "accuracy")
    assert by_loss["val_loss"] == by_accuracy["val_loss"]  # seeded: the same epochs both times
    lowest_loss = int(np.argmin(by_loss["val_loss"]))
    highest_accuracy = int(np.argmax(by_accuracy["val_accuracy"]))
    # On this data the two disagree, so each run can only pass by restoring its own best epoch.
    assert (by_loss["val_accuracy"][lowest_loss]
            < by_accuracy["val_accuracy"][highest_accuracy])
    assert by_loss_accuracy == pytest.approx(by_loss["val_accuracy"][lowest_loss], abs=1e-6)
    assert by_accuracy_accuracy == pytest.approx(
        by_accuracy["val_accuracy"][highest_accuracy], abs=1e-6)
    assert len(by_accuracy["loss"]) == EPOCHS  # ran out its patience, not stopped early

