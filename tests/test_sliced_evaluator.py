"""SlicedEvaluator (components/sliced_evaluator.py): per-slice numbers for the report, which must
never bless or refuse a model."""
import pytest
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from components.sliced_evaluator import SLICED_EVALUATION_KEY, SlicedEvaluator
from pipeline import config as pipeline_config
from pipeline import evaluation


def _channels():
    return {"examples": tfx.dsl.Channel(type=tfx.types.standard_artifacts.Examples),
            "model": tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model)}


def test_it_computes_the_reports_slices_and_has_no_blessing_to_write():
    component = SlicedEvaluator(**_channels(), split="test",
                                eval_config=evaluation.slice_eval_config())
    # Its own output key: ML Metadata tells its evaluation from the gate's.
    assert set(component.outputs) == {SLICED_EVALUATION_KEY}
    assert component.exec_properties["example_splits"] == '["test"]'


def test_an_eval_config_with_a_threshold_is_refused():
    gate = evaluation.eval_config(pipeline_config.PipelineConfig())
    with pytest.raises(ValueError, match="thresholds belong to the Evaluator"):
        SlicedEvaluator(**_channels(), split="test", eval_config=gate)
    assert tfma.metrics.metric_thresholds_from_metrics_specs(gate.metrics_specs,
                                                             eval_config=gate)
