"""tf.Transform preprocessing: raw review text to fixed-length, right-padded token ids, and, for the
wide part, the review's distinct n-grams with their TF-IDF weights."""
from typing import Dict

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


def _normalized_rows(weights: tf.SparseTensor) -> tf.SparseTensor:
    """Each row's values divided by the row's L2 norm."""
    rows = weights.indices[:, 0]
    squares = tf.math.unsorted_segment_sum(tf.square(weights.values), rows,
                                           num_segments=weights.dense_shape[0])
    norms = tf.gather(tf.sqrt(squares), rows)
    return tf.SparseTensor(weights.indices, weights.values / tf.maximum(norms, 1e-12),
                           weights.dense_shape)


# Between the words of an n-gram: the words are [a-z0-9]+ (normalize), so an n-gram has no space,
# which the vocabulary file separates its frequencies from its entries with.
NGRAM_SEPARATOR = "_"


def _vocabulary_column(column: int, default: int):
    """A lookup_fn for tft.apply_vocabulary over a vocabulary stored with its frequencies
    ("frequency entry" lines): an entry's line number (column -1) or its frequency (column 0)."""
    index = tf.lookup.TextFileIndex.LINE_NUMBER if column < 0 else column

    def lookup(keys: tf.Tensor, vocabulary_file: tf.Tensor):
        table = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(vocabulary_file, tf.string, 1, tf.int64, index,
                                          delimiter=" "), default_value=default)
        return table.lookup(keys), table.size()
    return lookup


def distinct_ngrams(words: tf.RaggedTensor, order: int) -> tf.SparseTensor:
    """Each review's distinct n-grams of 1 to `order` words, in the order they first occur.

    What tft.bag_of_words computes, vectorized: its per-review de-duplication loops over the
    reviews one by one (run eagerly on 10,000 reviews: 373 s; this, for the same 3.6 million
    n-grams: 5 s)."""
    grams = tf.concat([words] + [tf.strings.ngrams(words, n, separator=NGRAM_SEPARATOR)
                                 for n in range(2, order + 1)], axis=1)
    rows = grams.value_rowids()
    in_review = tf.strings.join([tf.strings.as_string(rows), grams.flat_values], separator=" ")
    distinct, occurrence = tf.unique(in_review)
    first = tf.sort(tf.math.unsorted_segment_min(tf.range(tf.size(occurrence)), occurrence,
                                                 tf.size(distinct)))
    ragged = tf.RaggedTensor.from_value_rowids(tf.gather(grams.flat_values, first),
                                               tf.gather(rows, first), nrows=grams.nrows())
    return ragged.to_sparse()


def ngram_features(words: tf.RaggedTensor, reviews: tf.Tensor,
                   trainer_config: config.TrainerConfig) -> Dict[str, tf.SparseTensor]:
    """Each review's distinct n-grams of 1 to ngram_order words that are among the
    ngram_vocab_size in most train reviews, as ids from 1, and their TF-IDF weights: idf from
    train's document frequencies (smoothed: log((1 + reviews) / (1 + frequency)) + 1), each
    review's weights scaled to unit L2 norm, so that a long review counts as much as a short one.

    One analysis phase, the vocabulary with its frequencies and the count of reviews; the
    frequencies are looked up in the vocabulary file when transforming. (tft.tfidf would analyze
    the applied vocabulary again, a second phase, whose input copy fails on Beam 2.74.)"""
    ngrams = distinct_ngrams(words, trainer_config.ngram_order)
    vocabulary = tft.vocabulary(ngrams, top_k=trainer_config.ngram_vocab_size,
                                store_frequency=True,
                                vocab_filename=features.NGRAM_VOCABULARY_NAME)
    ids, frequencies = (tft.apply_vocabulary(ngrams.values, vocabulary,
                                             lookup_fn=_vocabulary_column(column, default))
                        for column, default in ((-1, -1), (0, 0)))
    known = ids >= 0
    indices = tf.boolean_mask(ngrams.indices, known)
    documents = tf.cast(tft.size(reviews), tf.float32)
    idf = tf.math.log((1.0 + documents) / (1.0 + tf.cast(tf.boolean_mask(frequencies, known),
                                                          tf.float32))) + 1.0
    return {
        features.NGRAMS_KEY: _ragged_right(indices, tf.boolean_mask(ids, known) + 1,
                                           ngrams.dense_shape),
        features.NGRAM_WEIGHTS_KEY: _normalized_rows(_ragged_right(indices, idf,
                                                                   ngrams.dense_shape)),
    }


def _ragged_right(indices: tf.Tensor, values: tf.Tensor, dense_shape: tf.Tensor):
    """A SparseTensor of `values` in the rows of `indices`, each row's entries at 0, 1, 2, ...
    (the layout of a variable-length feature)."""
    ragged = tf.RaggedTensor.from_value_rowids(values, indices[:, 0], nrows=dense_shape[0])
    return ragged.to_sparse()


def preprocessing_fn(inputs, custom_config):
    """TFX Transform entry point; the vocabularies are analyzed on the `train` split only."""
    trainer_config = config.TrainerConfig.from_custom_config(custom_config)
    words = tf.strings.split(normalize(inputs[features.REVIEW_KEY]))
    ids = tft.compute_and_apply_vocabulary(
        words,
        top_k=trainer_config.vocab_size,
        num_oov_buckets=trainer_config.oov_buckets,
        vocab_filename=features.VOCABULARY_NAME,
    )
    shifted = tf.ragged.map_flat_values(tf.add, ids, tf.constant(1, tf.int64))
    outputs = {
        features.TOKENS_KEY: pad_or_truncate(shifted, trainer_config.sequence_length),
        features.LABEL_KEY: inputs[features.LABEL_KEY],
    }
    if trainer_config.ngram_vocab_size:
        outputs.update(ngram_features(words, inputs[features.REVIEW_KEY], trainer_config))
    return outputs
