"""Commands without a log file hide library notices, not warnings that matter."""
import warnings

from cli import logs


def test_quiet_libraries_hides_keras_end_of_data_notice_only():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logs.quiet_libraries()
        warnings.warn("Your input ran out of data; interrupting training.", UserWarning)
        warnings.warn("something the user must see", UserWarning)
    assert [str(w.message) for w in caught] == ["something the user must see"]
