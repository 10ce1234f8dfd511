import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # for the helper modules beside the tests

import pipeline_runs  # noqa: E402
import synthetic_imdb  # noqa: E402


@pytest.fixture
def tiny_archive(tmp_path):
    return synthetic_imdb.write_archive(str(tmp_path / "aclImdb_tiny.tar.gz"), per_folder=5)


@pytest.fixture
def tiny_tree(tmp_path):
    return synthetic_imdb.write_tree(str(tmp_path / "extracted"), per_folder=5)


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    return synthetic_imdb.write_archive(
        str(tmp_path_factory.mktemp("data") / "aclImdb_tiny.tar.gz"), per_folder=50)


@pytest.fixture(scope="session")
def runs(tmp_path_factory, data):
    """The pipeline run three times into one output dir (pipeline_runs.three_runs)."""
    return pipeline_runs.three_runs(data, str(tmp_path_factory.mktemp("out")))


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium, for the e2e tests that open reports (report_browser.py)."""
    import report_browser  # selenium, only where a report is opened
    driver = report_browser.start_browser(str(tmp_path_factory.mktemp("chromium-profile")))
    yield driver
    driver.quit()
