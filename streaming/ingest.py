"""`imdb-lstm stream ingest`: rated reviews as they arrive -> spans under the span contract
(components/spans.py), for continuous training to read.

    FollowFeed -> ParseRatedReviews -> SkipLanded -> CutIntoSpans -> LogSpans
                          \\-> dead letters (where, why, the record) <-/

Reviews fall into fixed event-time windows by their `time`. A window is written as the next span,
marker last, once the job's clock has passed the window's end plus the allowed lateness; a review
for a window this run has written already is late and goes to the dead letters, naming the span.

The clock is the feed's Ticks (streaming/records.py), in-band with the reviews, and not Beam's
watermark triggers: the local runner (FnApiRunner) holds an unbounded source's watermark at its
minimum for as long as the source runs, so no `AfterWatermark` window ever closes there. Ticks
work the same on the local runner, on Dataflow and under TestStream, where a test sends them;
every step passes them on.

A restart reads the whole feed again: reviews already in a complete span are skipped by id, a
window already landed is not written twice, so a restart loses and duplicates nothing.
"""
import collections
import dataclasses
import logging
import time
from typing import Any, Dict, Iterable, List, Set, Tuple, Union

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec

from components import spans
from streaming import records

_log = logging.getLogger("streaming.ingest")
DEAD = records.DEAD


@dataclasses.dataclass(frozen=True)
class WrittenSpan:
    span: int
    window: Tuple[float, float]
    reviews: int
    duplicates: int  # reviews with an id seen before in the window, dropped
    completed: float  # Unix time the marker was written


class ParseRatedReviews(beam.DoFn):
    """FeedLine -> RatedReview, or a DeadLetter (tag DEAD) naming the line and the problem."""

    def process(self, line: Union[records.FeedLine, records.Tick]):
        if isinstance(line, records.Tick):
            yield line
            return
        yield records.parsed_or_dead_letter(line, spans.parse_record)


class SkipLanded(beam.DoFn):
    """Drops reviews that a complete span holds already (a restart reads the feed again)."""

    def __init__(self, landing: str):
        self._landing = landing
        self._landed: Set[str] = set()

    def setup(self):
        self._landed = spans.landed_ids(self._landing)

    def process(self, review: Union[spans.RatedReview, records.Tick]):
        if isinstance(review, records.Tick) or review.id not in self._landed:
            yield review


def window_of(review: spans.RatedReview, window_seconds: float) -> Tuple[float, float]:
    start = review.event_seconds // window_seconds * window_seconds
    return start, start + window_seconds


class CutSpans(beam.DoFn):
    """Keyed (one key) reviews and records.Ticks -> WrittenSpan per window closed, DeadLetter
    (tag DEAD) per late review. Writes the spans itself, one at a time, so their numbers follow
    the order in which windows close. Which windows have landed is read back from the spans'
    markers at setup, so a new worker or a restarted job knows them too."""

    PENDING = BagStateSpec("pending", PickleCoder())
    # When the first pending window may close: a tick before then need not read the reviews.
    NEXT_CLOSE = ReadModifyWriteStateSpec("next_close", PickleCoder())

    def __init__(self, landing: str, window_seconds: float, allowed_lateness_seconds: float):
        self._landing = landing
        self._window_seconds = window_seconds
        self._lateness = allowed_lateness_seconds
        self._landed: Dict[Tuple[float, float], int] = {}

    def setup(self):
        self._landed = {}
        for span in spans.ready_spans(self._landing):
            window = spans.read_marker(self._landing, span).window
            if window:
                self._landed[tuple(window)] = span

    def process(self, keyed, pending=beam.DoFn.StateParam(PENDING),
                next_close=beam.DoFn.StateParam(NEXT_CLOSE)):
        _, element = keyed
        if isinstance(element, records.Tick):
            if element.time >= (next_close.read() or float("inf")):
                yield from self._close(element.time, pending, next_close)
            return
        window = window_of(element, self._window_seconds)
        span = self._landed.get(window)
        if span:
            reason = (f"late: its window {_clock(window[0])}-{_clock(window[1])} closed as "
                      f"span {span}")
            yield beam.pvalue.TaggedOutput(DEAD, records.DeadLetter(
                f"review {element.id}", reason, element.to_json()))
        else:
            pending.add(element)
            closes = window[1] + self._lateness
            if closes < (next_close.read() or float("inf")):
                next_close.write(closes)

    def _close(self, now: float, pending, next_close) -> Iterable[WrittenSpan]:
        by_window: Dict[Tuple[float, float], List[spans.RatedReview]] = collections.defaultdict(
            list)
        for review in pending.read():
            by_window[window_of(review, self._window_seconds)].append(review)
        closing = sorted(w for w in by_window if w[1] + self._lateness <= now)
        if not closing:
            return
        for window in closing:
            reviews = by_window.pop(window)
            if window not in self._landed:  # it is if a failed bundle is being retried
                yield self._write(window, reviews)
        pending.clear()
        next_close.clear()
        for reviews in by_window.values():
            for review in reviews:
                pending.add(review)
        if by_window:
            next_close.write(min(end for _, end in by_window) + self._lateness)

    def _write(self, window: Tuple[float, float],
               reviews: List[spans.RatedReview]) -> WrittenSpan:
        first_of_each_id: Dict[str, spans.RatedReview] = {}
        for review in reviews:
            first_of_each_id.setdefault(review.id, review)
        unique = list(first_of_each_id.values())
        span = (spans.ready_spans(self._landing) or [0])[-1] + 1
        spans.write_span(self._landing, span, unique, window=window)
        self._landed[window] = span
        return WrittenSpan(span, window, len(unique), len(reviews) - len(unique), time.time())


def _clock(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(seconds))


def _log_span(written: WrittenSpan) -> WrittenSpan:
    start, end = written.window
    _log.info("span %d <- window %s-%s UTC: %d reviews%s; complete %.1f s after the window "
              "ended", written.span, _clock(start), _clock(end), written.reviews,
              f" ({written.duplicates} repeated ids dropped)" if written.duplicates else "",
              written.completed - end)
    return written


class CutIntoSpans(beam.PTransform):
    """RatedReviews and Ticks, in arrival order -> spans written; outputs WrittenSpan (main) and
    DeadLetter (DEAD) for the late."""

    def __init__(self, landing: str, window_seconds: float, allowed_lateness_seconds: float):
        super().__init__()
        self._cut = CutSpans(landing, window_seconds, allowed_lateness_seconds)

    def expand(self, reviews_and_ticks):
        return (reviews_and_ticks
                | "OneKey" >> beam.Map(lambda element: ("spans", element)).with_output_types(
                    Tuple[str, Any])
                | "Cut" >> beam.ParDo(self._cut).with_outputs(DEAD, main="spans"))


def build(pipeline: beam.Pipeline, source: str, landing: str, dead_letters: str,
          window_seconds: float, allowed_lateness_seconds: float, poll_seconds: float = 2.0):
    """The (streaming) ingest job on `pipeline`; returns the WrittenSpan PCollection."""
    parsed = (pipeline
              | "FollowFeed" >> records.FollowFeed(source, poll_seconds)
              | "Parse" >> beam.ParDo(ParseRatedReviews()).with_outputs(DEAD, main="reviews"))
    cut = (parsed.reviews
           | "SkipLanded" >> beam.ParDo(SkipLanded(landing))
           | "CutIntoSpans" >> CutIntoSpans(landing, window_seconds, allowed_lateness_seconds))
    # Two writers, not one behind a Flatten: a fusion break the local runner would run only
    # at the end of the stream (records.FollowFeed).
    parsed[DEAD] | "BadRecords" >> records.WriteDeadLetters(dead_letters, _log)
    cut[DEAD] | "LateReviews" >> records.WriteDeadLetters(dead_letters, _log)
    return cut.spans | "LogSpans" >> beam.Map(_log_span)
