"""DriftGate: stops a continuous-training run whose newest span differs too much from the span
before it, before anything trains on it.

It compares the `span` and `previous_span` splits of a SpanExampleGen's output (every labelled
review of the two spans) on four distances, each against a bound from the config:

- `label_balance`: the difference of their shares of positive reviews;
- `rating`: the L-infinity distance of their rating distributions (1-10);
- `review_length`: the L-infinity distance of their length-bucket distributions;
- `vocabulary`: how much more of the newest span's words fall outside the previous span's
  `vocabulary_size` most frequent words than of the previous span's own (the OOV rate a model
  trained on the old reviews would meet, against the one it met).

The distances go to `drift.json` in its SpanDrift artifact whatever the verdict; drift over a
bound raises DataDriftError naming each feature, its distance and its bound.
"""
import collections
import json
import os
import re
from typing import Dict, List, Optional

import tensorflow as tf
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.io import fileio
from tfx.types import artifact, standard_artifacts

from components.artifact_dirs import split_dirs
from components.span_example_gen import PREVIOUS_SPAN_SPLIT, SPAN_SPLIT
from trainer import features

DRIFT_FILE = "drift.json"
# As trainer/preprocessing.py normalizes: the words the vocabulary counts.
_BREAK, _APOSTROPHE, _NOT_WORD = (re.compile(r"<br\s*/?>"), re.compile("['\u2019]"),
                                  re.compile(r"[^a-z0-9]+"))


class SpanDrift(artifact.Artifact):
    """The distances between a run's newest span and the one before, with their bounds."""
    # '<namespace>.<Name>': the form TFX's KFP v2 compiler requires of custom artifact types.
    TYPE_NAME = "imdb_lstm.SpanDrift"


class DataDriftError(RuntimeError):
    """The newest span drifted from the previous one; the message names the features."""


def read_drift(uri: str) -> Dict:
    """A SpanDrift artifact's drift.json: distances (None on a first span), bounds, drifted."""
    with fileio.open(os.path.join(uri, DRIFT_FILE)) as f:
        return json.load(f)


def words(review: str) -> List[str]:
    text = _APOSTROPHE.sub("", _BREAK.sub(" ", review.lower()))
    return _NOT_WORD.sub(" ", text).split()


def _reviews(split_dir: str) -> List[dict]:
    files = fileio.glob(os.path.join(split_dir, "*.gz"))
    spec = {features.REVIEW_KEY: tf.io.FixedLenFeature([], tf.string),
            features.RATING_KEY: tf.io.FixedLenFeature([], tf.int64),
            features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
            features.LENGTH_BUCKET_KEY: tf.io.FixedLenFeature([], tf.string)}
    parsed = tf.data.TFRecordDataset(files, compression_type="GZIP").map(
        lambda record: tf.io.parse_single_example(record, spec))
    return [{key: value.numpy() for key, value in example.items()} for example in parsed]


def _shares(values: List, categories) -> Dict:
    counts = collections.Counter(values)
    return {c: counts[c] / max(1, len(values)) for c in categories}


def _linf(values_a: List, values_b: List, categories) -> float:
    a, b = _shares(values_a, categories), _shares(values_b, categories)
    return max(abs(a[c] - b[c]) for c in categories)


def _oov_rate(reviews: List[dict], vocabulary: set) -> float:
    tokens = [w for r in reviews for w in words(r[features.REVIEW_KEY].decode("utf-8"))]
    return sum(w not in vocabulary for w in tokens) / max(1, len(tokens))


def distances(newest: List[dict], previous: List[dict], vocabulary_size: int) -> Dict[str, float]:
    def column(reviews, key):
        return [r[key] for r in reviews]

    counts = collections.Counter(w for r in previous
                                 for w in words(r[features.REVIEW_KEY].decode("utf-8")))
    vocabulary = {w for w, _ in counts.most_common(vocabulary_size)}
    positive = [sum(column(reviews, features.LABEL_KEY)) / max(1, len(reviews))
                for reviews in (newest, previous)]
    buckets = [b.encode() for b in features.length_buckets()]
    return {
        "label_balance": abs(positive[0] - positive[1]),
        "rating": _linf(column(newest, features.RATING_KEY), column(previous, features.RATING_KEY),
                        features.RATINGS),
        "review_length": _linf(column(newest, features.LENGTH_BUCKET_KEY),
                               column(previous, features.LENGTH_BUCKET_KEY), buckets),
        "vocabulary": _oov_rate(newest, vocabulary) - _oov_rate(previous, vocabulary),
    }


def verdict(found: Optional[Dict[str, float]], bounds: Dict[str, float]) -> List[str]:
    """'feature: distance > bound' for each distance over its bound."""
    return [f"{name}: {found[name]:.3f} > {bound:.3f}" for name, bound in bounds.items()
            if found is not None and found[name] > bound]


@component
def DriftGate(examples: InputArtifact[standard_artifacts.Examples],
              drift: OutputArtifact[SpanDrift],
              max_label_balance: Parameter[float], max_rating: Parameter[float],
              max_review_length: Parameter[float], max_vocabulary: Parameter[float],
              vocabulary_size: Parameter[int]) -> None:
    splits = split_dirs(examples.uri)
    bounds = {"label_balance": max_label_balance, "rating": max_rating,
              "review_length": max_review_length, "vocabulary": max_vocabulary}
    found = None
    if PREVIOUS_SPAN_SPLIT in splits:  # span 1 has nothing to drift from
        found = distances(_reviews(splits[SPAN_SPLIT]), _reviews(splits[PREVIOUS_SPAN_SPLIT]),
                          vocabulary_size)
    drifted = verdict(found, bounds)
    # TFX's local launcher creates the output directory; KFP's launcher does not (on a local or
    # mounted pipeline root, writing into it failed: kubeflow run-local found it).
    fileio.makedirs(drift.uri)
    with fileio.open(os.path.join(drift.uri, DRIFT_FILE), "w") as f:
        json.dump({"distances": found, "bounds": bounds, "drifted": drifted}, f, indent=2)
    if drifted:
        raise DataDriftError(f"span {examples.span} drifted from span {examples.span - 1}; "
                             f"nothing is trained on it: {'; '.join(drifted)}")
