"""The decision threshold, fitted on `eval`, and the served score that puts it at 0.5.

A model's scores on reviews of films it has not seen can lean to one class. Eval's films are not
in train, so a correction fitted on eval carries over to new films. The correction is the one
constant added to the model's logit that best fits eval's labels (log loss: Platt scaling with the
slope held at 1); the served score is the model's score so shifted (its odds times a constant), so
its 0.5 is the decision threshold for everything downstream (TFMA's accuracy and gates, the
confusion matrix, users), every ranking is kept and AUC does not change.

Fitted by log loss, which every review's score informs, rather than searched for the cut that
classifies the most eval reviews right: on a few thousand reviews that argmax is mostly noise
(docs/experiments/2026-12-06-decision-threshold.md).
"""
import logging
from typing import Any, Dict, Tuple

import numpy as np
import tensorflow as tf

from trainer import config

_log = logging.getLogger(__name__)

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


def served_score(probabilities: tf.Tensor, threshold: float) -> tf.Tensor:
    """Scores that cross 0.5 where `probabilities` cross `threshold`: the odds times
    (1 - threshold) / threshold, so 0 and 1 stay put and the order is kept."""
    positive = probabilities * (1.0 - threshold)
    return positive / (positive + (1.0 - probabilities) * threshold)


def scores_and_labels(model, batches: tf.data.Dataset) -> Tuple[np.ndarray, np.ndarray]:
    """`model`'s output for every review of `batches` of (inputs, labels), and their labels."""
    predict = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)
    scores, labels = [], []
    for inputs, batch_labels in batches:
        scores.append(np.ravel(predict(inputs)))
        labels.append(np.ravel(batch_labels))
    return np.concatenate(scores), np.concatenate(labels)


def fit_threshold(model, eval_batches: tf.data.Dataset,
                  trainer_config: config.TrainerConfig) -> Dict[str, Any]:
    """The decision threshold fitted on `eval_batches` (0.5 when calibration is off or eval is
    too small to fit on), whether it was fitted, and eval accuracy at 0.5 and at it."""
    scores, labels = scores_and_labels(model, eval_batches)
    threshold, fitted = NEUTRAL, False
    if not trainer_config.calibrate_threshold:
        _log.info("decision threshold kept at 0.5: calibrate_threshold is off")
    elif len(scores) < MIN_REVIEWS:
        _log.warning("decision threshold kept at 0.5: %d eval reviews, calibrating needs %d or "
                     "more", len(scores), MIN_REVIEWS)
    else:
        threshold, fitted = decision_threshold(scores, labels), True
    result = {"decision_threshold": threshold, "fitted": fitted, "eval_reviews": len(scores),
              "eval_accuracy_at_0.5": accuracy(scores, labels, NEUTRAL),
              "eval_accuracy": accuracy(scores, labels, threshold)}
    _log.info("decision threshold %.3f (the served score is 0.5 there): eval accuracy %.4f at 0.5, "
              "%.4f at the threshold, on %d reviews", threshold, result["eval_accuracy_at_0.5"],
              result["eval_accuracy"], len(scores))
    return result
