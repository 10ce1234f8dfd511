"""`imdb-lstm stream feed`: a live feed for trying the streaming jobs locally. The reviews of an
aclImdb source are dropped into a directory as JSON Lines files (streaming/records.py), `rate`
reviews a second, each stamped with the time it was sent, as a subscription would deliver them:
rated records (components/spans.py) from the labelled splits, `{"id", "review", "time"}` from
the unlabelled one. They go in a fixed pseudo-random order, since reviews of all films and both
labels arrive mixed (an archive holds its negative reviews first).
"""
import dataclasses
import hashlib
import datetime
import itertools
import logging
import time
from typing import Iterable, Iterator, List, Optional

from tfx.dsl.io import fileio

from components import imdb_reader, spans
from components.data_source import resolve
from streaming import records

_log = logging.getLogger("streaming.feed")
SPLITS = ("train", "test", "unsup")


@dataclasses.dataclass(frozen=True)
class UnratedReview:
    id: str
    review: str
    time: str


def reviews_of(data: str, cache_dir: str, split: str) -> Iterator[imdb_reader.Review]:
    """The reviews of one official split ('unsup': the unlabelled ones) of an aclImdb source."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    unlabelled = split == "unsup"
    source = resolve(data, cache_dir, unlabelled=unlabelled)
    for review in imdb_reader.read_source(source.input_base, source.pattern, fileio.glob,
                                          lambda path: fileio.open(path, "rb"), unlabelled):
        if unlabelled or review.split == split:
            yield review


def _record(review: imdb_reader.Review, sent: str):
    if review.label is None:
        return UnratedReview(review.key, review.text, sent)
    return spans.RatedReview(review.key, review.text, review.rating, sent)


def _chunks(items: Iterable, size: int) -> Iterator[List]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def feed(data: str, to: str, rate: float, cache_dir: str, split: str = "train",
         limit: Optional[int] = None, seconds_per_file: float = 1.0) -> int:
    """Writes the reviews of `split` under `to`, a file every `seconds_per_file` holding
    `rate * seconds_per_file` of them; returns how many were sent."""
    if rate <= 0 or seconds_per_file <= 0:
        raise ValueError(f"rate and seconds per file must be > 0, got {rate}, {seconds_per_file}")
    per_file = max(1, round(rate * seconds_per_file))
    reviews = sorted(reviews_of(data, cache_dir, split),
                     key=lambda r: hashlib.sha256(r.key.encode("utf-8")).digest())[:limit]
    sent, started = 0, time.monotonic()
    for number, chunk in enumerate(_chunks(reviews, per_file)):
        # An absolute schedule: a slow write does not lower the rate.
        time.sleep(max(0.0, started + number * seconds_per_file - time.monotonic()))
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        records.write_json_lines(to, "feed", [_record(review, now) for review in chunk])
        sent += len(chunk)
        if number % max(1, round(30 / seconds_per_file)) == 0:
            _log.info("%d reviews sent to %s", sent, to)
    return sent
