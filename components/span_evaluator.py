"""SpanEvaluator: continuous training's gate. TFX's Evaluator, run twice on one candidate and one
baseline (the serving model): on the newest span's held-out reviews (`span_holdout`, kept out of
training and tuning: components/span_example_gen.py) and on the fixed evaluation set (`test`).
Each evaluation is kept (`span_evaluation`, `evaluation`); the one blessing says BLESSED only if
both passed.

One component, not a second Evaluator beside the first: the latest-blessed-model resolver reads
every ModelBlessing of the pipeline (on Vertex AI, every one in the project), so a blessing
written for a model that the other check refused would make it the next run's baseline although
it never served.
"""
import json
import logging
import os
from typing import Any, Dict, List, Optional

import tensorflow_model_analysis as tfma
from tfx import types
from tfx.components.evaluator import constants
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.imdb_example_gen import TEST_SPLIT
from components.report import summary
from components.span_example_gen import SPAN_HOLDOUT_SPLIT

_log = logging.getLogger(__name__)

EVALUATION_KEY = "evaluation"
SPAN_EVALUATION_KEY = "span_evaluation"
BLESSING_KEY = "blessing"
# (split, its evaluation's output key, its eval config's parameter, how the log names it)
EVALUATIONS = ((SPAN_HOLDOUT_SPLIT, SPAN_EVALUATION_KEY, "span_eval_config",
                "the newest span's held-out reviews"),
               (TEST_SPLIT, EVALUATION_KEY, "eval_config", "the fixed evaluation set"))


def _take_verdict(blessing: types.Artifact) -> Optional[bool]:
    """What one evaluation wrote into the blessing (None: no threshold to check), removed so
    that the next one starts clean."""
    verdict = None
    for name, blessed in ((constants.BLESSED_FILE_NAME, True),
                          (constants.NOT_BLESSED_FILE_NAME, False)):
        path = os.path.join(blessing.uri, name)
        if fileio.exists(path):
            fileio.remove(path)
            verdict = blessed
    return verdict


def write_verdict(blessing: types.Artifact, blessed: bool) -> None:
    """The BLESSED / NOT_BLESSED file and `blessed` property, as TFX's Evaluator writes them."""
    name = constants.BLESSED_FILE_NAME if blessed else constants.NOT_BLESSED_FILE_NAME
    fileio.makedirs(blessing.uri)
    with fileio.open(os.path.join(blessing.uri, name), "w") as f:
        f.write("")
    blessing.set_int_custom_property(
        constants.ARTIFACT_PROPERTY_BLESSED_KEY,
        constants.BLESSED_VALUE if blessed else constants.NOT_BLESSED_VALUE)


def _judgement(evaluation_uri: str, split: str, verdict: Optional[bool]) -> str:
    """'candidate accuracy 0.8612, serving model 0.8455 on 480 reviews: passed'."""
    judged = summary.evaluated(evaluation_uri, split)
    serving = (f", serving model {judged.baseline_overall['binary_accuracy']:.4f}"
               if judged.baseline_overall else "")
    outcome = {True: "passed", False: "REFUSED (" + "; ".join(judged.refused_by) + ")",
               None: "nothing to check"}[verdict]
    return (f"candidate accuracy {judged.overall['binary_accuracy']:.4f}{serving} on "
            f"{judged.overall['example_count']:.0f} reviews: {outcome}")


class Executor(evaluator_executor.Executor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]):
        blessing = artifact_utils.get_single_instance(output_dict[BLESSING_KEY])
        passed = []
        for split, output_key, config_key, what in EVALUATIONS:
            super().Do(input_dict,
                       {EVALUATION_KEY: output_dict[output_key], BLESSING_KEY: [blessing]},
                       {**exec_properties, "eval_config": exec_properties[config_key],
                        "example_splits": json.dumps([split])})
            verdict = _take_verdict(blessing)
            _log.log(logging.WARNING if verdict is False else logging.INFO, "gate on %s: %s",
                     what, _judgement(output_dict[output_key][0].uri, split, verdict))
            passed.append(verdict is not False)
        write_verdict(blessing, all(passed))


class SpanEvaluatorSpec(ComponentSpec):
    PARAMETERS = {
        "eval_config": ExecutionParameter(type=tfma.EvalConfig),
        "span_eval_config": ExecutionParameter(type=tfma.EvalConfig),
    }
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "model": ChannelParameter(type=standard_artifacts.Model),
        "baseline_model": ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {
        EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        SPAN_EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
    }


class SpanEvaluator(base_beam_component.BaseBeamComponent):
    """Judges candidate and serving model on the newest span's held-out reviews and on the fixed
    evaluation set; see the module docstring."""

    SPEC_CLASS = SpanEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples: types.BaseChannel, model: types.BaseChannel,
                 baseline_model: Optional[types.BaseChannel], eval_config: tfma.EvalConfig,
                 span_eval_config: tfma.EvalConfig):
        super().__init__(spec=SpanEvaluatorSpec(
            examples=examples, model=model, baseline_model=baseline_model,
            eval_config=eval_config, span_eval_config=span_eval_config,
            **{key: types.Channel(type=standard_artifacts.ModelEvaluation)
               for key in (EVALUATION_KEY, SPAN_EVALUATION_KEY)},
            blessing=types.Channel(type=standard_artifacts.ModelBlessing)))
