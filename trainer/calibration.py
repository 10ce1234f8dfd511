"""The decision threshold, fitted on `eval`, and the shift of the served score that puts it at 0.5.

A model's scores on reviews of films it has not seen can lean to one class: while the Trainer
trained in label-grouped order the five variants' best cuts on eval were 0.313-0.502
(docs/BENCHMARKS.md). Eval's films are not in train, so a correction fitted on eval carries over to
new films. The correction is the one constant added to the model's logit that best fits eval's
labels (log loss: Platt scaling with the slope held at 1); the served score is the model's score
so shifted (its odds times a constant), so its 0.5 is the decision threshold for everything
downstream (TFMA's accuracy and gates, the confusion matrix, users), every ranking is kept and AUC
does not change.

Fitted rather than searched: the cut that classifies the most eval reviews right, which the
Trainer served before, is an argmax over 2,178 reviews and mostly noise on well-calibrated models;
over fourteen models it served 0.0009 less test accuracy than the log-loss shift on average, and
up to 0.0046 less (docs/BENCHMARKS.md, "The decision threshold fitted by log loss").
"""
import numpy as np
import tensorflow as tf

NEUTRAL = 0.5
# The least eval reviews to fit the threshold on: on fewer it is mostly noise (the standard error
# of an accuracy near 0.86 on 1,000 reviews is already 1.1%).
MIN_REVIEWS = 1000
# Scores of exactly 0 or 1 (float32 saturates) still get a finite logit.
_EPSILON = 1e-7
# The shift is searched within these logits: a threshold between about 2e-9 and 1 - 2e-9.
_SHIFT_BOUND = 20.0


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def decision_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score at which the model's logit, plus the constant that minimizes the log loss on
    these reviews, is 0: there the served score is 0.5."""
    scores = np.clip(np.ravel(scores).astype(np.float64), _EPSILON, 1.0 - _EPSILON)
    logits = np.log(scores / (1.0 - scores))
    positive_rate = np.mean(np.ravel(labels).astype(bool))
    # The log loss is convex in the shift and its derivative, mean(shifted score) minus the
    # positive rate, increases with it: bisect for the zero.
    low, high = -_SHIFT_BOUND, _SHIFT_BOUND
    for _ in range(100):
        shift = (low + high) / 2
        if np.mean(_sigmoid(logits + shift)) > positive_rate:
            high = shift
        else:
            low = shift
    return float(_sigmoid(-shift))


def accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    return float(np.mean((np.ravel(scores) > threshold) == np.ravel(labels).astype(bool)))


def centre(probabilities: tf.Tensor, threshold: float) -> tf.Tensor:
    """Scores that cross 0.5 where `probabilities` cross `threshold`: the odds times
    (1 - threshold) / threshold, so 0 and 1 stay put and the order is kept."""
    positive = probabilities * (1.0 - threshold)
    return positive / (positive + (1.0 - probabilities) * threshold)
