"""The span contract (components/spans.py), the replay feed that writes it, and the window a
continuous-training run reads."""
import gzip
import json
import os

import pytest

import synthetic_imdb
from cli import main as cli_main
from components import spans
from components.span_example_gen import SPAN_HOLDOUT_SPLIT, newest_span, split_of, window_spans
from streaming import replay
from trainer import features

GOOD = {"id": "a1", "review": "A fine film.", "rating": 8, "time": "2026-12-06T10:00:00Z"}


@pytest.mark.parametrize("record, reason", [
    ("{not json", "not JSON"),
    ("[1, 2]", "expected an object"),
    (json.dumps({**GOOD, "rating": None}), "rating must be an integer 1-10"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "time"}), "missing time"),
    (json.dumps({**GOOD, "rating": 11}), "rating must be an integer 1-10, got 11"),
    (json.dumps({**GOOD, "rating": True}), "rating must be an integer 1-10"),
    (json.dumps({**GOOD, "id": ""}), "id must be a non-empty string"),
    (json.dumps({**GOOD, "review": "  "}), "review must be non-empty text"),
    (json.dumps({**GOOD, "time": "yesterday"}), "time must be ISO-8601, got 'yesterday'"),
])
def test_a_bad_record_is_refused_naming_file_line_and_reason(tmp_path, record, reason):
    path = str(tmp_path / "part.jsonl.gz")
    with gzip.open(path, "wt") as f:
        f.write(json.dumps(GOOD) + "\n\n" + record + "\n")
    with pytest.raises(spans.SpanError, match=f"^{path}:3: {reason}"):
        list(spans.read_file(path))


def test_labels_follow_the_rating_and_neutral_ratings_have_none():
    assert [features.label_of(r) for r in range(1, 11)] == [0, 0, 0, 0, None, None, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="rating must be in 1..10"):
        features.label_of(0)


def test_a_span_without_its_marker_is_never_read(tmp_path):
    landing = str(tmp_path)
    spans.write_span(landing, 1, [spans.RatedReview(**GOOD)])
    os.makedirs(spans.span_dir(landing, 2))  # a writer still at work: records, no marker
    with gzip.open(os.path.join(spans.span_dir(landing, 2), "part-00000.jsonl.gz"), "wt") as f:
        f.write(json.dumps(GOOD) + "\n")
    assert spans.ready_spans(landing) == [1]
    with pytest.raises(spans.SpanError, match="not ready"):
        spans.record_files(landing, 2)
    assert newest_span(landing, 0) == 1
    with pytest.raises(spans.SpanError, match="span-000002: not a complete span"):
        newest_span(landing, 2)


def test_a_complete_span_never_changes(tmp_path):
    spans.write_span(str(tmp_path), 1, [spans.RatedReview(**GOOD)])
    with pytest.raises(spans.SpanError, match="complete already"):
        spans.write_span(str(tmp_path), 1, [])
    [path] = spans.record_files(str(tmp_path), 1)
    assert list(spans.read_file(path)) == [spans.RatedReview(**GOOD)]


def test_the_window_is_the_last_spans_up_to_the_newest():
    assert window_spans(1, 3) == [1]
    assert window_spans(2, 3) == [1, 2]
    assert window_spans(5, 3) == [3, 4, 5]
    assert window_spans(5, 1) == [5]


def test_the_gate_holds_out_reviews_of_the_newest_span_only_and_they_train_later():
    ids = [f"review-{i}" for i in range(10_000)]
    newest = [split_of(i, True, 10) for i in ids]
    older = [split_of(i, False, 10) for i in ids]
    # About a tenth each for eval and the gate, the same eval reviews in every span.
    assert 900 < newest.count("eval") < 1100 and 900 < newest.count(SPAN_HOLDOUT_SPLIT) < 1100
    assert [s == "eval" for s in newest] == [s == "eval" for s in older]
    assert SPAN_HOLDOUT_SPLIT not in older
    # Once its span is no longer the newest, a held-out review trains.
    assert {o for n, o in zip(newest, older) if n == SPAN_HOLDOUT_SPLIT} == {"train"}


def test_replay_cuts_the_training_reviews_by_film_into_spans(tmp_path):
    data = synthetic_imdb.write_archive(str(tmp_path / "imdb.tar.gz"), per_folder=40)
    landing = str(tmp_path / "landing")
    assert replay.replay(data, landing, 3, str(tmp_path)) == [1, 2, 3]
    by_span = {span: [r for path in spans.record_files(landing, span)
                      for r in spans.read_file(path)] for span in (1, 2, 3)}
    ids = [r.id for reviews in by_span.values() for r in reviews]
    assert len(ids) == len(set(ids)) == 80  # every training review once, no test review
    assert all(review_id.startswith("train/") for review_id in ids)
    parts = replay.training_reviews_by_span(data, str(tmp_path), 3)
    films = [{r.film for r in parts[span]} for span in (1, 2, 3)]
    assert not (films[0] & films[1] or films[0] & films[2] or films[1] & films[2])
    # Complete spans are kept; a drifted span keeps only its part's negative reviews.
    assert replay.replay(data, landing, 3, str(tmp_path)) == []
    drifted = str(tmp_path / "drifted")
    replay.replay(data, drifted, 3, str(tmp_path), drift={2: "negative"})
    [path] = spans.record_files(drifted, 2)
    kept = list(spans.read_file(path))
    assert kept and all(r.label == 0 for r in kept)
    assert {r.id for r in kept} == {r.id for r in by_span[2] if r.label == 0}


def test_replay_every_lands_its_spans_that_many_seconds_apart(tmp_path):
    data = synthetic_imdb.write_archive(str(tmp_path / "imdb.tar.gz"), per_folder=10)
    landing = str(tmp_path / "landing")
    assert cli_main.main(["stream", "replay", "--data", data, "--landing", landing, "--spans",
                          "3", "--every", "0.5"]) == 0
    completed = [spans.read_marker(landing, span).completed for span in (1, 2, 3)]
    gaps = [later - earlier for earlier, later in zip(completed, completed[1:])]
    assert all(gap >= 0.5 for gap in gaps), gaps
