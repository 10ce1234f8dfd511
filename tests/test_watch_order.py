"""`watch` runs a span only once every span of its window is complete, in order: a span that
lands before an earlier one of its window waits for it instead of failing and being counted as
processed (which lost it for good)."""
import logging
import os

from cli import watch
from components import spans
from pipeline.config import PipelineConfig

REVIEW = spans.RatedReview("r1", "a fine film", 9, "2026-12-07T00:00:00Z")


def landed(landing, *numbers, incomplete=()):
    """Spans written under `landing`; those in `incomplete` without their marker yet."""
    for span in numbers:
        spans.write_span(str(landing), span, [REVIEW])
        if span in incomplete:
            os.remove(os.path.join(spans.span_dir(str(landing), span), spans.MARKER))


def config_for(tmp_path, window=3):
    return PipelineConfig(landing=str(tmp_path / "landing"), output_dir=str(tmp_path / "out"),
                          window=window)


def test_a_span_waits_for_an_earlier_span_of_its_window(tmp_path):
    landed(tmp_path / "landing", 1, 2, incomplete=(1,))
    pending = watch.pending_spans(config_for(tmp_path))
    assert pending.spans == [] and pending.waiting == 2 and pending.missing == (1,)
    spans.write_span(str(tmp_path / "landing"), 1, [REVIEW])  # span 1's writer finishes
    assert watch.pending_spans(config_for(tmp_path)) == watch.Pending([1, 2])


def test_spans_before_the_gap_run_and_later_ones_wait(tmp_path):
    landed(tmp_path / "landing", 1, 2, 3, 4, incomplete=(3,))
    pending = watch.pending_spans(config_for(tmp_path, window=2))
    assert (pending.spans, pending.waiting, pending.missing) == ([1, 2], 4, (3,))


def test_a_window_of_one_needs_no_earlier_span(tmp_path):
    landed(tmp_path / "landing", 1, 2, incomplete=(1,))
    assert watch.pending_spans(config_for(tmp_path, window=1)) == watch.Pending([2])


def test_watch_once_reports_the_wait_and_runs_nothing(tmp_path, caplog):
    landed(tmp_path / "landing", 1, 2, incomplete=(1,))
    with caplog.at_level(logging.INFO, logger="pipeline"):
        assert watch.watch(config_for(tmp_path), once=True) == 0
    assert "span 2 waits for span(s) [1] of its window to complete" in caplog.text
    assert not os.path.exists(tmp_path / "out" / "metadata")


def test_a_marker_that_cannot_be_read_is_named_and_waited_on(tmp_path):
    landed(tmp_path / "landing", 1, 2)
    marker = os.path.join(spans.span_dir(str(tmp_path / "landing"), 1), spans.MARKER)
    with open(marker, "w") as f:
        f.write("garbage")
    pending = watch.pending_spans(config_for(tmp_path))
    assert (pending.spans, pending.waiting) == ([], 1)
    assert pending.waiting_line().startswith(f"span 1 waits: {marker}: not a span marker")
