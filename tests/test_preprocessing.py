"""The tf.Transform preprocessing_fn on small data, run by tf.Transform's Beam implementation."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from trainer import config, preprocessing


def test_normalize_strips_html_breaks_punctuation_and_case():
    text = preprocessing.normalize(tf.constant(["Don't<br />STOP, it's GREAT!<br/>Really."]))
    assert text.numpy()[0].decode().split() == ["dont", "stop", "its", "great", "really"]


def test_pad_or_truncate_keeps_the_last_ids_and_right_pads():
    ids = tf.ragged.constant([[1, 2, 3, 4, 5], [7, 8]], dtype=tf.int64)
    padded = preprocessing.pad_or_truncate(ids, 3).numpy()
    np.testing.assert_array_equal(padded, [[3, 4, 5], [7, 8, 0]])


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    raw = [
        {"review": b"great great film<br />loved it", "label": 1, "rating": 9},
        {"review": b"awful, boring film", "label": 0, "rating": 2},
        {"review": b"great film", "label": 1, "rating": 8},
        {"review": b"a film so long " + b"word " * 40, "label": 0, "rating": 3},
    ]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec({
        "review": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.int64),
        "rating": tf.io.FixedLenFeature([], tf.int64),
    }))
    trainer_config = config.TrainerConfig(vocab_size=4, sequence_length=6)
    custom_config = {config.CUSTOM_CONFIG_KEY: trainer_config.to_dict()}
    with tft_beam.Context(temp_dir=str(tmp_path_factory.mktemp("tft"))):
        (rows, _), transform_fn = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing.preprocessing_fn(inputs, custom_config))
    output_dir = str(tmp_path_factory.mktemp("transform_fn"))
    transform_fn | tft_beam.WriteTransformFn(output_dir)
    return rows, tft.TFTransformOutput(output_dir), trainer_config


def test_tokens_are_fixed_length_with_zero_reserved_for_padding(transformed):
    rows, _, c = transformed
    for row in rows:
        tokens = np.asarray(row[config.TOKENS_KEY])
        assert tokens.shape == (c.sequence_length,)
        real = tokens[tokens != config.PADDING_ID]
        assert (real >= 1).all() and (real <= c.vocab_size + c.oov_buckets).all()
        # right padding: no real token after the first padding position
        assert (tokens[len(real):] == config.PADDING_ID).all()
    assert [r[config.LABEL_KEY] for r in rows] == [1, 0, 1, 0]


def test_vocabulary_is_the_top_k_words_and_the_rest_is_oov(transformed):
    rows, tf_transform_output, c = transformed
    vocabulary = [w.decode() for w in
                  tf_transform_output.vocabulary_by_name(config.VOCABULARY_NAME)]
    assert len(vocabulary) == c.vocab_size
    assert vocabulary[:2] == ["word", "film"]  # by frequency: 40 x word, 4 x film
    ids = {w: i + 1 for i, w in enumerate(vocabulary)}
    oov = c.vocab_size + 1
    # "great film": both in the top 4? great (3) is; film is.
    np.testing.assert_array_equal(rows[2][config.TOKENS_KEY][:2], [ids["great"], ids["film"]])
    # the long review keeps its last 6 tokens: all "word"
    np.testing.assert_array_equal(rows[3][config.TOKENS_KEY], [ids["word"]] * 6)
    # "awful, boring film": awful/boring are not in the top 4 -> the OOV id
    np.testing.assert_array_equal(rows[1][config.TOKENS_KEY][:3], [oov, oov, ids["film"]])
