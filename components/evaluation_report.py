"""EvaluationReport: the last node of the DAG. It reads what every other component wrote and
leaves one self-contained `report.html` and a `summary.json` of the same numbers.

It runs after the Pusher whatever the gate decided, so a refused model gets its report too: the
page names the thresholds that failed and says that nothing was pushed.
"""
import json
import logging
import os
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact, artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.drift_gate import SpanDrift
from components.report import html, summary

_log = logging.getLogger(__name__)

REPORT_KEY = "report"
REPORT_FILE = "report.html"
SUMMARY_FILE = "summary.json"
# What the VersionedPusher records on its PushedModel, as the report reads it.
PUSH_PROPERTIES = ("pushed", "pushed_version", "pushed_destination", "new_version")
# Keys of the component's inputs: also the roles `imdb-lstm report` looks up in ML Metadata.
INPUT_KEYS = ("statistics", "anomalies", "drift", "transform_graph", "transformed_examples",
              "model", "model_run", "evaluation", "span_evaluation", "blessing",
              "sliced_evaluation", "baseline_model", "pushed_model")


class EvaluationReportArtifact(artifact.Artifact):
    """A directory with report.html and summary.json."""
    # '<namespace>.<Name>': the form TFX's KFP v2 compiler requires of custom artifact types.
    TYPE_NAME = "imdb_lstm.EvaluationReport"


class EvaluationReportSpec(ComponentSpec):
    PARAMETERS = {
        "pipeline_config": ExecutionParameter(type=str),  # the resolved config, as JSON
        "code_version": ExecutionParameter(type=str),
        "data_source": ExecutionParameter(type=str),
    }
    INPUTS = {
        "statistics": ChannelParameter(type=standard_artifacts.ExampleStatistics),
        "anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies),
        "drift": ChannelParameter(type=SpanDrift, optional=True),  # on spans
        "transform_graph": ChannelParameter(type=standard_artifacts.TransformGraph),
        "transformed_examples": ChannelParameter(type=standard_artifacts.Examples),
        "model": ChannelParameter(type=standard_artifacts.Model),
        "model_run": ChannelParameter(type=standard_artifacts.ModelRun),
        "evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation),
        # On spans: the gate's evaluation on the newest span's held-out reviews.
        "span_evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation,
                                            optional=True),
        "blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
        # The candidate per slice of the test split (SlicedEvaluator).
        "sliced_evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation),
        "baseline_model": ChannelParameter(type=standard_artifacts.Model, optional=True),
        "pushed_model": ChannelParameter(type=standard_artifacts.PushedModel),
    }
    OUTPUTS = {REPORT_KEY: ChannelParameter(type=EvaluationReportArtifact)}


def push_properties(pushed_model: artifact.Artifact) -> Dict[str, Any]:
    return {name: pushed_model.get_custom_property(name)
            for name in PUSH_PROPERTIES if pushed_model.has_custom_property(name)}


def _write_whole(path: str, text: str) -> None:
    """Written under another name and renamed: a reader never opens half a report."""
    partial = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".partial")
    with fileio.open(partial, "w") as f:
        f.write(text)
    fileio.rename(partial, path, overwrite=True)


def write_report(report_summary: Dict[str, Any], directory: str) -> str:
    """Writes summary.json and report.html into `directory`; returns the HTML's path."""
    fileio.makedirs(directory)
    _write_whole(os.path.join(directory, SUMMARY_FILE), json.dumps(report_summary, indent=2))
    path = os.path.join(directory, REPORT_FILE)
    _write_whole(path, html.render_report(report_summary))
    return path


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[artifact.Artifact]],
           output_dict: Dict[str, List[artifact.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        uris = {key: artifacts[0].uri for key, artifacts in input_dict.items() if artifacts}
        pushed_model = artifact_utils.get_single_instance(input_dict["pushed_model"])
        inputs = summary.ReportInputs(
            run_id=self._context.pipeline_run_id if self._context else "unknown",
            pipeline_config=json.loads(exec_properties["pipeline_config"]),
            code_version=exec_properties["code_version"],
            data_source=exec_properties["data_source"],
            **{f"{key}_uri": uri for key, uri in uris.items() if key != "pushed_model"},
            push=push_properties(pushed_model))
        report_summary = summary.summarize(inputs)
        report = artifact_utils.get_single_instance(output_dict[REPORT_KEY])
        path = write_report(report_summary, report.uri)
        gate = report_summary["gate"]
        report.set_int_custom_property("blessed", int(gate["blessed"]))
        report.set_int_custom_property("pushed", int(gate["pushed"]))
        report.set_float_custom_property(
            "binary_accuracy", report_summary["evaluation"]["overall"]["binary_accuracy"])
        _log.info("evaluation report: %s", path)


class EvaluationReport(base_component.BaseComponent):
    """Renders the run's evaluation report; inputs are the outputs of the components before."""

    SPEC_CLASS = EvaluationReportSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, *, pipeline_config: Dict[str, Any], code_version: str, data_source: str,
                 **channels):
        unknown = sorted(set(channels) - set(INPUT_KEYS))
        if unknown:
            raise TypeError(f"EvaluationReport has no input(s) {unknown}")
        super().__init__(spec=EvaluationReportSpec(
            pipeline_config=json.dumps(pipeline_config, sort_keys=True),
            code_version=code_version, data_source=data_source,
            report=types.Channel(type=EvaluationReportArtifact),
            **channels))
