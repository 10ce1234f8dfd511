"""`imdb-lstm score`: every review of a feed scored by the model serving now.

    FollowFeed | ReadFeedOnce | ReadAclImdb -> ParseReviews -> RunInference(ServingModelHandler)
        -> ToScore -> WriteJsonLines(scores) -> LogProgress
    bad records -> WriteDeadLetters

Input records are JSON objects with `id` and `review` (`time`, the review's event time, optional:
the time it arrived stands in; other fields such as `rating` are ignored). Each score record
carries id, score (0.5 is the decision threshold the model was trained with), label, the model
version that scored it, event time, and when the review arrived and was scored.
"""
import dataclasses
import datetime
import json
import logging
import time
from typing import Iterator, List, Optional

import apache_beam as beam
from apache_beam.ml.inference.base import PredictionResult, RunInference

from components import spans
from streaming import feed, records
from streaming.serving_model import ServingModelHandler

_log = logging.getLogger("streaming.scoring")
DEAD = records.DEAD


@dataclasses.dataclass(frozen=True)
class ScoringRequest:
    id: str
    review: str
    time: str  # ISO-8601 event time
    arrived: float  # Unix time


@dataclasses.dataclass(frozen=True)
class Score:
    id: str
    score: float
    label: str
    model_version: str
    time: str
    arrived: float
    scored_at: float


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat()


class ParseReviews(beam.DoFn):
    """FeedLine -> ScoringRequest, or a DeadLetter (tag DEAD) naming the line and the problem."""

    def process(self, line: records.FeedLine):
        def request(text: str, where: str) -> ScoringRequest:
            value = spans.parse_object(text, where, ("id", "review"))
            return ScoringRequest(value["id"], value["review"],
                                  value.get("time") or _iso(line.arrived), line.arrived)
        yield records.parsed_or_dead_letter(line, request)


def to_score(result: PredictionResult) -> Score:
    request = result.example
    beam.metrics.Metrics.counter(records.METRICS, "scored").inc()
    return Score(request.id, round(result.inference, 6),
                 "positive" if result.inference >= 0.5 else "negative", result.model_id,
                 request.time, request.arrived, time.time())


class LogProgress(beam.DoFn):
    """Every `every_seconds` at most: reviews scored since, the rate, the versions that scored
    them, and the latency from arrival to score (p50 / p95)."""

    def __init__(self, every_seconds: float = 10.0):
        self._every = every_seconds
        self._latencies: List[float] = []
        self._versions: set = set()
        self._since = 0.0

    def setup(self):
        self._since = time.monotonic()  # on the worker, when it starts

    def process(self, path_and_batch):
        _, batch = path_and_batch
        self._latencies.extend(score.scored_at - score.arrived for score in batch)
        self._versions.update(score.model_version for score in batch)
        if time.monotonic() - self._since >= self._every:
            self._report()

    def teardown(self):
        if self._latencies:
            self._report()

    def _report(self):
        seconds = time.monotonic() - self._since
        p50, p95 = percentiles(self._latencies, (50, 95))
        _log.info("scored %d reviews in %.0f s (%.0f/s) with model version %s; arrival to score "
                  "p50 %.2f s, p95 %.2f s", len(self._latencies), seconds,
                  len(self._latencies) / seconds, ", ".join(sorted(self._versions, key=int)),
                  p50, p95)
        self._latencies, self._versions, self._since = [], set(), time.monotonic()


def percentiles(values: List[float], qs) -> List[float]:
    """The `qs` percentiles of `values` (nearest rank)."""
    ordered = sorted(values)
    return [ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] for q in qs]


def aclimdb_lines(data: str, cache_dir: str, split: str) -> Iterator[records.FeedLine]:
    """The reviews of an aclImdb source (streaming/feed.py) as feed lines."""
    arrived = time.time()
    for review in feed.reviews_of(data, cache_dir, split):
        record = json.dumps({"id": review.key, "review": review.text})
        yield records.FeedLine(review.key, record.encode("utf-8"), arrived)


def build(pipeline: beam.Pipeline, model_dir: str, source: str, output: str, dead_letters: str,
          streaming: bool, poll_seconds: float = 2.0, model_poll_seconds: float = 10.0,
          aclimdb_split: Optional[str] = None, cache_dir: str = ""):
    """The scoring job on `pipeline`; `aclimdb_split` reads `source` as an aclImdb source."""
    if aclimdb_split:
        lines = (pipeline | "Source" >> beam.Create([source])
                 | "ReadAclImdb" >> beam.FlatMap(aclimdb_lines, cache_dir, aclimdb_split)
                 | "Spread" >> beam.Reshuffle())
    elif streaming:
        lines = (pipeline | "FollowFeed" >> records.FollowFeed(source, poll_seconds)
                 | "NoTicks" >> beam.Filter(lambda line: not isinstance(line, records.Tick))
                 .with_output_types(records.FeedLine))
    else:
        lines = pipeline | "ReadFeed" >> records.ReadFeedOnce(source)
    parsed = lines | "Parse" >> beam.ParDo(ParseReviews()).with_outputs(DEAD, main="requests")
    scores = (parsed.requests
              | "Score" >> RunInference(ServingModelHandler(model_dir, model_poll_seconds))
              | "ToScore" >> beam.Map(to_score))
    parsed[DEAD] | "DeadLetters" >> records.WriteDeadLetters(dead_letters, _log)
    return (scores
            | "WriteScores" >> records.WriteJsonLines(output, "scores")
            | "LogProgress" >> beam.ParDo(LogProgress()))


def summary(result: beam.runners.runner.PipelineResult) -> str:
    """What a finished job scored and rejected, from its metrics."""
    counters = result.metrics().query(beam.metrics.MetricsFilter().with_namespace(records.METRICS))
    totals = {counter.key.metric.name: counter.committed for counter in counters["counters"]}
    return (f"scored {totals.get('scored', 0)} reviews, rejected "
            f"{totals.get(records.REJECTED_COUNTER, 0)}")
