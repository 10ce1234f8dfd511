"""What a pipeline run did, read back from ML Metadata: per-component state, the Evaluator's
metrics and blessing, and what the Pusher pushed."""
import dataclasses
import os
from typing import Dict, List, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

_STATES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}


@dataclasses.dataclass
class RunOutcome:
    run_id: str
    created_ms: int
    component_states: Dict[str, str]
    metrics: Dict[str, float]
    blessed: Optional[bool]
    pushed: bool
    pushed_version: Optional[str]
    pushed_destination: Optional[str]
    new_version: bool
    output_uris: Dict[str, str]  # artifact type name -> URI, e.g. 'ModelRun', 'ModelEvaluation'

    def started_before(self, timestamp: float) -> bool:
        return self.created_ms < int(timestamp * 1000)

    def summary_lines(self) -> List[str]:
        lines = [f"run {self.run_id}"]
        for name in ("binary_accuracy", "auc", "precision", "recall", "example_count"):
            if name in self.metrics:
                value = self.metrics[name]
                lines.append(f"  test {name}: {value:.0f}" if name == "example_count"
                             else f"  test {name}: {value:.4f}")
        if self.blessed is not None:
            lines.append(f"  blessed: {'yes' if self.blessed else 'NO (a gate failed)'}")
        if self.pushed:
            how = "pushed as new version" if self.new_version else "already serving as version"
            lines.append(f"  {how} {self.pushed_version}: {self.pushed_destination}")
        else:
            lines.append("  pushed: no")
        return lines


def _store(metadata_path: str) -> mlmd.MetadataStore:
    return mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))


def _property(artifact: metadata_store_pb2.Artifact, name: str):
    if name not in artifact.custom_properties:
        return None
    value = artifact.custom_properties[name]
    return getattr(value, value.WhichOneof("value"))


def _overall_metrics(evaluation_uri: str) -> Dict[str, float]:
    import tensorflow_model_analysis as tfma  # heavy; only when there is an evaluation to read
    result = tfma.load_eval_result(evaluation_uri)
    for slice_key, metrics in result.slicing_metrics:
        if not slice_key:
            by_name = next(iter(metrics.values()))[""]
            return {name: value["doubleValue"] for name, value in by_name.items()
                    if isinstance(value, dict) and "doubleValue" in value}
    return {}


def latest_run(metadata_path: str, pipeline_name: str) -> Optional[RunOutcome]:
    """The newest run of `pipeline_name` recorded in the SQLite store, or None."""
    if not os.path.exists(metadata_path):
        return None
    store = _store(metadata_path)
    runs = [c for c in store.get_contexts_by_type("pipeline_run")
            if _belongs_to(store, c, pipeline_name)]
    if not runs:
        return None
    run = max(runs, key=lambda c: (c.create_time_since_epoch, c.id))
    executions = store.get_executions_by_context(run.id)
    node_type = store.get_context_type("node").id
    states = {}
    for execution in executions:
        node = next(c for c in store.get_contexts_by_execution(execution.id)
                    if c.type_id == node_type)
        states[node.name.split(".", 1)[-1]] = _STATES[execution.last_known_state]
    types = {t.id: t.name for t in store.get_artifact_types()}
    by_type = {types[a.type_id]: a for a in _output_artifacts(store, executions)}
    blessing, pushed, evaluation = (by_type.get("ModelBlessing"), by_type.get("PushedModel"),
                                    by_type.get("ModelEvaluation"))
    return RunOutcome(
        run_id=run.name,
        created_ms=run.create_time_since_epoch,
        component_states=states,
        metrics=_overall_metrics(evaluation.uri) if evaluation else {},
        blessed=None if blessing is None else bool(_property(blessing, "blessed")),
        pushed=bool(pushed and _property(pushed, "pushed")),
        pushed_version=_property(pushed, "pushed_version") if pushed else None,
        pushed_destination=_property(pushed, "pushed_destination") if pushed else None,
        new_version=bool(pushed and _property(pushed, "new_version")),
        output_uris={name: artifact.uri for name, artifact in by_type.items()},
    )


def _belongs_to(store: mlmd.MetadataStore, run: metadata_store_pb2.Context,
                pipeline_name: str) -> bool:
    return any(parent.name == pipeline_name
               for parent in store.get_parent_contexts_by_context(run.id))


def _output_artifacts(store: mlmd.MetadataStore, executions) -> List[metadata_store_pb2.Artifact]:
    output_events = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
    events = store.get_events_by_execution_ids([e.id for e in executions])
    ids = sorted({e.artifact_id for e in events if e.type in output_events})
    return store.get_artifacts_by_id(ids)
