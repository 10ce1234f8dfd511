"""The project's own TFX artifact types under their type names, `imdb_lstm.<Name>`.

TFX's KFP v2 compiler requires a custom type's name to be `<namespace>.<Name>`, and its container
entrypoint imports the type by that name as a module path: a task that reads or writes one of
these artifacts on Kubeflow finds the class here.
"""
from components.drift_gate import SpanDrift
from components.evaluation_report import EvaluationReportArtifact as EvaluationReport

__all__ = ["EvaluationReport", "SpanDrift"]
