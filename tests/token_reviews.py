"""Already tokenized reviews for training-loop tests: no vocabulary or Transform needed."""
import numpy as np
import tensorflow as tf

from trainer.features import TOKENS_KEY

VOCABULARY = 30
BATCH = 8


def reviews(count: int, seed: int):
    """Right-padded token ids of random lengths, labelled by whether token 1 occurs."""
    rng = np.random.default_rng(seed)
    tokens = np.zeros((count, 12), np.int64)
    for row, length in enumerate(rng.integers(1, 13, count)):
        tokens[row, :length] = rng.integers(1, VOCABULARY, length)
    return tokens, (tokens == 1).any(axis=1).astype(np.int64)


def dataset_fn(examples):
    """What the training loops take: a function of an optional InputContext, batches of 8 of
    (the model's inputs, labels)."""
    tokens, labels = examples
    return lambda input_context=None: tf.data.Dataset.from_tensor_slices(
        ({TOKENS_KEY: tokens}, labels)).batch(BATCH)
