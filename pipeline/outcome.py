"""What a pipeline run did, read back from ML Metadata: per-component state, the Evaluator's
metrics and blessing, and what the Pusher pushed."""
import dataclasses
import json
import os
from typing import Dict, List, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

from components.evaluation_report import (INPUT_KEYS, PUSH_PROPERTIES, REPORT_FILE,
                                          REPORT_KEY, EvaluationReport)
from components.report import html, summary
from components.imdb_example_gen import UnlabelledImdbExampleGen
from components.pusher import PUSHED_AT
from components.span_example_gen import WINDOW_PROPERTY, SpanExampleGen
from pipeline.pipeline import BASELINE_RESOLVER_ID, PRETRAINED_MODEL_IMPORTER_ID, PRETRAINER_ID

_STATES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}
_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
# Their Examples, Model and ModelRun are pretraining's, not the classifier's.
_PRETRAINING_NODES = (UnlabelledImdbExampleGen.__name__, PRETRAINER_ID,
                      PRETRAINED_MODEL_IMPORTER_ID)



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
    pushed_at: Optional[float]  # when the new version appeared in the serving directory
    output_uris: Dict[str, str]  # output key -> URI, e.g. 'model_run', 'evaluation'
    # Continuous training: the newest span the run read, and its window (None: not on spans);
    # candidate and baseline on the newest span's held-out reviews ({}: not evaluated there).
    span: Optional[int] = None
    window_spans: Optional[List[int]] = None
    span_metrics: Dict[str, float] = dataclasses.field(default_factory=dict)
    span_baseline_metrics: Dict[str, float] = dataclasses.field(default_factory=dict)
    # What refused the model: 'binary_accuracy change on span_holdout', ...
    refused_by: List[str] = dataclasses.field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Whether the run came to an end: its last component ran, or one failed and stopped it.
        A run killed mid-way has neither."""
        states = self.component_states
        return (states.get(EvaluationReport.__name__) in ("COMPLETE", "CACHED")
                or any(state in ("FAILED", "CANCELED") for state in states.values()))

    def started_before(self, timestamp: float) -> bool:
        return self.created_ms < int(timestamp * 1000)

    def summary_lines(self) -> List[str]:
        lines = [f"run {self.run_id}"]
        for name in ("binary_accuracy", "auc", "precision", "recall", "example_count"):
            if name in self.metrics:  # undefined ones (precision with no positive) are None
                value = html.number(self.metrics[name], 0 if name == "example_count" else 4)
                lines.append(f"  test {name}: {value}")
        if self.span_accuracies:
            lines.append(f"  newest span's held-out binary_accuracy: {self.span_accuracies}")
        if self.blessed is not None:
            refused = "; ".join(self.refused_by) or "a gate failed"
            lines.append(f"  blessed: {'yes' if self.blessed else f'NO ({refused})'}")
        if self.pushed:
            how = "pushed as new version" if self.new_version else "already serving as version"
            lines.append(f"  {how} {self.pushed_version}: {self.pushed_destination}")
        else:
            lines.append("  pushed: no")
        if self.report_path:
            lines.append(f"  report: {self.report_path}")
        return lines

    @property
    def span_accuracies(self) -> Optional[str]:
        """'0.8764 (serving 0.8411)': accuracy on the newest span's held-out reviews, the serving
        model's in brackets (None: not evaluated there)."""
        if not self.span_metrics:
            return None
        serving = (f" (serving {self.span_baseline_metrics['binary_accuracy']:.4f})"
                   if self.span_baseline_metrics else "")
        return f"{self.span_metrics['binary_accuracy']:.4f}{serving}"

    @property
    def report_path(self) -> Optional[str]:
        uri = self.output_uris.get(REPORT_KEY)
        return os.path.join(uri, REPORT_FILE) if uri else None


def _store(metadata_path: str) -> mlmd.MetadataStore:
    return mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))


def _property(item, name: str):
    """A custom property of an MLMD artifact or execution (TFX keeps exec properties there)."""
    if name not in item.custom_properties:
        return None
    value = item.custom_properties[name]
    return getattr(value, value.WhichOneof("value"))


def runs(metadata_path: str, pipeline_name: str, evaluations: bool = True) -> List[RunOutcome]:
    """Every run of `pipeline_name` recorded in the SQLite store, oldest first. Without
    `evaluations`, their metrics are left empty: TFMA's results are not read, which a poll
    that asks only which spans ran need not pay for every run ever recorded."""
    if not os.path.exists(metadata_path):
        return []
    store = _store(metadata_path)
    return [_outcome(store, context, evaluations)
            for context in _run_contexts(store, pipeline_name)]


def latest_run(metadata_path: str, pipeline_name: str) -> Optional[RunOutcome]:
    """The newest run of `pipeline_name` recorded in the SQLite store, or None; only its
    evaluations are read."""
    if not os.path.exists(metadata_path):
        return None
    store = _store(metadata_path)
    contexts = _run_contexts(store, pipeline_name)
    return _outcome(store, contexts[-1]) if contexts else None


def _run_contexts(store: mlmd.MetadataStore, pipeline_name: str):
    """The pipeline_run contexts of `pipeline_name`, oldest first."""
    return sorted((c for c in store.get_contexts_by_type("pipeline_run")
                   if _belongs_to(store, c, pipeline_name)),
                  key=lambda c: (c.create_time_since_epoch, c.id))


def _node_names(store: mlmd.MetadataStore, executions) -> Dict[int, str]:
    node_type = store.get_context_type("node").id
    names = {}
    for execution in executions:
        node = next(c for c in store.get_contexts_by_execution(execution.id)
                    if c.type_id == node_type)
        names[execution.id] = node.name.split(".", 1)[-1]
    return names


def _outcome(store: mlmd.MetadataStore, run: metadata_store_pb2.Context,
             evaluations: bool = True) -> RunOutcome:
    executions = store.get_executions_by_context(run.id)
    nodes = _node_names(store, executions)
    states = {nodes[e.id]: _STATES[e.last_known_state] for e in executions}
    outputs = _outputs_by_key(store, [e for e in executions
                                      if nodes[e.id] not in _PRETRAINING_NODES])
    blessing, pushed = outputs.get("blessing"), outputs.get("pushed_model")
    test, span_check = (
        summary.evaluated(outputs[key].uri, split) if evaluations and key in outputs else None
        for key, split in (("evaluation", summary.EVALUATED_SPLIT),
                           ("span_evaluation", summary.SPAN_CHECK_SPLIT)))
    span, window = _span_and_window(store, [e for e in executions
                                            if nodes[e.id] == SpanExampleGen.__name__])
    return RunOutcome(
        run_id=run.name,
        created_ms=run.create_time_since_epoch,
        component_states=states,
        metrics=test.overall if test else {},
        blessed=None if blessing is None else bool(_property(blessing, "blessed")),
        pushed=bool(pushed and _property(pushed, "pushed")),
        pushed_version=_property(pushed, "pushed_version") if pushed else None,
        pushed_destination=_property(pushed, "pushed_destination") if pushed else None,
        new_version=bool(pushed and _property(pushed, "new_version")),
        pushed_at=_property(pushed, PUSHED_AT) if pushed else None,
        output_uris={key: artifact.uri for key, artifact in outputs.items()},
        span=span,
        window_spans=window,
        span_metrics=span_check.overall if span_check else {},
        span_baseline_metrics=(span_check.baseline_overall or {}) if span_check else {},
        refused_by=[reason for judged in (test, span_check) if judged
                    for reason in judged.refused_by],
    )


def _span_and_window(store: mlmd.MetadataStore, span_example_gens):
    """The newest span a run read and its window: from the SpanExampleGen's Examples, or, when
    it failed before writing them, the span it was asked for (None, None: not on spans)."""
    if not span_example_gens:
        return None, None
    [execution] = span_example_gens
    examples = _outputs_by_key(store, [execution]).get("examples")
    if examples:
        window = _property(examples, WINDOW_PROPERTY)
        return examples.properties["span"].int_value, [int(s) for s in window.split(",")]
    return _property(execution, "span") or None, None


def report_inputs(metadata_path: str, pipeline_name: str, run_id: str) -> summary.ReportInputs:
    """Where the artifacts of run `run_id` are, as the EvaluationReport component sees them."""
    store = _store(metadata_path)
    run = next((c for c in store.get_contexts_by_type("pipeline_run")
                if c.name == run_id and _belongs_to(store, c, pipeline_name)), None)
    if run is None:
        raise LookupError(f"no run {run_id!r} of pipeline {pipeline_name!r} in {metadata_path}")
    executions = store.get_executions_by_context(run.id)
    nodes = _node_names(store, executions)
    events = store.get_events_by_execution_ids([e.id for e in executions])
    artifacts = {a.id: a for a in store.get_artifacts_by_id(sorted({e.artifact_id
                                                                     for e in events}))}
    found: Dict[str, metadata_store_pb2.Artifact] = {}
    for event in events:
        key = event.path.steps[0].key if event.path.steps else ""
        produced = (event.type in _OUTPUT_EVENTS and nodes[event.execution_id]
                    not in (BASELINE_RESOLVER_ID,) + _PRETRAINING_NODES)
        # The baseline is what the Evaluator was handed, whatever resolved it.
        if key in INPUT_KEYS and (produced or key == "baseline_model"):
            found[key] = artifacts[event.artifact_id]
    report = next((e for e in executions if nodes[e.id] == EvaluationReport.__name__), None)
    recorded = {name: _property(report, name) for name in
                ("pipeline_config", "code_version", "data_source")} if report else {}
    pushed = found.pop("pushed_model", None)
    return summary.ReportInputs(
        run_id=run.name,
        pipeline_config=json.loads(recorded["pipeline_config"]) if recorded else None,
        code_version=recorded.get("code_version"),
        data_source=recorded.get("data_source"),
        push={name: _property(pushed, name) for name in PUSH_PROPERTIES} if pushed else None,
        **{f"{key}_uri": artifact.uri for key, artifact in found.items()})


def _belongs_to(store: mlmd.MetadataStore, run: metadata_store_pb2.Context,
                pipeline_name: str) -> bool:
    return any(parent.name == pipeline_name
               for parent in store.get_parent_contexts_by_context(run.id))


def _outputs_by_key(store: mlmd.MetadataStore,
                    executions) -> Dict[str, metadata_store_pb2.Artifact]:
    """{output key: artifact} of `executions`, e.g. 'model', 'evaluation', 'span_evaluation'."""
    events = [e for e in store.get_events_by_execution_ids([e.id for e in executions])
              if e.type in _OUTPUT_EVENTS and e.path.steps]
    artifacts = {a.id: a for a in store.get_artifacts_by_id(sorted({e.artifact_id
                                                                     for e in events}))}
    return {e.path.steps[0].key: artifacts[e.artifact_id] for e in events}
