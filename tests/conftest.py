import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # for synthetic_imdb

import synthetic_imdb  # noqa: E402


@pytest.fixture
def tiny_archive(tmp_path):
    return synthetic_imdb.write_archive(str(tmp_path / "aclImdb_tiny.tar.gz"), per_folder=5)


@pytest.fixture
def tiny_tree(tmp_path):
    return synthetic_imdb.write_tree(str(tmp_path / "extracted"), per_folder=5)
