"""What TFMA computes (pipeline/evaluation.py): the gates, bounds from the config, on the whole
test split only, accuracy also against the serving model; apart from them, the report's slices."""
import tensorflow_model_analysis as tfma

from components.report import summary
from pipeline import config as pipeline_config
from pipeline import evaluation
from trainer import features


def test_the_gates_follow_the_config_and_bound_the_whole_test_split_only():
    config = pipeline_config.load(overrides={"min_accuracy": 0.8, "min_auc": 0.85,
                                             "max_accuracy_regression": 0.02}, environ={})
    eval_config = evaluation.eval_config(config)
    metrics = {m.class_name: m for m in eval_config.metrics_specs[0].metrics}
    [accuracy] = metrics["BinaryAccuracy"].per_slice_thresholds
    [auc] = metrics["AUC"].per_slice_thresholds
    for gate in (accuracy, auc):  # one slice, the whole split: one rating cannot refuse a model
        assert list(gate.slicing_specs) == [tfma.SlicingSpec()]
    assert accuracy.threshold.value_threshold.lower_bound.value == 0.8
    assert accuracy.threshold.change_threshold.absolute.value == -0.02
    assert accuracy.threshold.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    assert auc.threshold.value_threshold.lower_bound.value == 0.85
    assert not auc.threshold.HasField("change_threshold")
    gated = {name for name, m in metrics.items()
             if m.per_slice_thresholds or m.threshold.ByteSize()}
    assert gated == {"BinaryAccuracy", "AUC"}


def test_the_model_is_read_as_the_pusher_ships_it_and_judged_on_the_whole_split_only():
    eval_config = evaluation.eval_config(pipeline_config.PipelineConfig())
    [model] = eval_config.model_specs
    assert (model.signature_name, model.label_key, model.prediction_key) == (
        "serving_default", features.LABEL_KEY, features.PREDICTION_KEY)
    # Slices would multiply the gate's time for numbers that judge nothing.
    assert list(eval_config.slicing_specs) == [tfma.SlicingSpec()]
    metrics = {m.class_name: m for m in eval_config.metrics_specs[0].metrics}
    assert f'"thresholds": [{evaluation.DECISION_THRESHOLD}]' in \
        metrics["ConfusionMatrixAtThresholds"].config


def test_the_slices_are_the_reports_and_judge_nothing():
    slice_config = evaluation.slice_eval_config()
    assert list(slice_config.model_specs) == list(
        evaluation.eval_config(pipeline_config.PipelineConfig()).model_specs)
    assert [list(s.feature_keys) for s in slice_config.slicing_specs] == [
        [key] for key in features.EVAL_SLICE_KEYS]
    [spec] = slice_config.metrics_specs
    names = {getattr(tfma.metrics, m.class_name)().name for m in spec.metrics}
    assert names == set(summary.SLICE_METRICS)
    assert not tfma.metrics.metric_thresholds_from_metrics_specs(
        slice_config.metrics_specs, eval_config=slice_config)


def test_on_the_newest_spans_held_out_reviews_only_the_change_against_the_serving_model_gates():
    config = pipeline_config.load(overrides={"min_accuracy": 0.8, "min_auc": 0.85,
                                             "max_span_accuracy_regression": 0.03}, environ={})
    span_config = evaluation.span_eval_config(config)
    assert list(span_config.model_specs) == list(evaluation.eval_config(config).model_specs)
    assert list(span_config.slicing_specs) == [tfma.SlicingSpec()]  # a few hundred reviews
    metrics = {m.class_name: m for m in span_config.metrics_specs[0].metrics}
    gated = {name: m.per_slice_thresholds for name, m in metrics.items()
             if m.per_slice_thresholds or m.threshold.ByteSize()}
    [accuracy] = gated.pop("BinaryAccuracy")
    assert gated == {}
    assert list(accuracy.slicing_specs) == [tfma.SlicingSpec()]
    assert accuracy.threshold.change_threshold.absolute.value == -0.03
    assert accuracy.threshold.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    # The lower bounds are the fixed evaluation set's business.
    assert not accuracy.threshold.HasField("value_threshold")
