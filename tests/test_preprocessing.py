"""The tf.Transform preprocessing_fn on small data, run by tf.Transform's Beam implementation."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

import transformed_data
from trainer import config, features, preprocessing


def test_normalize_strips_html_breaks_punctuation_and_case():
    text = preprocessing.normalize(tf.constant(["Don't<br />STOP, it's GREAT!<br/>Really."]))
    assert text.numpy()[0].decode().split() == ["dont", "stop", "its", "great", "really"]


def test_pad_or_truncate_keeps_the_last_ids_and_right_pads():
    ids = tf.ragged.constant([[1, 2, 3, 4, 5], [7, 8]], dtype=tf.int64)
    padded = preprocessing.pad_or_truncate(ids, 3).numpy()
    np.testing.assert_array_equal(padded, [[3, 4, 5], [7, 8, 0]])


@pytest.mark.parametrize("order", [1, 2, 3])
def test_distinct_ngrams_are_those_of_tft_bag_of_words(order):
    words = tf.strings.split(preprocessing.normalize(tf.constant(
        ["a great great film, a great film", "", "film", "so so so so bad"])))
    ours = tf.function(lambda w: preprocessing.distinct_ngrams(w, order))(words)
    theirs = tft.bag_of_words(words.to_sparse(), (1, order),
                              separator=preprocessing.NGRAM_SEPARATOR)

    def per_review(ngrams):
        return sorted(zip(ngrams.indices[:, 0].numpy().tolist(), ngrams.values.numpy().tolist()))
    assert per_review(ours) == per_review(theirs)
    assert ours.dense_shape[0] == 4
    assert (b"great_film" in ours.values.numpy().tolist()) == (order > 1)


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    raw = [
        {"review": b"great great film<br />loved it", "label": 1, "rating": 9},
        {"review": b"awful, boring film", "label": 0, "rating": 2},
        {"review": b"great film", "label": 1, "rating": 8},
        {"review": b"a film so long " + b"word " * 40, "label": 0, "rating": 3},
    ]
    trainer_config = config.TrainerConfig(vocab_size=4, sequence_length=6)
    rows, transform_dir = transformed_data.analyze_and_transform(
        raw, trainer_config, str(tmp_path_factory.mktemp("tft")))
    return rows, tft.TFTransformOutput(transform_dir), trainer_config


def test_tokens_are_fixed_length_with_zero_reserved_for_padding(transformed):
    rows, _, c = transformed
    for row in rows:
        tokens = np.asarray(row[features.TOKENS_KEY])
        assert tokens.shape == (c.sequence_length,)
        real = tokens[tokens != features.PADDING_ID]
        assert (real >= 1).all() and (real <= c.vocab_size + c.oov_buckets).all()
        # right padding: no real token after the first padding position
        assert (tokens[len(real):] == features.PADDING_ID).all()
    assert [r[features.LABEL_KEY] for r in rows] == [1, 0, 1, 0]


def test_vocabulary_is_the_top_k_words_and_the_rest_is_oov(transformed):
    rows, tf_transform_output, c = transformed
    vocabulary = [w.decode() for w in
                  tf_transform_output.vocabulary_by_name(features.VOCABULARY_NAME)]
    assert len(vocabulary) == c.vocab_size
    assert vocabulary[:2] == ["word", "film"]  # by frequency: 40 x word, 4 x film
    ids = {w: i + 1 for i, w in enumerate(vocabulary)}
    oov = c.vocab_size + 1
    # "great film": both in the top 4? great (3) is; film is.
    np.testing.assert_array_equal(rows[2][features.TOKENS_KEY][:2], [ids["great"], ids["film"]])
    # the long review keeps its last 6 tokens: all "word"
    np.testing.assert_array_equal(rows[3][features.TOKENS_KEY], [ids["word"]] * 6)
    # "awful, boring film": awful/boring are not in the top 4 -> the OOV id
    np.testing.assert_array_equal(rows[1][features.TOKENS_KEY][:3], [oov, oov, ids["film"]])


@pytest.fixture(scope="module")
def with_ngrams(tmp_path_factory):
    raw = [
        {"review": b"great film, great cast", "label": 1, "rating": 9},
        {"review": b"a dull film", "label": 0, "rating": 2},
        {"review": b"great film", "label": 1, "rating": 8},
        {"review": b"dull", "label": 0, "rating": 3},
        {"review": b"!!!", "label": 0, "rating": 1},
    ]
    trainer_config = config.TrainerConfig(vocab_size=4, sequence_length=6, ngram_vocab_size=5)
    rows, transform_dir = transformed_data.analyze_and_transform(
        raw, trainer_config, str(tmp_path_factory.mktemp("tft_ngrams")))
    return rows, tft.TFTransformOutput(transform_dir)


def ngram_vocabulary(tf_transform_output):
    """The n-gram vocabulary's entries and their document frequencies on train."""
    path = tf_transform_output.vocabulary_file_by_name(features.NGRAM_VOCABULARY_NAME)
    with open(path) as f:
        lines = [line.split(" ", 1) for line in f.read().splitlines()]
    return [entry for _, entry in lines], [int(frequency) for frequency, _ in lines]


def test_ngrams_are_the_top_k_by_reviews_that_hold_them(with_ngrams):
    rows, tf_transform_output = with_ngrams
    vocabulary, frequencies = ngram_vocabulary(tf_transform_output)
    # In 3 reviews, then three in 2 each, then one of the n-grams in a single review.
    assert vocabulary[0] == "film" and set(vocabulary[1:4]) == {"great", "great_film", "dull"}
    assert frequencies == [3, 2, 2, 2, 1]
    ids = {gram: i + 1 for i, gram in enumerate(vocabulary)}  # 0 is padding
    held = [sorted(np.asarray(row[features.NGRAMS_KEY]).tolist()) for row in rows]
    # Each review's distinct known n-grams once ("great" twice in the first), the rest dropped.
    assert held[2] == sorted([ids["great"], ids["film"], ids["great_film"]])
    assert held[3] == [ids["dull"]] and held[4] == []
    assert ids["dull"] in held[1] and ids["film"] in held[1]


def test_ngram_weights_are_tf_idf_of_unit_norm_per_review(with_ngrams):
    rows, tf_transform_output = with_ngrams
    vocabulary, _ = ngram_vocabulary(tf_transform_output)
    ids = {gram: i + 1 for i, gram in enumerate(vocabulary)}
    # Reviews holding each n-gram, of the 5 analyzed: smoothed idf = log(6 / (1 + df)) + 1.
    idf = {"great": np.log(6 / 3) + 1, "film": np.log(6 / 4) + 1,
           "great_film": np.log(6 / 3) + 1}
    weights = dict(zip(np.asarray(rows[2][features.NGRAMS_KEY]).tolist(),
                       np.asarray(rows[2][features.NGRAM_WEIGHTS_KEY]).tolist()))
    norm = np.sqrt(sum(value ** 2 for value in idf.values()))
    for gram, value in idf.items():
        assert weights[ids[gram]] == pytest.approx(value / norm, rel=1e-5)
    for row in rows[:4]:
        assert np.linalg.norm(np.asarray(row[features.NGRAM_WEIGHTS_KEY])) == pytest.approx(1.0)
