"""The run summary the console prints at the end of `imdb-lstm run`."""
from pipeline import outcome


def test_the_summary_prints_an_undefined_metric_as_n_a():
    # A model that never predicts positive has no precision: TFMA gives NaN, read back as None.
    run = outcome.RunOutcome(
        run_id="r1", created_ms=0, component_states={}, blessed=True, pushed=False,
        metrics={"binary_accuracy": 0.5, "precision": None, "example_count": 200.0},
        pushed_version=None, pushed_destination=None, new_version=False, pushed_at=None,
        output_uris={})
    assert run.summary_lines() == ["run r1", "  test binary_accuracy: 0.5000",
                                   "  test precision: n/a", "  test example_count: 200",
                                   "  blessed: yes", "  pushed: no"]
