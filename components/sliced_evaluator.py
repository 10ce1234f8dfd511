"""SlicedEvaluator: the candidate's metrics per slice of the test split, for the report. TFX's
Evaluator executor with an eval config that has no threshold, so it judges nothing and writes no
blessing; the pipeline runs it after the Pusher, so a model never waits for it.
"""
import json
from typing import Any, Dict, List

import tensorflow_model_analysis as tfma
from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

SLICED_EVALUATION_KEY = "sliced_evaluation"


class Executor(evaluator_executor.Executor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]):
        # TFX's executor writes to 'evaluation'; this component's output has its own key, so
        # that ML Metadata tells the two evaluations of a run apart.
        super().Do(input_dict,
                   {standard_component_specs.EVALUATION_KEY: output_dict[SLICED_EVALUATION_KEY]},
                   exec_properties)


class SlicedEvaluatorSpec(ComponentSpec):
    PARAMETERS = {
        "eval_config": ExecutionParameter(type=tfma.EvalConfig),
        "example_splits": ExecutionParameter(type=str),  # a JSON list, as the Evaluator's
    }
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "model": ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {SLICED_EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation)}


class SlicedEvaluator(base_beam_component.BaseBeamComponent):
    """TFMA on `split` with `eval_config`'s slices; see the module docstring."""

    SPEC_CLASS = SlicedEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples: types.BaseChannel, model: types.BaseChannel, split: str,
                 eval_config: tfma.EvalConfig):
        if tfma.metrics.metric_thresholds_from_metrics_specs(eval_config.metrics_specs,
                                                             eval_config=eval_config):
            raise ValueError("SlicedEvaluator computes metrics only: thresholds belong to the "
                             "Evaluator that gates the model")
        super().__init__(spec=SlicedEvaluatorSpec(
            examples=examples, model=model, eval_config=eval_config,
            example_splits=json.dumps([split]),
            sliced_evaluation=types.Channel(type=standard_artifacts.ModelEvaluation)))
