"""Reads IMDB reviews in the Stanford aclImdb layout, validating as it goes.

Labelled: `[aclImdb/]{train,test}/{pos,neg}/{id}_{rating}.txt`, ratings 1-4 under `neg` and 7-10
under `pos`. Unlabelled: `[aclImdb/]train/unsup/{id}_0.txt`. A reader reads one of the two kinds;
everything else in the archive (the other kind, bag-of-words files, README) is skipped. A
`.tar.gz` is read as a stream, never extracted to disk.

Beside each folder, `urls_{folder}.txt` names the film of every review: line `id` holds
`http://www.imdb.com/title/{film}/usercomments` for review `{id}_{rating}.txt`. The reader
attaches the film to the review (ingest holds out whole films, see imdb_example_gen); a review
without a line there has no film, with a warning. The archive stores these files after
the reviews, so an archive is streamed twice: once for them, once for the reviews.
"""
import collections
import dataclasses
import logging
import posixpath
import re
import tarfile
import zlib
from typing import BinaryIO, Callable, Counter, Dict, Iterable, Iterator, List, Optional, Tuple

from trainer import features

_log = logging.getLogger(__name__)

OFFICIAL_SPLITS = ("train", "test")
CLASS_LABELS = {"neg": 0, "pos": 1}
RATINGS_BY_CLASS = {"neg": features.NEGATIVE_RATINGS, "pos": features.POSITIVE_RATINGS}
LABELLED_FOLDERS = tuple(f"{split}/{label_folder}" for split in OFFICIAL_SPLITS
                         for label_folder in CLASS_LABELS)
UNLABELLED_FOLDER = "train/unsup"
UNLABELLED_RATING = 0  # what the file names of unlabelled reviews carry
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")

_FILE_NAME = re.compile(r"^(?P<id>\d+)_(?P<rating>\d+)\.txt$")
_FILM_URL = re.compile(r"/title/(?P<film>tt\d+)/")


class IngestError(ValueError):
    """Bad input data; the message names the file and the problem."""


@dataclasses.dataclass(frozen=True)
class Review:
    split: str  # official split: 'train' or 'test'
    label: Optional[int]  # None for an unlabelled review
    rating: int
    text: str
    key: str  # '{split}/{folder}/{file}', the same for an archive and an extracted directory
    undecodable_bytes: int
    film: Optional[str] = None  # IMDb title id ('tt0453418'); None without urls_{folder}.txt


def review_folders(unlabelled: bool) -> Tuple[str, ...]:
    """The '{split}/{folder}' folders a reader of that kind of reviews reads."""
    return (UNLABELLED_FOLDER,) if unlabelled else LABELLED_FOLDERS


def review_location(path: str, folders: Tuple[str, ...]) -> Optional[Tuple[str, str, str]]:
    """(split, folder, file name) if `path` lies in one of `folders`, else None."""
    parts = path.split("/")
    if len(parts) < 3:
        return None
    split, folder, file_name = parts[-3:]
    return (split, folder, file_name) if f"{split}/{folder}" in folders else None


def urls_file(folder_path: str) -> str:
    """'[...]/{split}/urls_{folder}.txt', which names the films of '[...]/{split}/{folder}'."""
    head, _, folder = folder_path.rpartition("/")
    return posixpath.join(head, f"urls_{folder}.txt")


def parse_film_urls(where: str, data: bytes) -> List[str]:
    """The film of each line of a `urls_{folder}.txt` file, line `id` for review `id`."""
    films = []
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        match = _FILM_URL.search(line)
        if not match:
            raise IngestError(f"{where}: line {number} is not an IMDb title URL "
                              f"('.../title/tt{{digits}}/...'): {line[:80]!r}")
        films.append(match["film"])
    return films


def check_member_path(source: str, path: str) -> None:
    if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path):
        raise IngestError(f"{source}: member {path!r} has an absolute path; refusing to read it")
    if ".." in re.split(r"[\\/]", path):
        raise IngestError(f"{source}: member {path!r} contains '..'; refusing to read it")


def _check_rating(where: str, folder: str, rating: int) -> None:
    allowed = RATINGS_BY_CLASS.get(folder, range(UNLABELLED_RATING, UNLABELLED_RATING + 1))
    if rating not in allowed:
        expected = "-".join(str(r) for r in sorted({allowed.start, allowed.stop - 1}))
        raise IngestError(f"{where}: rating {rating} is inconsistent with folder "
                          f"'{folder}' (expects {expected})")


FilmsByUrlsFile = Dict[str, List[str]]  # urls file path (as `urls_file` names it) -> films


def parse_review(source: str, path: str, data: bytes,
                 folders: Tuple[str, ...] = LABELLED_FOLDERS,
                 films: Optional[FilmsByUrlsFile] = None) -> Optional[Review]:
    """Parses one file; None if it lies outside `folders`. `source` names it in errors; the
    review's film comes from `films` when its folder's urls file is there."""
    location = review_location(path, folders)
    if location is None:
        return None
    split, folder, file_name = location
    where = f"{source}: {path}"
    match = _FILE_NAME.match(file_name)
    if not match:
        raise IngestError(f"{where}: file name is not '{{id}}_{{rating}}.txt'")
    rating = int(match["rating"])
    _check_rating(where, folder, rating)
    try:
        text, undecodable = data.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        undecodable = text.count("\ufffd") - data.count("\ufffd".encode("utf-8"))
        _log.warning("%s: %d byte sequence(s) are not UTF-8; replaced with U+FFFD", where,
                     undecodable)
    if not text.strip():
        raise IngestError(f"{where}: the review is empty")
    return Review(split=split, label=CLASS_LABELS.get(folder), rating=rating, text=text,
                  key=f"{split}/{folder}/{file_name}", undecodable_bytes=undecodable,
                  film=_film(path, int(match["id"]), films or {}))


def _film(path: str, review_id: int, films: FilmsByUrlsFile) -> Optional[str]:
    folder_films = films.get(urls_file(posixpath.dirname(path)), [])
    return folder_films[review_id] if review_id < len(folder_films) else None


def _archive_files(path: str, opener: Callable[[str], BinaryIO],
                   wanted: Callable[[str], bool]) -> Iterator[Tuple[str, bytes]]:
    """(member name, data) of the archive's files whose names are `wanted`, streamed."""
    try:
        with opener(path) as raw, tarfile.open(fileobj=raw, mode="r|gz") as archive:
            for member in archive:
                check_member_path(path, member.name)
                if member.isfile() and wanted(member.name):
                    yield member.name, archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise IngestError(f"{path}: corrupt or truncated archive ({type(e).__name__}: {e}); "
                          "download it again or pass the extracted directory") from e


def read_archive(path: str, opener: Callable[[str], BinaryIO],
                 folders: Tuple[str, ...] = LABELLED_FOLDERS) -> Iterator[Review]:
    """Streams reviews out of a gzipped tar archive opened with `opener` (local or remote fs)."""
    urls_files = {urls_file(folder) for folder in folders}
    films = {name: parse_film_urls(f"{path}: {name}", data) for name, data in _archive_files(
        path, opener, lambda name: "/".join(name.split("/")[-2:]) in urls_files)}
    for name, data in _archive_files(
            path, opener, lambda name: review_location(name, folders) is not None):
        yield parse_review(path, name, data, folders, films)


def read_files(root: str, relative_paths: Iterable[str], opener: Callable[[str], BinaryIO],
               exists: Callable[[str], bool],
               folders: Tuple[str, ...] = LABELLED_FOLDERS) -> Iterator[Review]:
    """Reads reviews from files of an extracted aclImdb tree under `root`."""
    relative_paths = sorted(relative_paths)
    for relative in relative_paths:
        check_member_path(root, relative)
    review_paths = [p for p in relative_paths if review_location(p, folders) is not None]
    films = {}
    for urls in sorted({urls_file(posixpath.dirname(p)) for p in review_paths}):
        if exists(posixpath.join(root, urls)):
            with opener(posixpath.join(root, urls)) as f:
                films[urls] = parse_film_urls(f"{root}: {urls}", f.read())
    for relative in review_paths:
        with opener(posixpath.join(root, relative)) as f:
            yield parse_review(root, relative, f.read(), folders, films)


def read_source(input_base: str, pattern: str, glob: Callable[[str], Iterable[str]],
                opener: Callable[[str], BinaryIO], unlabelled: bool = False) -> Iterator[Review]:
    """Reviews of one data source: `pattern` (relative to `input_base`) names an archive or globs
    the review files of an extracted tree. The labelled reviews, or with `unlabelled` the
    unlabelled ones. Fails if a folder it reads yields nothing; warns of training reviews
    without a film."""
    source = posixpath.join(input_base, pattern)
    folders = review_folders(unlabelled)
    if pattern.endswith(ARCHIVE_SUFFIXES):
        reviews = read_archive(source, opener, folders)
    else:
        prefix = input_base.rstrip("/") + "/"
        reviews = read_files(input_base, [p[len(prefix):] for p in glob(source)], opener,
                             lambda path: bool(glob(path)), folders)
    counts: Counter[str] = collections.Counter()
    without_film: Counter[str] = collections.Counter()
    for review in reviews:
        folder = review.key.rsplit("/", 1)[0]
        counts[folder] += 1
        without_film[folder] += review.film is None
        yield review
    missing = [folder for folder in folders if not counts[folder]]
    if missing:
        expected = ("train/unsup/{id}_0.txt" if unlabelled
                    else "{train,test}/{pos,neg}/{id}_{rating}.txt")
        raise IngestError(f"{source}: no reviews under {', '.join(missing)}: a folder is "
                          f"missing or empty (expected [aclImdb/]{expected})")
    _log.info("%s: read %s", source, ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    for folder in sorted(f for f, n in without_film.items() if n and f.startswith("train/")):
        _log.warning("%s: %d of the %d reviews in %s have no line in %s (missing or short), so "
                     "the train/eval holdout takes them one by one: reviews of one film may land "
                     "on both sides", source, without_film[folder], counts[folder], folder,
                     urls_file(folder))
