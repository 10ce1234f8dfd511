"""Starting a classifier from earlier weights instead of from nothing: a pretrained language
model's embedding (trainer/pretraining.py), or, in continuous training, every weight of the model
that is serving now. Embedding rows are matched to this Transform's vocabulary by word, and the
wide part's by n-gram, so weights learnt on another window of spans or another vocabulary size
fit."""
import json
import logging
import os
import tempfile
from typing import List, Optional

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainer import artifacts, config, features, models

_log = logging.getLogger(__name__)


def _words(path: str) -> List[str]:
    with tf.io.gfile.GFile(path) as f:
        return f.read().splitlines()


def _ngrams(path: str) -> List[str]:
    """The entries of the n-gram vocabulary, stored with their frequencies."""
    return [line.split(" ", 1)[1] for line in _words(path)]


def matching_rows(theirs: List[str], own: List[str], oov_buckets: int) -> np.ndarray:
    """For each id of the `own` entries (after padding, before `oov_buckets`), the row of the
    same entry in weights whose ids stand for `theirs`: padding's, the same entry's (-1 for one
    they lack), the same OOV bucket's."""
    row_of = {entry: row for row, entry in enumerate(theirs, start=features.PADDING_ID + 1)}
    oov_rows = range(len(theirs) + 1, len(theirs) + 1 + oov_buckets)
    return np.array([features.PADDING_ID, *(row_of.get(entry, -1) for entry in own), *oov_rows])


def rows_by_word(vocabulary_file: str, trainer_config: config.TrainerConfig,
                 tf_transform_output: tft.TFTransformOutput) -> np.ndarray:
    """matching_rows for the token ids this Transform gives, from the words of
    `vocabulary_file`."""
    own = tf_transform_output.vocabulary_file_by_name(features.VOCABULARY_NAME)
    return matching_rows(_words(vocabulary_file), _words(own), trainer_config.oov_buckets)


def pretrained_rows(pretrained_dir: str, trainer_config: config.TrainerConfig,
                    tf_transform_output: tft.TFTransformOutput) -> np.ndarray:
    """rows_by_word for the embedding that pretraining saved in `pretrained_dir`."""
    return rows_by_word(os.path.join(pretrained_dir, artifacts.PRETRAINED_VOCABULARY_FILE),
                        trainer_config, tf_transform_output)


def copy_embedding(model: keras.Model, encoder_path: str,
                   rows: Optional[np.ndarray] = None) -> None:
    """Starts `model`'s embedding from a saved `encoder`'s.

    `rows`: for each of the model's token ids, the encoder's row for the same word, or -1 where
    the encoder has none (that id keeps its fresh start); None: the same ids.

    The embedding only: the pretrained LSTM, trained to predict the next word, carries little to
    its last state; handed over too, it cost accuracy (docs/experiments/2026-12-06-transfer.md).
    """
    pretrained = keras.models.load_model(encoder_path).get_layer(
        models.EMBEDDING_LAYER).get_weights()[0]
    _copy_rows(model, models.EMBEDDING_LAYER, pretrained, rows, encoder_path)


def _copy_rows(model: keras.Model, layer: str, source: np.ndarray, rows: Optional[np.ndarray],
               source_name: str) -> None:
    """Each row of `model`'s `layer` (an embedding, or the wide part's weights) from `source`'s
    row `rows[id]` (-1: kept)."""
    embedding = model.get_layer(layer)
    [weights] = embedding.get_weights()
    rows = np.arange(len(weights)) if rows is None else rows
    if (source.shape[1] != weights.shape[1] or len(rows) != len(weights)
            or rows.max() >= len(source)):
        raise ValueError(f"{source_name}: the pretrained embedding ({source.shape[0]} ids x "
                         f"{source.shape[1]}) does not fit {model.name!r} ({weights.shape[0]} "
                         f"ids x {weights.shape[1]}): pretrain with the same embedding_dim, "
                         f"oov_buckets and, without a vocabulary to match words by, vocab_size")
    found = rows >= 0
    weights[found] = source[rows[found]]
    embedding.set_weights([weights])


def _missing_words(rows: np.ndarray, trainer_config: config.TrainerConfig) -> str:
    words = len(rows) - 1 - trainer_config.oov_buckets
    missing = int(np.sum(rows < 0))
    return (f"{missing:,} of this vocabulary's {words:,} words not in its own: they start fresh"
            if missing else "every word of this vocabulary in its own")


def start_from_pretrained(model: keras.Model, pretrained_dir: str,
                          trainer_config: config.TrainerConfig,
                          tf_transform_output: tft.TFTransformOutput) -> None:
    """Copies the pretrained embedding in `pretrained_dir` into `model`, row by word, and logs
    how many of this vocabulary's words it lacked."""
    rows = pretrained_rows(pretrained_dir, trainer_config, tf_transform_output)
    copy_embedding(model, os.path.join(pretrained_dir, artifacts.PRETRAINED_ENCODER_FILE), rows)
    _log.info("starting from the pretrained embedding in %s (%s)", pretrained_dir,
              _missing_words(rows, trainer_config))


def serving_model(serving_dir: str) -> Optional[str]:
    """The newest pushed version under `serving_dir` that saved its weights, or None."""
    if not tf.io.gfile.isdir(serving_dir):
        return None
    versions = sorted((int(v.strip("/")) for v in tf.io.gfile.listdir(serving_dir)
                       if v.strip("/").isdigit()), reverse=True)
    return next((os.path.join(serving_dir, str(v)) for v in versions if tf.io.gfile.exists(
        os.path.join(serving_dir, str(v), artifacts.WARM_START_DIR, artifacts.WEIGHTS_FILE))),
        None)


# The wide part's scale before it was a setting, in models exported then.
_FORMER_WIDE_SCALE = 10.0


def _wide_scale(version: str) -> float:
    """The wide_learning_rate_scale the model exported at `version` was trained with."""
    with tf.io.gfile.GFile(os.path.join(version, artifacts.CONFIG_ASSET)) as f:
        return float(json.load(f).get("wide_learning_rate_scale", _FORMER_WIDE_SCALE))


def _saved_model_weights(saved: str, trainer_config: config.TrainerConfig) -> keras.Model:
    """A model of this config and the saved vocabularies' sizes, with the saved weights."""
    vocabulary = len(_words(os.path.join(saved, artifacts.VOCABULARY_FILE)))
    ngram_file = os.path.join(saved, artifacts.NGRAM_VOCABULARY_FILE)
    if bool(trainer_config.ngram_vocab_size) != tf.io.gfile.exists(ngram_file):
        raise ValueError("one of the two models has a wide part and the other has none")
    ngrams = len(_ngrams(ngram_file)) + 1 if trainer_config.ngram_vocab_size else 0
    previous = models.build(trainer_config, vocabulary + trainer_config.oov_buckets + 1, ngrams)
    with tempfile.TemporaryDirectory() as scratch:  # Keras reads local files only
        local = os.path.join(scratch, artifacts.WEIGHTS_FILE)
        tf.io.gfile.copy(os.path.join(saved, artifacts.WEIGHTS_FILE), local)
        previous.load_weights(local)
    return previous


def start_from_serving(model: keras.Model, serving_dir: str,
                       trainer_config: config.TrainerConfig,
                       tf_transform_output: tft.TFTransformOutput) -> Optional[str]:
    """Copies every weight of the model serving in `serving_dir` into `model` (the embedding's
    rows by word); returns that model's directory, or None (logged) to train from scratch."""
    version = serving_model(serving_dir)
    if version is None:
        _log.info("training from scratch: no serving model with saved weights in %s",
                  serving_dir)
        return None
    saved = os.path.join(version, artifacts.WARM_START_DIR)
    try:
        previous = _saved_model_weights(saved, trainer_config)
    except ValueError as e:  # another variant or other sizes
        _log.warning("training from scratch: the serving model %s does not fit this "
                     "configuration (%s)", version, e)
        return None
    for layer, source in zip(model.layers, previous.layers):
        if layer.name not in (models.EMBEDDING_LAYER, models.WIDE_LAYER):
            layer.set_weights(source.get_weights())
    rows = rows_by_word(os.path.join(saved, artifacts.VOCABULARY_FILE), trainer_config,
                        tf_transform_output)
    [embedding] = previous.get_layer(models.EMBEDDING_LAYER).get_weights()
    _copy_rows(model, models.EMBEDDING_LAYER, embedding, rows, version)
    if trainer_config.ngram_vocab_size:
        ngram_rows = matching_rows(
            _ngrams(os.path.join(saved, artifacts.NGRAM_VOCABULARY_FILE)),
            _ngrams(tf_transform_output.vocabulary_file_by_name(features.NGRAM_VOCABULARY_NAME)),
            0)
        [wide] = previous.get_layer(models.WIDE_LAYER).get_weights()
        # The wide logit is scale x weights: the same logit under this model's scale.
        wide = wide * (_wide_scale(version) / trainer_config.wide_learning_rate_scale)
        _copy_rows(model, models.WIDE_LAYER, wide, ngram_rows, version)
    _log.info("warm start from the serving model %s (%s)", version,
              _missing_words(rows, trainer_config))
    return version
