"""SpanExampleGen: the rolling window of spans one continuous-training run reads.

One execution reads the spans `span - window + 1 .. span` of a landing location (the span
contract, components/spans.py; `span` 0 means the newest complete span) and writes the same
tf.Examples as ImdbExampleGen, in these splits:

- `train` and `eval`: the window's labelled reviews, a stable hash of each review's id deciding
  (`holdout_percent` to eval, which drives early stopping and fits the decision threshold);
- `span_holdout`: the newest span's reviews in the next `holdout_percent` of hashes, kept out of
  train and eval, so neither the candidate nor the serving model (which never saw the span) has
  learned from or been tuned on them: the gate judges both on them (components/span_evaluator.py).
  In the next run that span is an older one and they train;
- `test`: the fixed evaluation set, the official test reviews of `test_data` (an aclImdb source)
  when given, else the `span_holdout` reviews again; the gate judges both models on it too;
- `span` and `previous_span`: all labelled reviews of the newest span and of the one before it
  (absent for span 1), for comparing their statistics.

The Examples artifact carries the newest span as its `span` and the window as the custom
property `window_spans`, so ML Metadata knows which spans a run read. A span without its marker,
or a bad record, stops the execution with the file, line and reason.
"""
import hashlib
from typing import Any, Dict, Iterator, List, Optional, Tuple

import apache_beam as beam
from tfx import types
from tfx.components.example_gen import write_split
from tfx.dsl.components.base import base_beam_executor, base_component, executor_spec
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components import imdb_reader, spans
from components.imdb_example_gen import TEST_SPLIT, ReadReviews, to_example

EXAMPLES_KEY = "examples"
SPAN_SPLIT = "span"
PREVIOUS_SPAN_SPLIT = "previous_span"
SPAN_HOLDOUT_SPLIT = "span_holdout"
WINDOW_PROPERTY = "window_spans"


def window_spans(newest: int, window: int) -> List[int]:
    """The spans a run on `newest` reads: the last `window` of them, fewer at the start."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    return list(range(max(1, newest - window + 1), newest + 1))


def newest_span(landing: str, span: int) -> int:
    """`span`, checked to be complete; or, for 0, the newest complete span."""
    ready = spans.ready_spans(landing)
    if span == 0:
        if not ready:
            raise spans.SpanError(f"{landing}: no complete span (a span-NNNNNN/ folder with its "
                                  f"{spans.MARKER} marker)")
        return ready[-1]
    if span not in ready:
        raise spans.SpanError(f"{spans.span_dir(landing, span)}: not a complete span")
    return span


def _hash_bucket(review_id: str) -> int:
    """0-99, stable: a review's id decides which split it lands in."""
    return int(hashlib.sha256(review_id.encode("utf-8")).hexdigest(), 16) % 100


def split_of(review_id: str, in_newest_span: bool, holdout_percent: int) -> str:
    """`eval`, `span_holdout` (newest span only) or `train`."""
    bucket = _hash_bucket(review_id)
    if bucket < holdout_percent:
        return "eval"
    if in_newest_span and bucket < 2 * holdout_percent:
        return SPAN_HOLDOUT_SPLIT
    return "train"


def _labelled_reviews(path_and_span: Tuple[str, int]) -> Iterator[Tuple[int, imdb_reader.Review]]:
    """(span, review) for each record of a file with a label; neutral ratings are counted."""
    path, span = path_and_span
    neutral = beam.metrics.Metrics.counter("span_ingest", "neutral_ratings_dropped")
    for record in spans.read_file(path):
        if record.label is None:
            neutral.inc()
            continue
        yield span, imdb_reader.Review(split="train", label=record.label, rating=record.rating,
                                       text=record.review, key=record.id, undecodable_bytes=0)


class Executor(base_beam_executor.BaseBeamExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]):
        landing = exec_properties["landing"]
        newest = newest_span(landing, exec_properties["span"])
        window = window_spans(newest, exec_properties["window"])
        files = [(path, span) for span in sorted(set(window) | {max(1, newest - 1)})
                 for path in spans.record_files(landing, span)]
        examples = artifact_utils.get_single_instance(output_dict[EXAMPLES_KEY])
        examples.span = newest
        examples.set_string_custom_property(WINDOW_PROPERTY, ",".join(map(str, window)))
        with self._make_beam_pipeline() as pipeline:
            splits = self._splits(pipeline, files, newest, window, exec_properties)
            examples.split_names = artifact_utils.encode_split_names(sorted(splits))
            for name, reviews in splits.items():
                _ = (reviews | f"ToExample[{name}]" >> beam.Map(to_example)
                     | f"Write[{name}]" >> write_split.WriteSplit(
                         artifact_utils.get_split_uri([examples], name), "tfrecords_gzip"))

    @staticmethod
    def _splits(pipeline: beam.Pipeline, files, newest: int, window: List[int],
                exec_properties: Dict[str, Any]) -> Dict[str, beam.PCollection]:
        holdout = exec_properties["holdout_percent"]
        read = (pipeline | "SpanFiles" >> beam.Create(files)
                | "ReadSpans" >> beam.FlatMap(_labelled_reviews))

        def of_spans(name: str, wanted: List[int], split: Optional[str] = None):
            """The reviews of `wanted` spans; with `split`, those of them in that split."""
            return (read | f"Select[{name}]" >> beam.Filter(
                lambda item: item[0] in wanted and split in (
                    None, split_of(item[1].key, item[0] == newest, holdout)))
                    | f"Drop span[{name}]" >> beam.Values())

        splits = {
            "train": of_spans("train", window, "train"),
            "eval": of_spans("eval", window, "eval"),
            SPAN_HOLDOUT_SPLIT: of_spans(SPAN_HOLDOUT_SPLIT, [newest], SPAN_HOLDOUT_SPLIT),
            SPAN_SPLIT: of_spans(SPAN_SPLIT, [newest]),
        }
        if newest > 1:
            splits[PREVIOUS_SPAN_SPLIT] = of_spans(PREVIOUS_SPAN_SPLIT, [newest - 1])
        test_base: Optional[str] = exec_properties.get("test_data_base")
        if test_base:
            splits["test"] = (pipeline | "TestPattern" >> beam.Create(
                [exec_properties["test_data_pattern"]])
                | "ReadTestData" >> beam.ParDo(ReadReviews(test_base, unlabelled=False))
                | "OfficialTest" >> beam.Filter(lambda review: review.split == TEST_SPLIT))
        else:
            splits["test"] = of_spans("test", [newest], SPAN_HOLDOUT_SPLIT)
        return splits


class SpanExampleGenSpec(ComponentSpec):
    PARAMETERS = {
        "landing": ExecutionParameter(type=str),
        # 0: the newest complete span. A runtime parameter on Kubeflow.
        "span": ExecutionParameter(type=int),
        "window": ExecutionParameter(type=int),
        "holdout_percent": ExecutionParameter(type=int),
        # The fixed evaluation set: an aclImdb source whose official test reviews are `test`.
        "test_data_base": ExecutionParameter(type=str, optional=True),
        "test_data_pattern": ExecutionParameter(type=str, optional=True),
    }
    INPUTS: Dict[str, ChannelParameter] = {}
    OUTPUTS = {EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}


class SpanExampleGen(base_component.BaseComponent):
    """Reads a window of review spans; see the module docstring."""

    SPEC_CLASS = SpanExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, landing: str, span, window: int, holdout_percent: int = 10,
                 test_data_base: Optional[str] = None, test_data_pattern: Optional[str] = None):
        super().__init__(spec=SpanExampleGenSpec(
            landing=landing, span=span, window=window, holdout_percent=holdout_percent,
            test_data_base=test_data_base, test_data_pattern=test_data_pattern,
            examples=types.Channel(type=standard_artifacts.Examples)))
