"""`imdb-lstm watch`: continuous training. Polls a landing location and runs the pipeline once per
newly complete span, in order, each once every span of its window is complete, never twice for
the same span: ML Metadata records which span each run read (the SpanExampleGen's Examples), and
a span counts as processed once a run on it finished, whatever its verdict. A run killed mid-way
leaves a component RUNNING, so its span is run again after a restart, reusing TFX's cache and the
Trainer's backup.
"""
import dataclasses
import logging
import time
from typing import List, Optional, Set, Tuple

from cli import stopping
from components import spans
from components.span_example_gen import window_spans
from pipeline import outcome
from pipeline.config import PipelineConfig

_log = logging.getLogger("pipeline")


def processed_spans(config: PipelineConfig) -> Set[int]:
    return {run.span for run in outcome.runs(config.metadata_path, config.pipeline_name,
                                             evaluations=False)
            if run.span is not None and run.finished}


@dataclasses.dataclass(frozen=True)
class Pending:
    """The spans to run now, oldest first, and the first span that waits for its window: for
    spans not yet complete, or for a marker that cannot be read."""
    spans: List[int]
    waiting: Optional[int] = None
    missing: Tuple[int, ...] = ()
    unreadable: Optional[str] = None

    def waiting_line(self) -> str:
        if self.unreadable:
            return f"span {self.waiting} waits: {self.unreadable}"
        return (f"span {self.waiting} waits for span(s) {list(self.missing)} of its window to "
                "complete")


def _unreadable_marker(landing: str, span: int) -> Optional[str]:
    try:
        spans.read_marker(landing, span)
        return None
    except spans.SpanError as e:
        return str(e)


def pending_spans(config: PipelineConfig) -> Pending:
    """Complete spans no finished run has read, oldest first, up to the first whose window holds
    a span not yet complete or with an unreadable marker: spans run in order, each on its whole
    window."""
    done = processed_spans(config)
    ready = spans.ready_spans(config.landing)
    runnable = []
    for span in (s for s in ready if s not in done):
        window = window_spans(span, config.window)
        missing = tuple(s for s in window if s not in ready)
        markers = [_unreadable_marker(config.landing, s) for s in window if s in ready]
        unreadable = next(filter(None, markers), None)
        if missing or unreadable:
            return Pending(runnable, span, missing, unreadable)
        runnable.append(span)
    return Pending(runnable)


def _ready_since(config: PipelineConfig, span: int) -> Optional[float]:
    """When the span's writer finished it (its marker's time), as a Unix time."""
    try:
        return spans.read_marker(config.landing, span).completed
    except spans.SpanError:
        return None


def _gate_verdict(run: outcome.RunOutcome) -> str:
    """'test accuracy 0.8479, span held-out accuracy 0.8612 (serving 0.8455), blessed yes'."""
    span_check = (f", span held-out accuracy {run.span_accuracies}" if run.span_accuracies
                  else "")
    refused = f" (refused: {'; '.join(run.refused_by)})" if run.refused_by else ""
    return (f"test accuracy {run.metrics.get('binary_accuracy', float('nan')):.4f}{span_check}, "
            f"blessed {'yes' if run.blessed else 'no' + refused}")


def span_line(config: PipelineConfig, span: int, run: Optional[outcome.RunOutcome],
              seconds: float, error: Optional[BaseException] = None) -> str:
    """What one span came to, in one line; `seconds` the run took."""
    why = f": {type(error).__name__}: {error}" if error else " (the log says why)"
    if run is None:
        return f"span {span}: failed before the pipeline started{why}"
    failed = sorted(node for node, state in run.component_states.items() if state == "FAILED")
    window = f"{run.window_spans[0]}-{run.window_spans[-1]}" if run.window_spans else "?"
    verdict = f"stopped at {', '.join(failed)}{why}" if failed else _gate_verdict(run)
    pushed = (f"pushed {run.pushed_version}" if run.pushed and run.new_version
              else "serving unchanged")
    ready = _ready_since(config, span)
    latency = f", span to serving {run.pushed_at - ready:.0f} s" if (
        ready and run.pushed_at and run.new_version) else ""
    return f"span {span}: window {window}, {verdict}, {pushed}, run {seconds:.0f} s{latency}"


def run_span(config: PipelineConfig, span: int) -> str:
    """Runs the pipeline on `span`; what it came to, in one line."""
    from pipeline import errors, local_runner  # heavy imports only once there is work
    error, started = None, time.monotonic()
    try:
        local_runner.run(dataclasses.replace(config, span=span))
    except Exception as e:  # noqa: BLE001  (ML Metadata has the verdict, the log the traceback)
        logging.getLogger("imdb_lstm.traceback").info("span %d failed", span, exc_info=True)
        if stopping.requested():  # a library wrapped the stop: it is still a stop
            raise stopping.requested() from e
        error = errors.explained(e)
    run = outcome.latest_run(config.metadata_path, config.pipeline_name)
    return span_line(config, span, run if run and run.span == span else None,
                     time.monotonic() - started, error)


def watch(config: PipelineConfig, once: bool = False) -> int:
    """Processes pending spans in order; with `once`, exits when none is left. Returns the
    number of spans processed. SIGTERM or Ctrl-C abandons the run in progress: its span runs
    again at the next start."""
    processed = 0

    def farewell(stop: stopping.Stopped) -> int:
        _log.warning("stopped by %s after %d span(s); a span in progress runs again at the next "
                     "start", stop.how, processed)
        return 0

    try:
        with stopping.on_signals(farewell):
            _log.info("watching %s for spans (window %d, every %g s)", config.landing,
                      config.window, config.poll_seconds)
            reported_wait = None
            while True:
                pending = pending_spans(config)
                for span in pending.spans:
                    _log.info(run_span(config, span))
                    processed += 1
                if pending.waiting and pending.waiting_line() != reported_wait:
                    reported_wait = pending.waiting_line()
                    _log.warning(reported_wait)
                if once:
                    _log.info("%d span(s) processed; %s", processed,
                              "the rest wait" if pending.waiting else "none pending")
                    return processed
                time.sleep(config.poll_seconds)
    except (stopping.Stopped, KeyboardInterrupt) as e:
        stopping.farewell_once(farewell, stopping.stopped_by(e))
        return processed
