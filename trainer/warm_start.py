"""Starting a classifier from a pretrained language model's embedding (trainer/pretraining.py),
its rows matched to this Transform's vocabulary by word, so a language model trained on another
span of reviews or another vocabulary size fits."""
import logging
import os
from typing import List, Optional

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainer import artifacts, config, features, models

_log = logging.getLogger(__name__)


def pretrained_rows(pretrained_dir: str, trainer_config: config.TrainerConfig,
                    tf_transform_output: tft.TFTransformOutput) -> np.ndarray:
    """For each token id this Transform gives, the row of the same token in the embedding that
    pretraining saved in `pretrained_dir`: padding's, the same word's (-1 for a word its
    vocabulary lacks), the same OOV bucket's."""
    def words(path: str) -> List[str]:
        with tf.io.gfile.GFile(path) as f:
            return f.read().splitlines()

    pretrained = words(os.path.join(pretrained_dir, artifacts.PRETRAINED_VOCABULARY_FILE))
    row_of = {word: row for row, word in enumerate(pretrained, start=features.PADDING_ID + 1)}
    own = words(tf_transform_output.vocabulary_file_by_name(features.VOCABULARY_NAME))
    oov_rows = range(len(pretrained) + 1, len(pretrained) + 1 + trainer_config.oov_buckets)
    return np.array([features.PADDING_ID, *(row_of.get(word, -1) for word in own), *oov_rows])


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
    embedding = model.get_layer(models.EMBEDDING_LAYER)
    [weights] = embedding.get_weights()
    rows = np.arange(len(weights)) if rows is None else rows
    if (pretrained.shape[1] != weights.shape[1] or len(rows) != len(weights)
            or rows.max() >= len(pretrained)):
        raise ValueError(f"{encoder_path}: the pretrained embedding ({pretrained.shape[0]} ids x "
                         f"{pretrained.shape[1]}) does not fit {model.name!r} ({weights.shape[0]} "
                         f"ids x {weights.shape[1]}): pretrain with the same embedding_dim, "
                         f"oov_buckets and, without a vocabulary to match words by, vocab_size")
    found = rows >= 0
    weights[found] = pretrained[rows[found]]
    embedding.set_weights([weights])


def start_from_pretrained(model: keras.Model, pretrained_dir: str,
                          trainer_config: config.TrainerConfig,
                          tf_transform_output: tft.TFTransformOutput) -> None:
    """Copies the pretrained embedding in `pretrained_dir` into `model`, row by word, and logs
    how many of this vocabulary's words it lacked."""
    rows = pretrained_rows(pretrained_dir, trainer_config, tf_transform_output)
    copy_embedding(model, os.path.join(pretrained_dir, artifacts.PRETRAINED_ENCODER_FILE), rows)
    words = len(rows) - 1 - trainer_config.oov_buckets
    missing = int(np.sum(rows < 0))
    _log.info("starting from the pretrained embedding in %s (%s)", pretrained_dir,
              f"{missing:,} of this vocabulary's {words:,} words not in its own: they "
              "start fresh" if missing else "every word of this vocabulary in its own")
