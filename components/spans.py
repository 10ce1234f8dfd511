"""The span contract: how rated reviews land for continuous training, and the one place that reads
and writes it.

A landing location (a local directory or `gs://...`) holds spans numbered from 1 without gaps,
`span-000001/`, `span-000002/`, ... Each holds rated reviews as gzipped JSON Lines,
`*.jsonl.gz`, one object a line:

    {"id": "tt0111161-42", "review": "...", "rating": 9, "time": "2026-12-06T10:00:00+00:00"}

`id` a non-empty string naming the review; `review` non-empty text; `rating` an integer
1-10; `time` ISO-8601 (the review's event time). The label follows the rating as in the Stanford
corpus (trainer/features.py): >= 7 positive, <= 4 negative; 5 and 6 are counted and dropped.

A span is complete only when its marker file `_READY` exists, and writers write it last: a span
without it is never read. A complete span never changes. The marker is a JSON object: when the
span was completed and, for spans cut from a stream, the event-time window it holds.
"""
import dataclasses
import datetime
import gzip
import io
import json
import posixpath
import re
import time
from typing import Iterable, Iterator, List, Optional, Set, Tuple

from tfx.dsl.io import fileio

from trainer import features

MARKER = "_READY"
RECORDS_SUFFIX = ".jsonl.gz"
_SPAN_DIR = re.compile(r"^span-(\d{6})$")


class SpanError(ValueError):
    """A span or one of its records breaks the contract; the message names file, line and why."""


@dataclasses.dataclass(frozen=True)
class RatedReview:
    id: str
    review: str
    rating: int
    time: str

    @property
    def label(self) -> Optional[int]:
        return features.label_of(self.rating)

    @property
    def event_seconds(self) -> float:
        """`time` as a Unix time; a time without a zone is UTC."""
        moment = datetime.datetime.fromisoformat(self.time.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp()

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)


@dataclasses.dataclass(frozen=True)
class Marker:
    completed: float  # Unix time
    window: Optional[Tuple[float, float]] = None  # event-time [start, end), Unix times


def span_dir(landing: str, span: int) -> str:
    if not 1 <= span <= 999_999:
        raise SpanError(f"span numbers run from 1 to 999999, got {span}")
    return posixpath.join(landing, f"span-{span:06d}")


def ready_spans(landing: str) -> List[int]:
    """The complete spans (marker present) under `landing`, in order."""
    if not fileio.isdir(landing):
        return []
    numbers = []
    for name in fileio.listdir(landing):
        match = _SPAN_DIR.match(name.strip("/"))
        if match and fileio.exists(posixpath.join(landing, match.group(0), MARKER)):
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def parse_object(line: str, where: str, fields: Tuple[str, ...]) -> dict:
    """A JSON object with `fields`, its `id` a non-empty string, `review` non-empty text and
    `time`, if there is one, ISO-8601; SpanError naming `where` (file:line) and the problem."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as e:
        raise SpanError(f"{where}: not JSON ({e.msg})") from e
    if not isinstance(value, dict):
        raise SpanError(f"{where}: expected an object with {', '.join(fields)}")
    missing = [key for key in fields if key not in value]
    if missing:
        raise SpanError(f"{where}: missing {', '.join(missing)}")
    if not isinstance(value["id"], str) or not value["id"]:
        raise SpanError(f"{where}: id must be a non-empty string, got {value['id']!r}")
    if not isinstance(value["review"], str) or not value["review"].strip():
        raise SpanError(f"{where}: review must be non-empty text")
    if "time" in value:
        try:
            datetime.datetime.fromisoformat(str(value["time"]).replace("Z", "+00:00"))
        except ValueError as e:
            raise SpanError(f"{where}: time must be ISO-8601, got {value['time']!r}") from e
    return value


def parse_record(line: str, where: str) -> RatedReview:
    """One JSON Lines record of a span; SpanError naming `where` (file:line) and the problem."""
    value = parse_object(line, where, ("id", "review", "rating", "time"))
    rating = value["rating"]
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 10:
        raise SpanError(f"{where}: rating must be an integer 1-10, got {rating!r}")
    return RatedReview(value["id"], value["review"], rating, value["time"])


def record_files(landing: str, span: int) -> List[str]:
    """The record files of a complete span; SpanError if it is not complete."""
    directory = span_dir(landing, span)
    if not fileio.exists(posixpath.join(directory, MARKER)):
        raise SpanError(f"{directory}: not ready (no {MARKER} marker): a span is read only once "
                        "its writer has finished it")
    return sorted(fileio.glob(posixpath.join(directory, "*" + RECORDS_SUFFIX)))


def read_file(path: str) -> Iterator[RatedReview]:
    """The records of one file, validated; SpanError at the first bad one."""
    with fileio.open(path, "rb") as f, gzip.GzipFile(fileobj=f) as unzipped:
        text = io.TextIOWrapper(unzipped, encoding="utf-8")
        try:
            for number, line in enumerate(text, start=1):
                if line.strip():
                    yield parse_record(line, f"{path}:{number}")
        except UnicodeDecodeError as e:
            raise SpanError(f"{path}: not UTF-8 text ({e.reason})") from e
        except (OSError, EOFError) as e:
            raise SpanError(f"{path}: not a readable gzip file ({e})") from e


def read_marker(landing: str, span: int) -> Marker:
    """The marker of a complete span; SpanError if it has none or it is not the contract's."""
    path = posixpath.join(span_dir(landing, span), MARKER)
    try:
        with fileio.open(path) as f:
            value = json.loads(f.read())
        window = value.get("window")
        return Marker(float(value["completed"]), tuple(window) if window else None)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise SpanError(f"{path}: not a span marker ({type(e).__name__}: {e})") from e


def landed_ids(landing: str) -> Set[str]:
    """The ids of every review in the complete spans under `landing`."""
    return {review.id for span in ready_spans(landing)
            for path in record_files(landing, span) for review in read_file(path)}


def write_span(landing: str, span: int, reviews: Iterable[RatedReview],
               part: str = "part-00000",
               window: Optional[Tuple[float, float]] = None) -> str:
    """Writes a span's records, then its marker (with the event-time `window` it holds, if
    any); refuses to touch a span that is already complete. Returns the span's directory."""
    directory = span_dir(landing, span)
    marker = posixpath.join(directory, MARKER)
    if fileio.exists(marker):
        raise SpanError(f"{directory} is complete already; a complete span never changes")
    fileio.makedirs(directory)
    path = posixpath.join(directory, part + RECORDS_SUFFIX)
    with fileio.open(path + ".partial", "wb") as f, gzip.GzipFile(fileobj=f, mode="wb") as zipped:
        for review in reviews:
            zipped.write((review.to_json() + "\n").encode("utf-8"))
    fileio.rename(path + ".partial", path, overwrite=True)
    with fileio.open(marker, "w") as f:
        f.write(json.dumps({"completed": time.time(), "window": list(window) if window else None})
                + "\n")
    return directory
