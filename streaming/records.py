"""What the streaming jobs read and write: the lines of a feed (JSON Lines files landing in a
directory, or the messages of a Pub/Sub subscription), dead letters, and JSON Lines output files
that appear whole or not at all.

A directory feed is what a subscription delivers, as files: `*.jsonl` or `*.jsonl.gz`, one record
a line, each file written under another name and renamed into place, so a reader never sees half
of one (names that do not end in `.jsonl` or `.jsonl.gz` are never read).
"""
import dataclasses
import datetime
import json
import logging
import posixpath
import time
import uuid
from typing import Any, Callable, Iterator, List, Optional, Tuple

import apache_beam as beam
from apache_beam.coders import StrUtf8Coder
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.periodicsequence import (ImpulseSeqGenDoFn,
                                                     ImpulseSeqGenRestrictionProvider)
from apache_beam.transforms.userstate import SetStateSpec
from apache_beam.utils.timestamp import MAX_TIMESTAMP, Timestamp

from components import spans

PUBSUB_PREFIX = "pubsub:"
FEED_SUFFIXES = (".jsonl", ".jsonl.gz")
# Beam metrics of the jobs: namespace, and the dead letters' counter.
METRICS = "imdb_lstm"
REJECTED_COUNTER = "rejected"


@dataclasses.dataclass(frozen=True)
class FeedLine:
    """One record as it arrived, not parsed yet."""
    where: str  # "path:line", or the subscription and message id
    data: bytes
    arrived: float  # Unix time it landed: the file's modification time, or the publish time


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """A record a job could not use, and why; dead letters are written, never dropped."""
    where: str
    reason: str
    record: str

    @classmethod
    def of(cls, line: FeedLine, reason: str) -> "DeadLetter":
        """`reason` may start with `line.where` (a SpanError's message does); it is said once."""
        return cls(line.where, reason.removeprefix(f"{line.where}: "),
                   line.data.decode("utf-8", errors="replace"))


# The tagged output of a step's dead letters.
DEAD = "dead"


def parsed_or_dead_letter(line: FeedLine, parse: Callable[[str, str], Any]) -> Any:
    """`parse(text, where)` of the line, or its DeadLetter tagged DEAD when the line is not
    UTF-8 or `parse` raises SpanError."""
    try:
        return parse(line.data.decode("utf-8"), line.where)
    except UnicodeDecodeError:
        return beam.pvalue.TaggedOutput(DEAD, DeadLetter.of(line, "not UTF-8 text"))
    except spans.SpanError as e:
        return beam.pvalue.TaggedOutput(DEAD, DeadLetter.of(line, str(e)))


def is_pubsub(source: str) -> bool:
    return source.startswith(PUBSUB_PREFIX)


@dataclasses.dataclass(frozen=True)
class Tick:
    """The clock of a followed feed, in-band with its lines: it is `time` (Unix time) now."""
    time: float


def _lines(path: str, arrived: Optional[float]) -> Iterator[FeedLine]:
    arrived = arrived or time.time()
    with FileSystems.open(path) as f:  # .gz is decompressed by its name
        for number, data in enumerate(iter(f.readline, b""), start=1):
            if data.strip():
                yield FeedLine(f"{path}:{number}", data.rstrip(b"\r\n"), arrived)


def _matching(pattern: str) -> List[Any]:
    """The feed files matching `pattern` (FileMetadata), in name order."""
    found = FileSystems.match([pattern])[0].metadata_list
    return sorted((m for m in found if m.path.endswith(FEED_SUFFIXES)), key=lambda m: m.path)


def _message_line(subscription: str, message) -> FeedLine:
    published = message.publish_time
    arrived = published.timestamp() if published else time.time()
    return FeedLine(f"{subscription} message {message.message_id}", message.data, arrived)


class _PollDoFn(ImpulseSeqGenDoFn):
    """PeriodicImpulse's generator (an unbounded splittable DoFn: one element every interval,
    the rest deferred to the next one's time), which waits out the time left when a runner
    resumes it early. The local runner (FnApiRunner) resumes a deferred remainder at once: there
    PeriodicImpulse turns an idle job into a busy loop of about 100 bundles a second, a core
    spent polling (docs/experiments/2026-12-07-streaming-soak.md). A runner that honours the
    resume time, such as Dataflow, never waits here."""

    @beam.DoFn.unbounded_per_element()
    def process(self, element,
                restriction_tracker=beam.DoFn.RestrictionParam(ImpulseSeqGenRestrictionProvider()),
                watermark_estimator=beam.DoFn.WatermarkEstimatorParam(
                    ManualWatermarkEstimator.default_provider())):
        start, _, interval = element
        due = Timestamp.of(start).micros / 1e6 + interval * (
            restriction_tracker.current_restriction().start)
        time.sleep(min(interval, max(0.0, due - time.time())))
        yield from super().process(element, restriction_tracker, watermark_estimator)


class Polls(beam.PTransform):
    """An element every `interval` seconds from now on, for ever (an unbounded PCollection)."""

    def __init__(self, interval: float):
        super().__init__()
        self._interval = interval

    def expand(self, pbegin):
        interval = self._interval
        return (pbegin
                | "Impulse" >> beam.Impulse()
                | "FromNow" >> beam.Map(lambda _: (Timestamp.now(), MAX_TIMESTAMP, interval))
                | "Every" >> beam.ParDo(_PollDoFn()))


class _ReadNewFiles(beam.DoFn):
    """A poll (keyed) -> the lines of the feed files not read before, then a Tick. It remembers
    the files read as long as they are in the directory: its state is bounded by what the feed
    holds, not by what the job has read since it started."""

    SEEN = SetStateSpec("seen", StrUtf8Coder())

    def __init__(self, pattern: str):
        self._pattern = pattern

    def process(self, keyed, seen=beam.DoFn.StateParam(SEEN)):
        known = set(seen.read())
        listed = _matching(self._pattern)
        if known - {metadata.path for metadata in listed}:  # files removed from the feed
            seen.clear()
            for path in known.intersection(metadata.path for metadata in listed):
                seen.add(path)
        for metadata in listed:
            if metadata.path not in known:
                seen.add(metadata.path)
                yield from _lines(metadata.path, metadata.last_updated_in_seconds)
        yield Tick(time.time())


class FollowFeed(beam.PTransform):
    """A live feed's lines with Ticks between them: a directory listed every `poll_seconds`,
    or `pubsub:projects/P/subscriptions/S` beside a tick every `poll_seconds`.

    A directory is followed in one chain of steps (a poll, then its new files' lines, then its
    Tick) rather than with `fileio.MatchContinuously` flattened with a clock: the local runner
    (FnApiRunner) runs a step behind a fusion break, such as a Flatten, only once its input is
    complete, which a stream's never is; one fused chain runs as files land.
    """

    def __init__(self, source: str, poll_seconds: float = 2.0):
        super().__init__()
        self._source = source
        self._poll_seconds = poll_seconds

    def expand(self, pbegin):
        polls = pbegin | "Poll" >> Polls(self._poll_seconds)
        if not is_pubsub(self._source):
            return (polls
                    | "OneKey" >> beam.Map(lambda t: ("feed", t)).with_output_types(
                        Tuple[str, Any])
                    | "ReadNewFiles" >> beam.ParDo(
                        _ReadNewFiles(posixpath.join(self._source, "*.jsonl*"))))
        subscription = self._source[len(PUBSUB_PREFIX):]
        lines = (pbegin
                 | "ReadPubSub" >> beam.io.ReadFromPubSub(subscription=subscription,
                                                          with_attributes=True)
                 | "ToLines" >> beam.Map(lambda m: _message_line(subscription, m)))
        ticks = polls | "Tick" >> beam.Map(lambda _: Tick(time.time()))
        return (lines, ticks) | "LinesAndTicks" >> beam.Flatten()


class ReadFeedOnce(beam.PTransform):
    """The lines of the feed files in a directory now (a batch job's input)."""

    def __init__(self, source: str):
        super().__init__()
        self._source = source

    def expand(self, pbegin):
        return (pbegin
                | "Pattern" >> beam.Create([posixpath.join(self._source, "*.jsonl*")])
                | "Match" >> beam.FlatMap(_matching)
                | "Spread" >> beam.Reshuffle()
                | "Lines" >> beam.FlatMap(lambda m: _lines(m.path, m.last_updated_in_seconds)))


def _utc_stamp(seconds: Optional[float] = None) -> str:
    moment = datetime.datetime.fromtimestamp(seconds or time.time(), datetime.timezone.utc)
    return moment.strftime("%Y%m%dT%H%M%S")


def write_json_lines(directory: str, prefix: str, records: Any) -> str:
    """Writes `records` (dataclasses, a JSON object a line) as one new file under `directory`,
    whole or not at all; returns its path."""
    path = posixpath.join(directory, f"{prefix}-{_utc_stamp()}-{uuid.uuid4().hex[:8]}.jsonl")
    partial = posixpath.join(directory, "." + posixpath.basename(path) + ".partial")
    if not FileSystems.exists(directory):
        FileSystems.mkdirs(directory)
    with FileSystems.create(partial) as f:
        for record in records:
            line = json.dumps(dataclasses.asdict(record), ensure_ascii=False)
            f.write((line + "\n").encode("utf-8"))
    FileSystems.rename([partial], [path])
    return path


class _WriteBatch(beam.DoFn):
    def __init__(self, directory: str, prefix: str):
        self._directory = directory
        self._prefix = prefix

    def process(self, batch):
        yield write_json_lines(self._directory, self._prefix, batch), batch


class WriteJsonLines(beam.PTransform):
    """Dataclasses -> JSON Lines files `PREFIX-<UTC time>-<random>.jsonl` under
    `directory`, a file per batch of at most `max_batch`; outputs (path, batch) per file."""

    def __init__(self, directory: str, prefix: str, max_batch: int = 10_000):
        super().__init__()
        self._directory = directory
        self._prefix = prefix
        self._max_batch = max_batch

    def expand(self, pcoll):
        return (pcoll
                | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self._max_batch)
                | "Write" >> beam.ParDo(_WriteBatch(self._directory, self._prefix)))


class WriteDeadLetters(beam.PTransform):
    """DeadLetters -> JSON Lines files `rejected-*.jsonl` under `directory`, each file logged
    on `log` with the first record's problem."""

    def __init__(self, directory: str, log: logging.Logger):
        super().__init__()
        self._directory = directory
        self._log_name = log.name

    def expand(self, dead_letters):
        return (dead_letters
                | "Write" >> WriteJsonLines(self._directory, "rejected")
                | "Log" >> beam.Map(_log_rejected, self._log_name))


def _log_rejected(path_and_batch, log_name: str) -> None:
    path, batch = path_and_batch
    beam.metrics.Metrics.counter(METRICS, REJECTED_COUNTER).inc(len(batch))
    logging.getLogger(log_name).warning("%d record(s) rejected -> %s (first: %s: %s)",
                                        len(batch), path, batch[0].where, batch[0].reason)
