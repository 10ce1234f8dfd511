"""The Trainer's input pipeline: length buckets cut batches short without losing a token."""
import os

import numpy as np
import pytest
import tensorflow_transform as tft

import synthetic_imdb
import transformed_data
from trainer import config, features, input_pipeline

SEQUENCE_LENGTH = 64


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("training_data"))
    raw = [{"review": text.encode(), "label": int("/pos/" in path), "rating": 1}
           for path, text in synthetic_imdb.reviews(per_folder=40) if "/train/" in path]
    trainer_config = config.TrainerConfig(vocab_size=50, sequence_length=SEQUENCE_LENGTH)
    rows, transform_dir = transformed_data.analyze_and_transform(raw, trainer_config, workdir)
    path = transformed_data.write_examples(rows, os.path.join(workdir, "train.gz"))
    return rows, path, tft.TFTransformOutput(transform_dir)


def batches(examples, buckets):
    _, path, transform_output = examples
    trainer_config = config.TrainerConfig(vocab_size=50, sequence_length=SEQUENCE_LENGTH,
                                          batch_length_buckets=buckets)
    dataset = input_pipeline.dataset([path], input_pipeline.transformed_examples(transform_output),
                                     trainer_config, batch_size=8, shuffle=False)
    return [(inputs[features.TOKENS_KEY].numpy(), labels.numpy()) for inputs, labels in dataset]


def test_buckets_cut_padding_only(examples):
    rows = examples[0]
    bucketed = batches(examples, buckets=4)
    bounds = input_pipeline.length_bounds(SEQUENCE_LENGTH, 4)
    assert bounds == [16, 32, 48, 64]
    lengths = {tokens.shape[1] for tokens, _ in bucketed}
    assert lengths <= set(bounds) and len(lengths) > 1  # the synthetic reviews vary in length
    # Every review comes through once, with all its tokens: only padding was cut.
    seen = sorted(tuple(np.trim_zeros(t, "b")) for tokens, _ in bucketed for t in tokens)
    expected = sorted(tuple(np.trim_zeros(np.asarray(r[features.TOKENS_KEY]), "b")) for r in rows)
    assert seen == expected
    for tokens, _ in bucketed:
        longest = max(np.count_nonzero(t) for t in tokens)
        assert tokens.shape[1] == min(b for b in bounds if b >= longest)


def test_one_bucket_keeps_full_length_batches(examples):
    assert {tokens.shape[1] for tokens, _ in batches(examples, buckets=1)} == {SEQUENCE_LENGTH}


def test_training_batches_mix_labels_of_a_label_sorted_split(examples, tmp_path):
    """ExampleGen writes IMDB's training reviews grouped by label; the default shuffle must still
    mix them from the first batch on."""
    rows, _, transform_output = examples
    official_train_reviews = 25_000
    sorted_rows = [{**rows[i % len(rows)], features.LABEL_KEY: int(i < official_train_reviews // 2)}
                   for i in range(official_train_reviews)]
    path = transformed_data.write_examples(sorted_rows, str(tmp_path / "sorted.gz"))
    trainer_config = config.TrainerConfig(vocab_size=50, sequence_length=SEQUENCE_LENGTH)
    dataset = input_pipeline.dataset([path], input_pipeline.transformed_examples(transform_output),
                                     trainer_config, batch_size=256, shuffle=True)
    _, labels = next(iter(dataset))
    assert 0.3 < np.mean(labels.numpy()) < 0.7


def test_input_pipeline_runs_without_the_autotuning_thread(examples):
    """Deleting an iterator waits for tf.data's autotuning thread to wake, up to 60 s, and Keras
    deletes one at every epoch's end and every evaluation."""
    _, path, transform_output = examples
    trainer_config = config.TrainerConfig(vocab_size=50, sequence_length=SEQUENCE_LENGTH)
    dataset = input_pipeline.dataset([path], input_pipeline.transformed_examples(transform_output),
                                     trainer_config, batch_size=8, shuffle=True)
    assert dataset.options().autotune.enabled is False
