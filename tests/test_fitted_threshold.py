"""The decision threshold fitted on eval reaches the served model: a Trainer run on enough eval
reviews (>= calibration.MIN_REVIEWS) whose model leans, checked from outside through the exported
SavedModel's raw-text signature, not through the code that fitted it."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import synthetic_imdb
import transformed_data
from trainer import artifacts, calibration, config, export, features, training


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One epoch on five negative reviews to each positive one: the model has learned some words
    and leans negative (fitted threshold about 0.21); evaluated on 1,200 balanced reviews."""
    workdir = str(tmp_path_factory.mktemp("fitted"))
    raw = [{"review": text.encode(), "label": int("/pos/" in path), "rating": 1}
           for path, text in synthetic_imdb.reviews(per_folder=700, seed=5)
           if "/pos/" in path or "/neg/" in path]
    train = [r for r in raw if r["label"] == 0][:600] + [r for r in raw if r["label"] == 1][:120]
    evaluation = [r for r in raw if r["label"] == 0][-600:] + [r for r in raw
                                                               if r["label"] == 1][-600:]
    trainer_config = config.TrainerConfig(vocab_size=60, sequence_length=32, embedding_dim=8,
                                          lstm_units=8, dense_units=8, epochs=1, batch_size=32,
                                          learning_rate=0.01,
                                          batch_length_buckets=1)
    rows, transform_dir = transformed_data.analyze_and_transform(train + evaluation,
                                                                 trainer_config, workdir)
    train_file = transformed_data.write_examples(rows[:len(train)], f"{workdir}/train.gz")
    eval_file = transformed_data.write_examples(rows[len(train):], f"{workdir}/eval.gz")
    serving = os.path.join(workdir, "serving")
    training.train(trainer_config, tft.TFTransformOutput(transform_dir), [train_file],
                   [eval_file], serving, os.path.join(workdir, "Trainer", "model_run", "1"))
    return serving, evaluation


def test_the_served_model_cuts_at_the_fitted_threshold(trained):
    serving, evaluation = trained
    with open(os.path.join(serving, artifacts.CALIBRATION_ASSET)) as f:
        fitted = json.load(f)
    assert fitted["fitted"] and fitted["eval_reviews"] == 1200 >= calibration.MIN_REVIEWS
    assert fitted["decision_threshold"] < 0.45  # the lean the training data gave it
    assert fitted["eval_accuracy"] > fitted["eval_accuracy_at_0.5"] + 0.02

    served = tf.saved_model.load(serving).signatures[export.RAW_TEXT_SIGNATURE](
        review=tf.constant([r["review"] for r in evaluation]))[features.PREDICTION_KEY]
    labels = np.array([r["label"] for r in evaluation])
    accuracy = float(np.mean((served.numpy()[:, 0] >= 0.5) == labels))
    # Served at 0.5, the model is as accurate as at the fitted threshold, not as at 0.5.
    assert accuracy == pytest.approx(fitted["eval_accuracy"], abs=1e-3)
