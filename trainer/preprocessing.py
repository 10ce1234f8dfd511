"""tf.Transform preprocessing: raw review text to fixed-length, right-padded token ids."""
import tensorflow as tf
import tensorflow_transform as tft

from trainer import config, features

_HTML_LINE_BREAK = r"<br\s*/?>"
_APOSTROPHES = r"['\x{2019}]"
_NOT_WORD_CHARACTERS = r"[^a-z0-9]+"


def normalize(reviews: tf.Tensor) -> tf.Tensor:
    """Lower-cases, drops HTML line breaks and punctuation; "Don't<br />stop!" -> "dont stop "."""
    text = tf.strings.lower(reviews, encoding="utf-8")
    text = tf.strings.regex_replace(text, _HTML_LINE_BREAK, " ")
    text = tf.strings.regex_replace(text, _APOSTROPHES, "")
    return tf.strings.regex_replace(text, _NOT_WORD_CHARACTERS, " ")


def pad_or_truncate(ids: tf.RaggedTensor, length: int) -> tf.Tensor:
    """Keeps each review's last `length` ids (as Keras' pad_sequences does) and right-pads with 0.

    Right padding changes no LSTM output up to a review's last real token, so the models read
    their LSTMs there and need no mask (trainer/models.py).
    """
    return ids[:, -length:].to_tensor(default_value=features.PADDING_ID, shape=[None, length])


def preprocessing_fn(inputs, custom_config):
    """TFX Transform entry point; the vocabulary is analyzed on the `train` split only."""
    trainer_config = config.TrainerConfig.from_custom_config(custom_config)
    tokens = tf.strings.split(normalize(inputs[features.REVIEW_KEY]))
    ids = tft.compute_and_apply_vocabulary(
        tokens,
        top_k=trainer_config.vocab_size,
        num_oov_buckets=trainer_config.oov_buckets,
        vocab_filename=features.VOCABULARY_NAME,
    )
    shifted = tf.ragged.map_flat_values(tf.add, ids, tf.constant(1, tf.int64))
    return {
        features.TOKENS_KEY: pad_or_truncate(shifted, trainer_config.sequence_length),
        features.LABEL_KEY: inputs[features.LABEL_KEY],
    }
