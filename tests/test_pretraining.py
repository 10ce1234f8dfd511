"""Language-model pretraining on unlabelled reviews, and a classifier that starts from it."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import synthetic_imdb
import transformed_data
from trainer import (artifacts, config, features, input_pipeline, models, pretraining, training,
                     warm_start)

SETTINGS = dict(vocab_size=60, sequence_length=48, embedding_dim=16, lstm_units=8,
                dense_units=8, batch_size=16, learning_rate=0.01,
                pretrain_learning_rate=0.01)


def _write_unlabelled(texts, path):
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for text in texts:
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                features.REVIEW_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[text.encode()]))})).SerializeToString())
    return path


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("pretraining"))
    labelled = [{"review": text.encode(), "label": int("/pos/" in path), "rating": 1}
                for path, text in synthetic_imdb.reviews(per_folder=30) if "/train/" in path]
    trainer_config = config.TrainerConfig(**SETTINGS, pretrain_epochs=4)
    rows, transform_dir = transformed_data.analyze_and_transform(labelled, trainer_config,
                                                                 workdir)
    unlabelled = [text for path, text in synthetic_imdb.reviews(per_folder=0, seed=1,
                                                                  unlabelled=240)]
    train = _write_unlabelled(unlabelled[:200], os.path.join(workdir, "unlabelled_train.gz"))
    held_out = _write_unlabelled(unlabelled[200:], os.path.join(workdir, "unlabelled_eval.gz"))
    transform_output = tft.TFTransformOutput(transform_dir)
    output_dir, run_dir = os.path.join(workdir, "encoder"), os.path.join(workdir, "run")
    history = pretraining.pretrain(trainer_config, transform_output, [train], [held_out],
                                   output_dir, run_dir)
    return history, output_dir, run_dir, transform_output, rows, workdir


def test_language_model_learns_to_predict_the_next_word(pretrained):
    history, _, run_dir, transform_output, _, _ = pretrained
    perplexity = history["val_perplexity"]
    assert len(perplexity) == 4
    # Held-out perplexity with the full softmax. An untrained model guesses among every id
    # (perplexity: the vocabulary size); the synthetic reviews use about half of them.
    vocabulary = input_pipeline.vocabulary_size(config.TrainerConfig(**SETTINGS), transform_output)
    assert perplexity[-1] < perplexity[0] and perplexity[-1] < 0.6 * vocabulary
    assert np.isfinite(history["loss"]).all()
    with open(os.path.join(run_dir, artifacts.HISTORY_FILE)) as f:
        assert json.load(f) == history


def test_pretrained_encoder_is_the_embedding_and_lstm(pretrained):
    _, output_dir, _, transform_output, _, _ = pretrained
    encoder = keras.models.load_model(os.path.join(output_dir, artifacts.PRETRAINED_ENCODER_FILE))
    assert encoder.layers[1].name == models.EMBEDDING_LAYER
    states = encoder.predict(np.array([[3, 4, 5, 0, 0]]), verbose=0)
    assert states.shape == (1, 5, SETTINGS["lstm_units"])


def test_pretraining_saves_the_vocabulary_its_token_ids_stand_for(pretrained):
    _, output_dir, _, transform_output, _, _ = pretrained
    with open(os.path.join(output_dir, artifacts.PRETRAINED_VOCABULARY_FILE)) as saved, \
            open(transform_output.vocabulary_file_by_name(features.VOCABULARY_NAME)) as own:
        words = saved.read()
        assert words == own.read() and "great" in words.split()


def test_an_embedding_pretrained_on_another_vocabulary_is_matched_by_word(pretrained, tmp_path):
    _, output_dir, _, _, _, _ = pretrained
    # Another span of reviews: other word frequencies, and a word the language model never saw.
    reviews = [{"review": f"{text} sequel sequel".encode(), "label": int("/pos/" in path),
                "rating": 1}
               for path, text in synthetic_imdb.reviews(per_folder=20, seed=7) if "/train/" in path]
    other = config.TrainerConfig(**{**SETTINGS, "vocab_size": 40})
    _, transform_dir = transformed_data.analyze_and_transform(reviews, other, str(tmp_path))
    transform_output = tft.TFTransformOutput(transform_dir)

    rows = warm_start.pretrained_rows(output_dir, other, transform_output)
    keras.utils.set_random_seed(0)
    fresh = models.build(other, input_pipeline.vocabulary_size(other, transform_output))
    keras.utils.set_random_seed(0)
    model = models.build(other, input_pipeline.vocabulary_size(other, transform_output))
    warm_start.copy_embedding(model, os.path.join(output_dir, artifacts.PRETRAINED_ENCODER_FILE),
                              rows)

    def words(path):
        with open(path) as f:
            return f.read().splitlines()
    pretrained_ids = {word: i for i, word in enumerate(
        words(os.path.join(output_dir, artifacts.PRETRAINED_VOCABULARY_FILE)), start=1)}
    own = words(transform_output.vocabulary_file_by_name(features.VOCABULARY_NAME))
    assert [pretrained_ids.get(word) for word in own] != list(range(1, len(own) + 1))
    encoder = keras.models.load_model(os.path.join(output_dir, artifacts.PRETRAINED_ENCODER_FILE))
    pretrained_embedding = encoder.get_layer(models.EMBEDDING_LAYER).get_weights()[0]
    [embedding] = model.get_layer(models.EMBEDDING_LAYER).get_weights()
    [fresh_embedding] = fresh.get_layer(models.EMBEDDING_LAYER).get_weights()
    np.testing.assert_array_equal(embedding[0], pretrained_embedding[0])  # padding
    for token_id, word in enumerate(own, start=1):
        expected = (pretrained_embedding[pretrained_ids[word]] if word in pretrained_ids
                    else fresh_embedding[token_id])
        np.testing.assert_array_equal(embedding[token_id], expected, err_msg=word)
    assert "sequel" in own and "sequel" not in pretrained_ids
    np.testing.assert_array_equal(embedding[len(own) + 1:],  # the OOV bucket
                                  pretrained_embedding[len(pretrained_ids) + 1:])


def test_trainer_starts_from_the_pretrained_encoder(pretrained, caplog):
    _, output_dir, _, transform_output, rows, workdir = pretrained
    examples = transformed_data.write_examples(rows, os.path.join(workdir, "labelled.gz"))
    trainer_config = config.TrainerConfig(**SETTINGS, epochs=1)
    encoder = keras.models.load_model(os.path.join(output_dir, artifacts.PRETRAINED_ENCODER_FILE))
    serving_dir = os.path.join(workdir, "serving")
    with caplog.at_level("INFO", logger="trainer.warm_start"):
        training.train(trainer_config, transform_output, [examples], [examples], serving_dir,
                       os.path.join(workdir, "classifier_run"), pretrained_dir=output_dir)
    assert (f"starting from the pretrained embedding in {output_dir} (every word of this "
            "vocabulary in its own)") in caplog.text
    # One epoch of fine-tuning moves the weights away from, but not far from, the pretrained ones.
    exported = tf.saved_model.load(serving_dir).captured_variables
    embedding = next(v for v in exported if v.name.startswith("embedding/")).numpy()
    pretrained_embedding = encoder.get_layer(models.EMBEDDING_LAYER).get_weights()[0]
    difference = np.abs(embedding - pretrained_embedding).mean()
    assert 0 < difference < np.abs(pretrained_embedding).mean()
