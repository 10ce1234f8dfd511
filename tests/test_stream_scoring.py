"""The scoring job's parts (streaming/scoring.py, streaming/serving_model.py): the serving model
follows the newest version that loads, and RunInference over it under TestStream switches to a
version pushed mid-stream, scoring every review once."""
import json
import os

import apache_beam as beam
import pytest
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to

import beam_graph
import serving_models
from streaming import records, scoring, serving_model

STREAMING = PipelineOptions(["--runner=BundleBasedDirectRunner", "--streaming"])
BATCH = PipelineOptions(["--runner=FnApiRunner"])


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_newest_version_serves_and_a_newer_one_takes_over_after_a_poll(tmp_path):
    base = str(tmp_path)
    serving_models.write_version(base, 1, "good")
    clock = Clock()
    model = serving_model.LatestVersion(base, poll_seconds=10, clock=clock)
    assert model.score(["a good film", "a dull film"])[0] == "1"
    serving_models.write_version(base, 2, "dull")
    clock.now = 9.9
    assert model.score(["a dull film"])[0] == "1"  # not looked yet
    clock.now = 10.0
    version, scores = model.score(["a good film", "a dull film"])
    assert version == "2" and scores.tolist() == pytest.approx([0.1, 0.9])


def test_a_version_that_does_not_load_is_refused_and_the_serving_one_kept(tmp_path, caplog):
    base = str(tmp_path)
    serving_models.write_version(base, 1, "good")
    clock = Clock()
    model = serving_model.LatestVersion(base, poll_seconds=1, clock=clock)
    serving_models.write_broken_version(base, 2)
    clock.now = 1
    assert model.score(["good"])[0] == "1"
    assert "refused model version 2" in caplog.text and "still serving version 1" in caplog.text
    serving_models.write_version(base, 3, "dull")  # a good one after the broken one
    clock.now = 2
    assert model.score(["dull"])[0] == "3"
    assert caplog.text.count("refused model version 2") == 1  # refused once, not every poll


def test_no_loadable_version_is_an_error_naming_the_directory(tmp_path):
    serving_models.write_broken_version(str(tmp_path), 1)
    with pytest.raises(serving_model.ModelVersionError, match=f"^{tmp_path}: no model version "
                                                             r"loads \(versions: \['1'\]\)"):
        serving_model.LatestVersion(str(tmp_path), poll_seconds=1)


def request(id_: str, review: str) -> scoring.ScoringRequest:
    return scoring.ScoringRequest(id_, review, "2026-12-06T10:00:00+00:00", 0.0)


class PushVersion(beam.DoFn):
    """Test stand-in for the Pusher, inside the stream: a "push" element writes version 2."""

    def __init__(self, base: str):
        self._base = base

    def process(self, element):
        if element == "push":
            serving_models.write_version(self._base, 2, "dull")
        else:
            yield element


def test_a_model_pushed_mid_stream_scores_what_comes_after_it(tmp_path):
    base = str(tmp_path)
    serving_models.write_version(base, 1, "good")
    events = (TestStream()
              .add_elements([request("a", "good"), request("b", "dull")])
              .advance_watermark_to(10)
              .add_elements(["push"])
              .advance_watermark_to(20)
              .add_elements([request("c", "good"), request("d", "dull")]))
    with beam.Pipeline(options=STREAMING) as p:
        scores = (p | events | beam.ParDo(PushVersion(base))
                  | RunInference(serving_model.ServingModelHandler(base, poll_seconds=0))
                  | beam.Map(scoring.to_score))
        assert_that(scores | beam.Map(lambda s: (s.id, s.model_version, s.label)),
                    equal_to([("a", "1", "positive"), ("b", "1", "negative"),
                              ("c", "2", "negative"), ("d", "2", "positive")]))


def test_bad_records_are_dead_letters_and_good_ones_keep_their_event_time():
    texts = [b'{"id": "a", "review": "x", "time": "2026-12-06T10:00:00Z"}',
             b'{"id": "b", "review": "y"}', b'{"id": "c"}',
             b'{"id": "d", "review": "z", "time": "soon"}', b"\xff\xfe"]
    lines = [records.FeedLine(f"in.jsonl:{n}", text, 5.0) for n, text in enumerate(texts, 1)]
    with beam.Pipeline(options=BATCH) as p:
        parsed = (p | beam.Create(lines)
                  | beam.ParDo(scoring.ParseReviews()).with_outputs(scoring.DEAD, main="ok"))
        assert_that(parsed.ok | beam.Map(lambda r: (r.id, r.time)),
                    equal_to([("a", "2026-12-06T10:00:00Z"),
                              ("b", "1970-01-01T00:00:05+00:00")]), label="Good")
        assert_that(parsed[scoring.DEAD] | beam.Map(lambda d: (d.where, d.reason)),
                    equal_to([("in.jsonl:3", "missing review"),
                              ("in.jsonl:4", "time must be ISO-8601, got 'soon'"),
                              ("in.jsonl:5", "not UTF-8 text")]), label="Dead")


def test_score_files_appear_whole_with_one_json_object_a_line(tmp_path):
    out = str(tmp_path / "scores")
    path = records.write_json_lines(out, "scores", [scoring.Score("a", 0.9, "positive", "1",
                                                                  "t", 1.0, 2.0)])
    assert os.listdir(out) == [os.path.basename(path)]  # no partial file left beside it
    with open(path) as f:
        assert [json.loads(line)["id"] for line in f] == ["a"]


def test_a_pubsub_input_is_read_from_its_subscription(tmp_path):
    """Pub/Sub cannot run here (no emulator, no network): the job's graph is what is checked."""
    pipeline = beam.Pipeline(options=PipelineOptions(["--streaming"]))
    scoring.build(pipeline, str(tmp_path), "pubsub:projects/my-project/subscriptions/reviews",
                  str(tmp_path / "out"), str(tmp_path / "dead"), streaming=True)
    assert beam_graph.pubsub_subscriptions(pipeline) == [
        "projects/my-project/subscriptions/reviews"]
