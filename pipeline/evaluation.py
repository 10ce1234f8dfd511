"""What TFMA computes: the gate's metrics and thresholds on the official test reviews (whole
split only), on spans also on the newest span's held-out reviews; and, apart from the gate, the
per-slice metrics the report shows.

Why apart: TFMA computes every metric on every slice, for both models. With the report's 14
slices the gate took three times as long (docs/experiments/2026-12-07-evaluator-speed.md), and a
model waited for numbers that judge nothing.
"""
import json

import tensorflow_model_analysis as tfma

from pipeline.config import PipelineConfig
from trainer import features

# The cut of the served score: the Trainer shifts the score so that its fitted decision threshold
# is 0.5 (trainer/calibration.py), and accuracy, precision, recall and the gates all cut there.
DECISION_THRESHOLD = 0.5


def _on_the_whole_split(threshold: tfma.MetricThreshold):
    # MetricConfig.threshold would apply to every slice: one rating could refuse a model.
    return [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)]


def _at_least(value: float) -> tfma.GenericValueThreshold:
    return tfma.GenericValueThreshold(lower_bound={"value": value})


def _at_most_below_baseline(regression: float) -> tfma.GenericChangeThreshold:
    # Ignored by TFMA when there is no blessed baseline yet (the first run).
    return tfma.GenericChangeThreshold(direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                                       absolute={"value": -regression})


def gated_metrics(config: PipelineConfig):
    """Accuracy and ROC AUC with their lower bounds, accuracy also against the baseline."""
    accuracy_gate = tfma.MetricThreshold(
        value_threshold=_at_least(config.min_accuracy),
        change_threshold=_at_most_below_baseline(config.max_accuracy_regression))
    auc_gate = tfma.MetricThreshold(value_threshold=_at_least(config.min_auc))
    return [
        tfma.MetricConfig(class_name="BinaryAccuracy",
                          per_slice_thresholds=_on_the_whole_split(accuracy_gate)),
        tfma.MetricConfig(class_name="AUC",
                          per_slice_thresholds=_on_the_whole_split(auc_gate)),
    ]


def _model_specs():
    return [tfma.ModelSpec(
        signature_name="serving_default",
        label_key=features.LABEL_KEY,
        prediction_key=features.PREDICTION_KEY,
        # The export is a plain SavedModel; saying so spares TFMA reloading it as Keras.
        model_type=tfma.TF_GENERIC)]


def eval_config(config: PipelineConfig) -> tfma.EvalConfig:
    """The gate on the test split: whole split only, candidate against the baseline."""
    metric = tfma.MetricConfig
    metrics = [
        metric(class_name="ExampleCount"),
        *gated_metrics(config),
        *(metric(class_name=name) for name in (
            "AUCPrecisionRecall", "Precision", "Recall", "BinaryCrossEntropy", "MeanLabel",
            "MeanPrediction", "Calibration")),
        metric(class_name="ConfusionMatrixAtThresholds",
               config=json.dumps({"thresholds": [DECISION_THRESHOLD]})),
        metric(class_name="ConfusionMatrixPlot"),
        metric(class_name="CalibrationPlot"),
    ]
    return tfma.EvalConfig(model_specs=_model_specs(), slicing_specs=[tfma.SlicingSpec()],
                           metrics_specs=[tfma.MetricsSpec(metrics=metrics)])


def span_eval_config(config: PipelineConfig) -> tfma.EvalConfig:
    """On the newest span's held-out reviews: the candidate's accuracy against the serving
    model's, whole split only (a few hundred reviews); the lower bounds stay with the fixed set."""
    accuracy_gate = tfma.MetricThreshold(
        change_threshold=_at_most_below_baseline(config.max_span_accuracy_regression))
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        tfma.MetricConfig(class_name="BinaryAccuracy",
                          per_slice_thresholds=_on_the_whole_split(accuracy_gate)),
        *(tfma.MetricConfig(class_name=name) for name in (
            "AUC", "Precision", "Recall", "BinaryCrossEntropy")),
    ]
    return tfma.EvalConfig(model_specs=_model_specs(), slicing_specs=[tfma.SlicingSpec()],
                           metrics_specs=[tfma.MetricsSpec(metrics=metrics)])


# What the report shows per slice (components/report/summary.py, SLICE_METRICS): AUC, precision
# and recall mean nothing in a slice of one class, and every `rating` and `label` slice is one.
SLICE_METRIC_CLASSES = ("ExampleCount", "BinaryAccuracy", "MeanLabel", "MeanPrediction",
                        "BinaryCrossEntropy")


def slice_eval_config() -> tfma.EvalConfig:
    """The candidate alone on the test split's slices (rating, length bucket, label); no
    threshold, so it blesses nothing."""
    return tfma.EvalConfig(
        model_specs=_model_specs(),
        slicing_specs=[tfma.SlicingSpec(feature_keys=[feature])
                       for feature in features.EVAL_SLICE_KEYS],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name=name)
                                                 for name in SLICE_METRIC_CLASSES])])
