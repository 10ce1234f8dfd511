"""The decision threshold chosen on eval, and the served score that is 0.5 there."""
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import synthetic_imdb
import transformed_data
from trainer import calibration, config, models, training


def test_the_threshold_classifies_the_most_reviews_correctly():
    # Positives score lower than negatives would suggest: the lean the threshold corrects.
    negatives = [0.05, 0.1, 0.2, 0.3, 0.55]
    positives = [0.35, 0.4, 0.45, 0.6, 0.9]
    scores = np.array(negatives + positives)
    labels = np.array([0] * 5 + [1] * 5)
    threshold = calibration.decision_threshold(scores, labels)
    assert threshold == pytest.approx(0.325)  # between 0.3 and 0.35: 9 of 10 right
    assert calibration.accuracy(scores, labels, threshold) == 0.9
    assert calibration.accuracy(scores, labels, calibration.NEUTRAL) == 0.6


def test_of_equally_good_thresholds_the_one_nearest_one_half():
    labels = np.array([0, 0, 1, 1])
    assert calibration.decision_threshold(np.array([0.1, 0.2, 0.8, 0.9]), labels) == 0.5
    # Cutting at 0.15 or at 0.45 gets 3 of 4 right; 0.45 is nearer 0.5.
    assert calibration.decision_threshold(
        np.array([0.1, 0.4, 0.2, 0.5]), labels) == pytest.approx(0.45)


def test_the_served_score_crosses_one_half_at_the_threshold():
    probabilities = tf.constant([0.0, 0.1, 0.3, 0.31, 0.5, 0.9, 1.0])
    centred = calibration.centre(probabilities, 0.3).numpy()
    assert centred[2] == pytest.approx(0.5)
    assert ((centred > 0.5) == (probabilities.numpy() > 0.3)).all()
    assert (np.diff(centred) > 0).all() and centred[0] == 0.0 and centred[-1] == 1.0
    np.testing.assert_allclose(calibration.centre(probabilities, 0.5), probabilities, atol=1e-7)


def _scores_as_batches(scores, labels):
    """A stand-in model whose output is its input, so choose_threshold sees these scores."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Identity()])
    data = tf.data.Dataset.from_tensor_slices((np.reshape(scores, (-1, 1)).astype("float32"),
                                               labels)).batch(64)
    return model, data


def test_the_trainer_calibrates_on_enough_eval_reviews_only(caplog):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, calibration.MIN_REVIEWS)
    scores = np.clip(rng.normal(0.2 + 0.3 * labels, 0.1), 0, 1)  # leaning negative
    model, data = _scores_as_batches(scores, labels)
    chosen = training.choose_threshold(model, data, config.TrainerConfig())
    assert chosen["eval_reviews"] == calibration.MIN_REVIEWS
    assert chosen["decision_threshold"] == pytest.approx(0.35, abs=0.05)
    assert chosen["eval_accuracy"] > chosen["eval_accuracy_at_0.5"] + 0.1

    switched_off = training.choose_threshold(model, data,
                                             config.TrainerConfig(calibrate_threshold=False))
    assert switched_off["decision_threshold"] == calibration.NEUTRAL
    assert switched_off["eval_accuracy"] == chosen["eval_accuracy_at_0.5"]

    model, data = _scores_as_batches(scores[:-1], labels[:-1])
    with caplog.at_level(logging.WARNING):
        too_few = training.choose_threshold(model, data, config.TrainerConfig())
    assert too_few["decision_threshold"] == calibration.NEUTRAL
    assert f"{calibration.MIN_REVIEWS - 1} eval reviews, calibrating needs" in caplog.text


def test_the_exported_model_serves_the_centred_score(tmp_path):
    raw = [{"review": text.encode(), "label": int("/pos/" in path), "rating": 1}
           for path, text in synthetic_imdb.reviews(per_folder=5)
           if "/train/pos/" in path or "/train/neg/" in path]
    trainer_config = config.TrainerConfig(vocab_size=50, sequence_length=16, embedding_dim=8,
                                          lstm_units=4, dense_units=4)
    rows, transform_dir = transformed_data.analyze_and_transform(raw, trainer_config,
                                                                 str(tmp_path))
    transform_output = tft.TFTransformOutput(transform_dir)
    model = models.build(trainer_config, training.vocabulary_size(trainer_config,
                                                                  transform_output))
    own = model(np.array([row[config.TOKENS_KEY] for row in rows]), training=False)
    reviews = tf.constant([row["review"] for row in raw])
    for threshold in (0.3, calibration.NEUTRAL):
        export_dir = str(tmp_path / f"serving-{threshold}")
        training.export_serving_model(model, transform_output, export_dir, threshold)
        served = tf.saved_model.load(export_dir).signatures[training.RAW_TEXT_SIGNATURE](
            review=reviews)[config.PREDICTION_KEY]
        np.testing.assert_allclose(served, calibration.centre(own, threshold), rtol=1e-5)
