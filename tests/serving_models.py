"""Tiny real SavedModels in the serving layout (`<base>/<version>/`) with the raw-text signature
of trainer/export.py, for the scoring job's tests: a version scores 0.9 for a review containing
its `word` and 0.1 otherwise, so the scores show which version scored."""
import os

import tensorflow as tf

from trainer import features
from trainer.export import RAW_TEXT_SIGNATURE


class _WordScorer(tf.Module):
    def __init__(self, word: str):
        super().__init__()
        self.pattern = f".*{word}.*"

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="review")])
    def serve_text(self, reviews):
        hits = tf.cast(tf.strings.regex_full_match(reviews, self.pattern), tf.float32)
        return {features.PREDICTION_KEY: tf.reshape(0.1 + 0.8 * hits, [-1, 1])}


def write_version(base: str, version: int, word: str) -> str:
    """Writes the version under another name and renames it into place, as the Pusher does."""
    path = os.path.join(base, str(version))
    scorer = _WordScorer(word)
    tf.saved_model.save(scorer, path + ".incomplete",
                        signatures={RAW_TEXT_SIGNATURE: scorer.serve_text.get_concrete_function()})
    os.rename(path + ".incomplete", path)
    return path


def write_broken_version(base: str, version: int) -> str:
    path = os.path.join(base, str(version))
    os.makedirs(path)
    with open(os.path.join(path, "saved_model.pb"), "wb") as f:
        f.write(b"not a SavedModel")
    return path
