"""The wide part beside the LSTM (trainer.ngram_vocab_size): it learns, and the n-gram features
it reads are the same in training (Transform's examples through the input pipeline) and in
serving (raw text through the SavedModel's two signatures, the Transform graph inside)."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import synthetic_imdb
import transformed_data
from trainer import calibration, config, export, features, input_pipeline, models

TRAINER_CONFIG = config.TrainerConfig(vocab_size=60, sequence_length=16, embedding_dim=8,
                                      lstm_units=4, dense_units=4, ngram_vocab_size=300,
                                      batch_size=8)


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("wide"))
    raw = [{"review": text.encode(), "label": int("/pos/" in path), "rating": 1}
           for path, text in synthetic_imdb.reviews(per_folder=30) if "/train/" in path]
    rows, transform_dir = transformed_data.analyze_and_transform(raw, TRAINER_CONFIG, workdir)
    path = transformed_data.write_examples(rows, os.path.join(workdir, "train.gz"))
    return raw, path, tft.TFTransformOutput(transform_dir)


def build(transform_output, trainer_config=TRAINER_CONFIG):
    return models.build(
        trainer_config, input_pipeline.vocabulary_size(trainer_config, transform_output),
        input_pipeline.ngram_vocabulary_size(trainer_config, transform_output))


def test_the_wide_part_starts_at_zero_and_learns_the_ngrams(transformed):
    _, path, transform_output = transformed
    keras.utils.set_random_seed(1)
    trainer_config = config.TrainerConfig(**{**TRAINER_CONFIG.to_dict(), "learning_rate": 0.01})
    model = build(transform_output, trainer_config)
    wide = model.get_layer(models.WIDE_LAYER)
    assert not wide.get_weights()[0].any()  # the model starts as the LSTM alone
    data = input_pipeline.dataset([path], input_pipeline.transformed_examples(transform_output),
                                  trainer_config, 8, shuffle=True)
    history = model.fit(data, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9
    assert np.abs(wide.get_weights()[0]).max() > 0.01


def test_the_wide_learning_rate_scale_is_how_fast_the_wide_part_moves_the_logit(transformed):
    """Adam's first step moves each weight by the learning rate, whatever its gradient: the wide
    logit after one step is proportional to the scale."""
    _, path, transform_output = transformed
    batch = next(iter(input_pipeline.dataset(
        [path], input_pipeline.transformed_examples(transform_output), TRAINER_CONFIG, 8,
        shuffle=False)))
    moves = {}
    for scale in (1.0, 30.0):
        keras.utils.set_random_seed(1)
        model = build(transform_output, config.TrainerConfig(
            **{**TRAINER_CONFIG.to_dict(), "wide_learning_rate_scale": scale}))
        model.train_on_batch(*batch)
        moves[scale] = np.abs(model.get_layer(models.WIDE_LAYER)(
            batch[0][features.NGRAMS_KEY], batch[0][features.NGRAM_WEIGHTS_KEY])).mean()
    assert moves[30.0] == pytest.approx(30 * moves[1.0], rel=0.05)


def test_training_and_serving_score_raw_text_alike(transformed, tmp_path):
    raw, path, transform_output = transformed
    keras.utils.set_random_seed(3)
    model = build(transform_output)
    wide = model.get_layer(models.WIDE_LAYER)
    wide.set_weights([np.random.default_rng(0).normal(0, 1, wide.get_weights()[0].shape)])
    export.export_serving_model(model, transform_output, str(tmp_path), calibration.NEUTRAL)
    data = input_pipeline.dataset([path], input_pipeline.transformed_examples(transform_output),
                                  config.TrainerConfig(**{**TRAINER_CONFIG.to_dict(),
                                                          "batch_length_buckets": 1}),
                                  len(raw), shuffle=False)
    [(inputs, _)] = list(data)
    assert inputs[features.NGRAMS_KEY].shape[1] > 1  # the wide part has n-grams to read
    trained = np.ravel(model(inputs, training=False))
    serving = tf.saved_model.load(str(tmp_path))
    reviews = [row["review"] for row in raw]
    as_text = serving.signatures[export.RAW_TEXT_SIGNATURE](review=tf.constant(reviews))
    examples = [tf.train.Example(features=tf.train.Features(feature={
        features.REVIEW_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[review]))}))
        .SerializeToString() for review in reviews]
    as_examples = serving.signatures["serving_default"](examples=tf.constant(examples))
    np.testing.assert_allclose(np.ravel(as_text[features.PREDICTION_KEY]), trained, rtol=1e-5)
    np.testing.assert_allclose(np.ravel(as_examples[features.PREDICTION_KEY]), trained,
                               rtol=1e-5)
