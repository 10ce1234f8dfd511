"""Ingest parsing: the aclImdb layout, and a clear error for each kind of bad input."""
import glob
import gzip
import os

import pytest

import synthetic_imdb
from components import imdb_reader
from components.imdb_reader import IngestError


def _read(input_base, pattern, unlabelled=False):
    return list(imdb_reader.read_source(
        input_base, pattern, lambda p: glob.glob(p), lambda p: open(p, "rb"), unlabelled))


def _read_archive(path, unlabelled=False):
    return _read(os.path.dirname(path), os.path.basename(path), unlabelled)


def test_archive_yields_labelled_reviews_and_skips_the_rest(tiny_archive):
    reviews = _read_archive(tiny_archive)
    assert len(reviews) == 20  # 5 per folder; unsup/ skipped
    assert {(r.split, r.label) for r in reviews} == {("train", 0), ("train", 1), ("test", 0),
                                                     ("test", 1)}
    for r in reviews:
        assert r.rating in (range(7, 11) if r.label else range(1, 5))
        assert r.text and r.undecodable_bytes == 0
        assert r.key.startswith(f"{r.split}/{'pos' if r.label else 'neg'}/")


@pytest.mark.parametrize("unlabelled", [False, True])
def test_extracted_tree_reads_the_same_reviews_as_the_archive(tiny_archive, tiny_tree,
                                                              unlabelled):
    from_archive = {r.key: r for r in _read_archive(tiny_archive, unlabelled)}
    from_tree = {r.key: r for r in _read(tiny_tree, "aclImdb/*/*/*.txt", unlabelled)}
    assert from_archive == from_tree
    assert all(review.film for review in from_tree.values())


def test_each_review_gets_the_film_on_its_line_of_the_folders_urls_file(tmp_path):
    films = ["tt0000007", "tt0000007", "tt0000042"]
    urls = "".join(f"http://www.imdb.com/title/{film}/usercomments\n" for film in films)
    archive = synthetic_imdb.write_archive(str(tmp_path / "films.tar.gz"), per_folder=3,
                                           extra={"aclImdb/train/urls_neg.txt": urls.encode()})
    reviews = {r.key.rsplit("_", 1)[0]: r.film for r in _read_archive(archive)}
    assert [reviews[f"train/neg/{review_id}"] for review_id in range(3)] == films
    assert reviews["train/pos/0"] != reviews["test/pos/0"]  # each folder's own urls file


def test_reviews_without_a_urls_line_have_no_film_and_a_warning(tmp_path, caplog):
    archive = synthetic_imdb.write_archive(
        str(tmp_path / "short.tar.gz"), per_folder=4, skip=["aclImdb/test/urls_neg.txt"],
        extra={"aclImdb/train/urls_pos.txt": b"http://www.imdb.com/title/tt0000001/\n"})
    with caplog.at_level("WARNING", logger=imdb_reader.__name__):
        reviews = _read_archive(archive)
    without_film = sorted(r.key.rsplit("_", 1)[0] for r in reviews if r.film is None)
    assert without_film == ["test/neg/0", "test/neg/1", "test/neg/2", "test/neg/3",
                            "train/pos/1", "train/pos/2", "train/pos/3"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    # Only the training folders' films matter: they decide the train/eval holdout.
    assert len(warnings) == 1
    assert "3 of the 4 reviews in train/pos have no line in train/urls_pos.txt" in warnings[0]


def test_urls_file_that_names_no_film_is_named_in_the_error(tmp_path):
    archive = synthetic_imdb.write_archive(
        str(tmp_path / "bad_urls.tar.gz"), per_folder=2,
        extra={"aclImdb/test/urls_pos.txt": b"http://www.imdb.com/title/tt0000001/\nnot a url\n"})
    with pytest.raises(IngestError, match="line 2 is not an IMDb title URL") as error:
        _read_archive(archive)
    assert "aclImdb/test/urls_pos.txt" in str(error.value)


def test_unlabelled_reader_yields_only_the_unsup_folder(tmp_path):
    archive = synthetic_imdb.write_archive(str(tmp_path / "all.tar.gz"), per_folder=3,
                                           unlabelled=7)
    reviews = _read_archive(archive, unlabelled=True)
    assert len(reviews) == 7
    for r in reviews:
        assert (r.split, r.label, r.rating) == ("train", None, 0)
        assert r.key.startswith("train/unsup/") and r.text and r.film


def test_unlabelled_review_with_a_rating_is_named_in_the_error(tmp_path):
    member = "aclImdb/train/unsup/5_8.txt"
    archive = synthetic_imdb.write_archive(str(tmp_path / "bad.tar.gz"), per_folder=2,
                                           extra={member: b"fine"})
    with pytest.raises(IngestError, match="rating 8 is inconsistent with folder 'unsup' "
                                          r"\(expects 0\)") as error:
        _read_archive(archive, unlabelled=True)
    assert member in str(error.value)
    assert len(_read_archive(archive)) == 8  # the labelled reader never opens it


def test_archive_without_unlabelled_reviews(tmp_path):
    archive = synthetic_imdb.write_archive(str(tmp_path / "labelled.tar.gz"), per_folder=2,
                                           unlabelled=0)
    with pytest.raises(IngestError, match="no reviews under train/unsup") as error:
        _read_archive(archive, unlabelled=True)
    assert "train/unsup/{id}_0.txt" in str(error.value)


@pytest.mark.parametrize("member, data, message", [
    ("/etc/aclImdb/train/pos/1_9.txt", b"good", "absolute path"),
    ("aclImdb/../train/pos/1_9.txt", b"good", "contains '..'"),
    ("aclImdb/train/pos/review.txt", b"good", "file name is not '{id}_{rating}.txt'"),
    ("aclImdb/train/pos/7_3.txt", b"good", "rating 3 is inconsistent with folder 'pos'"),
    ("aclImdb/test/neg/8_8.txt", b"bad", "rating 8 is inconsistent with folder 'neg'"),
    ("aclImdb/train/neg/9_2.txt", b"  \n ", "the review is empty"),
])
def test_bad_member_is_named_in_the_error(tmp_path, member, data, message):
    archive = synthetic_imdb.write_archive(str(tmp_path / "bad.tar.gz"), per_folder=2,
                                           extra={member: data})
    with pytest.raises(IngestError) as error:
        _read_archive(archive)
    assert message in str(error.value)
    assert member in str(error.value)
    assert archive in str(error.value)


def test_non_utf8_bytes_are_replaced_and_counted(tmp_path):
    archive = synthetic_imdb.write_archive(str(tmp_path / "latin1.tar.gz"), per_folder=2,
                                           extra={"aclImdb/train/pos/77_8.txt":
                                                  "Caf\xe9 and na\xefve".encode("latin-1")})
    review = next(r for r in _read_archive(archive) if r.key == "train/pos/77_8.txt")
    assert review.text == "Caf\ufffd and na\ufffdve"
    assert review.undecodable_bytes == 2


@pytest.mark.parametrize("missing", ["aclImdb/test/", "aclImdb/train/neg/"])
def test_missing_split_or_class_folder(tmp_path, missing):
    archive = synthetic_imdb.write_archive(str(tmp_path / "partial.tar.gz"), per_folder=2,
                                           skip=[missing])
    with pytest.raises(IngestError, match="a folder is missing or empty") as error:
        _read_archive(archive)
    assert missing.split("/", 1)[1].rstrip("/") in str(error.value)


def test_truncated_archive(tmp_path, tiny_archive):
    truncated = tmp_path / "truncated.tar.gz"
    data = open(tiny_archive, "rb").read()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match="corrupt or truncated archive") as error:
        _read_archive(str(truncated))
    assert str(truncated) in str(error.value)


def test_corrupt_archive(tmp_path):
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(gzip.compress(b"this is not a tar archive" * 100))
    with pytest.raises(IngestError, match="corrupt or truncated archive"):
        _read_archive(str(corrupt))


def test_not_gzip_at_all(tmp_path):
    plain = tmp_path / "plain.tar.gz"
    plain.write_bytes(b"hello")
    with pytest.raises(IngestError, match="corrupt or truncated archive"):
        _read_archive(str(plain))
