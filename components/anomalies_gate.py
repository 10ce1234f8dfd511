"""AnomaliesGate: stops the run when ExampleValidator found anomalies.

ExampleValidator records anomalies but never fails, so on its own a pipeline would go on to train
and push a model on data that broke the schema. Transform runs after this gate.
"""
import os
from typing import Dict, List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.components.example_validator.executor import DEFAULT_FILE_NAME
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts

from components.artifact_dirs import split_dirs


class DataAnomaliesError(RuntimeError):
    """The data does not match the curated schema; the message lists every anomaly."""


def read_anomalies(uri: str) -> Dict[str, List[str]]:
    """Readable anomaly descriptions per split of an ExampleAnomalies artifact:
    '<feature>: <description>'."""
    found = {}
    for split, split_dir in split_dirs(uri).items():
        proto = anomalies_pb2.Anomalies()
        with fileio.open(os.path.join(split_dir, DEFAULT_FILE_NAME), "rb") as f:
            proto.ParseFromString(f.read())
        lines = [f"{feature}: {info.description or info.short_description}"
                 for feature, info in sorted(proto.anomaly_info.items())]
        if proto.HasField("dataset_anomaly_info"):
            lines.append(f"(dataset): {proto.dataset_anomaly_info.description}")
        if lines:
            found[split] = lines
    return found


@component
def AnomaliesGate(anomalies: InputArtifact[standard_artifacts.ExampleAnomalies]) -> None:
    found = read_anomalies(anomalies.uri)
    if found:
        listing = "\n".join(f"  [{split}] {line}" for split, lines in found.items()
                            for line in lines)
        raise DataAnomaliesError(
            "the data does not match schemas/schema.pbtxt; no model is trained on it:\n" + listing)
