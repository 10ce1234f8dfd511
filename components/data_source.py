"""Turns what a user passes as `--data` (a directory, a .tar.gz, or an http(s) URL) into the
ExampleGen's input_base + source pattern. URLs are downloaded once into a cache, verified."""
import dataclasses
import glob
import hashlib
import json
import logging
import os
import posixpath
import shutil
import socket
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional

from tfx.dsl.io import fileio

from components.imdb_reader import ARCHIVE_SUFFIXES, IngestError, review_folders

_log = logging.getLogger(__name__)

# Published size and SHA-256 of the public archive; a download that differs is rejected.
KNOWN_ARCHIVES = {
    "aclImdb_v1.tar.gz": (84_125_825,
                          "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"),
}
_CHUNK = 1 << 20
DOWNLOAD_ATTEMPTS = 3
# Beside a cached download: the URL, size and SHA-256 it had when it was verified.
VERIFIED_SUFFIX = ".verified.json"


@dataclasses.dataclass(frozen=True)
class DataSource:
    input_base: str
    pattern: str

    @property
    def uri(self) -> str:
        return posixpath.join(self.input_base, self.pattern)


def resolve(data: str, cache_dir: str, sha256: Optional[str] = None,
            unlabelled: bool = False) -> DataSource:
    """Checks `data` exists and has the aclImdb layout (its labelled folders, or with
    `unlabelled` its train/unsup folder); downloads URLs into `cache_dir`. Raises IngestError."""
    if urllib.parse.urlparse(data).scheme in ("http", "https"):
        return _archive_source(download(data, cache_dir, sha256))
    if data.endswith(ARCHIVE_SUFFIXES):
        if not fileio.exists(data):
            raise IngestError(f"{data}: no such archive")
        return _archive_source(data if "://" in data else os.path.abspath(data))
    if not fileio.isdir(data):
        raise IngestError(f"{data}: neither a directory, a .tar.gz archive nor an http(s) URL")
    root = data if "://" in data else os.path.abspath(data)
    nested = posixpath.join(root, "aclImdb")
    tree, prefix = (nested, "aclImdb/") if fileio.isdir(nested) else (root, "")
    missing = [folder for folder in review_folders(unlabelled)
               if not fileio.isdir(posixpath.join(tree, folder))]
    if missing:
        raise IngestError(f"{tree}: missing folder(s) {', '.join(missing)}; expected the "
                          "aclImdb layout {train,test}/{pos,neg}/{id}_{rating}.txt"
                          + (", train/unsup/{id}_0.txt" if unlabelled else ""))
    if "://" not in tree:
        _check_links(tree)
    return DataSource(root, prefix + "*/*/*.txt")


def _check_links(tree: str) -> None:
    """A review path that is a broken or looping symbolic link would fail deep inside TFX with an
    empty NotFoundError; name it now."""
    for path in glob.glob(os.path.join(tree, "*", "*", "*.txt")):
        if os.path.islink(path) and not os.path.exists(path):
            raise IngestError(f"{path}: a symbolic link to nothing (broken, or a loop: "
                              f"{os.readlink(path)}); remove it or point it at a review file")


def remote_archive(uri: str) -> DataSource:
    """The source for a pipeline that runs elsewhere (Kubeflow): an archive URI its pods read
    (gs://, s3://, or a path on a mounted volume). Nothing is checked or downloaded here."""
    if urllib.parse.urlparse(uri).scheme in ("http", "https"):
        raise IngestError(f"{uri}: on Kubeflow the data must be an archive the pipeline's pods "
                          "can read (gs://, s3://, or a mounted path), not an http(s) URL: "
                          "copy the archive there first")
    if not uri.endswith(ARCHIVE_SUFFIXES):
        raise IngestError(f"{uri}: on Kubeflow the data must be a .tar.gz archive in the aclImdb "
                          "layout")
    return _archive_source(uri)


def _archive_source(path: str) -> DataSource:
    return DataSource(posixpath.dirname(path), posixpath.basename(path))


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, cache_dir: str, sha256: Optional[str] = None,
             attempts: int = DOWNLOAD_ATTEMPTS, timeout: float = 60.0) -> str:
    """Downloads `url` into `cache_dir` once; verifies size, SHA-256 (given or published) and
    that it is a gzipped tar archive. A cached copy is used only if it passes the same checks
    (against what was verified when it was downloaded); otherwise it is fetched again. A stalled
    download is retried, `attempts` times in all, with back-off."""
    name = posixpath.basename(urllib.parse.urlparse(url).path)
    if not name.endswith(ARCHIVE_SUFFIXES):
        raise IngestError(f"{url}: expected a URL of a .tar.gz archive")
    expected_size, published_sha = KNOWN_ARCHIVES.get(name, (None, None))
    expected_sha = sha256 or published_sha
    target = os.path.join(cache_dir, name)
    if os.path.exists(target):
        problem = _cached_problem(target, expected_sha)
        if problem is None:
            _log.info("using cached download %s", target)
            return target
        _log.warning("cached %s %s; downloading again", target, problem)
        os.unlink(target)
    os.makedirs(cache_dir, exist_ok=True)
    for attempt in range(1, attempts + 1):
        try:
            digest = _fetch(url, target, expected_size, expected_sha, timeout)
            break
        except _Stalled as e:
            if attempt == attempts:
                raise IngestError(f"cannot download {url}: {e}, {attempts} times") from e
            _log.warning("download of %s %s; trying again in %d s (attempt %d of %d)", url, e,
                         2 ** attempt, attempt + 1, attempts)
            time.sleep(2 ** attempt)
    with open(target + VERIFIED_SUFFIX, "w") as f:
        json.dump({"url": url, "size": os.path.getsize(target), "sha256": digest}, f)
    if expected_sha is None:
        _log.warning("%s has no published checksum; downloaded SHA-256 is %s (pass it as "
                     "data_sha256 to pin it)", url, digest)
    return target


class _Stalled(Exception):
    """The server stopped sending (or never started) within the time-out."""


def _cached_problem(target: str, expected_sha: Optional[str]) -> Optional[str]:
    """Why a cached download cannot be trusted, or None."""
    recorded = {}
    if os.path.exists(target + VERIFIED_SUFFIX):
        with open(target + VERIFIED_SUFFIX) as f:
            recorded = json.load(f)
    expected = expected_sha or recorded.get("sha256")
    if expected is None:
        return "was never verified"
    size = os.path.getsize(target)
    if "size" in recorded and size != recorded["size"]:
        return f"is {size} bytes, {recorded['size']} when downloaded"
    if _sha256(target) != expected:
        return "does not match its checksum"
    return _archive_problem(target)


def _archive_problem(path: str) -> Optional[str]:
    """None if `path` starts as a gzipped tar archive does (its first member reads)."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            archive.next()
    except (tarfile.TarError, OSError, EOFError) as e:
        with open(path, "rb") as f:
            start = f.read(40)
        return f"is not a gzipped tar archive ({type(e).__name__}; it starts {start!r})"
    return None


def _fetch(url: str, target: str, expected_size: Optional[int], expected_sha: Optional[str],
           timeout: float) -> str:
    """One download attempt into `target` (renamed into place once verified); its SHA-256."""
    _log.info("downloading %s to %s", url, target)
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except (TimeoutError, socket.timeout) as e:
        raise _Stalled(f"got no answer within {timeout:g} s") from e
    except (urllib.error.URLError, OSError) as e:
        if isinstance(getattr(e, "reason", None), (TimeoutError, socket.timeout)):
            raise _Stalled(f"got no answer within {timeout:g} s") from e
        raise IngestError(
            f"cannot download {url} ({getattr(e, 'reason', e)}). Without network access, fetch "
            "the archive elsewhere and pass the local copy: imdb-lstm run --data "
            f"/path/to/{posixpath.basename(target)} (a .tar.gz or its extracted directory)"
        ) from e
    declared = response.headers.get("Content-Length")
    declared = int(declared) if declared else expected_size
    with response, tempfile.NamedTemporaryFile(dir=os.path.dirname(target),
                                               prefix=os.path.basename(target),
                                               suffix=".partial", delete=False) as partial:
        try:
            digest = _copy(response, partial, declared, timeout)
            problems = []
            received = partial.tell()
            if declared is not None and received != declared:
                problems.append(f"size {received} bytes, expected {declared}")
            if expected_size is not None and received != expected_size:
                problems.append(f"size {received} bytes, published size {expected_size}")
            if expected_sha is not None and digest != expected_sha:
                problems.append(f"SHA-256 {digest}, expected {expected_sha}")
            partial.flush()
            problem = None if problems else _archive_problem(partial.name)
            if problems or problem:
                raise IngestError(f"{url}: download rejected: {'; '.join(problems) or problem}")
        except BaseException:
            os.unlink(partial.name)
            raise
    shutil.move(partial.name, target)
    return digest


def _copy(response, partial, declared: Optional[int], timeout: float) -> str:
    """Copies the response body, logging progress every 5 s; its SHA-256."""
    digest, received, last_report = hashlib.sha256(), 0, time.monotonic()
    try:
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            partial.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            if time.monotonic() - last_report > 5:
                last_report = time.monotonic()
                total = f" of {declared / 1e6:.1f}" if declared else ""
                _log.info("downloaded %.1f%s MB", received / 1e6, total)
    except (TimeoutError, socket.timeout, ConnectionError) as e:
        raise _Stalled(f"stalled after {received / 1e6:.1f} MB ({type(e).__name__}: no data "
                       f"for {timeout:g} s or the connection dropped)") from e
    return digest.hexdigest()
