"""The decision threshold, chosen on `eval`, and the shift of the served score that puts it at 0.5.

A model's best cut on reviews of films it has not seen need not be 0.5: in the benchmark the five
variants' best cuts on eval were 0.424-0.649 (docs/BENCHMARKS.md). Eval's films are not in train,
so the cut that does best on eval carries over to new films. Shifting the served score (its odds
times a constant) moves that cut to 0.5 for everything downstream (TFMA's accuracy and gates, the
confusion matrix, users) and keeps every ranking, so AUC does not change.
"""
import numpy as np
import tensorflow as tf

NEUTRAL = 0.5
# The least eval reviews to choose a threshold on: on fewer the best cut is mostly noise (the
# standard error of an accuracy near 0.86 on 1,000 reviews is already 1.1%).
MIN_REVIEWS = 1000


def decision_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The cut (score > cut: positive) that classifies the most of these reviews correctly; of
    equally good cuts, the one nearest 0.5."""
    scores, labels = np.ravel(scores), np.ravel(labels).astype(bool)
    distinct = np.unique(scores)
    cuts = np.append((distinct[:-1] + distinct[1:]) / 2, NEUTRAL)
    negatives, positives = np.sort(scores[~labels]), np.sort(scores[labels])
    correct = (np.searchsorted(negatives, cuts, side="right")
               + len(positives) - np.searchsorted(positives, cuts, side="right"))
    best = np.flatnonzero(correct == correct.max())
    return float(cuts[best[np.argmin(np.abs(cuts[best] - NEUTRAL))]])


def accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    return float(np.mean((np.ravel(scores) > threshold) == np.ravel(labels).astype(bool)))


def centre(probabilities: tf.Tensor, threshold: float) -> tf.Tensor:
    """Scores that cross 0.5 where `probabilities` cross `threshold`: the odds times
    (1 - threshold) / threshold, so 0 and 1 stay put and the order is kept."""
    positive = probabilities * (1.0 - threshold)
    return positive / (positive + (1.0 - probabilities) * threshold)
