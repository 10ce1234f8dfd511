"""The stream ingest job's transforms (streaming/ingest.py) under Beam's TestStream: windows
close on the heartbeat, late reviews become dead letters, a restart duplicates nothing."""
import datetime
import json

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to

import beam_graph
from components import spans
from streaming import ingest, records

# TestStream runs on Beam's streaming DirectRunner; naming it skips the Prism download attempt.
STREAMING = PipelineOptions(["--runner=BundleBasedDirectRunner", "--streaming"])
BATCH = PipelineOptions(["--runner=FnApiRunner"])
T0 = 1_800_000_000.0  # a window boundary for 60 s windows


def rated(id_: str, seconds: float, rating: int = 9) -> spans.RatedReview:
    moment = datetime.datetime.fromtimestamp(T0 + seconds, datetime.timezone.utc)
    return spans.RatedReview(id_, f"review {id_}", rating, moment.isoformat())


def line(text: str, number: int = 1) -> records.FeedLine:
    return records.FeedLine(f"feed/a.jsonl:{number}", text.encode("utf-8"), T0)


def ids_of(landing: str, span: int):
    return sorted(r.id for p in spans.record_files(landing, span) for r in spans.read_file(p))


def cut(landing: str, events: TestStream, expected_spans, expected_dead) -> None:
    """Runs CutIntoSpans (60 s windows, 10 s lateness) over `events`, asserting the (span,
    reviews) written and the (where, reason) of the dead letters."""
    with beam.Pipeline(options=STREAMING) as p:
        result = p | events | ingest.CutIntoSpans(landing, 60, 10)
        assert_that(result.spans | "Spans" >> beam.Map(lambda w: (w.span, w.reviews)),
                    equal_to(expected_spans), label="CheckSpans")
        assert_that(result[ingest.DEAD] | "Dead" >> beam.Map(lambda d: (d.where, d.reason)),
                    equal_to(expected_dead), label="CheckDead")


def test_a_window_becomes_a_span_once_the_clock_passes_its_end_plus_lateness(tmp_path):
    landing = str(tmp_path / "landing")
    events = (TestStream()
              .add_elements([rated("a", 5), rated("b", 50), rated("c", 65)])
              .add_elements([records.Tick(T0 + 69)])    # window 0-60 + 10 s lateness: still open
              .add_elements([rated("d", 30)])           # late by event time, but in time
              .add_elements([records.Tick(T0 + 70)])    # closes 0-60 as span 1
              .add_elements([rated("e", 40)])           # after its window closed: late
              .add_elements([records.Tick(T0 + 131)]))  # closes 60-120 as span 2
    cut(landing, events, [(1, 3), (2, 1)],
        [("review e", "late: its window 08:00:00-08:01:00 closed as span 1")])
    assert ids_of(landing, 1) == ["a", "b", "d"] and ids_of(landing, 2) == ["c"]
    assert spans.read_marker(landing, 1).window == (T0, T0 + 60)


def test_a_window_keeps_its_lateness_while_an_earlier_one_closes(tmp_path):
    landing = str(tmp_path / "landing")
    events = (TestStream()
              .add_elements([rated("a", 5), rated("b", 65)])
              .add_elements([records.Tick(T0 + 125)])  # 0-60 closes; 60-120 has until 130
              .add_elements([rated("c", 100)])
              .add_elements([records.Tick(T0 + 130)]))
    cut(landing, events, [(1, 1), (2, 2)], [])
    assert ids_of(landing, 2) == ["b", "c"]


def test_a_restarted_job_neither_rewrites_a_landed_window_nor_loses_an_open_one(tmp_path):
    landing = str(tmp_path / "landing")
    spans.write_span(landing, 1, [rated("a", 5)], window=(T0, T0 + 60))
    events = (TestStream()
              .add_elements([rated("b", 20), rated("c", 70)])  # b: its window landed already
              .add_elements([records.Tick(T0 + 200)]))
    cut(landing, events, [(2, 1)],
        [("review b", "late: its window 08:00:00-08:01:00 closed as span 1")])
    assert ids_of(landing, 2) == ["c"]


def test_repeated_ids_in_a_window_land_once(tmp_path):
    landing = str(tmp_path / "landing")
    events = (TestStream()
              .add_elements([rated("a", 5), rated("a", 6, rating=2), rated("b", 7)])
              .add_elements([records.Tick(T0 + 100)]))
    cut(landing, events, [(1, 2)], [])
    first = [r for p in spans.record_files(landing, 1) for r in spans.read_file(p)]
    assert [(r.id, r.rating) for r in first] == [("a", 9), ("b", 9)]


def test_bad_records_become_dead_letters_naming_line_and_reason():
    good = json.dumps({"id": "a", "review": "Fine.", "rating": 8, "time": "2026-12-06T10:00:00Z"})
    lines = [line(good), line("{oops", 2), line(good.replace('8', '11'), 3)]
    with beam.Pipeline(options=BATCH) as p:
        parsed = (p | beam.Create(lines)
                  | beam.ParDo(ingest.ParseRatedReviews()).with_outputs(ingest.DEAD, main="ok"))
        assert_that(parsed.ok | beam.Map(lambda r: r.id), equal_to(["a"]), label="Good")
        assert_that(parsed[ingest.DEAD] | beam.Map(lambda d: (d.where, d.reason)),
                    equal_to([("feed/a.jsonl:2", "not JSON (Expecting property name enclosed "
                                                 "in double quotes)"),
                              ("feed/a.jsonl:3", "rating must be an integer 1-10, got 11")]),
                    label="Dead")


def test_reviews_a_complete_span_holds_are_skipped(tmp_path):
    landing = str(tmp_path / "landing")
    spans.write_span(landing, 1, [rated("a", 5)])
    with beam.Pipeline(options=BATCH) as p:
        fresh = (p | beam.Create([rated("a", 5), rated("b", 6)])
                 | beam.ParDo(ingest.SkipLanded(landing)) | beam.Map(lambda r: r.id))
        assert_that(fresh, equal_to(["b"]))


def test_a_pubsub_source_reads_its_subscription_beside_the_clock(tmp_path):
    """Pub/Sub cannot run here (no emulator, no network): the job's graph is what is checked."""
    pipeline = beam.Pipeline(options=PipelineOptions(["--streaming"]))
    ingest.build(pipeline, "pubsub:projects/my-project/subscriptions/reviews",
                 str(tmp_path / "landing"), str(tmp_path / "dead"), 60, 10)
    assert beam_graph.pubsub_subscriptions(pipeline) == [
        "projects/my-project/subscriptions/reviews"]
