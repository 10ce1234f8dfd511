"""The Evaluator's configuration: the metrics and slices TFMA computes on the official test
reviews, and the gates that bless a model."""
import json

import tensorflow_model_analysis as tfma

from pipeline.config import PipelineConfig
from trainer import features

# The cut of the served score: the Trainer shifts the score so that its fitted decision threshold
# is 0.5 (trainer/calibration.py), and accuracy, precision, recall and the gates all cut there.
DECISION_THRESHOLD = 0.5


def _on_the_whole_test_split(threshold: tfma.MetricThreshold):
    # MetricConfig.threshold would apply to every slice: one rating could refuse a model.
    return [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)]


def _at_least(value: float) -> tfma.GenericValueThreshold:
    return tfma.GenericValueThreshold(lower_bound={"value": value})


def gated_metrics(config: PipelineConfig):
    """Accuracy and ROC AUC with their lower bounds, accuracy also against the baseline."""
    accuracy_gate = tfma.MetricThreshold(
        value_threshold=_at_least(config.min_accuracy),
        # Ignored by TFMA when there is no blessed baseline yet (the first run).
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -config.max_accuracy_regression}))
    auc_gate = tfma.MetricThreshold(value_threshold=_at_least(config.min_auc))
    return [
        tfma.MetricConfig(class_name="BinaryAccuracy",
                          per_slice_thresholds=_on_the_whole_test_split(accuracy_gate)),
        tfma.MetricConfig(class_name="AUC",
                          per_slice_thresholds=_on_the_whole_test_split(auc_gate)),
    ]


def eval_config(config: PipelineConfig) -> tfma.EvalConfig:
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
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name="serving_default",
            label_key=features.LABEL_KEY,
            prediction_key=features.PREDICTION_KEY,
            # The export is a plain SavedModel; saying so spares TFMA reloading it as Keras.
            model_type=tfma.TF_GENERIC)],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[feature])
                                              for feature in features.EVAL_SLICE_KEYS],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
    )
