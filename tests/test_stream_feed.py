"""`imdb-lstm stream feed`: the reviews of one split of an aclImdb source land as whole JSON Lines
files, `rate x seconds-per-file` reviews a file, at that pace, each review once."""
import glob
import json
import os
import time

import synthetic_imdb
from cli import main as cli_main


def landed(directory):
    """Each landed file's records."""
    return [[json.loads(line) for line in open(path)]
            for path in sorted(glob.glob(os.path.join(directory, "feed-*.jsonl")))]


def feed(tmp_path, *flags):
    archive = synthetic_imdb.write_archive(str(tmp_path / "imdb.tar.gz"), per_folder=5,
                                           unlabelled=4)
    to = str(tmp_path / "feed")
    started = time.monotonic()
    status = cli_main.main(["stream", "feed", "--data", archive, "--to", to, *flags])
    return status, landed(to), time.monotonic() - started


def test_a_limited_feed_lands_its_reviews_in_files_of_rate_times_seconds(tmp_path, capsys):
    status, files, seconds = feed(tmp_path, "--rate", "20", "--seconds-per-file", "0.1",
                                  "--limit", "7")
    assert status == 0
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'feed'}: sent 7 train reviews"
    assert sorted(len(f) for f in files) == [1, 2, 2, 2]
    records = [r for f in files for r in f]
    assert len({r["id"] for r in records}) == 7
    assert all(r["id"].startswith("train/") and r["review"] and 1 <= r["rating"] <= 10
               and r["time"] for r in records)
    assert seconds >= 0.3  # the fourth file waits for its turn, three files of 0.1 s after the first
    assert not glob.glob(os.path.join(tmp_path / "feed", ".*partial"))  # only whole files


def test_the_unlabelled_split_feeds_reviews_without_a_rating(tmp_path):
    status, files, _ = feed(tmp_path, "--split", "unsup", "--rate", "1000")
    records = [r for f in files for r in f]
    assert status == 0 and len(records) == 4
    assert all(set(r) == {"id", "review", "time"} and "/unsup/" in r["id"]
               for r in records)
