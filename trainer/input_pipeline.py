"""The Trainer's input: Transform's GZIP'd tf.Examples as shuffled batches of (features, labels),
the features the model's inputs by key (trainer/models.py), reviews of similar length batched
together and their tokens cut to the shortest length that holds them."""
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import tensorflow as tf
import tensorflow_transform as tft

from trainer import config, features, models

Features = Dict[str, tf.Tensor]
# Serialized tf.Examples -> (features, labels).
BatchParser = Callable[[tf.Tensor], Tuple[Features, tf.Tensor]]


def vocabulary_size(trainer_config: config.TrainerConfig,
                    tf_transform_output: tft.TFTransformOutput) -> int:
    """Token ids the model embeds: the vocabulary, its OOV buckets and the padding id."""
    return (tf_transform_output.vocabulary_size_by_name(features.VOCABULARY_NAME)
            + trainer_config.oov_buckets + 1)


def ngram_vocabulary_size(trainer_config: config.TrainerConfig,
                          tf_transform_output: tft.TFTransformOutput) -> int:
    """N-gram ids the wide part weighs: the n-gram vocabulary and the padding id (0: no wide
    part)."""
    if not trainer_config.ngram_vocab_size:
        return 0
    return tf_transform_output.vocabulary_size_by_name(features.NGRAM_VOCABULARY_NAME) + 1


def model_inputs(transformed: Mapping[str, tf.Tensor]) -> Features:
    """The model's inputs among Transform's outputs, the wide part's n-grams (if any) as dense,
    zero-padded rows."""
    inputs = {features.TOKENS_KEY: transformed[features.TOKENS_KEY]}
    for key in (features.NGRAMS_KEY, features.NGRAM_WEIGHTS_KEY):
        if key in transformed:
            inputs[key] = tf.sparse.to_dense(transformed[key])
    return inputs


def length_bounds(sequence_length: int, buckets: int) -> List[int]:
    """Batch lengths when bucketing: `buckets` equal steps up to sequence_length."""
    return sorted({max(1, sequence_length * (i + 1) // buckets) for i in range(buckets)})


def _trim_to_bucket(inputs: Features, labels: tf.Tensor, bounds: tf.Tensor):
    """Cuts a batch's trailing padding of tokens down to the smallest bound that holds its
    longest review: padding after a review's last token changes no output, and a few fixed
    lengths keep retracing to a minimum."""
    tokens = inputs[features.TOKENS_KEY]
    longest = tf.reduce_max(models.real_lengths(tokens))
    length = tf.gather(bounds, tf.searchsorted(bounds, tf.reshape(longest, [1]))[0])
    return {**inputs, features.TOKENS_KEY: tokens[:, :length]}, labels


def transformed_examples(tf_transform_output: tft.TFTransformOutput) -> BatchParser:
    """Parses Transform's output: (the model's inputs, labels)."""
    spec = tf_transform_output.transformed_feature_spec()

    def parse(records):
        batch = tf.io.parse_example(records, spec)
        return model_inputs(batch), batch[features.LABEL_KEY]
    return parse


def dataset(file_patterns: List[str], parse_batch: BatchParser,
            trainer_config: config.TrainerConfig, batch_size: int, shuffle: bool,
            input_context: Optional[tf.distribute.InputContext] = None) -> tf.data.Dataset:
    """Batches of (features, labels) from `parse_batch` of the GZIP'd TFRecords. With an
    input_context (several replicas), this input pipeline's shard of the examples in per-replica
    batches; without, all of them in global batches, which Model.fit splits over the replicas."""
    files = sorted(f for pattern in file_patterns for f in tf.io.gfile.glob(pattern))
    if not files:
        raise ValueError(f"no examples match {file_patterns}")
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    if input_context:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        records = records.shard(input_context.num_input_pipelines,
                                input_context.input_pipeline_id)
    if shuffle:
        records = records.shuffle(trainer_config.shuffle_buffer, seed=trainer_config.seed,
                                  reshuffle_each_iteration=True)
    batches = records.batch(batch_size).map(parse_batch, num_parallel_calls=tf.data.AUTOTUNE)
    if trainer_config.batch_length_buckets > 1:
        # Reviews of similar length batch together, so most batches are far shorter than
        # sequence_length (41% of IMDB reviews fill it, the median is about 170 tokens).
        bounds = length_bounds(trainer_config.sequence_length,
                               trainer_config.batch_length_buckets)
        # Rebatching pads the n-grams (if any) to the longest row of the new batch.
        batches = batches.unbatch().bucket_by_sequence_length(
            lambda inputs, label: models.real_lengths(inputs[features.TOKENS_KEY]),
            bucket_boundaries=[b + 1 for b in bounds[:-1]],
            bucket_batch_sizes=[batch_size] * len(bounds))
        batches = batches.map(
            lambda inputs, labels: _trim_to_bucket(inputs, labels, tf.constant(bounds)))
    return batches.prefetch(tf.data.AUTOTUNE).with_options(without_autotune_thread())


def without_autotune_thread() -> tf.data.Options:
    """tf.data options under which deleting an iterator does not wait. tf.data's autotuning
    thread sleeps between rounds, up to 60 s, and deleting an iterator waits for it to wake:
    Keras deletes the last eval iterator at each evaluation and the train iterator at each
    epoch's end, which left a 2-core Trainer idle for up to 40 s an epoch
    (docs/experiments/2026-12-03-idle-between-epochs.md). Without the thread, AUTOTUNE takes
    tf.data's fixed defaults."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return options
