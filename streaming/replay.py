"""A replay feed for trying continuous training locally: the official training reviews of an
aclImdb source cut into N spans and written under the span contract (components/spans.py), one
every so many seconds if asked, as a live feed of rated reviews would land.

The cut is deterministic and by film: every review of a film lands in the same span. A span can
be made to drift (only negative, or only short, reviews of its part) for demonstrations and
tests of the drift gate.
"""
import datetime
import hashlib
import logging
import time
from typing import Callable, Dict, List, Optional

from tfx.dsl.io import fileio

from components import imdb_reader, spans
from components.data_source import resolve
from trainer import features

_log = logging.getLogger(__name__)

# What a drifted span keeps of its part.
DRIFTS: Dict[str, Callable[[imdb_reader.Review], bool]] = {
    "negative": lambda review: review.label == 0,
    "short": lambda review: len(review.text.split()) < features.LENGTH_BUCKET_BOUNDS[1],
}


def _span_of(review: imdb_reader.Review, count: int) -> int:
    """1..count, by a stable hash of the review's film (its key when it has none)."""
    group = (review.film or review.key).encode("utf-8")
    return int(hashlib.sha256(b"span:" + group).hexdigest(), 16) % count + 1


def training_reviews_by_span(data: str, cache_dir: str, count: int) -> Dict[int, List]:
    source = resolve(data, cache_dir)
    parts: Dict[int, List[imdb_reader.Review]] = {span: [] for span in range(1, count + 1)}
    for review in imdb_reader.read_source(source.input_base, source.pattern, fileio.glob,
                                          lambda path: fileio.open(path, "rb")):
        if review.split == "train":
            parts[_span_of(review, count)].append(review)
    return parts


def _rated(review: imdb_reader.Review, now: str) -> spans.RatedReview:
    return spans.RatedReview(id=review.key, review=review.text, rating=review.rating, time=now)


def replay(data: str, landing: str, count: int, cache_dir: str, every: float = 0.0,
           drift: Optional[Dict[int, str]] = None) -> List[int]:
    """Writes spans 1..count that are not complete yet, `every` seconds apart; `drift` maps a
    span to one of DRIFTS. Returns the spans written."""
    unknown = {kind for kind in (drift or {}).values()} - set(DRIFTS)
    if count < 1 or unknown:
        raise ValueError(f"spans must be >= 1 and drift one of {sorted(DRIFTS)}; got {count}, "
                         f"{sorted(unknown)}")
    parts = training_reviews_by_span(data, cache_dir, count)
    ready = set(spans.ready_spans(landing))
    written = []
    for span, reviews in parts.items():
        if span in ready:
            continue
        if written and every:
            time.sleep(every)
        kind = (drift or {}).get(span)
        kept = [r for r in reviews if DRIFTS[kind](r)] if kind else reviews
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        directory = spans.write_span(landing, span, (_rated(r, now) for r in kept))
        _log.info("span %d: %d reviews%s -> %s", span, len(kept),
                  f" (drifted: {kind} only)" if kind else "", directory)
        written.append(span)
    return written
