"""The decision threshold fitted on eval, and the served score that is 0.5 there."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import synthetic_imdb
import transformed_data
from trainer import calibration, config, export, features, input_pipeline, models


def _reviews_of_a_model_whose_logit_is_off_by(lean, count=5000, seed=0):
    """Labels drawn from a true logit; scores from that logit plus `lean`."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 2.0, count)
    labels = rng.uniform(size=count) < 1 / (1 + np.exp(-logits))
    return 1 / (1 + np.exp(-(logits + lean))), labels


def test_the_threshold_undoes_a_lean_of_the_logit():
    scores, labels = _reviews_of_a_model_whose_logit_is_off_by(-1.0)  # leaning negative
    threshold = calibration.decision_threshold(scores, labels)
    assert threshold == pytest.approx(1 / (1 + np.exp(1.0)), abs=0.02)  # where the logit is -1
    assert (calibration.accuracy(scores, labels, threshold)
            > calibration.accuracy(scores, labels, calibration.NEUTRAL) + 0.02)


def test_a_model_that_does_not_lean_keeps_about_one_half():
    scores, labels = _reviews_of_a_model_whose_logit_is_off_by(0.0)
    assert calibration.decision_threshold(scores, labels) == pytest.approx(0.5, abs=0.02)


def test_the_served_scores_average_to_the_share_of_positive_reviews():
    """What the log-loss fit of the shift means: on the reviews it was fitted on, the shifted
    scores are right on average, saturated scores included."""
    scores, labels = _reviews_of_a_model_whose_logit_is_off_by(1.5, count=1000, seed=1)
    scores[:3] = [0.0, 1.0, 1.0]
    threshold = calibration.decision_threshold(scores, labels)
    served = calibration.served_score(tf.constant(scores), threshold)
    assert np.mean(served) == pytest.approx(np.mean(labels), abs=1e-6)


def test_reviews_of_one_class_give_a_threshold_inside_zero_to_one():
    scores = np.array([0.2, 0.6, 0.9])
    assert 0 < calibration.decision_threshold(scores, np.ones(3)) < 1e-6
    assert 1 - 1e-6 < calibration.decision_threshold(scores, np.zeros(3)) < 1


def test_the_served_score_crosses_one_half_at_the_threshold():
    probabilities = tf.constant([0.0, 0.1, 0.3, 0.31, 0.5, 0.9, 1.0])
    served = calibration.served_score(probabilities, 0.3).numpy()
    assert served[2] == pytest.approx(0.5)
    assert ((served > 0.5) == (probabilities.numpy() > 0.3)).all()
    assert (np.diff(served) > 0).all() and served[0] == 0.0 and served[-1] == 1.0
    np.testing.assert_allclose(calibration.served_score(probabilities, 0.5), probabilities,
                               atol=1e-7)


def _scores_as_batches(scores, labels):
    """A stand-in model whose output is its input, so fit_threshold sees these scores."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Identity()])
    data = tf.data.Dataset.from_tensor_slices((np.reshape(scores, (-1, 1)).astype("float32"),
                                               labels)).batch(64)
    return model, data


def test_the_trainer_calibrates_on_enough_eval_reviews_only():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, calibration.MIN_REVIEWS)
    scores = np.clip(rng.normal(0.2 + 0.3 * labels, 0.1), 0, 1)  # leaning negative
    model, data = _scores_as_batches(scores, labels)
    fitted = calibration.fit_threshold(model, data, config.TrainerConfig())
    assert fitted["fitted"] and fitted["eval_reviews"] == calibration.MIN_REVIEWS
    assert fitted["decision_threshold"] == pytest.approx(0.30, abs=0.05)
    assert fitted["eval_accuracy"] > fitted["eval_accuracy_at_0.5"] + 0.1

    switched_off = calibration.fit_threshold(model, data,
                                             config.TrainerConfig(calibrate_threshold=False))
    assert not switched_off["fitted"]
    assert switched_off["decision_threshold"] == calibration.NEUTRAL
    assert switched_off["eval_accuracy"] == fitted["eval_accuracy_at_0.5"]

    model, data = _scores_as_batches(scores[:-1], labels[:-1])
    too_few = calibration.fit_threshold(model, data, config.TrainerConfig())
    assert not too_few["fitted"] and too_few["eval_reviews"] == calibration.MIN_REVIEWS - 1
    assert too_few["decision_threshold"] == calibration.NEUTRAL


def test_the_exported_model_serves_the_shifted_score(tmp_path):
    raw = [{"review": text.encode(), "label": int("/pos/" in path), "rating": 1}
           for path, text in synthetic_imdb.reviews(per_folder=5)
           if "/train/pos/" in path or "/train/neg/" in path]
    trainer_config = config.TrainerConfig(vocab_size=50, sequence_length=16, embedding_dim=8,
                                          lstm_units=4, dense_units=4,
                                          ngram_vocab_size=0)
    rows, transform_dir = transformed_data.analyze_and_transform(raw, trainer_config,
                                                                 str(tmp_path))
    transform_output = tft.TFTransformOutput(transform_dir)
    model = models.build(trainer_config, input_pipeline.vocabulary_size(trainer_config,
                                                                        transform_output))
    own = model({features.TOKENS_KEY: np.array([row[features.TOKENS_KEY] for row in rows])},
                training=False)
    reviews = tf.constant([row["review"] for row in raw])
    for threshold in (0.3, calibration.NEUTRAL):
        export_dir = str(tmp_path / f"serving-{threshold}")
        export.export_serving_model(model, transform_output, export_dir, threshold)
        served = tf.saved_model.load(export_dir).signatures[export.RAW_TEXT_SIGNATURE](
            review=reviews)[features.PREDICTION_KEY]
        np.testing.assert_allclose(served, calibration.served_score(own, threshold), rtol=1e-5)
